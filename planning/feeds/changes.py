"""What a change of planning data does to the calendar feeds' change token.

Every transaction that changes what a feed shows replaces one of the ``FeedVersion`` rows
(ORM changes are noticed by the session events below; Core statements call
``mark_changed``); the feeds compare the rows' tokens to know whether anything changed.
A registration replaces a row of its region only (``registration_row``), inside its own
statement on PostgreSQL (``registration_bump_cte``, ``bumped``) to save a round trip.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, cast, event, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession

from core.db import DriverStatement, UTCDateTime, db, utcnow
from planning.directory.models import (
    DirectoryImport,
    Organization,
    Practitioner,
    PractitionerActivity,
)
from planning.feeds.models import FeedSubscription, FeedVersion
from planning.models import Rcp, RcpMember, Session, SessionParticipant

#: Directory data shown in events (names, specialties, addresses). A directory import writes
#: its rows in bulk, bypassing the ORM, but records its run (``DirectoryImport``) through it.
DIRECTORY: tuple[type, ...] = (Organization, Practitioner, PractitionerActivity, DirectoryImport)
#: Models whose changes can change a feed (registrations change it through the session's count).
WATCHED: tuple[type, ...] = (
    Rcp,
    RcpMember,
    Session,
    SessionParticipant,
    FeedSubscription,
    *DIRECTORY,
)
_WATCHED_TABLES = frozenset(m.__table__.name for m in WATCHED)  # type: ignore[attr-defined]
_DIRECTORY_TABLES = frozenset(m.__table__.name for m in DIRECTORY)  # type: ignore[attr-defined]
_CHANGED = "planning_feeds_changed"
_DIRECTORY_CHANGED = "planning_feeds_directory_changed"
#: Rows of ``FeedVersion``: directory changes; and the planning rows, of which every planning
#: change replaces one, drawn at random: concurrent writers (registrations) rarely wait on the
#: same row, and the planning change token is the hash of all of them.
DIRECTORY_ROW = 2
PLANNING_ROWS = (1, *range(3, 18))
#: Rows that only registrations replace, eight per region (of the session's RCP), drawn at
#: random: a dossier changes its session's count, which only the feeds showing that session
#: show. A region's feeds hash the planning rows and their region's rows, so they keep their
#: validators while other regions register; every other feed hashes all the rows.
REGION_ROW_BASE = 1000
REGION_SPREAD = 8


def region_rows(region: str | None) -> range | None:
    """The rows of ``region`` (an INSEE region code), or None for an unknown code."""
    if not region or not region.isdigit() or len(region) > 2:
        return None
    first = REGION_ROW_BASE + int(region) * REGION_SPREAD
    return range(first, first + REGION_SPREAD)


def registration_row(region: str | None) -> int:
    """The row a registration of ``region`` replaces (a planning row if the region is unknown)."""
    rows = region_rows(region) or PLANNING_ROWS
    return rows[secrets.randbelow(len(rows))]


_VERSION_TABLE = FeedVersion.__table__


def directory_token(connection: Any = None) -> str:
    """The current directory change token ('' before the first change), read on
    ``connection`` (by default the session's)."""
    statement = select(FeedVersion.token).where(FeedVersion.id == DIRECTORY_ROW)
    token = (connection or db.session).execute(statement).scalar()
    return token or ""


#: INSERT ... ON CONFLICT (id) DO UPDATE, the same text for SQLite and PostgreSQL: one
#: statement whether or not the row exists (the dialects' own upsert constructs are not cached,
#: so they would be compiled again in every transaction). ``{p}``: a prefix of the parameters'
#: names, for a statement that carries it among others.
_UPSERT = (
    f"INSERT INTO {FeedVersion.__tablename__} (id, token, changed_at) "  # noqa: S608
    "VALUES (:{p}id, :{p}token, :{p}changed_at) "
    "ON CONFLICT (id) DO UPDATE SET token = excluded.token, changed_at = excluded.changed_at"
)
_BUMP = text(_UPSERT.format(p="")).bindparams(bindparam("changed_at", type_=UTCDateTime()))
_UPSERTING = frozenset({"postgresql", "sqlite"})
_BUMP_ON_CURSOR = DriverStatement(_BUMP)  # a registration's (the hot write path)


def _note(info: dict[Any, Any], objects: Any) -> None:
    for obj in objects:
        if isinstance(obj, DIRECTORY):
            info[_CHANGED] = info[_DIRECTORY_CHANGED] = True
            return
        if isinstance(obj, WATCHED):
            info[_CHANGED] = True


@event.listens_for(OrmSession, "before_flush")
def _note_changes(session: OrmSession, _context: Any, _instances: Any) -> None:
    _note(session.info, (*session.new, *session.dirty, *session.deleted))


@event.listens_for(OrmSession, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    # ORM-enabled and Core UPDATE/DELETE (e.g. the atomic registered_count update) skip the
    # flush.
    if state.is_update or state.is_delete or state.is_insert:
        names = [mapper.local_table.name for mapper in state.all_mappers]
        table = getattr(state.statement, "table", None)
        if table is not None and getattr(table, "name", None):
            names.append(table.name)
        for name in names:
            if name in _WATCHED_TABLES:
                state.session.info[_CHANGED] = True
                if name in _DIRECTORY_TABLES:
                    state.session.info[_DIRECTORY_CHANGED] = True


@event.listens_for(OrmSession, "before_commit")
def _bump_version(session: OrmSession) -> None:
    _note(session.info, (*session.new, *session.dirty, *session.deleted))
    if not session.info.get(_CHANGED):
        return
    # Flush first, so that these rows are the transaction's last locks (taken in the same
    # order by every transaction): they are never held while waiting for another row.
    session.flush()
    rows = [PLANNING_ROWS[secrets.randbelow(len(PLANNING_ROWS))]]  # not fork-shared
    if session.info.pop(_DIRECTORY_CHANGED, None):
        rows.append(DIRECTORY_ROW)
    session.info.pop(_CHANGED, None)
    connection = session.connection()
    upsert = connection.dialect.name in _UPSERTING
    table = _VERSION_TABLE
    now = utcnow()
    for row in sorted(rows):  # ascending, in every transaction: no lock cycle
        values = {"id": row, "token": secrets.token_hex(16), "changed_at": now}
        if upsert:
            connection.execute(_BUMP, values)
            continue
        result = connection.execute(update(table).where(table.c.id == row).values(**values))
        if result.rowcount == 0:
            connection.execute(insert(table).values(**values))


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_changes(session: OrmSession, _previous: Any) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_DIRECTORY_CHANGED, None)


def mark_changed(session: OrmSession | None = None, *, directory: bool = False) -> None:
    """Tell the feeds that planning data changed through Core statements, which the ORM events
    above cannot see; ``directory``: establishments or professionals changed."""
    info = (session or db.session()).info
    info[_CHANGED] = True
    if directory:
        info[_DIRECTORY_CHANGED] = True


def region_row_sql(region: Any) -> Any:
    """``registration_row`` as an SQL expression of a ``region`` column, for a statement that
    reads the region itself (PostgreSQL). Its random draws come in as parameters
    (``region_row_params``): ``feed_pick``, the row among the region's, and ``feed_fallback``,
    the planning row of an unknown region."""
    return case(
        (
            region.regexp_match("^[0-9]{1,2}$"),
            REGION_ROW_BASE + cast(region, Integer) * REGION_SPREAD + bindparam("feed_pick"),
        ),
        else_=bindparam("feed_fallback"),
    )


def region_row_params(now: dt.datetime) -> dict[str, Any]:
    """The parameters of ``registration_bump_cte``."""
    return {
        "feed_pick": secrets.randbelow(REGION_SPREAD),
        "feed_fallback": PLANNING_ROWS[secrets.randbelow(len(PLANNING_ROWS))],
        "feed_token": secrets.token_hex(16),
        "feed_changed_at": now,
    }


def registration_bump_cte(region: Any, source: Any) -> Any:
    """PostgreSQL: the replacement of the row of a registration in ``region`` (a column of
    ``source``), as a data-modifying CTE that a statement writing the registration carries, so
    that no round trip of its own is needed. It writes once per row of ``source``: give it the
    registration just inserted, which also makes it run after whatever that insert needed
    (the session row's lock), so its row stays the transaction's last lock, as the commit's
    bump would be."""
    table = _VERSION_TABLE
    upsert = pg_insert(table).from_select(
        ["id", "token", "changed_at"],
        select(
            region_row_sql(region),
            cast(bindparam("feed_token"), String),
            cast(bindparam("feed_changed_at", type_=UTCDateTime()), UTCDateTime()),
        ).select_from(source),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"token": upsert.excluded.token, "changed_at": upsert.excluded.changed_at},
    )
    return upsert.returning(table.c.id).cte("feed_version_bump")


def bump_registration(region: str | None, now: dt.datetime) -> None:
    """Replace the row of a registration in ``region`` now (engines without the chained
    statement), instead of a planning row at commit."""
    session = db.session()
    values = {"id": registration_row(region), "token": secrets.token_hex(16), "changed_at": now}
    _BUMP_ON_CURSOR.execute(session.connection(), values)
    bumped(session)


def bumped(session: OrmSession | None = None) -> None:
    """The transaction replaced a planning row itself (``registration_bump_cte``): the commit need
    not do it again, unless something else changes before it."""
    info = (session or db.session()).info
    if not info.get(_DIRECTORY_CHANGED):
        info.pop(_CHANGED, None)
