"""On PostgreSQL, each node's own SQLite copy of the professionals' search tables.

Why: a name search is a read of a few index entries, and on PostgreSQL most of its cost is
the trip, not the read. On the national directory (1.2 M professionals), under gunicorn, a
search cost 1.5 ms of the worker's CPU and 0.8-0.9 ms of PostgreSQL's, against 1.6 ms in
all on SQLite, where the same statements run in the worker. The directory changes with an
import (a day, a week), and a search answers thousands of times in between: like the
search indexes, the copy is derived data that each node rebuilds from the database.

How it stays right:

- A copy is built from one snapshot of the database (REPEATABLE READ, READ ONLY), with the
  directory's change token of that snapshot (``FeedVersion`` row ``DIRECTORY_ROW``, which
  every change of directory data replaces, imports included), and named after that token.
- A search uses the copy only if its token is the database's current one. Each process
  reads the token at most every ``CHECK_SECONDS``: a change is seen within that time.
  Until the node has a copy of the current token, searches read PostgreSQL, and the
  process starts a build in the background (``python -m planning.directory.replica``; one
  at a time per node: a file lock). ``dcc-services directory replica`` builds one at once
  (at a node's start, after an import).
- A copy is written under a temporary name and renamed when complete: a process opens
  only finished copies, read-only. A build that fails leaves nothing behind; searches go
  on reading PostgreSQL.

Only the JSON name search (``services.search_practitioner_summary_texts``) reads the
copy: the copied columns are those it reads (ids, stored summaries, name index entries,
prefix counts, the activities' filters). The FHIR views, the lookups by number and the
establishments read the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import Column, Connection, Engine, Index, MetaData, Table, create_engine
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from core.db import db
from planning.directory.models import (
    Practitioner,
    PractitionerActivity,
    PractitionerPrefix,
    PractitionerToken,
)
from planning.feeds.changes import directory_token

log = logging.getLogger("dcc.directory.replica")

#: How often a process reads the directory's change token (seconds).
CHECK_SECONDS = 5.0
#: A process starts at most one background build per this many seconds.
SPAWN_SECONDS = 60.0
#: Rows per fetch from PostgreSQL and per insert batch into the copy.
BATCH = 20_000

#: The tables and columns of the copy: what the name search reads.
COPIED: dict[Table, tuple[str, ...]] = {
    Practitioner.__table__: ("id", "national_id", "rpps", "name_key", "active", "summary"),  # type: ignore[dict-item]
    PractitionerActivity.__table__: (  # type: ignore[dict-item]
        "id",
        "practitioner_id",
        "active",
        "profession_code",
        "specialty_code",
        "department",
        "finess_site",
    ),
    PractitionerToken.__table__: ("practitioner_id", "token", "name_key", "active", "name_mask"),  # type: ignore[dict-item]
    PractitionerPrefix.__table__: ("active", "prefix", "owners"),  # type: ignore[dict-item]
}

#: The app's ``extensions`` key of its ``Replica`` (none: no copy).
EXTENSION = "dcc_directory_replica"
_PREFIX = "directory-"
_SUFFIX = ".sqlite3"


def _replica_tables() -> tuple[list[Table], list[Index]]:
    """The copy's tables (the copied columns, same names and types) and their indexes (the
    model's indexes whose columns are all copied)."""
    metadata = MetaData()
    tables, indexes = [], []
    for source, names in COPIED.items():
        table = Table(
            source.name,
            metadata,
            *[
                Column(name, source.c[name].type, primary_key=source.c[name].primary_key)
                for name in names
            ],
        )
        tables.append(table)
        for index in source.indexes:
            columns = [column.name for column in index.columns]
            if all(name in names for name in columns):
                indexes.append(
                    Index(index.name, *[table.c[name] for name in columns], unique=index.unique)
                )
    return tables, indexes


def file_for(directory: Path, token: str) -> Path:
    """The copy of the directory as of change token ``token``."""
    safe = "".join(c for c in token if c.isalnum() or c in "-_") or "none"
    return directory / f"{_PREFIX}{safe}{_SUFFIX}"


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[bool]:
    """One build at a time per node; yields False if another process is building."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "build.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class BuildReport:
    path: Path | None
    token: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    built: bool = False  #: False: another process was building, or the copy existed


def build(engine: Engine, directory: Path) -> BuildReport:
    """Build the copy of the current directory in ``directory`` (PostgreSQL ``engine``),
    unless it exists or another process is building one; remove the older copies but the
    previous one."""
    started = time.perf_counter()
    with _build_lock(directory) as locked:
        if not locked:
            return BuildReport(None)
        with engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        ) as source:
            token = directory_token(source)
            final = file_for(directory, token)
            if final.exists():
                return BuildReport(final, token)
            temporary = directory / f".building-{os.getpid()}{_SUFFIX}"
            temporary.unlink(missing_ok=True)
            try:
                rows = _copy(source, temporary)
                os.replace(temporary, final)  # complete, or absent
            finally:
                temporary.unlink(missing_ok=True)
        _remove_older(directory, final)
    return BuildReport(final, token, rows, time.perf_counter() - started, built=True)


def _remove_older(directory: Path, newest: Path) -> None:
    """Remove the copies older than the one before ``newest``: a process may still search
    that one for ``CHECK_SECONDS`` (and open new connections to it)."""
    older = sorted(
        (path for path in directory.glob(f"{_PREFIX}*{_SUFFIX}") if path != newest),
        key=lambda path: path.stat().st_mtime,
    )
    for path in older[:-1]:
        path.unlink(missing_ok=True)  # a process that has it open reads on


def _copy(source: Connection, path: Path) -> dict[str, int]:
    tables, indexes = _replica_tables()
    dialect = sqlite_dialect.dialect()
    target = sqlite3.connect(path)
    rows: dict[str, int] = {}
    try:
        target.execute("PRAGMA journal_mode = OFF")  # a new file, renamed once complete
        target.execute("PRAGMA synchronous = OFF")
        target.execute("PRAGMA cache_size = -131072")
        dbapi = source.connection.driver_connection
        assert dbapi is not None
        for table in tables:
            target.execute(str(CreateTable(table).compile(dialect=dialect)))
            names = [column.name for column in table.columns]
            insert = (
                f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608 - model names
                f"VALUES ({', '.join('?' * len(names))})"
            )
            # the driver's own server-side cursor: millions of rows, streamed
            with dbapi.cursor(name=f"replica_{table.name}") as cursor:
                cursor.itersize = BATCH
                cursor.execute(f"SELECT {', '.join(names)} FROM {table.name}")  # noqa: S608
                count = 0
                while batch := cursor.fetchmany(BATCH):
                    target.executemany(insert, batch)
                    count += len(batch)
            rows[table.name] = count
        for index in indexes:
            target.execute(str(CreateIndex(index).compile(dialect=dialect)))
        target.execute("ANALYZE")
        target.commit()
    finally:
        target.close()
    return rows


class Replica:
    """A process's view of its node's copies: which one to search, if any."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._checked = -CHECK_SECONDS
        self._spawned = -SPAWN_SECONDS
        self._path: Path | None = None
        self._engine: Engine | None = None
        self._usable = False

    def engine(self, *, read_only_request: bool = False) -> Engine | None:
        """The engine of the current copy, or None: search the database (reading its
        change token on the session, outside a transaction if ``read_only_request``)."""
        now = time.monotonic()
        if now - self._checked < CHECK_SECONDS:
            return self._engine if self._usable else None
        bind = db.session.get_bind()
        if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
            return None  # SQLite (the search is local already), or a test's transaction
        with self._lock:
            if now - self._checked < CHECK_SECONDS:
                return self._engine if self._usable else None
            self._checked = now
            if read_only_request:
                db.read_only_request()
            path = file_for(self.directory, directory_token(db.session.connection()))
            if path == self._path:
                self._usable = True
            elif path.exists():
                self._open(path)
            else:
                self._usable = False
                self._spawn_build(bind)
            return self._engine if self._usable else None

    def _open(self, path: Path) -> None:
        old = self._engine
        # immutable: the file never changes once renamed; no locking, no change checks
        self._engine = create_engine(f"sqlite:///file:{path}?mode=ro&immutable=1&uri=true")
        self._path, self._usable = path, True
        log.info("directory search copy in use: %s", path.name)
        if old is not None:
            old.dispose()

    def _spawn_build(self, engine: Engine) -> None:
        now = time.monotonic()
        if now - self._spawned < SPAWN_SECONDS:
            return
        self._spawned = now
        url = engine.url.render_as_string(hide_password=False)
        process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", __name__, str(self.directory)],
            env={**os.environ, "DCC_DATABASE_URL": url},  # not on the command line
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        threading.Thread(target=process.wait, name="directory-copy", daemon=True).start()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine, self._path, self._usable = None, None, False


@contextlib.contextmanager
def search_connection(*, read_only_request: bool = False) -> Iterator[Connection]:
    """A connection to search the professionals' names on: the node's copy when it is
    current, else the session's own (``read_only_request``: outside a transaction, see
    ``db.read_only_request``). With the copy, the session is left alone: no connection
    taken from the database's pool, none given back."""
    replica = current_app.extensions.get(EXTENSION) if has_app_context() else None
    engine = replica.engine(read_only_request=read_only_request) if replica else None
    if engine is None:
        if read_only_request:
            db.read_only_request()
        yield db.session.connection()
        return
    with engine.connect() as connection:
        yield connection


def main(argv: list[str]) -> int:
    """``python -m planning.directory.replica DIRECTORY``: a background build."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = create_engine(os.environ["DCC_DATABASE_URL"])
    try:
        report = build(engine, Path(argv[0]))
    except Exception:
        log.exception("building the directory search copy failed; searches read the database")
        return 1
    finally:
        engine.dispose()
    if report.built:
        log.info(
            "directory search copy built in %.0f s: %s (%s)",
            report.seconds,
            report.path,
            ", ".join(f"{name} {count}" for name, count in report.rows.items()),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
