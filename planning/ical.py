"""iCalendar feeds of RCP sessions: plain event descriptions in, RFC 5545 bytes out.

No Flask and no database here: the feed services turn sessions into ``FeedEvent`` objects and
this module writes them. What calendar clients need, and what other publishers get wrong
(research note ``planning.md`` §2), is decided here once:

- a UID that never changes, SEQUENCE = the session's revision, STATUS CONFIRMED or CANCELLED
  (cancelled sessions stay in the feed, marked, and their SUMMARY says so for the clients that
  ignore STATUS);
- times with ``TZID=Europe/Paris`` and the matching VTIMEZONE, limited to the feed's years
  (never floating times, never a TZID without its VTIMEZONE);
- DTSTAMP = LAST-MODIFIED = the session's last change, so that the same sessions always give
  the same bytes (and the same ETag);
- ``REFRESH-INTERVAL;VALUE=DURATION`` and ``X-PUBLISHED-TTL`` written as RFC 5545 durations
  (icalendar writes a ``timedelta`` given to an X- property as ``1:00:00``, and omits the
  ``VALUE=DURATION`` parameter that RFC 7986 makes mandatory on REFRESH-INTERVAL);
- no patient detail: an event carries the session's logistics and a dossier count only.

Serialising 5,000 events with icalendar takes seconds, so a feed is assembled from VEVENT
chunks (``assemble``): the feed services keep them in the database, keyed by what they were
rendered from (``inputs_key``, which includes ``FORMAT``), and in memory (``EventCache``); only
new or changed sessions are serialised again. A chunk is complete in itself (folded lines, CRLF,
DTSTAMP = LAST-MODIFIED = the session's last change), so concatenating chunks gives the same
bytes as serialising the whole calendar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import itertools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import icalendar
from icalendar import (
    Calendar,
    Component,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vUri,
)

TZID = "Europe/Paris"
PARIS = ZoneInfo(TZID)
PRODID = "-//DCC national services//RCP planning//FR"
#: What clients that ignore STATUS still show at the start of a cancelled session's title.
CANCELLED_PREFIX = "ANNULÉE – "
DEFAULT_REFRESH = dt.timedelta(hours=1)

_END = b"END:VCALENDAR\r\n"

#: The version of what ``vevent`` writes: bump it whenever its output changes, so that chunks
#: rendered by an older version are rendered again (icalendar's own version is part of it).
FORMAT = f"1/icalendar-{icalendar.__version__}"


class EventStatus(enum.StrEnum):
    """A session as the feed shows it."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


_STATUS = {EventStatus.SCHEDULED: "CONFIRMED", EventStatus.CANCELLED: "CANCELLED"}


@dataclass(frozen=True)
class Place:
    """Where a session happens: the establishment, the room and the postal address."""

    establishment: str
    room: str | None = None
    address: str | None = None

    def text(self) -> str:
        head = f"{self.establishment} – {self.room}" if self.room else self.establishment
        return f"{head}, {self.address}" if self.address else head


@dataclass(frozen=True)
class Organizer:
    """Who organises the session (the 3C): a display name and a mail address."""

    name: str
    email: str


@dataclass(frozen=True)
class FeedEvent:
    """One RCP session as a calendar event; no patient detail ever goes in."""

    uid: str
    revision: int
    status: EventStatus
    start: dt.datetime
    end: dt.datetime
    title: str
    last_modified: dt.datetime
    kind: str | None = None
    place: Place | None = None
    #: (latitude, longitude) in decimal degrees, when the place is geolocated.
    geo: tuple[float, float] | None = None
    coordinator: str | None = None
    substitute: str | None = None
    participants: tuple[str, ...] = ()
    videoconference_url: str | None = None
    registration_deadline: dt.datetime | None = None
    registered_dossiers: int | None = None
    url: str | None = None
    organizer: Organizer | None = None
    categories: tuple[str, ...] = ()
    created: dt.datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "last_modified", "registration_deadline", "created"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} of event {self.uid} must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"event {self.uid} ends before it starts")
        if self.revision < 0:
            raise ValueError(f"revision of event {self.uid} must not be negative")

    def description(self) -> str:
        """The DESCRIPTION text: the session's logistics, in French (read by clinicians)."""
        lines = []
        if self.status is EventStatus.CANCELLED:
            lines.append("Séance annulée.")
        if self.kind:
            lines.append(f"Type : {self.kind}")
        if self.coordinator:
            lines.append(f"Coordonnateur : {self.coordinator}")
        if self.substitute:
            lines.append(f"Suppléant : {self.substitute}")
        if self.participants:
            lines.append("Participants : " + ", ".join(self.participants))
        if self.videoconference_url:
            lines.append(f"Visioconférence : {self.videoconference_url}")
        if self.registration_deadline is not None:
            deadline = self.registration_deadline.astimezone(PARIS)
            lines.append(f"Date limite d'inscription : {deadline:%d/%m/%Y %H:%M}")
        if self.registered_dossiers is not None:
            lines.append(f"Dossiers inscrits : {self.registered_dossiers}")
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)


@dataclass(frozen=True)
class FeedInfo:
    """The calendar itself: its name, stable UID, suggested refresh interval, date range."""

    name: str
    uid: str
    refresh_interval: dt.timedelta = DEFAULT_REFRESH
    description: str | None = None
    #: Dates the VTIMEZONE must cover when the feed is empty (an empty feed still has one:
    #: RFC 5545 wants at least one component).
    window: tuple[dt.date, dt.date] | None = None

    def __post_init__(self) -> None:
        if self.refresh_interval <= dt.timedelta(0):
            raise ValueError("refresh_interval must be positive")


# --- VEVENT chunks --------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def vevent(event: FeedEvent) -> Event:
    """The VEVENT of one session."""
    cancelled = event.status is EventStatus.CANCELLED
    component = Event.new(
        uid=event.uid,
        stamp=_utc(event.last_modified),
        last_modified=_utc(event.last_modified),
        created=_utc(event.created) if event.created else None,
        start=event.start.astimezone(PARIS),
        end=event.end.astimezone(PARIS),
        summary=(CANCELLED_PREFIX + event.title) if cancelled else event.title,
        sequence=event.revision,
        status=_STATUS[event.status],  # type: ignore[arg-type]
        location=event.place.text() if event.place else None,
        description=event.description() or None,
        url=event.url,
    )
    if event.categories:
        component.add("CATEGORIES", list(event.categories))
    if event.geo is not None:
        component.add("GEO", event.geo)
    if event.organizer is not None:
        organizer = vCalAddress(f"mailto:{event.organizer.email}")
        organizer.params["CN"] = event.organizer.name
        component.add("ORGANIZER", organizer)
    if event.videoconference_url:
        # RFC 7986 CONFERENCE; the link is in DESCRIPTION too, for clients that ignore it.
        component.add(
            "CONFERENCE",
            vUri(event.videoconference_url),
            parameters={"VALUE": "URI", "FEATURE": "VIDEO", "LABEL": "Visioconférence"},
        )
    return component


def inputs_key(event: FeedEvent) -> str:
    """What a VEVENT chunk was rendered from: every field of the event but ``last_modified``
    (see ``with_last_modified``), and ``FORMAT``.

    Stable across processes (``repr`` of plain values, no ``hash()`` salt), so that every
    worker and node agrees on whether a stored chunk is current.
    """
    described = dataclasses.replace(event, last_modified=_EPOCH)
    return hashlib.blake2b(f"{FORMAT}\n{described!r}".encode(), digest_size=16).hexdigest()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LAST_MODIFIED_LINES = re.compile(r"\r\n(DTSTAMP|LAST-MODIFIED):\d{8}T\d{6}Z(?=\r\n)")


def with_last_modified(chunk: str, event: FeedEvent) -> str:
    """``chunk``, the VEVENT of ``event`` rendered at another ``last_modified``, with the
    DTSTAMP and LAST-MODIFIED lines of ``event``: what ``vevent`` writes, without icalendar.

    An RCP's change that its sessions do not show (its capacity, say) moves their
    last-modified instant only; rewriting two short lines costs microseconds, serialising
    the event a millisecond.
    """
    instant = _utc(event.last_modified).strftime("%Y%m%dT%H%M%SZ")
    return _LAST_MODIFIED_LINES.sub(lambda m: f"\r\n{m[1]}:{instant}", chunk)


def event_years(event: FeedEvent) -> tuple[int, int]:
    """The local years of an event's start and end (what its VTIMEZONE must cover)."""
    return event.start.astimezone(PARIS).year, event.end.astimezone(PARIS).year


@dataclass
class EventCache:
    """Serialised VEVENTs (bounded, thread-safe), shared by every feed of a process.

    The key is (UID, revision, hash of every field written): a new revision or any changed
    field misses the cache. Eviction is first-in first-out, which costs nothing on a hit.
    """

    maxsize: int = 50_000
    hits: int = 0
    misses: int = 0
    _chunks: dict[tuple[str, int, int], bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def key(event: FeedEvent) -> tuple[str, int, int]:
        return event.uid, event.revision, hash(event)

    def chunks(self, events: list[FeedEvent]) -> list[bytes]:
        """The VEVENT text of each event, in order; only the missing ones are serialised."""
        keys = [self.key(e) for e in events]
        with self._lock:
            found = [self._chunks.get(k) for k in keys]
        missing = {
            k: vevent(e).to_ical() for k, e, c in zip(keys, events, found, strict=True) if c is None
        }
        if missing:
            with self._lock:
                self._chunks.update(missing)
                overflow = len(self._chunks) - self.maxsize
                if overflow > 0:
                    for old in list(itertools.islice(self._chunks, overflow)):
                        del self._chunks[old]
        with self._lock:
            self.hits += len(keys) - len(missing)
            self.misses += len(missing)
        return [c if c is not None else missing[k] for k, c in zip(keys, found, strict=True)]

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._chunks)


#: The process-wide cache used when a caller does not bring its own.
CACHE = EventCache()


# --- VCALENDAR ------------------------------------------------------------------------------


def _transitions(start: dt.datetime, stop: dt.datetime) -> list[dt.datetime]:
    """UTC instants in [start, stop) where Europe/Paris changes its offset (to the minute)."""
    found = []
    day = dt.timedelta(days=1)
    moment = start
    while moment < stop:
        after = moment + day
        if moment.astimezone(PARIS).utcoffset() != after.astimezone(PARIS).utcoffset():
            low, high = moment, after
            while high - low > dt.timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(PARIS).utcoffset() == low.astimezone(PARIS).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        moment = after
    return found


def _observance(at_utc: dt.datetime, before: dt.timedelta) -> Component:
    local = at_utc.astimezone(PARIS)
    dst = local.dst()
    component: Component = TimezoneDaylight() if dst else TimezoneStandard()
    # RFC 5545 §3.6.5: the onset is the local time *before* the change (in TZOFFSETFROM):
    # 02:00 in March, 03:00 in October. icalendar 7 writes 03:00 for both.
    component.add("DTSTART", (at_utc + before).replace(tzinfo=None))
    component.add("TZNAME", local.tzname())
    component.add("TZOFFSETFROM", before)
    component.add("TZOFFSETTO", local.utcoffset())
    return component


@functools.lru_cache(maxsize=64)
def vtimezone(first_year: int, last_year: int) -> bytes:
    """Europe/Paris from 1 January of ``first_year`` to 1 January after ``last_year``.

    Whole years keep the chunk cacheable and the feed's bytes stable while a year's sessions
    come and go; they still bound it (icalendar's default covers 1970-2038).
    """
    start = dt.datetime(first_year, 1, 1, tzinfo=PARIS).astimezone(dt.UTC)
    stop = dt.datetime(last_year + 1, 1, 1, tzinfo=PARIS).astimezone(dt.UTC)
    component = Timezone()
    component.add("TZID", TZID)
    offset = start.astimezone(PARIS).utcoffset()
    assert offset is not None
    component.add_component(_observance(start, offset))
    for moment in _transitions(start, stop):
        before = (moment - dt.timedelta(minutes=1)).astimezone(PARIS).utcoffset()
        assert before is not None
        component.add_component(_observance(moment, before))
    return component.to_ical()


def _one_line(text: str | None) -> str | None:
    """Calendar names are one line: control characters (from search filters) become spaces."""
    if text is None:
        return None
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _header(info: FeedInfo) -> bytes:
    calendar = Calendar.new(
        prodid=PRODID,
        uid=_one_line(info.uid),  # fixed: Calendar.new() would draw a random one on every render
        name=_one_line(info.name),
        description=_one_line(info.description),
        calscale="GREGORIAN",
    )
    calendar.add("X-WR-TIMEZONE", TZID)
    interval = vDuration(info.refresh_interval)
    calendar.add("REFRESH-INTERVAL", interval, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(info.refresh_interval))
    text = calendar.to_ical()
    assert text.endswith(_END)
    return text[: -len(_END)]


def _years(info: FeedInfo, events: list[FeedEvent]) -> tuple[int, int]:
    if events:
        first = min(e.start for e in events).astimezone(PARIS)
        last = max(e.end for e in events).astimezone(PARIS)
        return first.year, last.year
    if info.window is not None:
        return info.window[0].year, info.window[1].year
    year = dt.datetime.now(dt.UTC).year
    return year, year


def build_calendar(
    info: FeedInfo, events: Iterable[FeedEvent], *, cache: EventCache | None = None
) -> bytes:
    """The feed as bytes: calendar properties, the VTIMEZONE, then one VEVENT per event.

    Events are written in the order given; give them in a stable order (e.g. by start, then
    UID) so that the same sessions always produce the same bytes.
    """
    cache = CACHE if cache is None else cache
    events = list(events)
    uids = {e.uid for e in events}
    if len(uids) != len(events):
        raise ValueError("a feed must not contain two events with the same UID")
    return assemble(info, cache.chunks(events), years=_years(info, events) if events else None)


def assemble(
    info: FeedInfo, chunks: Iterable[bytes | str], *, years: tuple[int, int] | None
) -> bytes:
    """The feed from VEVENT chunks already rendered by ``vevent`` (bytes, or their text).

    ``years``: the first and last local years of the events (``None`` for an empty feed: the
    VTIMEZONE then covers ``info.window``, or this year). The caller keeps the UIDs unique.
    """
    first_year, last_year = years if years is not None else _years(info, [])
    parts = [_header(info), vtimezone(first_year, last_year)]
    parts.extend(c.encode() if isinstance(c, str) else c for c in chunks)
    parts.append(_END)
    return b"".join(parts)


def single_event(event: FeedEvent, *, name: str | None = None) -> bytes:
    """One session as an ``.ics`` file ("add to my calendar"), with its VTIMEZONE."""
    info = FeedInfo(name=name or event.title, uid=f"single-{event.uid}")
    return build_calendar(info, [event])
