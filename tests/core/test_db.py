"""Engines: the SQLite writer queue (one writer at a time, handed over when the one before
commits), the PostgreSQL pool's ping of connections that sat idle, and statements run on the
driver's cursor."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import text

import core.db as db_module
from core.db import DriverStatement, WriterQueue, make_engine


def _lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_writers_queue_and_the_lock_is_released_after_commit(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
    engine = make_engine(url)
    lock_path = f"{tmp_path / 'q.sqlite3'}.writer-lock"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    assert _lock_is_free(lock_path)
    events: list[str] = []
    first = engine.connect()
    first.begin()
    first.execute(text("SELECT count(*) FROM t"))  # a reader takes no turn
    assert _lock_is_free(lock_path)
    first.execute(text("INSERT INTO t VALUES (1)"))
    assert not _lock_is_free(lock_path)

    def second_writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            events.append("second wrote")

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.2)
    events.append("first commits")
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert events == ["first commits", "second wrote"]
    assert _lock_is_free(lock_path)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    # a rolled-back writer gives its turn back too
    conn = engine.connect()
    conn.begin()
    conn.execute(text("DELETE FROM t"))
    assert not _lock_is_free(lock_path)
    conn.rollback()
    conn.close()
    assert _lock_is_free(lock_path)
    engine.dispose()


def test_a_writer_stops_waiting_after_its_patience(tmp_path):
    path = str(tmp_path / "x.writer-lock")
    holder, waiter = WriterQueue(path), WriterQueue(path)
    waiter.PATIENCE_S = 0.05
    assert holder.acquire()
    started = time.monotonic()
    assert waiter.acquire() is False
    assert time.monotonic() - started < 1
    holder.release()
    assert waiter.acquire() is True
    waiter.release()


@pytest.mark.postgresql_only
def test_an_idle_connection_is_pinged_and_replaced_when_dead_a_fresh_one_is_trusted(monkeypatch):
    engine = make_engine(os.environ["DCC_DATABASE_URL"], pool_size=1)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection):
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting_ping)
    with engine.connect() as conn:
        first_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with engine.connect() as conn:  # back in use at once: no ping, same backend
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first_pid
    assert pings == []

    # the server drops the connection while it sits idle in the pool
    admin_engine = make_engine(os.environ["DCC_DATABASE_URL"])
    with admin_engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        admin.commit()
    admin_engine.dispose()
    monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)
    with engine.connect() as conn:  # idle long enough: pinged, found dead, replaced
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first_pid
    assert len(pings) == 1
    engine.dispose()


@pytest.mark.postgresql_only
@pytest.mark.parametrize("timeout_ms", [0, 1500])
def test_postgresql_connections_never_jit_compile_and_keep_their_statement_timeout(timeout_ms):
    engine = make_engine(os.environ["DCC_DATABASE_URL"], statement_timeout_ms=timeout_ms)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            timeout = conn.execute(text("SHOW statement_timeout")).scalar()
        assert timeout == ("1500ms" if timeout_ms else "0")
    finally:
        engine.dispose()


def test_a_read_only_request_runs_without_a_transaction_on_postgresql(app, committed_db):
    from psycopg.pq import TransactionStatus

    from core.db import db

    postgresql = db.engine.dialect.name == "postgresql"
    with app.test_request_context("/directory/practitioners"):
        db.read_only_request()
        driver = db.session.connection().connection.driver_connection
        if postgresql:
            assert driver.autocommit is True
            # each statement on its own: no transaction opened, none left to roll back
            assert db.session.execute(text("SELECT txid_current_if_assigned()")).scalar() is None
            assert driver.info.transaction_status == TransactionStatus.IDLE
        db.session.remove()
        # the connection goes back to the pool as it came: the next request has transactions
        db.session.execute(text("SELECT 1"))
        driver = db.session.connection().connection.driver_connection
        if postgresql:
            assert driver.autocommit is False
            assert driver.info.transaction_status == TransactionStatus.INTRANS
        db.session.remove()


def test_a_session_already_in_a_transaction_keeps_it(app, committed_db):
    from core.db import db

    with app.test_request_context("/directory/practitioners"):
        db.session.execute(text("SELECT 1"))
        db.read_only_request()
        driver = db.session.connection().connection.driver_connection
        assert getattr(driver, "autocommit", False) is False or db.engine.dialect.name == "sqlite"
        db.session.remove()


# --- DriverStatement: a Core statement on the driver's cursor ---------------------------------

_SCRATCH = sa.Table(
    "scratch_driver_statement",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20), unique=True),
    sa.Column("at", db_module.UTCDateTime()),
    sa.Column("flag", sa.Boolean),
    sa.Column("data", sa.JSON),
)


@pytest.fixture
def scratch(db_session):
    connection = db_session.connection()
    _SCRATCH.create(connection)  # inside the test's transaction: rolled back with it
    return connection


def test_a_driver_statement_writes_and_reads_what_core_does(scratch):
    at = dt.datetime(2027, 3, 9, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    insert = DriverStatement(
        sa.insert(_SCRATCH).values({c: sa.bindparam(c) for c in ("name", "at", "flag", "data")})
    )
    values = {"name": "a", "at": at, "flag": True, "data": {"é": [1, None]}}
    cursor = insert.execute(scratch, values)
    assert cursor.rowcount == 1
    query = sa.select(_SCRATCH.c.name, _SCRATCH.c.at, _SCRATCH.c.flag, _SCRATCH.c.data).where(
        _SCRATCH.c.name == sa.bindparam("name")
    )
    core_row = tuple(scratch.execute(query, {"name": "a"}).one())
    assert DriverStatement(query).first(scratch, {"name": "a"}) == core_row
    assert core_row == ("a", at.astimezone(dt.UTC), True, {"é": [1, None]})
    assert core_row[1].tzinfo is not None  # the UTC instant, aware on both engines
    assert DriverStatement(query).first(scratch, {"name": "missing"}) is None


def test_a_driver_statement_fills_parameters_that_have_a_value(scratch):
    scratch.execute(sa.insert(_SCRATCH), [{"name": n} for n in ("a", "b", "c")])
    query = (
        sa.select(_SCRATCH.c.name).order_by(_SCRATCH.c.name).limit(1).offset(sa.bindparam("skip"))
    )
    assert DriverStatement(query).first(scratch, {"skip": 1}) == ("b",)


def test_a_driver_statement_is_seen_by_the_cursor_listeners_and_errors_are_wrapped(scratch):
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_):
        seen.append(statement)

    engine = scratch.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        insert = DriverStatement(sa.insert(_SCRATCH).values(name=sa.bindparam("name")))
        insert.execute(scratch, {"name": "twice"})
        assert seen and seen[-1].startswith("INSERT INTO scratch_driver_statement")
        savepoint = scratch.begin_nested()
        with pytest.raises(sa.exc.IntegrityError):  # as Connection.execute raises it
            insert.execute(scratch, {"name": "twice"})
        savepoint.rollback()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def test_a_driver_statement_refuses_what_it_cannot_run_as_compiled(scratch):
    expanding = sa.select(_SCRATCH.c.id).where(
        _SCRATCH.c.name.in_(sa.bindparam("names", expanding=True))
    )
    with pytest.raises(ValueError, match="IN"):
        DriverStatement(expanding).first(scratch, {"names": ["a"]})


@pytest.mark.postgresql_only
def test_a_driver_statement_on_a_dead_connection_invalidates_it_as_core_does():
    engine = make_engine(os.environ["DCC_DATABASE_URL"], pool_size=1)
    admin_engine = make_engine(os.environ["DCC_DATABASE_URL"])
    query = DriverStatement(sa.select(sa.literal_column("pg_backend_pid()")))
    try:
        with engine.connect() as conn:
            (pid,) = query.first(conn, {})
            conn.commit()
            with admin_engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                admin.commit()
            with pytest.raises(sa.exc.OperationalError) as raised:
                query.first(conn, {})
            assert raised.value.connection_invalidated
        with engine.connect() as conn:  # the pool replaced it
            assert query.first(conn, {})[0] != pid
    finally:
        engine.dispose()
        admin_engine.dispose()


def test_a_waiting_writer_polls_soon_then_every_half_millisecond(tmp_path, monkeypatch):
    path = str(tmp_path / "p.writer-lock")
    holder, waiter = WriterQueue(path), WriterQueue(path)
    assert holder.acquire()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 8:
            holder.release()  # the writer before commits

    monkeypatch.setattr(db_module.time, "sleep", sleep)
    assert waiter.acquire() is True
    assert waits == [0.00005, 0.0001, 0.0002, 0.0004, 0.0005, 0.0005, 0.0005, 0.0005]
    waiter.release()


def test_a_driver_statement_keeps_literal_percents_and_repeated_parameters(scratch):
    # on PostgreSQL it runs with $n placeholders of its own: a literal % and a parameter used
    # twice must survive the rewriting
    scratch.execute(sa.insert(_SCRATCH), [{"name": n} for n in ("50%", "a", "ab")])
    query = sa.select(
        _SCRATCH.c.name, sa.literal_column("'100%'"), sa.bindparam("p", type_=sa.String)
    ).where(sa.or_(_SCRATCH.c.name.like("%\\%", escape="\\"), _SCRATCH.c.name == sa.bindparam("p")))
    rows = DriverStatement(query.order_by(_SCRATCH.c.name)).all(scratch, {"p": "ab"})
    assert rows == [("50%", "100%", "ab"), ("ab", "100%", "ab")]


def test_native_placeholders_number_each_name_once_and_unescape_percents():
    sql, names = db_module._native_placeholders(
        "SELECT %(a)s, '5%%', %(b)s WHERE x = %(a)s AND y LIKE '%%%%(a)s'"
    )
    assert sql == "SELECT $1, '5%', $2 WHERE x = $1 AND y LIKE '%%(a)s'"
    assert names == ["a", "b"]
