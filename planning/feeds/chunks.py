"""Rendered VEVENTs kept in the database, so that no worker or node serialises a session twice.

icalendar needs about a millisecond per event: a region-year feed of 5,000 sessions would cost
seconds on every planning change, and again in every fresh worker. Each session's VEVENT text
is therefore stored (``FeedChunk``) and a feed is assembled from the stored chunks, which each
worker also keeps in memory (``ChunkMemory``). A chunk is current while its *stamp* matches;
the stamp is a text the feed query computes in SQL from what can change the event:

- the session's ``revision``, ``updated_at``, status and dossier count (every write of a
  session moves ``updated_at``: ``TimestampMixin``'s ``onupdate``, or the services' own value);
- its RCP's ``updated_at`` (title, kind, place, room, coordinator, substitute, 3C...);
- its participants (RPPS, specialty, role), aggregated in SQL;
- the directory change token (names, specialties, addresses of establishments and people);
- the site (public URL, contact address) and ``ical.FORMAT``.

A stale or missing chunk costs the complete event description (``events_of``); its
``ical.inputs_key`` is compared with the one the stored body was rendered from, so that a stamp
that moved without changing what the event shows (an RCP's capacity, an unrelated directory
import) costs no icalendar call, only a new stamp (and new DTSTAMP and LAST-MODIFIED lines,
when the change moved the event's last-modified instant). Correctness rests on that key
(every field written, and the format); the stamp only saves the work of computing it.

The stamp is read *before* the event data (the feed query comes first), so a concurrent change
can only leave a newer body under an older stamp, which the next render refreshes; never an
older body under a current stamp.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import Select, String, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from core.db import db
from planning import ical
from planning.feeds.models import FeedChunk
from planning.models import Rcp, Session, SessionParticipant

_UNIT, _RECORD, _FIELD = "\x1f", "\x1e", "|"
#: Beyond this many chunks missing from memory, they are read with the feed's filters rather
#: than by id (one query either way, without thousands of bound parameters).
_BY_ID_LIMIT = 500

EventsOf = Callable[[Collection[int] | None], Mapping[int, ical.FeedEvent]]


@dataclasses.dataclass
class Chunks:
    """A feed's VEVENT texts in order, the local years they span, and where they came from."""

    bodies: list[bytes]
    years: tuple[int, int] | None
    from_memory: int = 0
    from_database: int = 0
    restamped: int = 0
    rendered: int = 0


class ChunkMemory:
    """Chunks by session id, with their stamp (bounded in bytes, first in first out)."""

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._chunks: dict[int, tuple[str, bytes, int, int]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, session_id: int, stamp: str) -> tuple[str, bytes, int, int] | None:
        found = self._chunks.get(session_id)
        return found if found is not None and found[0] == stamp else None

    def keep(self, session_id: int, chunk: tuple[str, bytes, int, int]) -> None:
        with self._lock:
            previous = self._chunks.pop(session_id, None)
            if previous is not None:
                self._bytes -= len(previous[1])
            self._chunks[session_id] = chunk
            self._bytes += len(chunk[1])
            if self._bytes > self.max_bytes:
                for old in list(itertools.islice(self._chunks, len(self._chunks) // 4 or 1)):
                    self._bytes -= len(self._chunks.pop(old)[1])

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._chunks)


#: This process's chunks (a worker's feeds share them).
MEMORY = ChunkMemory()


def _text(column: Any) -> Any:
    return func.coalesce(cast(column, String), "")


def _participants() -> Any:
    line = (
        _text(SessionParticipant.id)
        + _UNIT
        + SessionParticipant.rpps
        + _UNIT
        + _text(SessionParticipant.specialty_code)
        + _UNIT
        + SessionParticipant.role
    )
    return func.coalesce(
        select(func.aggregate_strings(line, _RECORD))
        .where(SessionParticipant.session_id == Session.id)
        .correlate(Session)
        .scalar_subquery(),
        "",
    )


def stamp_expression(prefix: str) -> Any:
    """The stamp of a session (SQL text; ``prefix``: site and directory token)."""
    parts = [
        literal(f"{ical.FORMAT}{_FIELD}{prefix}"),
        _text(Session.id),
        _text(Session.revision),
        _text(Session.updated_at),
        _text(Session.status),
        _text(Session.registered_count),
        _text(Rcp.updated_at),
        _participants(),
    ]
    expression = parts[0]
    for part in parts[1:]:
        expression = expression + _FIELD + part
    return expression


def collect(
    sessions: Select[Any],
    *,
    prefix: str,
    events_of: EventsOf,
    memory: ChunkMemory = MEMORY,
) -> Chunks:
    """The VEVENT of every session ``sessions`` selects, by start: from memory or the database
    where current, the others rendered (or re-stamped) and written back in the caller's
    transaction.

    ``events_of(ids)``: the events of these sessions by id (``None``: all of them).
    """
    rows = db.session.execute(
        sessions.with_only_columns(Session.id, stamp_expression(prefix)).order_by(
            Session.starts_at, Session.id
        )
    ).all()
    found: list[tuple[str, bytes, int, int] | None] = [memory.get(i, s) for i, s in rows]
    missing = {row[0]: (index, row[1]) for index, row in enumerate(rows) if found[index] is None}
    result = Chunks(bodies=[], years=None, from_memory=len(rows) - len(missing))
    if missing:
        stale = _from_database(sessions, missing, found, memory, result)
        if stale:
            _render(stale, events_of, found, memory, result)
    chunks = [c for c in found if c is not None]
    result.bodies = [c[1] for c in chunks]
    if chunks:
        result.years = (min(c[2] for c in chunks), max(c[3] for c in chunks))
    return result


_STORED = (
    FeedChunk.session_id,
    FeedChunk.stamp,
    FeedChunk.inputs,
    FeedChunk.first_year,
    FeedChunk.last_year,
    FeedChunk.body,
)


def _from_database(
    sessions: Select[Any],
    missing: dict[int, tuple[int, str]],
    found: list[tuple[str, bytes, int, int] | None],
    memory: ChunkMemory,
    result: Chunks,
) -> dict[int, tuple[int, str, str | None, str | None]]:
    """Fill ``found`` from the stored chunks that are current; return the others (index,
    current stamp, stored inputs and body)."""
    if len(missing) <= _BY_ID_LIMIT:
        query = select(*_STORED).where(FeedChunk.session_id.in_(missing))
    else:
        query = sessions.with_only_columns(*_STORED).join(
            FeedChunk, FeedChunk.session_id == Session.id
        )
    stored = {row[0]: row for row in db.session.execute(query)}
    stale = {}
    for session_id, (index, current) in missing.items():
        row = stored.get(session_id)
        if row is not None and row[1] == current:
            chunk = (current, row[5].encode(), row[3], row[4])
            found[index] = chunk
            memory.keep(session_id, chunk)
            result.from_database += 1
        else:
            inputs, body = (row[2], row[5]) if row is not None else (None, None)
            stale[session_id] = (index, current, inputs, body)
    return stale


def _render(
    stale: dict[int, tuple[int, str, str | None, str | None]],
    events_of: EventsOf,
    found: list[tuple[str, bytes, int, int] | None],
    memory: ChunkMemory,
    result: Chunks,
) -> None:
    events = events_of(stale if len(stale) <= _BY_ID_LIMIT else None)
    writes: list[dict[str, Any]] = []
    to_render: list[tuple[dict[str, Any], ical.FeedEvent]] = []
    for session_id, (_index, current, inputs, body) in stale.items():
        event = events.get(session_id)
        if event is None:  # left the feed since the first query
            continue
        key = ical.inputs_key(event)
        first_year, last_year = ical.event_years(event)
        write = {
            "session_id": session_id,
            "stamp": current,
            "inputs": key,
            "first_year": first_year,
            "last_year": last_year,
            "body": body,
        }
        writes.append(write)
        if inputs == key and body is not None:
            write["body"] = ical.with_last_modified(body, event)
            result.restamped += 1
        else:
            to_render.append((write, event))
    texts = ical.CACHE.chunks([event for _, event in to_render])
    for (write, _), text in zip(to_render, texts, strict=True):
        write["body"] = text.decode()
    result.rendered = len(to_render)
    for write in writes:
        chunk = (write["stamp"], write["body"].encode(), write["first_year"], write["last_year"])
        found[stale[write["session_id"]][0]] = chunk
        memory.keep(write["session_id"], chunk)
    store(writes)


def store(chunks: list[dict[str, Any]]) -> None:
    """Insert or replace chunks, in session order (concurrent writers then never deadlock)."""
    if not chunks:
        return
    chunks.sort(key=lambda c: c["session_id"])
    dialect = db.session.get_bind().dialect.name
    table = FeedChunk.__table__
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.session_id],
        set_={
            name: statement.excluded[name]
            for name in ("stamp", "inputs", "first_year", "last_year", "body")
        },
    )
    db.session.execute(statement, chunks)
