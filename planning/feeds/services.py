"""Feed subscriptions and feed rendering: scopes to sessions, sessions to iCalendar, validators.

A feed's ETag is the hash of its bytes and its Last-Modified moves exactly when that hash
changes (``FeedState``). A rendered feed is kept in memory under the planning change token
(``FeedVersion``): while no planning data changed, a revalidation costs one read of a few rows.
The token changes in the same transaction as any change of an RCP, session, participant,
establishment, professional or subscription (SQLAlchemy session events below), so a memo can
never outlive its content. ``FeedState`` records the token its ETag was computed under, so a
worker that has not rendered the feed yet (another worker, another node, after a recycle)
answers a conditional request from that row alone. Rendering reuses each session's VEVENT
from the database (``planning.feeds.chunks``): only new or changed sessions go through
icalendar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.http import quote_etag

from core import audit
from core.auth import Principal, Role
from core.db import db, utcnow
from core.errors import Forbidden, InvalidInput, NotFound
from core.terminology import geo
from planning import ical, kinds
from planning import services as planning
from planning.directory.models import (
    Organization,
    Practitioner,
)
from planning.directory.normalize import finess_format_error, rpps_format_error
from planning.feeds import chunks
from planning.feeds.changes import DIRECTORY_ROW, REGION_ROW_BASE, directory_token, region_rows
from planning.feeds.models import FeedState, FeedSubscription, FeedVersion
from planning.models import Rcp, Session, SessionParticipant

#: Feeds show sessions from a month ago to a year ahead (clients keep what they already have).
PAST = dt.timedelta(days=31)
AHEAD = dt.timedelta(days=366)
REFRESH_INTERVAL = dt.timedelta(hours=1)
#: 32 random bytes: 256 bits in the URL, only their SHA-256 in the database.
TOKEN_BYTES = 32


class Scope(enum.StrEnum):
    """What a feed follows."""

    RCP = "rcp"
    ESTABLISHMENT = "establishment"
    REGION = "region"
    PRACTITIONER = "practitioner"
    SEARCH = "search"


#: The field carrying the scope's value in a creation request, by scope.
SCOPE_FIELDS = {
    Scope.RCP: "rcp_id",
    Scope.ESTABLISHMENT: "finess",
    Scope.REGION: "region",
    Scope.PRACTITIONER: "rpps",
}

#: The session filters a search feed accepts (those of GET /planning/sessions).
SEARCH_FILTERS = (
    "region",
    "department",
    "finess",
    "kind",
    "rcp_id",
    "from",
    "to",
    "visio",
    "open_to_external",
    "has_capacity",
    "practitioner",
    "status",
)


@dataclasses.dataclass(frozen=True)
class FeedSpec:
    """Everything a feed's content depends on, besides the data and the day."""

    scope: Scope
    value: str | None
    filters: tuple[tuple[str, Any], ...]
    name: str

    @functools.cached_property
    def key(self) -> str:
        canonical = json.dumps(
            [self.scope.value, self.value, list(self.filters), self.name],
            sort_keys=True,
            default=str,
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class RenderedFeed:
    """A feed's bytes and its HTTP validators (``body`` is None when the caller's copy is
    current and the feed was not rendered: answer 304)."""

    body: bytes | None
    etag: str
    last_modified: dt.datetime
    filename: str

    @functools.cached_property
    def not_modified_headers(self) -> list[tuple[str, str]]:
        """The headers of a 304 (a revalidation's answer, so computed once per feed); werkzeug
        drops Last-Modified from a 304, as an entity header."""
        return [("ETag", quote_etag(self.etag))]


#: Whether the client's copy, with these validators (ETag, Last-Modified), is current.
ClientCopyIsCurrent = Callable[[str, dt.datetime], bool]


@dataclasses.dataclass(frozen=True)
class Site:
    """Where the server is published: feed URLs, UIDs and the fallback ORGANIZER address."""

    public_url: str
    contact_email: str

    @property
    def host(self) -> str:
        return urlsplit(self.public_url).hostname or "localhost"


@dataclasses.dataclass(frozen=True)
class CreatedFeed:
    subscription: FeedSubscription
    url: str
    webcal_url: str


# --- change tracking: planning/feeds/changes.py --------------------------------------------


@functools.lru_cache(maxsize=128)
def _token_sql(region: str | None, planning_only: bool) -> str:
    """The change rows a token hashes: the planning rows, and every region's registration
    rows, one region's or none. Integers of our own in the text: no parameter."""
    rows = None if planning_only else region_rows(region)
    if planning_only:
        scope = f" AND id < {REGION_ROW_BASE}"
    elif rows is not None:
        scope = f" AND (id < {REGION_ROW_BASE} OR id BETWEEN {rows[0]} AND {rows[-1]})"
    else:
        scope = ""
    return (
        f"SELECT token FROM {FeedVersion.__tablename__} "  # noqa: S608
        f"WHERE id <> {DIRECTORY_ROW}{scope} ORDER BY id"
    )


_STATE_SQL = {
    style: f"SELECT etag, last_modified, version FROM {FeedState.__tablename__} "  # noqa: S608
    f"WHERE key = {mark}"
    for style, mark in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
}
_held = threading.local()


def _read(sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """One row of a one-row query (see ``_read_all``)."""
    rows = _read_all(sql, params)
    return rows[0] if rows else None


def _read_all(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of a small query, on a connection of this thread's own, in autocommit.

    A revalidation's whole database cost: no ORM session, no pool checkout, no BEGIN (their
    set-up costs several times the round trip). When sessions are bound to one connection
    (tests), it reads there, inside its transaction.
    """
    bind = db.session_factory.kw.get("bind")
    if not isinstance(bind, Engine):
        return [tuple(row) for row in db.session.connection().exec_driver_sql(sql, params)]
    for attempt in (1, 2):
        held = getattr(_held, "connection", None)
        if held is None or held[0] is not bind or held[1] != os.getpid():
            connection = bind.raw_connection()  # kept: one pool slot per thread
            if bind.dialect.name != "sqlite":  # pysqlite is set up without implicit BEGIN
                connection.driver_connection.autocommit = True  # type: ignore[union-attr]
            held = _held.connection = (bind, os.getpid(), connection)
        try:
            cursor = held[2].cursor()
            try:
                cursor.execute(sql, params)
                found = cursor.fetchall()
            finally:
                cursor.close()
            return [tuple(row) for row in found]
        except bind.dialect.dbapi.Error:  # type: ignore[union-attr]
            _held.connection = None  # e.g. the server restarted: reconnect once
            held[2].invalidate()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def change_token(region: str | None = None, *, planning_only: bool = False) -> str:
    """The current planning change token ('' before the first change): a hash of the tokens
    of the rows, so it moves whenever one of them does.

    ``region``: the token of that region's feeds (planning rows and the region's registration
    rows); ``planning_only``: without any registration row (what a subscription depends on).
    """
    tokens = [row[0] for row in _read_all(_token_sql(region, planning_only))]
    if not tokens:
        return ""
    if len(tokens) == 1:
        return str(tokens[0])
    return hashlib.sha256("|".join(tokens).encode()).hexdigest()[:32]


def _as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite: text, UTC
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def recorded_validators(key: str, version: str) -> tuple[str, dt.datetime] | None:
    """The ETag and Last-Modified recorded for feed ``key`` if computed under ``version``."""
    bind = db.session_factory.kw.get("bind")
    dialect = (bind if isinstance(bind, Engine) else db.session.get_bind()).dialect
    row = _read(_STATE_SQL[dialect.paramstyle], (key,))
    if row is None or row[2] != version:
        return None
    return row[0], _as_utc(row[1]).replace(microsecond=0)


# --- in-process memo ------------------------------------------------------------------------


class FeedMemo:
    """Rendered feeds and resolved subscriptions by change token (LRU, bounded, thread-safe)."""

    def __init__(self, *, max_bytes: int = 256 * 1024 * 1024, max_entries: int = 10_000) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._feeds: OrderedDict[tuple[str, str, dt.date], RenderedFeed] = OrderedDict()
        self._subscriptions: OrderedDict[tuple[str, str], FeedSpec | None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def feed(self, key: tuple[str, str, dt.date]) -> RenderedFeed | None:
        with self._lock:
            found = self._feeds.get(key)
            if found is not None:
                self._feeds.move_to_end(key)
            return found

    def keep_feed(self, key: tuple[str, str, dt.date], rendered: RenderedFeed) -> None:
        with self._lock:
            previous = self._feeds.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body or b"")
            self._feeds[key] = rendered
            self._bytes += len(rendered.body or b"")
            while self._feeds and (
                self._bytes > self.max_bytes or len(self._feeds) > self.max_entries
            ):
                _, dropped = self._feeds.popitem(last=False)
                self._bytes -= len(dropped.body or b"")

    def subscription(self, key: tuple[str, str]) -> tuple[bool, FeedSpec | None]:
        with self._lock:
            if key in self._subscriptions:
                self._subscriptions.move_to_end(key)
                return True, self._subscriptions[key]
            return False, None

    def keep_subscription(self, key: tuple[str, str], spec: FeedSpec | None) -> None:
        with self._lock:
            self._subscriptions[key] = spec
            while len(self._subscriptions) > self.max_entries:
                self._subscriptions.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._feeds.clear()
            self._subscriptions.clear()
            self._bytes = 0


# --- scopes ---------------------------------------------------------------------------------


def _invalid(field: str, detail: str, location: str = "json") -> InvalidInput:
    pointer = f"#/{field.replace('.', '/')}" if location == "json" else field
    return InvalidInput(
        f"{field}: {detail}",
        errors=[{"location": location, "field": field, "pointer": pointer, "detail": detail}],
    )


def _check_value(scope: Scope, value: str | None, field: str, location: str) -> str | None:
    if scope is Scope.SEARCH:
        return None
    if not value:
        raise _invalid(field, f"required for a {scope.value} feed", location)
    if scope is Scope.RCP:
        if not value.isdigit():
            raise _invalid(field, "must be an RCP id", location)
        planning.get_rcp(rcp_id=int(value))
    elif scope is Scope.ESTABLISHMENT:
        value = value.strip().upper()
        error = finess_format_error(value)
        if error:
            raise _invalid(field, error, location)
    elif scope is Scope.REGION:
        if not geo.departments_of_region(value):
            raise _invalid(field, f"unknown region code {value!r}", location)
    elif scope is Scope.PRACTITIONER:
        error = rpps_format_error(value)
        if error:
            raise _invalid(field, error, location)
    return value


def _canonical_filters(filters: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    unknown = set(filters) - set(SEARCH_FILTERS)
    if unknown:
        raise _invalid("filters", f"unknown filters: {', '.join(sorted(unknown))}")
    out = []
    for name in SEARCH_FILTERS:
        value = filters.get(name)
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise _invalid(f"filters.{name}", "must carry a time zone")
            value = value.astimezone(dt.UTC).isoformat()
        out.append((name, value))
    return tuple(out)


def _default_name(scope: Scope, value: str | None) -> str:
    if scope is Scope.RCP and value:
        rcp = planning.get_rcp(rcp_id=int(value))
        return f"RCP {rcp.title}"
    if scope is Scope.ESTABLISHMENT and value:
        organization = planning.organizations_of([value]).get(value)
        return f"RCP – {organization.name if organization else 'établissement ' + value}"
    if scope is Scope.REGION and value:
        return f"RCP – région {value}"
    if scope is Scope.PRACTITIONER and value:
        person = planning.practitioners_of([value]).get(value)
        return f"Mes RCP – {_person_name(person) if person else value}"
    return "Séances RCP"


def feed_spec(
    *,
    scope: Scope | str,
    value: str | None = None,
    filters: Mapping[str, Any] | None = None,
    name: str | None = None,
    field: str = "value",
    location: str = "json",
) -> FeedSpec:
    """Check a scope and build its spec (404 for an unknown RCP, 422 for a malformed value)."""
    try:
        scope = Scope(scope)
    except ValueError:
        raise NotFound(f"no feed scope {scope!r}") from None
    value = _check_value(scope, value, field, location)
    canonical = _canonical_filters(filters or {}) if scope is Scope.SEARCH else ()
    if scope is not Scope.SEARCH and filters:
        raise _invalid("filters", f"only a search feed takes filters, not a {scope.value} feed")
    return FeedSpec(
        scope=scope,
        value=value,
        filters=canonical,
        name=(name or "").strip() or _default_name(scope, value),
    )


def _window(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=ical.PARIS)
    return (midnight - PAST).astimezone(dt.UTC), (midnight + AHEAD).astimezone(dt.UTC)


def session_filters(spec: FeedSpec, today: dt.date) -> planning.SessionFilters:
    """The filters of ``GET /planning/sessions`` that select this feed's sessions today."""
    start, stop = _window(today)
    filters = planning.SessionFilters(date_from=start, date_to=stop)
    if spec.scope is Scope.RCP:
        filters.rcp_id = int(spec.value or 0)
    elif spec.scope is Scope.ESTABLISHMENT:
        filters.finess = spec.value
    elif spec.scope is Scope.REGION:
        filters.region = spec.value
    elif spec.scope is Scope.PRACTITIONER:
        filters.practitioner = spec.value
    else:
        for name, value in spec.filters:
            if name == "from":
                filters.date_from = max(start, dt.datetime.fromisoformat(value))
            elif name == "to":
                filters.date_to = min(stop, dt.datetime.fromisoformat(value))
            else:
                setattr(filters, name, value)
    return filters


# --- sessions to events ---------------------------------------------------------------------


def _person_name(person: Practitioner) -> str:
    return f"Dr {person.first_name.title()} {person.last_name.upper()}"


def _specialty(person: Practitioner, code: str | None) -> str | None:
    labels = {
        a.specialty_code: a.specialty_label
        for a in person.activities
        if a.active and a.specialty_code and a.specialty_label
    }
    if code and code in labels:
        return labels[code]
    return next(iter(sorted(labels.values())), None)


def _who(rpps: str | None, people: Mapping[str, Practitioner], code: str | None = None) -> str:
    if not rpps:
        return ""
    person = people.get(rpps)
    if person is None:
        return f"RPPS {rpps}"
    specialty = _specialty(person, code)
    return f"{_person_name(person)} ({specialty.lower()})" if specialty else _person_name(person)


class _People(dict[str, Practitioner]):
    """Professionals by RPPS, with their display names memoised (thousands of lookups a feed)."""

    def __init__(self, people: Mapping[str, Practitioner]) -> None:
        super().__init__(people)
        self._names: dict[tuple[str | None, str | None], str] = {}

    def who(self, rpps: str | None, code: str | None = None) -> str:
        key = (rpps, code)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = _who(rpps, self, code)
        return name


def _email_of(person: Practitioner | None) -> str | None:
    if person is None:
        return None
    return next((a.email for a in person.activities if a.active and a.email), None)


def _place(organization: Organization | None, finess: str | None, room: str | None) -> ical.Place:
    if organization is None:
        return ical.Place(establishment=f"FINESS {finess}", room=room)
    address = " ".join(
        p for p in (organization.address, organization.postal_code, organization.city) if p
    )
    return ical.Place(establishment=organization.name, room=room, address=address or None)


class Participant(NamedTuple):
    rpps: str
    specialty_code: str | None
    role: str


@dataclasses.dataclass(slots=True)
class SessionRow:
    """What a feed shows of a session and its RCP, read as plain columns (no ORM objects)."""

    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    place_finess: str | None
    room: str | None
    visio_url: str | None
    registration_deadline: dt.datetime
    registered_count: int
    title: str
    kind_code: str
    host_finess: str
    rcp_place_finess: str | None
    rcp_room: str | None
    rcp_visio_url: str | None
    coordinator_rpps: str
    substitute_rpps: str | None
    three_c: str | None
    rcp_updated_at: dt.datetime
    participants: tuple[Participant, ...] = ()

    @classmethod
    def of(cls, session: Session) -> SessionRow:
        rcp = session.rcp
        return cls(
            **{name: getattr(session, name) for name in _SESSION_FIELDS},
            **{name: getattr(rcp, name) for name in _RCP_FIELDS},
            **{alias: getattr(rcp, name) for alias, name in _RCP_ALIASES.items()},
            participants=tuple(
                Participant(p.rpps, p.specialty_code, p.role) for p in session.participants
            ),
        )

    @property
    def place(self) -> str:
        return self.place_finess or self.rcp_place_finess or self.host_finess


_SESSION_FIELDS = (
    "id",
    "starts_at",
    "ends_at",
    "status",
    "revision",
    "created_at",
    "updated_at",
    "place_finess",
    "room",
    "visio_url",
    "registration_deadline",
    "registered_count",
)
_RCP_FIELDS = (
    "title",
    "kind_code",
    "host_finess",
    "coordinator_rpps",
    "substitute_rpps",
    "three_c",
)
_RCP_ALIASES = {
    "rcp_place_finess": "place_finess",
    "rcp_room": "room",
    "rcp_visio_url": "visio_url",
    "rcp_updated_at": "updated_at",
}


def session_rows(
    filters: planning.SessionFilters, *, ids: Collection[int] | None = None
) -> list[SessionRow]:
    """The sessions ``GET /planning/sessions`` would list with ``filters`` (and among ``ids``,
    if given), by start time.

    Read as columns in two queries: a region-year feed has thousands of sessions, and loading
    them as ORM objects with their RCPs and participants costs seconds.
    """
    # planning's own filter query, so that a feed and the session list never disagree
    query = planning.session_query(filters)
    if ids is not None:
        query = query.where(Session.id.in_(ids))
    columns = [
        *(getattr(Session, name) for name in _SESSION_FIELDS),
        *(getattr(Rcp, name) for name in _RCP_FIELDS),
        *(getattr(Rcp, name).label(alias) for alias, name in _RCP_ALIASES.items()),
    ]
    rows = db.session.execute(
        query.with_only_columns(*columns).order_by(Session.starts_at, Session.id)
    ).all()
    participants: dict[int, list[Participant]] = {}
    members = select(
        SessionParticipant.session_id,
        SessionParticipant.rpps,
        SessionParticipant.specialty_code,
        SessionParticipant.role,
    ).where(SessionParticipant.session_id.in_(query.with_only_columns(Session.id)))
    for session_id, rpps, specialty, role in db.session.execute(
        members.order_by(SessionParticipant.id)
    ):
        participants.setdefault(session_id, []).append(Participant(rpps, specialty, role))
    return [
        SessionRow(**row._asdict(), participants=tuple(participants.get(row.id, ())))
        for row in rows
    ]


def session_event(
    session: SessionRow,
    *,
    places: Mapping[str, Organization],
    people: _People,
    site: Site,
) -> ical.FeedEvent:
    """One session as a calendar event: logistics and a dossier count, never a patient."""
    organization = places.get(session.place)
    host = places.get(session.host_finess)
    coordinator = next((p for p in session.participants if p.role == "coordinator"), None)
    others = [p for p in session.participants if p.role != "coordinator"]
    kind = kinds.label_of(session.kind_code)
    geo_point = None
    if organization is not None and organization.lat is not None and organization.lon is not None:
        geo_point = (organization.lat, organization.lon)
    return ical.FeedEvent(
        uid=f"rcp-session-{session.id}@{site.host}",
        revision=session.revision,
        status=ical.EventStatus(session.status),
        start=session.starts_at,
        end=session.ends_at,
        title=session.title,
        last_modified=max(session.updated_at, session.rcp_updated_at),
        created=session.created_at,
        kind=kind,
        place=_place(organization, session.place, session.room or session.rcp_room),
        geo=geo_point,
        coordinator=people.who(
            coordinator.rpps if coordinator else session.coordinator_rpps,
            coordinator.specialty_code if coordinator else None,
        ),
        substitute=people.who(session.substitute_rpps) or None,
        participants=tuple(people.who(p.rpps, p.specialty_code) for p in others),
        videoconference_url=session.visio_url or session.rcp_visio_url,
        registration_deadline=session.registration_deadline,
        registered_dossiers=session.registered_count,
        url=f"{site.public_url}/planning/sessions/{session.id}",
        organizer=ical.Organizer(
            name=session.three_c or (host.name if host else f"RCP {session.title}"),
            email=_email_of(people.get(session.coordinator_rpps)) or site.contact_email,
        ),
        categories=tuple(c for c in ("RCP", kind, session.three_c) if c),
    )


def _events(sessions: list[SessionRow], site: Site) -> list[ical.FeedEvent]:
    places = planning.organizations_of(f for s in sessions for f in (s.place, s.host_finess))
    people = _People(
        planning.practitioners_of(
            r
            for s in sessions
            for r in (s.coordinator_rpps, s.substitute_rpps, *(p.rpps for p in s.participants))
        )
    )
    return [session_event(s, places=places, people=people, site=site) for s in sessions]


def _events_by_id(
    filters: planning.SessionFilters, ids: Collection[int] | None, site: Site
) -> dict[int, ical.FeedEvent]:
    rows = session_rows(filters, ids=ids)
    return {row.id: e for row, e in zip(rows, _events(rows, site), strict=True)}


# --- rendering ------------------------------------------------------------------------------


def paris_today() -> dt.date:
    return dt.datetime.now(ical.PARIS).date()


def _record_state(key: str, etag: str, version: str | None = None) -> dt.datetime:
    """The feed's Last-Modified: unchanged with the same bytes, moved forward on a change.

    ``version``: the change token and day the bytes were rendered under (see
    ``recorded_validators``).
    """
    now = utcnow().replace(microsecond=0)
    state = db.session.get(FeedState, key)
    if state is None:
        try:
            with db.session.begin_nested():
                db.session.add(FeedState(key=key, etag=etag, last_modified=now, version=version))
            return now
        except IntegrityError:  # another node recorded it first
            state = db.session.get(FeedState, key)
            assert state is not None
    if state.etag != etag:
        state.last_modified = max(now, state.last_modified + dt.timedelta(seconds=1))
        state.etag = etag
    state.version = version
    db.session.flush()
    return state.last_modified


def _filename(spec: FeedSpec) -> str:
    return f"rcp-{spec.scope.value}{'-' + spec.value if spec.value else ''}.ics"


def _render(
    spec: FeedSpec, *, today: dt.date, site: Site, version: str | None = None
) -> RenderedFeed:
    filters = session_filters(spec, today)
    start, stop = _window(today)
    info = ical.FeedInfo(
        name=spec.name,
        uid=f"feed-{spec.key[:24]}@{site.host}",
        refresh_interval=REFRESH_INTERVAL,
        window=(start.date(), stop.date()),
    )
    found = feed_chunks(filters, site=site)
    body = ical.assemble(info, found.bodies, years=found.years)
    etag = hashlib.sha256(body).hexdigest()[:40]
    return RenderedFeed(
        body=body,
        etag=etag,
        last_modified=_record_state(spec.key, etag, version),
        filename=_filename(spec),
    )


def feed_chunks(filters: planning.SessionFilters, *, site: Site) -> chunks.Chunks:
    """The VEVENTs of the sessions ``filters`` selects, by start (see ``chunks.collect``)."""
    return chunks.collect(
        planning.session_query(filters),
        prefix=f"{site.public_url}|{site.contact_email}|{directory_token()}",
        events_of=lambda ids: _events_by_id(filters, ids, site),
    )


def _version(token: str, today: dt.date) -> str:
    return f"{token}/{today.isoformat()}"


def _feed(
    spec: FeedSpec,
    *,
    token: str,
    memo: FeedMemo,
    site: Site,
    today: dt.date,
    current: ClientCopyIsCurrent | None,
) -> RenderedFeed:
    key = (spec.key, token, today)
    rendered = memo.feed(key)
    if rendered is not None and (
        rendered.body is not None
        or (current is not None and current(rendered.etag, rendered.last_modified))
    ):
        return rendered
    version = _version(token, today)
    if current is not None and rendered is None:
        # rendered by another worker or node under the same token: no need to render here
        recorded = recorded_validators(spec.key, version)
        if recorded is not None:
            validators = RenderedFeed(None, recorded[0], recorded[1], _filename(spec))
            memo.keep_feed(key, validators)  # its validators only, until a client needs more
            if current(*recorded):
                return validators
    rendered = _render(spec, today=today, site=site, version=version)
    memo.keep_feed(key, rendered)
    return rendered


def render_feed(
    *,
    spec: FeedSpec,
    memo: FeedMemo,
    site: Site,
    today: dt.date | None = None,
    current: ClientCopyIsCurrent | None = None,
) -> RenderedFeed:
    """The feed of ``spec`` (from the memo while planning data has not changed).

    ``current``: for a conditional request, tells whether the client's copy is current; then
    the feed may come back without a body (answer 304) when it was not rendered here.
    """
    today = today or paris_today()
    token = change_token(_token_region(spec))
    return _feed(spec, token=token, memo=memo, site=site, today=today, current=current)


def _token_region(spec: FeedSpec) -> str | None:
    """The region whose registrations alone can change the feed (None: any region's)."""
    if spec.scope is Scope.REGION:
        return spec.value
    if spec.scope is Scope.SEARCH:
        region = dict(spec.filters).get("region")
        return str(region) if region else None
    return None


def feed_of_token(
    *,
    token: str | None = None,
    token_hash: str | None = None,
    memo: FeedMemo,
    site: Site,
    today: dt.date | None = None,
    current: ClientCopyIsCurrent | None = None,
) -> RenderedFeed:
    """The feed behind a private URL (its token, or the token's ``token_hash``); 404 when the
    token is unknown or revoked."""
    if token_hash is None:
        assert token is not None
        token_hash = hash_token(token)
    version = change_token(planning_only=True)  # registrations change no subscription
    known, spec = memo.subscription((token_hash, version))
    if not known:
        subscription = db.session.scalar(
            select(FeedSubscription).where(FeedSubscription.token_hash == token_hash)
        )
        spec = None
        if subscription is not None and subscription.revoked_at is None:
            spec = _spec_of(subscription)
        memo.keep_subscription((token_hash, version), spec)
    if spec is None:
        raise NotFound("no feed at this address (unknown or revoked)")
    today = today or paris_today()
    token = change_token(_token_region(spec))
    return _feed(spec, token=token, memo=memo, site=site, today=today, current=current)


def session_file(*, session_id: int, site: Site) -> RenderedFeed:
    """One session as an .ics file ("add to my calendar")."""
    session = planning.get_session(session_id=session_id)
    (event_,) = _events([SessionRow.of(session)], site)
    body = ical.single_event(event_)
    return RenderedFeed(
        body=body,
        etag=hashlib.sha256(body).hexdigest()[:40],
        last_modified=event_.last_modified.replace(microsecond=0),
        filename=f"rcp-session-{session.id}.ics",
    )


# --- subscriptions --------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """What is stored of a private feed's token, and what finds it (an exact match on a
    SHA-256: nothing an attacker can time leads to a token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _spec_of(subscription: FeedSubscription) -> FeedSpec:
    return FeedSpec(
        scope=Scope(subscription.scope),
        value=subscription.scope_value,
        filters=_canonical_filters(subscription.filters or {}),
        name=subscription.name,
    )


def feed_urls(public_url: str, token: str) -> tuple[str, str]:
    """The https (or http) URL of a private feed and its ``webcal://`` form."""
    url = f"{public_url}/feeds/{token}.ics"
    return url, "webcal://" + url.split("://", 1)[1]


def scope_feed(
    *,
    scope: str,
    value: str | None = None,
    filters: Mapping[str, Any] | None = None,
    name: str | None = None,
    memo: FeedMemo,
    site: Site,
    today: dt.date | None = None,
    current: ClientCopyIsCurrent | None = None,
) -> RenderedFeed:
    """A feed fetched directly (bearer token): one scope, or the filters of a search."""
    location = "query" if scope == Scope.SEARCH else "path"
    spec = feed_spec(
        scope=scope, value=value, filters=filters, name=name, field="value", location=location
    )
    return render_feed(spec=spec, memo=memo, site=site, today=today, current=current)


def create_feed(*, principal: Principal, data: Mapping[str, Any], site: Site) -> CreatedFeed:
    """A private feed URL for calendar clients; the token is returned once, then only hashed.

    ``data``: ``scope``, the scope's field (``rcp_id``, ``finess``, ``region`` or ``rpps``) or
    the ``filters`` of a search, and an optional ``name``.
    """
    scope = Scope(data["scope"])
    field = SCOPE_FIELDS.get(scope, "filters")
    value = data.get(field) if scope is not Scope.SEARCH else None
    spec = feed_spec(
        scope=scope,
        value=None if value is None else str(value),
        filters=data.get("filters") if scope is Scope.SEARCH else None,
        name=data.get("name"),
        field=field,
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    subscription = FeedSubscription(
        token_hash=hash_token(token),
        owner_subject=principal.subject,
        owner_issuer=principal.issuer,
        owner_role=principal.role.value,
        name=spec.name,
        scope=spec.scope.value,
        scope_value=spec.value,
        filters=dict(spec.filters),
    )
    db.session.add(subscription)
    db.session.flush()
    audit.record(
        principal,
        "feed.create",
        "feed_subscription",
        subscription.id,
        changes={"scope": spec.scope.value, "value": spec.value, "name": spec.name},
    )
    url, webcal = feed_urls(site.public_url, token)
    return CreatedFeed(subscription=subscription, url=url, webcal_url=webcal)


def _owned_by(principal: Principal) -> Any:
    return (FeedSubscription.owner_subject == principal.subject) & (
        FeedSubscription.owner_issuer == principal.issuer
    )


def list_feeds(
    *, principal: Principal, include_revoked: bool = False, limit: int = 50, offset: int = 0
) -> tuple[list[FeedSubscription], int]:
    """The caller's own feeds, newest first."""
    conditions = [_owned_by(principal)]
    if not include_revoked:
        conditions.append(FeedSubscription.revoked_at.is_(None))
    query = select(FeedSubscription).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(FeedSubscription).where(*conditions))
    items = db.session.scalars(
        query.order_by(FeedSubscription.id.desc()).limit(limit).offset(offset)
    )
    return list(items), int(total or 0)


def revoke_feed(*, principal: Principal, feed_id: int) -> FeedSubscription:
    """Revoke a feed: its URL answers 404 from now on. Owners, and national admins, may."""
    subscription = db.session.get(FeedSubscription, feed_id)
    if subscription is None:
        raise NotFound(f"no feed {feed_id}")
    own = (subscription.owner_subject, subscription.owner_issuer) == (
        principal.subject,
        principal.issuer,
    )
    if not own and principal.role is not Role.NATIONAL_ADMIN:
        raise Forbidden(f"feed {feed_id} belongs to another user")
    if subscription.revoked_at is None:
        subscription.revoked_at = utcnow()
        audit.record(principal, "feed.revoke", "feed_subscription", subscription.id)
        db.session.flush()
    return subscription
