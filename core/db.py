"""Database engine and session, the declarative base with its naming convention, and mixins."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
    exc,
    func,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool

#: Stable constraint names, so that migrations can drop and alter them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model of every domain."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: interpret them as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An instant stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return as_utc(value)


class TimestampMixin:
    """Creation and last-modification instants, set by the database session."""

    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; the SQLAlchemy-documented
    # workaround is to disable it and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # straight on the driver: Core's execution of this one word cost as much as a
        # registration's INSERT, for nothing to process (SQLite fails a BEGIN only inside a
        # transaction, which this event never fires in)
        conn.connection.dbapi_connection.execute("BEGIN")

    if engine.url.database not in (None, "", ":memory:"):
        WriterQueue(f"{engine.url.database}.writer-lock").attach(engine)


#: Statements that make an SQLite transaction a writer.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class WriterQueue:
    """Writers of one SQLite file take turns on a lock file before their first write.

    SQLite lets one writer at a time in and makes the others sleep and retry (1, 2, 5, 10 ms
    ...), so two gunicorn workers writing at once lose most of their time asleep. Waiting
    here instead, polling from 50 µs up to every half millisecond, hands the file over as
    soon as the writer before commits. Only a queue: SQLite's own locking still guarantees
    correctness, and a writer that waited as long as SQLite's busy timeout goes on and lets
    SQLite decide.
    """

    #: First wait between two tries, doubled up to POLL_S: a registration holds the lock
    #: about a millisecond, so a fixed half-millisecond poll left the file idle for a
    #: quarter of a millisecond on average after each commit.
    FIRST_POLL_S = 0.00005
    POLL_S = 0.0005
    PATIENCE_S = 10.0

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()  # one lock file descriptor per thread

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        # released once the transaction really ended (the commit event fires before it)
        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.release()

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.release()

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def _before_execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not getattr(self._local, "held", False) and statement.lstrip()[:7].upper().startswith(
            _WRITES
        ):
            self.acquire()

    def acquire(self) -> bool:
        fd = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.PATIENCE_S
        poll = self.FIRST_POLL_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(poll)
                poll = min(poll * 2, self.POLL_S)
            else:
                self._local.held = True
                return True

    def release(self) -> None:
        if getattr(self._local, "held", False):
            self._local.held = False
            fcntl.flock(self._local.fd, fcntl.LOCK_UN)


def make_engine(url: str, *, pool_size: int = 5, statement_timeout_ms: int = 0) -> Engine:
    """Create the engine for ``url`` with the per-dialect settings this project relies on."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No JIT compilation: this server's queries last milliseconds, and compiling one costs
    # 5-10 ms whenever the planner's estimate passes jit_above_cost, as it does on every
    # several-word name search of the national directory (its LIKE filter is estimated to
    # keep almost nothing, so the whole prefix range looks costly). Measured there: 25 ms
    # with JIT, 1 ms without.
    options = ["-c jit=off"]
    if statement_timeout_ms:
        # A query that hangs must fail fast rather than pin a worker.
        options.append(f"-c statement_timeout={statement_timeout_ms}")
    connect_args: dict[str, Any] = {"connect_timeout": 3, "options": " ".join(options)}
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        connect_args=connect_args,
        **kwargs,
    )
    _ping_when_idle(engine)
    return engine


#: A pooled connection back in use within this many seconds is trusted without a ping.
IDLE_PING_S = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that sat idle in the pool.

    A ping is one more round trip on every request (on the registration path, one in seven).
    A connection used a moment ago is almost never dead; one idle for a while may have been
    dropped by a restart, a failover or a firewall, and that is where a ping saves a request.
    A server that dies under load fails the requests in flight either way: the first
    disconnect error invalidates the whole pool (SQLAlchemy's default), and the next
    checkouts connect again.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_S:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error  # the pool reconnects
            raise


class DriverStatement:
    """A Core statement compiled once per dialect and run straight on the driver's cursor.

    For the few statements of a hot write path (a registration): ``Connection.execute`` spends
    60-250 µs of CPU per statement on top of the driver (the cache key, the execution
    context, the parameters' processing, the result object), more than SQLite spends running
    the statement. Here the SQL text, the order of the parameters, their defaults and the
    types' bind and result processors are worked out once per dialect; a call only orders
    the values, applies the processors and runs the cursor, still inside the connection's
    transaction. The engine's ``before_cursor_execute`` listeners see every statement (the
    SQLite writer queue relies on it), and a driver error is wrapped and handled as
    ``Connection.execute`` does: ``IntegrityError`` and the like, with the connection
    invalidated on a disconnect. Statements with expanding (IN) or post-compile parameters
    are refused when compiled.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Any) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a DriverStatement cannot expand IN or post-compile parameters")
        if compiled.escaped_bind_names:
            raise ValueError("a DriverStatement needs plain parameter names")
        binds: dict[str, Any] = {name: bind for bind, name in compiled.bind_names.items()}
        names = list(compiled.positiontup) if compiled.positional else list(binds)
        processors = {}
        defaults = {}
        for name in set(names):
            bind = binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not bind.required:
                defaults[name] = bind.effective_value
        # a SELECT's columns, or an INSERT's or UPDATE's RETURNING (none for plain text)
        columns: Any = getattr(self.statement, "selected_columns", None)
        if columns is None:
            columns = getattr(self.statement, "exported_columns", ())
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        sql, positional, cursor_class = compiled.string, compiled.positional, None
        if dialect.driver == "psycopg" and not positional:
            from psycopg import RawCursor  # the driver of this dialect

            sql, names = _native_placeholders(sql)
            positional, cursor_class = True, RawCursor
        found = _Compiled(
            sql=sql,
            names=names,
            positional=positional,
            processors=processors,
            defaults=defaults,
            results=results if any(results) else None,
            cursor_class=cursor_class,
        )
        self._compiled[dialect.name] = found
        return found

    def execute(self, connection: Any, params: dict[str, Any], *, prepare: bool = True) -> Any:
        """Run on ``connection`` (a SQLAlchemy ``Connection``, in its transaction); returns
        the driver's cursor (``rowcount``, ``lastrowid``; rows through ``first``/``all``).
        ``prepare=False``: PostgreSQL plans it for these values each time, never with a
        generic plan (the statement is not prepared, which costs no round trip)."""
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        if compiled.defaults:
            params = {**compiled.defaults, **params}
        processors = compiled.processors
        if processors:
            params = {k: (processors[k](v) if k in processors else v) for k, v in params.items()}
        values: Any = [params[n] for n in compiled.names] if compiled.positional else params
        sql = compiled.sql
        dbapi_connection = connection.connection.dbapi_connection
        cursor_class = compiled.cursor_class
        cursor = cursor_class(dbapi_connection) if cursor_class else dbapi_connection.cursor()
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, cursor, sql, values, None, False)
        try:
            if prepare or dialect.name != "postgresql":
                cursor.execute(sql, values)
            else:
                cursor.execute(sql, values, prepare=False)
        except dialect.loaded_dbapi.Error as error:
            # wraps it, invalidates the connection on a disconnect, runs handle_error hooks
            connection._handle_dbapi_exception(error, sql, values, cursor, None)
        return cursor

    def first(self, connection: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row (processed as Core would: booleans, UTC instants), or None."""
        cursor = self.execute(connection, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else self._processed(connection, [row])[0]

    def all(
        self, connection: Any, params: dict[str, Any], *, prepare: bool = True
    ) -> list[tuple[Any, ...]]:
        """Every row, processed as ``first`` does."""
        cursor = self.execute(connection, params, prepare=prepare)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return self._processed(connection, rows)

    def _processed(self, connection: Any, rows: list[Any]) -> list[tuple[Any, ...]]:
        results = self._compiled[connection.dialect.name].results
        if results is None:
            return [tuple(row) for row in rows]
        return [tuple(p(v) if p else v for p, v in zip(results, row, strict=False)) for row in rows]


class _Compiled(NamedTuple):
    sql: str
    names: list[str]
    positional: bool
    processors: dict[str, Any]
    defaults: dict[str, Any]
    results: list[Any] | None
    #: psycopg's RawCursor for a statement with PostgreSQL's own $n placeholders
    cursor_class: Any = None


_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


def _native_placeholders(sql: str) -> tuple[str, list[str]]:
    """``sql`` compiled for psycopg (``%(name)s`` parameters, ``%%`` for a literal ``%``)
    with PostgreSQL's own ``$n`` placeholders instead, and the names in ``$n`` order.

    psycopg parses a query's placeholders on every execution, and keeps the result only for
    queries of up to 4 KB: a longer statement (a registration's, on PostgreSQL) spent a tenth
    of its request's CPU there. A ``RawCursor`` sends the text as it is.
    """
    order: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        return f"${order.setdefault(name, len(order) + 1)}"

    return _PYFORMAT.sub(placeholder, sql), list(order)


class Database:
    """Holds the engine and the request-scoped session (one per thread/app context)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory = sessionmaker(expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self.session_factory)

    def configure(self, url: str, *, pool_size: int = 5, statement_timeout_ms: int = 0) -> Engine:
        if self.engine is not None:
            if self.engine.url.render_as_string(hide_password=False) == url:
                return self.engine  # a second app on the same database shares the pool
            self.session.remove()
            self.engine.dispose()
        self.engine = make_engine(
            url, pool_size=pool_size, statement_timeout_ms=statement_timeout_ms
        )
        self.session_factory.configure(bind=self.engine)
        return self.engine

    def read_only_request(self) -> None:
        """This request only reads: on PostgreSQL its statements run outside a transaction.

        Each then sees the data as of its own start, which a read of one statement (a name
        search) cannot tell from a transaction; it saves the BEGIN and ROLLBACK round trips,
        a third of the statements such a request sends. Nothing changes when the session
        already holds a connection, or is bound to one (tests), or on SQLite. Call it before
        the first query of a request that never writes.
        """
        session = self.session()
        bind = session.get_bind()
        if (
            isinstance(bind, Engine)
            and bind.dialect.name == "postgresql"
            and not session.in_transaction()
        ):
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    @property
    def is_sqlite(self) -> bool:
        return self.engine is not None and self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work outside a request (CLI, jobs): commit on success, roll back on error."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


db = Database()
