"""Writes extraction records into the directory tables: batched, idempotent and incremental.

Unlike a service, an import owns its transactions: each batch is committed on its own (a
failure loses at most the batch in progress, and readers never wait for a 2-million-line
file). A record whose fingerprint matches the stored one costs no write, so importing the same
file twice changes nothing. Professionals and establishments missing from a complete newer
file are marked inactive once the whole file went through; nothing is ever deleted.

Bulk writes use COPY on PostgreSQL and ``executemany`` on SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import Engine, Table, and_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import db, utcnow
from core.errors import PreconditionFailed
from planning.directory.importers import (
    ActivityRecord,
    OrganizationRecord,
    PractitionerRecord,
    Rejected,
)
from planning.directory.models import (
    DirectoryImport,
    Organization,
    OrganizationToken,
    Practitioner,
    PractitionerActivity,
    PractitionerPrefix,
    PractitionerToken,
)
from planning.directory.normalize import fold, tokens
from planning.directory.summary import ActivityValues, PrefixDeltas, name_mask, person_summary_json

PRACTITIONER = cast(Table, Practitioner.__table__)
ACTIVITY = cast(Table, PractitionerActivity.__table__)
PRACTITIONER_TOKEN = cast(Table, PractitionerToken.__table__)
PRACTITIONER_PREFIX = cast(Table, PractitionerPrefix.__table__)
ORGANIZATION = cast(Table, Organization.__table__)
ORGANIZATION_TOKEN = cast(Table, OrganizationToken.__table__)

ACTIVITY_COLUMNS = [*ActivityRecord._fields, "practitioner_id", "active"]
TOKEN_COLUMNS = ["practitioner_id", "token", "name_key", "active", "name_mask"]

#: Rejections kept in the report (the count is always complete).
MAX_REPORTED_REJECTIONS = 200


@dataclass
class ImportReport:
    """What an import did; ``read`` counts lines (RPPS) or entries (FINESS) of the file."""

    kind: str
    layout: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: int = 0
    rejections: list[Rejected] = field(default_factory=list)

    def reject(self, rejection: Rejected) -> None:
        self.rejected += 1
        self.read += 1
        if len(self.rejections) < MAX_REPORTED_REJECTIONS:
            self.rejections.append(rejection)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layout": self.layout,
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
            "rejected": self.rejected,
        }


Progress = Callable[[int], None]


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores dates on SQLite (the sqlite3 date adapter is deprecated).
    return value.isoformat() if isinstance(value, dt.date) else value


class _Writer:
    """Bulk writes on the session's connection, per dialect."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgresql = session.get_bind().dialect.name == "postgresql"
        self._next_ids: dict[str, int] = {}
        if not self.postgresql:
            # Index pages stay in memory during the load (128 MB at most, within the budget).
            session.execute(text("PRAGMA cache_size = -131072"))

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys in the same order), bypassing the ORM."""
        if rows:
            self.insert_tuples(table, list(rows[0]), [tuple(row.values()) for row in rows])

    def insert_tuples(self, table: Table, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows``, tuples of the values of ``columns``: COPY or executemany."""
        if not rows:
            return
        dbapi = self.session.connection().connection.driver_connection
        assert dbapi is not None
        names = ", ".join(columns)
        if self.postgresql:
            with (
                dbapi.cursor() as cursor,
                cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        if table is ORGANIZATION:
            rows = [tuple(_sqlite_value(v) for v in row) for row in rows]
        marks = ", ".join("?" * len(columns))
        cursor = dbapi.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # noqa: S608 - names from the models
        finally:
            cursor.close()

    def select_by_keys(
        self, table: Table, columns: list[str], key: str, values: list[str]
    ) -> list[tuple[Any, ...]]:
        """``columns`` of the rows whose ``key`` is one of ``values``, in one parameter.

        A single array (PostgreSQL) or JSON (SQLite) parameter: an IN list of 2,000 bound
        values cost more to render and parse than the lookup itself.
        """
        if not values:
            return []
        names = ", ".join(columns)
        dbapi = self.session.connection().connection.driver_connection
        assert dbapi is not None
        if self.postgresql:
            sql = f"SELECT {names} FROM {table.name} WHERE {key} = ANY(%s)"  # noqa: S608 - names from the models
            with dbapi.cursor() as cursor:
                cursor.execute(sql, (values,))
                return list(cursor.fetchall())
        sql = f"SELECT {names} FROM {table.name} WHERE {key} IN (SELECT value FROM json_each(?))"  # noqa: S608 - names from the models
        cursor = dbapi.cursor()
        try:
            cursor.execute(sql, (json.dumps(values),))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def allocate_ids(self, table: Table, count: int) -> list[int]:
        """Primary keys for ``count`` new rows (children need them before the COPY)."""
        if count == 0:
            return []
        if self.postgresql:
            sequence = self.session.execute(
                text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
            ).scalar_one()
            # One array rather than a row per id.
            return list(
                self.session.execute(
                    text("SELECT array_agg(nextval(:s)) FROM generate_series(1, :n)"),
                    {"s": sequence, "n": count},
                ).scalar_one()
            )
        if table.name not in self._next_ids:
            current = self.session.execute(select(func.max(table.c.id))).scalar()
            self._next_ids[table.name] = (current or 0) + 1
        first = self._next_ids[table.name]
        self._next_ids[table.name] = first + count
        return list(range(first, first + count))


@contextmanager
def _bulk_load(session: Session, tables: list[Table], *, empty: Table) -> Iterator[bool]:
    """The first load into empty tables: their secondary indexes are built once at the end.

    Building an index from sorted data is several times faster than maintaining it row by
    row over millions of inserts; the unique constraints stay, so does every later import.
    Yields whether this is that first load.
    """
    indexes = [index for table in tables for index in table.indexes if not index.unique]
    if session.execute(select(empty.c.id).limit(1)).first() is not None:
        _create_indexes(session, indexes)  # heals a first load that died before the end
        yield False
        return
    connection = session.connection()
    for index in indexes:
        index.drop(connection)
    session.commit()
    try:
        yield True
    finally:
        session.rollback()
        _create_indexes(session, indexes)
    _refresh_statistics(session, list(dict.fromkeys([empty, *tables])))


def _refresh_statistics(session: Session, tables: list[Table]) -> None:
    """PostgreSQL after a bulk load: planner statistics and the visibility map (without which
    the token index cannot serve index-only scans). VACUUM needs its own connection."""
    engine = session.get_bind()
    if engine.dialect.name != "postgresql" or not isinstance(engine, Engine):
        return  # SQLite, or a test's outer transaction
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")


def _create_indexes(session: Session, indexes: list[Any]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Building an index over millions of rows outlasts the API's statement timeout.
        session.execute(text("SET LOCAL statement_timeout = 0"))
    for index in indexes:
        index.create(connection, checkfirst=True)
    session.commit()


class _Seen:
    """The primary keys met during this import, as a bitmap (1.2 M ids fit in 150 kB)."""

    def __init__(self) -> None:
        self.bits = bytearray()

    def add(self, key: int) -> None:
        if key >= len(self.bits) * 8:
            self.bits.extend(bytes(max(key // 8 + 1 - len(self.bits), 1 << 16)))
        self.bits[key >> 3] |= 1 << (key & 7)

    def __contains__(self, key: int) -> bool:
        return key < len(self.bits) * 8 and bool(self.bits[key >> 3] & (1 << (key & 7)))


def _update_by_id(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE of the columns of ``rows`` (each with its ``_id``)."""
    names = [name for name in rows[0] if name != "_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({**{name: bindparam(f"v_{name}") for name in names}, "updated_at": utcnow()})
    )
    session.execute(
        statement, [{"_id": row["_id"], **{f"v_{n}": row[n] for n in names}} for row in rows]
    )


# --- professionals ---------------------------------------------------------------------------


def _person_row(record: PractitionerRecord) -> dict[str, Any]:
    derived = record.derived(summary=False)
    return {
        "national_id": record.national_id,
        "id_type": record.id_type,
        "rpps": record.rpps,
        "civility": record.civility,
        "exercise_civility": record.exercise_civility,
        "last_name": record.last_name,
        "first_name": record.first_name,
        "name_key": derived.name_key,
        "active": True,
        "fingerprint": derived.fingerprint,
    }


def _activity_rows(practitioner_id: int, record: PractitionerRecord) -> list[dict[str, Any]]:
    rows = []
    for activity in record.activities:
        row = activity._asdict()
        row["practitioner_id"] = practitioner_id
        row["active"] = True
        rows.append(row)
    return rows


def _person_tokens(practitioner_id: int, row: dict[str, Any]) -> list[dict[str, Any]]:
    words = tokens(row["last_name"], row["first_name"])
    mask = name_mask(words)
    return [
        {
            "practitioner_id": practitioner_id,
            "token": token,
            "name_key": row["name_key"],
            "active": row["active"],
            "name_mask": mask,
        }
        for token in words
    ]


def _merge_duplicates(batch: list[PractitionerRecord]) -> list[PractitionerRecord]:
    merged: dict[str, PractitionerRecord] = {}
    for record in batch:
        earlier = merged.get(record.national_id)
        if earlier is None:
            merged[record.national_id] = record
            continue
        keys = {a.activity_key for a in earlier.activities}
        earlier.activities.extend(a for a in record.activities if a.activity_key not in keys)
        earlier.computed = None  # computed from the activities it had
    return list(merged.values())


def import_practitioners(
    items: Iterable[PractitionerRecord | Rejected],
    *,
    layout: str,
    file_name: str,
    batch_size: int = 2000,
    progress: Progress | None = None,
    max_deactivation_ratio: float | None = 0.25,
    deactivate_missing: bool = True,
    background_writes: bool | None = None,
) -> ImportReport:
    """Load an RPPS extraction read by ``importers.read_rpps``; commits batch by batch.

    ``deactivate_missing=False`` for a partial file (a region, the demo): nothing it lacks is
    deactivated. The derived search data (summaries, prefix counts) is written with the rows.
    ``background_writes``: whether each batch is written while the next one is prepared
    (``_BatchWrites``; by default on PostgreSQL).
    """
    session = db.session()
    writer = _Writer(session)
    report = ImportReport(kind="rpps", layout=layout)
    seen = _Seen()

    def records() -> Iterator[PractitionerRecord]:
        for item in items:
            if isinstance(item, Rejected):
                report.reject(item)
            else:
                report.read += item.lines
                yield item

    tables = [PRACTITIONER, ACTIVITY, PRACTITIONER_TOKEN]
    with _bulk_load(session, tables, empty=PRACTITIONER) as first_load:
        # A first load counts the prefixes once at the end (from the sorted token index);
        # a later import applies each batch's changes in the batch's transaction.
        deltas = None if first_load else PrefixDeltas()
        if not first_load and _prefix_counts_missing(session):
            _recount_prefixes(session)  # a first load that died before counting
        reported = 0
        writes = _BatchWrites(session, background=background_writes)
        try:
            for batch in _batches(records(), batch_size):
                batch = _merge_duplicates(batch)
                keys = {record.national_id for record in batch}
                writes.read_after(keys)
                # each batch its own changes to the prefix counts, applied with its writes
                batch_deltas = None if deltas is None else PrefixDeltas()
                write = _practitioner_batch(writer, batch, seen, report, batch_deltas)
                writes.submit(write, keys)
                if progress:
                    # Once per batch (lines read since the last call): the bar needs no more.
                    progress(report.read - reported)
                    reported = report.read
        finally:
            writes.close()
    if first_load:
        _recount_prefixes(session)
    if deactivate_missing:
        deltas = PrefixDeltas()
        report.deactivated = _deactivate_practitioners(
            session, seen, max_deactivation_ratio, deltas
        )
        apply_prefix_deltas(session, deltas)
    _record_run(session, report, file_name)
    session.commit()
    session.expire_all()  # the writes bypassed the ORM: loaded objects are stale
    return report


class _BatchWrites:
    """Each batch's writes, in a transaction of their own, in a thread of their own while
    the importer prepares the next batch.

    Reading and preparing a batch is Python; writing it on PostgreSQL is mostly the server's
    work, in a process of its own. One after the other, the importer waited for the server
    about half of a national import. Here one batch is written while the next is prepared;
    at most one is in flight, and a batch that names a professional of the batch in flight
    waits for it to be written first, so that it reads what that batch stored, as one after
    the other would.

    ``background=None`` (the default): on PostgreSQL only, whose server works in a process of
    its own. SQLite writes in the importing process, much of it under the GIL, and there
    the thread only added contention (national file: 18,517 rows/s and 182 s of CPU with it,
    19,240-19,711 rows/s and 167 s without; PostgreSQL: 16,706 rows/s with it, 15,112
    without). Never when the session is bound to one connection (tests' outer transaction):
    the thread needs a connection of its own. A failure of a write stops the import at the
    next batch with that error; the batch in flight when the importer fails is still
    written and committed, whole.
    """

    def __init__(self, session: Session, *, background: bool | None) -> None:
        self._pool: ThreadPoolExecutor | None = None
        bind = session.get_bind()
        if background is None:
            background = bind.dialect.name == "postgresql"
        if background and isinstance(bind, Engine):
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="directory-writes")
        self._in_flight: Future[None] | None = None
        self._in_flight_keys: set[str] = set()

    def read_after(self, keys: Iterable[str]) -> None:
        """Wait for the batch in flight if it writes any of ``keys``."""
        if self._in_flight_keys and not self._in_flight_keys.isdisjoint(keys):
            self.wait()

    def submit(self, write: Callable[[], None], keys: set[str]) -> None:
        """Run ``write`` (which commits) once the batch before it is written."""
        if self._pool is None:
            write()
            return
        self.wait()
        db.session().commit()  # the importer's reads end their transaction meanwhile
        self._in_flight = self._pool.submit(self._in_thread, write)
        self._in_flight_keys = keys

    def wait(self) -> None:
        """Wait for the batch in flight; raises its error."""
        in_flight, self._in_flight = self._in_flight, None
        self._in_flight_keys = set()
        if in_flight is not None:
            in_flight.result()

    def close(self) -> None:
        """Wait for the batch in flight and stop the thread (its session closed)."""
        if self._pool is None:
            return
        try:
            self.wait()
        finally:
            self._pool.submit(db.session.remove).result()
            self._pool.shutdown()
            self._pool = None

    @staticmethod
    def _in_thread(write: Callable[[], None]) -> None:
        try:
            write()
        except BaseException:
            db.session().rollback()
            raise


class _Stored(NamedTuple):
    """What a batch needs of a stored professional."""

    id: int
    national_id: str
    fingerprint: str
    active: bool
    last_name: str
    first_name: str


def _practitioner_batch(
    writer: _Writer,
    batch: list[PractitionerRecord],
    seen: _Seen,
    report: ImportReport,
    deltas: PrefixDeltas | None,
) -> Callable[[], None]:
    """Read what is stored of ``batch`` and prepare its rows; returns the writes (which
    commit), for ``_BatchWrites`` to run."""
    existing = {
        row[1]: _Stored(*row)
        for row in writer.select_by_keys(
            PRACTITIONER,
            list(_Stored._fields),
            "national_id",
            [r.national_id for r in batch],
        )
    }
    new = [r for r in batch if r.national_id not in existing]
    # The hot path of a first load: plain tuples, no dict per row.
    people: list[dict[str, Any]] = []
    activities: list[tuple[Any, ...]] = []
    words: list[tuple[Any, ...]] = []
    for practitioner_id, record in zip(
        writer.allocate_ids(PRACTITIONER, len(new)), new, strict=True
    ):
        # Derived by the reader process when there is one (importers.PractitionerRecord).
        derived = record.derived()
        row = {"id": practitioner_id, **_person_row(record), "summary": derived.summary}
        people.append(row)
        activities.extend((*activity, practitioner_id, True) for activity in record.activities)
        key, names, mask = derived.name_key, derived.words, derived.mask
        words.extend((practitioner_id, token, key, True, mask) for token in names)
        if deltas is not None:
            deltas.add(names, True)
        seen.add(practitioner_id)
    report.inserted += len(new)

    changed: list[tuple[_Stored, PractitionerRecord, bool]] = []
    for record in batch:
        stored = existing.get(record.national_id)
        if stored is None:
            continue
        again = stored.id in seen
        seen.add(stored.id)
        if stored.fingerprint == record.fingerprint and stored.active and not again:
            report.unchanged += 1
        else:
            changed.append((stored, record, again))
    report.updated += sum(1 for _, _, again in changed if not again)

    def write() -> None:
        # in the session of the thread that runs it (_BatchWrites), which it commits
        session = db.session()
        batch_writer = writer if session is writer.session else _Writer(session)
        batch_writer.insert(PRACTITIONER, people)
        batch_writer.insert_tuples(ACTIVITY, ACTIVITY_COLUMNS, activities)
        batch_writer.insert_tuples(PRACTITIONER_TOKEN, TOKEN_COLUMNS, words)
        if changed:
            _update_practitioners(batch_writer, changed, deltas)
        if deltas is not None:
            apply_prefix_deltas(session, deltas)
        session.commit()

    return write


def _update_practitioners(
    writer: _Writer,
    changed: list[tuple[_Stored, PractitionerRecord, bool]],
    deltas: PrefixDeltas | None,
) -> None:
    session = writer.session
    ids = [stored.id for stored, _, _ in changed]
    stored_activities: dict[int, dict[str, tuple[int, bool]]] = {}
    for activity_id, practitioner_id, key, active in session.execute(
        select(
            ACTIVITY.c.id, ACTIVITY.c.practitioner_id, ACTIVITY.c.activity_key, ACTIVITY.c.active
        ).where(ACTIVITY.c.practitioner_id.in_(ids))
    ):
        stored_activities.setdefault(practitioner_id, {})[key] = (activity_id, active)
    inserts: list[dict[str, Any]] = []
    reactivate: list[int] = []
    deactivate: list[int] = []
    for stored, record, again in changed:
        current = stored_activities.get(stored.id, {})
        wanted = {a.activity_key for a in record.activities}
        for row in _activity_rows(stored.id, record):
            if row["activity_key"] not in current:
                inserts.append(row)
            elif not current[row["activity_key"]][1]:
                reactivate.append(current[row["activity_key"]][0])
        if not again:
            deactivate.extend(
                activity_id
                for key, (activity_id, active) in current.items()
                if active and key not in wanted
            )
    writer.insert(ACTIVITY, inserts)
    for ids_, value in ((reactivate, True), (deactivate, False)):
        if ids_:
            session.execute(update(ACTIVITY).where(ACTIVITY.c.id.in_(ids_)).values(active=value))
    # The summaries list the active activities as they now stand.
    active_values: dict[int, list[ActivityValues]] = {key: [] for key in ids}
    for practitioner_id, *values in session.execute(
        select(
            ACTIVITY.c.practitioner_id,
            ACTIVITY.c.profession_code,
            ACTIVITY.c.specialty_code,
            ACTIVITY.c.department,
        ).where(ACTIVITY.c.practitioner_id.in_(ids), ACTIVITY.c.active.is_(True))
    ):
        active_values[practitioner_id].append(cast(ActivityValues, tuple(values)))
    rows = []
    for stored, record, again in changed:
        row = _person_row(record)
        # A professional met twice in the same file (non-contiguous lines): fingerprint
        # left blank so that the next import compares afresh.
        row["fingerprint"] = "" if again else row["fingerprint"]
        row["summary"] = person_summary_json(
            record, active=True, activities=active_values[stored.id]
        )
        rows.append({"_id": stored.id, **row})
        if deltas is not None:
            deltas.move(
                tokens(stored.last_name, stored.first_name),
                stored.active,
                tokens(record.last_name, record.first_name),
                row["active"],
            )
    _update_by_id(session, PRACTITIONER, rows)
    session.execute(
        PRACTITIONER_TOKEN.delete().where(PRACTITIONER_TOKEN.c.practitioner_id.in_(ids))
    )
    writer.insert(
        PRACTITIONER_TOKEN,
        [
            token
            for (stored, _, _), row in zip(changed, rows, strict=True)
            for token in _person_tokens(stored.id, row)
        ],
    )


def _active_ids(session: Session, table: Table, where: Any = None) -> Iterator[list[int]]:
    last = 0
    while True:
        query = select(table.c.id).where(table.c.active.is_(True), table.c.id > last)
        if where is not None:
            query = query.where(where)
        chunk = list(session.scalars(query.order_by(table.c.id).limit(10_000)))
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


def _missing(
    session: Session, table: Table, seen: _Seen, where: Any = None
) -> tuple[list[int], int]:
    missing: list[int] = []
    active = 0
    for chunk in _active_ids(session, table, where):
        active += len(chunk)
        missing.extend(key for key in chunk if key not in seen)
    return missing, active


def _check_ratio(missing: int, active: int, ratio: float | None, what: str) -> None:
    if ratio is not None and active >= 1000 and missing > ratio * active:
        raise PreconditionFailed(
            f"the file lacks {missing} of the {active} active {what}: refusing to deactivate more"
            f" than {ratio:.0%} of them (truncated file?). Everything else was imported; run"
            " again with a higher --max-deactivation to accept."
        )


def _deactivate_practitioners(
    session: Session, seen: _Seen, ratio: float | None, deltas: PrefixDeltas
) -> int:
    missing, active = _missing(session, PRACTITIONER, seen)
    _check_ratio(len(missing), active, ratio, "professionals")
    person = [PRACTITIONER.c[name] for name in _SUMMARY_COLUMNS]
    for start in range(0, len(missing), 5000):
        ids = missing[start : start + 5000]
        rows = []
        for row in session.execute(
            select(PRACTITIONER.c.id, *person).where(PRACTITIONER.c.id.in_(ids))
        ):
            names = tokens(row.last_name, row.first_name)
            deltas.move(names, True, names, False)
            # No active activity left: the summary lists none.
            summary = person_summary_json(row, active=False, activities=[])
            rows.append({"_id": row.id, "active": False, "summary": summary})
        _update_by_id(session, PRACTITIONER, rows)
        session.execute(
            update(ACTIVITY).where(ACTIVITY.c.practitioner_id.in_(ids)).values(active=False)
        )
        session.execute(
            update(PRACTITIONER_TOKEN)
            .where(PRACTITIONER_TOKEN.c.practitioner_id.in_(ids))
            .values(active=False)
        )
    return len(missing)


#: The columns of a professional that his summary shows.
_SUMMARY_COLUMNS = (
    "rpps",
    "national_id",
    "id_type",
    "civility",
    "exercise_civility",
    "last_name",
    "first_name",
    "active",
)


# --- derived search data ---------------------------------------------------------------------


def apply_prefix_deltas(session: Session, deltas: PrefixDeltas) -> None:
    """Add ``deltas`` to the per-prefix owner counts (in the caller's transaction)."""
    changes = deltas.pop()
    if not changes:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(PRACTITIONER_PREFIX)
    statement = statement.on_conflict_do_update(
        index_elements=[PRACTITIONER_PREFIX.c.active, PRACTITIONER_PREFIX.c.prefix],
        set_={"owners": PRACTITIONER_PREFIX.c.owners + statement.excluded.owners},
    )
    session.execute(statement, [{"prefix": p, "active": a, "owners": n} for p, a, n in changes])
    emptied = [{"p": p, "a": a} for p, a, n in changes if n < 0]
    if emptied:
        session.execute(
            delete(PRACTITIONER_PREFIX).where(
                and_(
                    PRACTITIONER_PREFIX.c.active == bindparam("a"),
                    PRACTITIONER_PREFIX.c.prefix == bindparam("p"),
                    PRACTITIONER_PREFIX.c.owners <= 0,
                )
            ),
            emptied,
        )


def prefix_owner_counts(rows: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    """``(prefix, distinct owners)`` of every prefix of ``(token, owner)`` rows sorted by token.

    The prefixes of consecutive tokens nest: one set of owners per prefix length of the
    current token, each closed (and counted) when the next token leaves it.
    """
    open_sets: list[set[int]] = []  # open_sets[n - 1]: owners of current[:n]
    current = ""
    for token, group in groupby(rows, key=itemgetter(0)):
        owners = [owner for _, owner in group]
        common = 0
        for a, b in zip(current, token, strict=False):
            if a != b:
                break
            common += 1
        while len(open_sets) > common:
            yield current[: len(open_sets)], len(open_sets.pop())
        while len(open_sets) < len(token):
            open_sets.append(set())
        for owner_set in open_sets:
            owner_set.update(owners)
        current = token
    while open_sets:
        yield current[: len(open_sets)], len(open_sets.pop())


def rebuild_prefix_counts(session: Session) -> None:
    """Count every prefix afresh from the token table (after a first load; in tests)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL statement_timeout = 0"))
    session.execute(delete(PRACTITIONER_PREFIX))
    writer = _Writer(session)
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    for active in (False, True):
        # Millions of rows: streamed by the driver's own cursor (server-side on PostgreSQL),
        # a third of the CPU of result rows.
        cursor = dbapi.cursor(name="directory_prefixes") if writer.postgresql else dbapi.cursor()
        try:
            if writer.postgresql:
                cursor.itersize = 50_000
            cursor.execute(_TOKENS_IN_ORDER[active])
            counted = ((prefix, active, n) for prefix, n in prefix_owner_counts(cursor))
            for batch in _batches(counted, 50_000):
                writer.insert_tuples(PRACTITIONER_PREFIX, ["prefix", "active", "owners"], batch)
        finally:
            cursor.close()


def _recount_prefixes(session: Session) -> None:
    """Count every prefix afresh, commit, and give PostgreSQL statistics on the counts:
    without them it took each prefix for 70 rows and planned the search's prefix lookup
    again at every search (until autovacuum came, where it runs)."""
    rebuild_prefix_counts(session)
    session.commit()
    _refresh_statistics(session, [PRACTITIONER_PREFIX])


#: Token rows of active (True) or inactive owners in token order, for the driver's cursor.
_TOKENS_IN_ORDER = {
    True: "SELECT token, practitioner_id FROM directory_practitioner_token"
    " WHERE active = true ORDER BY token",
    False: "SELECT token, practitioner_id FROM directory_practitioner_token"
    " WHERE active = false ORDER BY token",
}


def _prefix_counts_missing(session: Session) -> bool:
    """Tokens but no prefix count: a first load died before counting."""
    return (
        session.execute(select(PRACTITIONER_PREFIX.c.prefix).limit(1)).first() is None
        and session.execute(select(PRACTITIONER_TOKEN.c.token).limit(1)).first() is not None
    )


# --- establishments --------------------------------------------------------------------------


def _organization_row(record: OrganizationRecord, source: str) -> dict[str, Any]:
    return {
        "finess": record.finess,
        "kind": record.kind,
        "finess_ej": record.finess_ej,
        "name": record.name,
        "long_name": record.long_name,
        "name_key": fold(record.name)[:200],
        "category_code": record.category_code,
        "category_label": record.category_label,
        "siret": record.siret,
        "address": record.address,
        "postal_code": record.postal_code,
        "city": record.city,
        "department": record.department,
        "region": record.region,
        "phone": record.phone,
        "lat": record.lat,
        "lon": record.lon,
        "opened_on": record.opened_on,
        "closed_on": record.closed_on,
        "active": record.active,
        "source": source,
        "fingerprint": record.fingerprint,
    }


def _organization_tokens(organization_id: int, row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "organization_id": organization_id,
            "token": token,
            "name_key": row["name_key"],
            "active": row["active"],
        }
        for token in tokens(row["name"], row["long_name"])
    ]


def import_organizations(
    items: Iterable[OrganizationRecord | Rejected],
    *,
    layout: str,
    kinds: set[str],
    file_name: str,
    batch_size: int = 2000,
    progress: Progress | None = None,
    max_deactivation_ratio: float | None = 0.25,
    deactivate_missing: bool = True,
) -> ImportReport:
    """Load a FINESS file read by ``importers.read_finess``; commits batch by batch.

    Establishments of the ``kinds`` the file is complete for (ET, EJ) that it no longer lists
    are marked inactive.
    """
    session = db.session()
    writer = _Writer(session)
    report = ImportReport(kind="finess", layout=layout)
    seen = _Seen()
    source = "finess+" if layout == "finess+" else "etalab"

    def records() -> Iterator[OrganizationRecord]:
        for item in items:
            if progress:
                progress(1)
            if isinstance(item, Rejected):
                report.reject(item)
            else:
                report.read += 1
                yield item

    with _bulk_load(session, [ORGANIZATION_TOKEN], empty=ORGANIZATION):
        for batch in _batches(records(), batch_size):
            unique = list({r.finess: r for r in batch}.values())
            _organization_batch(writer, unique, seen, report, source)
            session.commit()
    missing, active = (
        _missing(session, ORGANIZATION, seen, ORGANIZATION.c.kind.in_(kinds))
        if deactivate_missing
        else ([], 0)
    )
    _check_ratio(len(missing), active, max_deactivation_ratio, "establishments")
    for start in range(0, len(missing), 5000):
        ids = missing[start : start + 5000]
        session.execute(
            update(ORGANIZATION)
            .where(ORGANIZATION.c.id.in_(ids))
            .values(active=False, updated_at=utcnow())
        )
        session.execute(
            update(ORGANIZATION_TOKEN)
            .where(ORGANIZATION_TOKEN.c.organization_id.in_(ids))
            .values(active=False)
        )
    report.deactivated = len(missing)
    _record_run(session, report, file_name)
    session.commit()
    session.expire_all()  # the writes bypassed the ORM: loaded objects are stale
    return report


def _organization_batch(
    writer: _Writer,
    batch: list[OrganizationRecord],
    seen: _Seen,
    report: ImportReport,
    source: str,
) -> None:
    session = writer.session
    existing = {
        row.finess: row
        for row in session.execute(
            select(ORGANIZATION.c.id, ORGANIZATION.c.finess, ORGANIZATION.c.fingerprint).where(
                ORGANIZATION.c.finess.in_([r.finess for r in batch])
            )
        )
    }
    new = [r for r in batch if r.finess not in existing]
    rows = []
    words = []
    for organization_id, record in zip(
        writer.allocate_ids(ORGANIZATION, len(new)), new, strict=True
    ):
        row = {"id": organization_id, **_organization_row(record, source)}
        rows.append(row)
        words.extend(_organization_tokens(organization_id, row))
        seen.add(organization_id)
    writer.insert(ORGANIZATION, rows)
    writer.insert(ORGANIZATION_TOKEN, words)
    report.inserted += len(new)

    updates = []
    for record in batch:
        stored = existing.get(record.finess)
        if stored is None:
            continue
        seen.add(stored.id)
        if stored.fingerprint == record.fingerprint:
            report.unchanged += 1
        else:
            updates.append({"_id": stored.id, **_organization_row(record, source)})
    if not updates:
        return
    report.updated += len(updates)
    _update_by_id(session, ORGANIZATION, updates)
    ids = [row["_id"] for row in updates]
    session.execute(
        ORGANIZATION_TOKEN.delete().where(ORGANIZATION_TOKEN.c.organization_id.in_(ids))
    )
    writer.insert(
        ORGANIZATION_TOKEN,
        [token for row in updates for token in _organization_tokens(row["_id"], row)],
    )


def _record_run(session: Session, report: ImportReport, file_name: str) -> None:
    session.add(
        DirectoryImport(
            kind=report.kind,
            file_name=file_name[-300:],
            layout=report.layout,
            finished_at=dt.datetime.now(dt.UTC),
            **{k: v for k, v in report.as_dict().items() if k not in ("kind", "layout")},
        )
    )
