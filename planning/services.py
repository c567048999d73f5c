"""RCP planning operations: RCPs, sessions, participants, registrations and their decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from core import audit
from core.auth import Principal, Role
from core.db import DriverStatement, UTCDateTime, db, utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.terminology import geo
from planning import kinds, lifecycle, listing, quorum, recurrence
from planning.directory import services as directory
from planning.directory.models import Organization, Practitioner, PractitionerActivity
from planning.feeds import changes as feed_changes
from planning.models import (
    Rcp,
    RcpMember,
    Registration,
    RegistrationEvent,
    Session,
    SessionParticipant,
)
from planning.notifications import (
    ANY_ACTIVE_WEBHOOK,
    notify_registration,
    notify_session_change,
)

LEVELS = ("local", "regional", "interregional", "national")
ATTENDANCE = ("present", "excused", "replaced")
SCHEDULED, CANCELLED = "scheduled", "cancelled"


def _field_error(field: str, detail: str) -> InvalidInput:
    pointer = "#/" + field.replace(".", "/")
    return InvalidInput(
        f"{field}: {detail}",
        errors=[{"location": "json", "field": field, "pointer": pointer, "detail": detail}],
    )


# --- directory checks ---------------------------------------------------------------------


def _practitioner(rpps: str, field: str) -> Practitioner:
    practitioner = directory.get_practitioner(rpps=rpps)
    if practitioner is None:
        raise _field_error(field, f"no professional with RPPS number {rpps} in the directory")
    if not practitioner.active:
        raise _field_error(field, f"the professional {rpps} is no longer active in the directory")
    return practitioner


def _organization(finess: str, field: str) -> Organization:
    organization = directory.get_organization(finess=finess)
    if organization is None:
        raise _field_error(field, f"no establishment with FINESS number {finess} in the directory")
    if not organization.active:
        raise _field_error(field, f"the establishment {finess} is closed in the directory")
    return organization


def _specialty_for(practitioner: Practitioner, wanted: str | None, field: str) -> str | None:
    specialties = directory.practitioner_specialties(practitioner)
    if wanted:
        if wanted not in specialties:
            raise _field_error(
                field,
                f"the professional {practitioner.rpps} has no specialty {wanted} in the "
                f"directory (known: {', '.join(sorted(specialties)) or 'none'})",
            )
        return wanted
    return min(specialties) if specialties else None


# --- RCPs ---------------------------------------------------------------------------------


def _check_kind(code: str) -> None:
    if kinds.get(code) is None:
        raise _field_error("kind_code", f"unknown RCP kind {code!r} (see GET /planning/kinds)")


def _check_recurrence(rcp: Rcp) -> None:
    if not rcp.rrule:
        return
    try:
        recurrence.parse_rule(
            rcp.rrule,
            anchor=rcp.recurrence_start or dt.date.today(),  # noqa: DTZ011 - only parsed
            start_time=rcp.start_time,
        )
    except recurrence.RecurrenceError as error:
        raise _field_error("rrule", str(error)) from error


def _checked_people(items: Sequence[dict[str, Any]], field: str) -> list[tuple[str, str | None]]:
    """(RPPS, specialty) of each listed person, all checked before anything changes."""
    out: list[tuple[str, str | None]] = []
    for index, item in enumerate(items):
        where = f"{field}.{index}"
        if any(rpps == item["rpps"] for rpps, _ in out):
            raise _field_error(f"{where}.rpps", f"{item['rpps']} is listed twice")
        practitioner = _practitioner(item["rpps"], f"{where}.rpps")
        specialty = _specialty_for(
            practitioner, item.get("specialty_code"), f"{where}.specialty_code"
        )
        out.append((item["rpps"], specialty))
    return out


def _apply_members(rcp: Rcp, members: Sequence[dict[str, Any]]) -> None:
    checked = _checked_people(members, "members")
    rcp.members.clear()
    db.session.flush()
    for item, (rpps, specialty) in zip(members, checked, strict=True):
        rcp.members.append(
            RcpMember(rpps=rpps, specialty_code=specialty, role=item.get("role", "member"))
        )


RCP_FIELDS = (
    "title",
    "kind_code",
    "level",
    "three_c",
    "coordinator_rpps",
    "substitute_rpps",
    "min_physicians",
    "min_distinct_specialties",
    "required_specialties",
    "geriatrician_over_75",
    "place_finess",
    "room",
    "visio_url",
    "rrule",
    "recurrence_start",
    "start_time",
    "duration_minutes",
    "exdates",
    "deadline_hours",
    "capacity",
    "open_to_external",
    "active",
)


def _snapshot(rcp: Rcp) -> dict[str, Any]:
    out = {name: getattr(rcp, name) for name in ("host_finess", *RCP_FIELDS)}
    out["members"] = sorted(m.rpps for m in rcp.members)
    return out


def _apply_rcp_fields(rcp: Rcp, data: dict[str, Any]) -> None:
    for name in RCP_FIELDS:
        if name in data:
            value = data[name]
            if name == "exdates":
                value = sorted({d.isoformat() for d in value})
            elif name == "required_specialties":
                value = sorted(set(value))
            setattr(rcp, name, value)
    _check_kind(rcp.kind_code)
    _practitioner(rcp.coordinator_rpps, "coordinator_rpps")
    if rcp.substitute_rpps:
        if rcp.substitute_rpps == rcp.coordinator_rpps:
            raise _field_error("substitute_rpps", "the substitute must differ from the coordinator")
        _practitioner(rcp.substitute_rpps, "substitute_rpps")
    if rcp.place_finess:
        _organization(rcp.place_finess, "place_finess")
    if not (rcp.place_finess or rcp.room or rcp.visio_url):
        raise _field_error("place_finess", "give a place (FINESS site and room) or a video link")
    if rcp.rrule and rcp.recurrence_start is None:
        raise _field_error("recurrence_start", "a recurrence needs its first date")
    _check_recurrence(rcp)


def create_rcp(*, principal: Principal, data: dict[str, Any]) -> Rcp:
    """Create an RCP hosted by an establishment of the caller's perimeter."""
    host = _organization(data["host_finess"], "host_finess")
    region = host.region or geo.region_of_department(host.department)
    if region is None:
        raise _field_error("host_finess", f"the establishment {host.finess} has no known region")
    principal.require_establishment(host.finess, region, "RCPs")
    rcp = Rcp(host_finess=host.finess, region=region, department=host.department)
    data = dict(data)
    if not data.get("place_finess") and (data.get("room") or not data.get("visio_url")):
        data["place_finess"] = host.finess  # a room without a site is a room of the host
    _apply_rcp_fields(rcp, data)
    db.session.add(rcp)
    _apply_members(rcp, data.get("members", []))
    db.session.flush()
    audit.record(principal, "create", "rcp", rcp.id, region=rcp.region, changes=_snapshot(rcp))
    return rcp


def get_rcp(*, rcp_id: int) -> Rcp:
    rcp = db.session.get(Rcp, rcp_id)
    if rcp is None:
        raise NotFound(f"no RCP {rcp_id}")
    return rcp


def update_rcp(*, principal: Principal, rcp_id: int, data: dict[str, Any]) -> Rcp:
    """Change an RCP's definition; existing sessions keep their own details."""
    rcp = get_rcp(rcp_id=rcp_id)
    principal.require_establishment(rcp.host_finess, rcp.region, "this RCP")
    before = _snapshot(rcp)
    _apply_rcp_fields(rcp, data)
    if "members" in data:
        _apply_members(rcp, data["members"])
    db.session.flush()
    changes = audit.diff(before, _snapshot(rcp))
    audit.record(principal, "update", "rcp", rcp.id, region=rcp.region, changes=changes)
    return rcp


def list_rcps(
    *,
    region: str | None = None,
    department: str | None = None,
    finess: str | None = None,
    kind: str | None = None,
    practitioner: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Rcp], int]:
    conditions: list[Any] = []
    if region:
        conditions.append(Rcp.region == region)
    if department:
        conditions.append(Rcp.department == department)
    if finess:
        conditions.append(Rcp.host_finess == finess)
    if kind:
        conditions.append(Rcp.kind_code == kind)
    if practitioner:
        conditions.append(
            or_(
                Rcp.coordinator_rpps == practitioner,
                Rcp.substitute_rpps == practitioner,
                Rcp.members.any(RcpMember.rpps == practitioner),
            )
        )
    total = db.session.scalar(select(func.count(Rcp.id)).where(*conditions)) or 0
    query = (
        select(Rcp)
        .where(*conditions)
        .options(selectinload(Rcp.members))
        .order_by(Rcp.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.session.scalars(query)), total


# --- sessions -----------------------------------------------------------------------------


def _provisional_participants(rcp: Rcp) -> list[SessionParticipant]:
    out = [
        SessionParticipant(rpps=m.rpps, specialty_code=m.specialty_code, role=m.role)
        for m in rcp.members
        if m.rpps != rcp.coordinator_rpps
    ]
    coordinator = directory.get_practitioner(rpps=rcp.coordinator_rpps)
    specialties = directory.practitioner_specialties(coordinator) if coordinator else set()
    member = next((m for m in rcp.members if m.rpps == rcp.coordinator_rpps), None)
    specialty = member.specialty_code if member else (min(specialties) if specialties else None)
    out.insert(
        0,
        SessionParticipant(rpps=rcp.coordinator_rpps, specialty_code=specialty, role="coordinator"),
    )
    return out


def _new_session(rcp: Rcp, starts_at: dt.datetime, ends_at: dt.datetime) -> Session:
    return Session(
        rcp=rcp,
        starts_at=starts_at,
        ends_at=ends_at,
        status=SCHEDULED,
        revision=1,
        place_finess=rcp.place_finess,
        room=rcp.room,
        visio_url=rcp.visio_url,
        registration_deadline=starts_at - dt.timedelta(hours=rcp.deadline_hours),
        capacity=rcp.capacity,
        registered_count=0,
        participants=_provisional_participants(rcp),
    )


@dataclass
class Generation:
    created: list[Session]
    existing: int
    cancelled_skipped: int


def generate_sessions(
    *, principal: Principal, rcp_id: int, period_start: dt.date, period_end: dt.date
) -> Generation:
    """Create the sessions the RCP's recurrence gives in the period; idempotent.

    An occurrence already generated (moved, edited or cancelled since) is left alone.
    """
    rcp = get_rcp(rcp_id=rcp_id)
    principal.require_establishment(rcp.host_finess, rcp.region, "this RCP")
    if not rcp.rrule or rcp.recurrence_start is None:
        raise Conflict(f"RCP {rcp.id} has no recurrence: add sessions one by one")
    if not rcp.active:
        raise Conflict(f"RCP {rcp.id} is inactive")
    try:
        occurrences = recurrence.expand(
            rcp.rrule,
            anchor=rcp.recurrence_start,
            start_time=rcp.start_time,
            duration=rcp.duration,
            period_start=period_start,
            period_end=period_end,
            exdates=[dt.date.fromisoformat(d) for d in rcp.exdates],
        )
    except recurrence.RecurrenceError as error:
        raise _field_error("to", str(error)) from error
    known = {
        row.occurrence_date: row.status
        for row in db.session.execute(
            select(Session.occurrence_date, Session.status).where(
                Session.rcp_id == rcp.id,
                Session.occurrence_date.between(period_start, period_end),
            )
        )
    }
    created = []
    for occurrence in occurrences:
        if occurrence.date in known:
            continue
        session = _new_session(rcp, occurrence.starts_at, occurrence.ends_at)
        session.occurrence_date = occurrence.date
        db.session.add(session)
        created.append(session)
    db.session.flush()
    audit.record(
        principal,
        "generate_sessions",
        "rcp",
        rcp.id,
        region=rcp.region,
        changes={
            "period": [period_start, period_end],
            "created": [s.id for s in created],
        },
    )
    return Generation(
        created=with_quorum(created),
        existing=len(known),
        cancelled_skipped=sum(1 for s in known.values() if s == CANCELLED),
    )


def _check_times(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if ends_at <= starts_at:
        raise _field_error("ends_at", "the session must end after it starts")
    if ends_at - starts_at > dt.timedelta(hours=12):
        raise _field_error("ends_at", "a session lasts at most 12 hours")


def add_session(*, principal: Principal, data: dict[str, Any]) -> Session:
    """Add an ad hoc session to an RCP (outside its recurrence)."""
    rcp = get_rcp(rcp_id=data["rcp_id"])
    principal.require_establishment(rcp.host_finess, rcp.region, "this RCP")
    ends_at = data.get("ends_at") or data["starts_at"] + rcp.duration
    _check_times(data["starts_at"], ends_at)
    # checked before the session exists: the query would autoflush a half-built session
    site = _organization(data["place_finess"], "place_finess") if data.get("place_finess") else None
    session = _new_session(rcp, data["starts_at"], ends_at)
    session.edited = True
    for name in ("room", "visio_url", "capacity", "registration_deadline"):
        if data.get(name) is not None:
            setattr(session, name, data[name])
    if site is not None:
        session.place_finess = site.finess
    db.session.add(session)
    db.session.flush()
    audit.record(
        principal,
        "create",
        "session",
        session.id,
        region=rcp.region,
        changes={"rcp_id": rcp.id, "starts_at": session.starts_at, "ad_hoc": True},
    )
    return read_session(session_id=session.id)


def get_session(*, session_id: int, for_update: bool = False, full: bool = True) -> Session:
    """A session; ``full`` loads what its representation needs, else only its RCP."""
    loads = _session_loads() if full else [joinedload(Session.rcp)]
    query = select(Session).where(Session.id == session_id).options(*loads)
    if for_update:
        query = query.with_for_update(of=Session)
    session = db.session.scalars(query).first()
    if session is None:
        raise NotFound(f"no session {session_id}")
    return session


def _require_session_manager(principal: Principal, session: Session) -> None:
    principal.require_establishment(session.rcp.host_finess, session.rcp.region, "this session")


SESSION_FIELDS = (
    "starts_at",
    "ends_at",
    "place_finess",
    "room",
    "visio_url",
    "registration_deadline",
    "capacity",
)


def update_session(*, principal: Principal, session_id: int, data: dict[str, Any]) -> Session:
    """Move or re-place a session; its revision grows and its registrants are told if moved."""
    session = get_session(session_id=session_id, for_update=True)
    _require_session_manager(principal, session)
    if session.cancelled:
        raise Conflict(f"session {session.id} is cancelled")
    if "expected_revision" in data and data["expected_revision"] != session.revision:
        raise Conflict(
            f"session {session.id} is at revision {session.revision}, "
            f"not {data['expected_revision']}: read it again"
        )
    before = {name: getattr(session, name) for name in SESSION_FIELDS}
    moved = "starts_at" in data and data["starts_at"] != session.starts_at
    if moved and "ends_at" not in data:
        data["ends_at"] = data["starts_at"] + (session.ends_at - session.starts_at)
    if moved and "registration_deadline" not in data:
        data["registration_deadline"] = data["starts_at"] - dt.timedelta(
            hours=session.rcp.deadline_hours
        )
    if data.get("place_finess"):
        _organization(data["place_finess"], "place_finess")
    if "capacity" in data and data["capacity"] < session.registered_count:
        raise Conflict(
            f"session {session.id} already holds {session.registered_count} dossiers; "
            f"capacity cannot drop to {data['capacity']}"
        )
    for name in SESSION_FIELDS:
        if name in data:
            setattr(session, name, data[name])
    _check_times(session.starts_at, session.ends_at)
    changes = audit.diff(before, {name: getattr(session, name) for name in SESSION_FIELDS})
    if changes:
        session.edited = True
        session.touch()
        db.session.flush()
        audit.record(
            principal, "update", "session", session.id, region=session.rcp.region, changes=changes
        )
        if moved or "place_finess" in changes or "room" in changes or "visio_url" in changes:
            notify_session_change(session=session, event="session.changed", changes=changes)
    return read_session(session_id=session.id)


def cancel_session(*, principal: Principal, session_id: int, reason: str) -> Session:
    """Cancel a session: it stays (status cancelled) and its dossiers are released."""
    session = get_session(session_id=session_id, for_update=True)
    _require_session_manager(principal, session)
    if session.cancelled:
        raise Conflict(f"session {session.id} is already cancelled")
    session.status = CANCELLED
    session.cancel_reason = reason
    session.touch()
    db.session.flush()
    audit.record(
        principal,
        "cancel",
        "session",
        session.id,
        region=session.rcp.region,
        changes={"status": [SCHEDULED, CANCELLED], "reason": reason},
    )
    notify_session_change(session=session, event="session.cancelled", changes={"reason": reason})
    return read_session(session_id=session.id)


def set_participants(
    *, principal: Principal, session_id: int, participants: Sequence[dict[str, Any]]
) -> Session:
    """Replace a session's provisional list of participants."""
    session = get_session(session_id=session_id, for_update=True)
    _require_session_manager(principal, session)
    if session.cancelled:
        raise Conflict(f"session {session.id} is cancelled")
    checked = _checked_people(participants, "participants")
    before = sorted(p.rpps for p in session.participants)
    session.participants.clear()
    db.session.flush()
    for item, (rpps, specialty) in zip(participants, checked, strict=True):
        session.participants.append(
            SessionParticipant(rpps=rpps, specialty_code=specialty, role=item.get("role", "member"))
        )
    seen = {rpps for rpps, _ in checked}
    session.edited = True
    session.touch()
    db.session.flush()
    audit.record(
        principal,
        "set_participants",
        "session",
        session.id,
        region=session.rcp.region,
        changes={"participants": [before, sorted(seen)]},
    )
    return read_session(session_id=session.id)


def record_attendance(
    *, principal: Principal, session_id: int, items: Sequence[dict[str, Any]]
) -> Session:
    """Record who attended (present, excused, replaced by whom) once the session has started."""
    session = get_session(session_id=session_id, for_update=True)
    _require_session_manager(principal, session)
    if session.cancelled:
        raise Conflict(f"session {session.id} is cancelled: no attendance to record")
    if session.starts_at > utcnow():
        raise Conflict(f"session {session.id} has not started yet")
    by_rpps = {p.rpps: p for p in session.participants}
    recorded = {}
    for index, item in enumerate(items):
        field = f"items.{index}"
        participant = by_rpps.get(item["rpps"])
        if participant is None:
            if item["attendance"] != "present":
                raise _field_error(f"{field}.rpps", f"{item['rpps']} is not on the session's list")
            practitioner = _practitioner(item["rpps"], f"{field}.rpps")
            participant = SessionParticipant(
                rpps=item["rpps"],
                specialty_code=_specialty_for(
                    practitioner, item.get("specialty_code"), f"{field}.specialty_code"
                ),
                role="guest",
            )
            session.participants.append(participant)
        participant.attendance = item["attendance"]
        participant.replaced_by_rpps = None
        participant.replaced_by_specialty = None
        if item["attendance"] == "replaced":
            if not item.get("replaced_by_rpps"):
                raise _field_error(f"{field}.replaced_by_rpps", "say who replaced them")
            substitute = _practitioner(item["replaced_by_rpps"], f"{field}.replaced_by_rpps")
            participant.replaced_by_rpps = substitute.rpps
            participant.replaced_by_specialty = _specialty_for(
                substitute, item.get("replaced_by_specialty"), f"{field}.replaced_by_specialty"
            )
        recorded[item["rpps"]] = item["attendance"]
    session.touch()
    db.session.flush()
    audit.record(
        principal,
        "record_attendance",
        "session",
        session.id,
        region=session.rcp.region,
        changes={"attendance": recorded},
    )
    return read_session(session_id=session.id)


def quorum_rule(rcp: Any) -> quorum.Rule:
    """The quorum rule of an RCP (a model or a row with the same column names)."""
    return quorum.Rule(
        min_physicians=rcp.min_physicians,
        min_distinct_specialties=rcp.min_distinct_specialties,
        required_specialties=frozenset(rcp.required_specialties or ()),
        geriatrician_over_75=rcp.geriatrician_over_75,
    )


def quorum_of(session: Session, *, any_patient_over_75: bool = False) -> dict[str, Any]:
    """Quorum on the recorded attendance when there is one, else on the provisional list."""
    attendees = (
        quorum.Attendee(
            p.rpps, p.specialty_code, p.attendance, p.replaced_by_rpps, p.replaced_by_specialty
        )
        for p in session.participants
    )
    return quorum.session_status(
        quorum_rule(session.rcp), attendees, any_patient_over_75=any_patient_over_75
    )


def with_quorum(sessions: Sequence[Session]) -> list[Session]:
    """Attach ``quorum_status`` to each session (one query for the over-75 dossiers)."""
    concerned = [s.id for s in sessions if s.rcp.geriatrician_over_75]
    over_75: set[int] = set()
    if concerned:
        over_75 = set(
            db.session.scalars(
                select(Registration.session_id)
                .where(
                    Registration.session_id.in_(concerned),
                    Registration.patient_over_75.is_(True),
                    Registration.status.in_(lifecycle.ACTIVE),
                )
                .distinct()
            )
        )
    for session in sessions:
        session.quorum_status = quorum_of(  # type: ignore[attr-defined]
            session, any_patient_over_75=session.id in over_75
        )
    return attach_directory(sessions)


def read_session(*, session_id: int) -> Session:
    """One session with everything its representation needs."""
    return with_quorum([get_session(session_id=session_id)])[0]


def _session_loads() -> list[Any]:
    """The RCP (same query) and participants (one more); directory rows come separately."""
    return [joinedload(Session.rcp, innerjoin=True), selectinload(Session.participants)]


def attach_directory(sessions: Sequence[Session]) -> list[Session]:
    """Fill the directory links of sessions (host, place, people) with two IN queries.

    The viewonly relationships join on RPPS/FINESS numbers rather than keys, which the ORM
    can only load through the parent; fetching the rows by number is much cheaper.
    """
    rpps: set[str | None] = set()
    finess: set[str | None] = set()
    for session in sessions:
        rcp = session.rcp
        rpps.update((rcp.coordinator_rpps, rcp.substitute_rpps))
        finess.update((rcp.host_finess, session.place_finess))
        for p in session.participants:
            rpps.update((p.rpps, p.replaced_by_rpps))
    people = practitioners_of(rpps)
    places = organizations_of(finess)
    for session in sessions:
        rcp = session.rcp
        set_committed_value(rcp, "host", places.get(rcp.host_finess))
        set_committed_value(rcp, "coordinator", people.get(rcp.coordinator_rpps))
        set_committed_value(rcp, "substitute", people.get(rcp.substitute_rpps or ""))
        set_committed_value(session, "place", places.get(session.place_finess or ""))
        for p in session.participants:
            set_committed_value(p, "practitioner", people.get(p.rpps))
            set_committed_value(p, "replaced_by", people.get(p.replaced_by_rpps or ""))
    return list(sessions)


@dataclass
class SessionFilters:
    region: str | None = None
    department: str | None = None
    finess: str | None = None
    kind: str | None = None
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None
    visio: bool | None = None
    open_to_external: bool | None = None
    has_capacity: bool | None = None
    practitioner: str | None = None
    status: str | None = None
    rcp_id: int | None = None
    updated_since: dt.datetime | None = None
    #: Sessions still taking dossiers at that instant (``_taking_dossiers``).
    taking_dossiers_at: dt.datetime | None = None


def _taking_dossiers(now: dt.datetime) -> list[Any]:
    """The conditions of a session still taking dossiers at ``now``: scheduled, before its
    deadline, with places left."""
    return [
        Session.status == SCHEDULED,
        Session.registration_deadline > now,
        Session.registered_count < Session.capacity,
    ]


def session_query(filters: SessionFilters) -> Select[Any]:
    """The sessions a filter selects: shared by the session lists and the calendar feeds."""
    return select(Session).join(Session.rcp).where(*session_conditions(filters))


def session_conditions(filters: SessionFilters) -> list[Any]:
    """``session_query``'s conditions, all on the session table (RCP criteria as subqueries),
    so that counting and paging need no join."""
    conditions: list[Any] = []
    f = filters
    # RCP criteria as "rcp_id IN (RCPs matching)": both engines then walk the few matching
    # RCPs' sessions on (rcp_id, starts_at) instead of every session of the period, by date,
    # to find the region's among them (SQLite chose the latter for ORDER BY ... LIMIT).
    rcp_conditions: list[Any] = []
    if f.region:
        rcp_conditions.append(Rcp.region == f.region)
    if f.department:
        rcp_conditions.append(Rcp.department == f.department)
    if f.kind:
        rcp_conditions.append(Rcp.kind_code == f.kind)
    if f.open_to_external is not None:
        rcp_conditions.append(Rcp.open_to_external.is_(f.open_to_external))
    if rcp_conditions:
        conditions.append(Session.rcp_id.in_(select(Rcp.id).where(*rcp_conditions)))
    if f.finess:
        hosted = select(Rcp.id).where(Rcp.host_finess == f.finess)
        conditions.append(or_(Session.rcp_id.in_(hosted), Session.place_finess == f.finess))
    if f.rcp_id:
        conditions.append(Session.rcp_id == f.rcp_id)
    if f.date_from:
        conditions.append(Session.starts_at >= f.date_from)
    if f.date_to:
        conditions.append(Session.starts_at < f.date_to)
    if f.visio is not None:
        has_visio = and_(Session.visio_url.is_not(None), Session.visio_url != "")
        conditions.append(has_visio if f.visio else ~has_visio)
    if f.has_capacity is not None:
        open_ = Session.registered_count < Session.capacity
        conditions.append(open_ if f.has_capacity else ~open_)
    if f.status:
        conditions.append(Session.status == f.status)
    if f.taking_dossiers_at is not None:
        conditions.extend(_taking_dossiers(f.taking_dossiers_at))
    if f.updated_since:
        conditions.append(Session.updated_at >= f.updated_since)
    if f.practitioner:
        # two index lookups (a UNION), rather than an EXISTS evaluated for every session
        on_list = select(SessionParticipant.session_id).where(
            SessionParticipant.rpps == f.practitioner
        )
        replacing = select(SessionParticipant.session_id).where(
            SessionParticipant.replaced_by_rpps == f.practitioner
        )
        substituting = (
            select(Session.id).join(Session.rcp).where(Rcp.substitute_rpps == f.practitioner)
        )
        conditions.append(Session.id.in_(on_list.union(replacing, substituting)))
    return conditions


def list_sessions(
    *,
    filters: SessionFilters | None = None,
    limit: int | None = 50,
    offset: int = 0,
    count: bool = True,
    include_quorum: bool = True,
) -> tuple[list[Session], int]:
    """Sessions matching ``filters`` by start time, with RCP and participants loaded.

    Calendar feeds reuse it: cancelled sessions are included unless ``status`` filters them.
    """
    query = session_query(filters or SessionFilters())
    total = (
        db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        if count
        else 0
    )
    query = query.options(*_session_loads()).order_by(Session.starts_at, Session.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    sessions = list(db.session.scalars(query))
    return (with_quorum(sessions) if include_quorum else sessions), int(total or 0)


#: What a session list item needs from the session and its RCP, read as one row.
SUMMARY_COLUMNS = (
    Session.id,
    Session.revision,
    Session.status,
    Session.cancel_reason,
    Session.starts_at,
    Session.ends_at,
    Session.rcp_id,
    Session.room,
    Session.visio_url,
    Session.registration_deadline,
    Session.capacity,
    Session.registered_count,
    Session.updated_at,
    Session.place_finess,
    Rcp.title,
    Rcp.kind_code,
    Rcp.level,
    Rcp.region,
    Rcp.department,
    Rcp.open_to_external,
    Rcp.host_finess,
    Rcp.coordinator_rpps,
    Rcp.substitute_rpps,
    Rcp.min_physicians,
    Rcp.min_distinct_specialties,
    Rcp.required_specialties,
    Rcp.geriatrician_over_75,
)


def list_session_summaries(
    *, filters: SessionFilters | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[listing.Serialized], int]:
    """A page of sessions in their list representation, and how many match in all.

    The hot read path (regional and local views, a physician's next sessions): columns in one
    query, then one keyed query each for the quorum inputs, the over-75 dossiers and the
    directory rows, and items built directly in their JSON form (planning.listing). Read-only
    Core statements on the session's connection: no ORM object, nothing to flush.
    """
    conditions = session_conditions(filters or SessionFilters())
    connection = db.session.connection()
    total = connection.execute(select(func.count()).select_from(Session).where(*conditions))
    # the page's ids first, from the (rcp_id, starts_at) index alone; then their columns
    page = (
        select(Session.id)
        .where(*conditions)
        .order_by(Session.starts_at, Session.id)
        .limit(limit)
        .offset(offset)
    )
    rows = connection.execute(
        select(*SUMMARY_COLUMNS)
        .join_from(Session, Rcp)
        .where(Session.id.in_(page))
        .order_by(Session.starts_at, Session.id)
    ).all()
    return session_summaries(rows), int(total.scalar() or 0)


def _keyed(*columns: Any, key: Any, order_by: Any = None) -> Any:
    """``SELECT columns WHERE key IN :keys``, built once (building costs more than running)."""
    statement = select(*columns).where(key.in_(bindparam("keys", expanding=True)))
    return statement if order_by is None else statement.order_by(order_by)


_ATTENDEES = _keyed(
    SessionParticipant.session_id,
    SessionParticipant.rpps,
    SessionParticipant.specialty_code,
    SessionParticipant.attendance,
    SessionParticipant.replaced_by_rpps,
    SessionParticipant.replaced_by_specialty,
    key=SessionParticipant.session_id,
    order_by=SessionParticipant.id,
)
_OVER_75 = _keyed(Registration.session_id, key=Registration.session_id).where(
    Registration.patient_over_75.is_(True), Registration.status.in_(lifecycle.ACTIVE)
)
_PEOPLE = (
    _keyed(
        Practitioner.rpps,
        Practitioner.last_name,
        Practitioner.first_name,
        PractitionerActivity.specialty_code,
        PractitionerActivity.specialty_label,
        key=Practitioner.rpps,
    )
    .outerjoin(
        PractitionerActivity,
        and_(
            PractitionerActivity.practitioner_id == Practitioner.id,
            PractitionerActivity.specialty_code.is_not(None),
        ),
    )
    .order_by(Practitioner.id, PractitionerActivity.id)
)
_PLACES = _keyed(
    *(getattr(Organization, name) for name in listing.PLACE_FIELDS), key=Organization.finess
)


def _rows(statement: Any, keys: Iterable[Any]) -> Sequence[Any]:
    wanted = sorted({k for k in keys if k})  # sorted: the same keys give the same statement
    if not wanted:
        return []
    return db.session.connection().execute(statement, {"keys": wanted}).all()


def session_summaries(
    rows: Sequence[Any], *, distances: Sequence[float | None] | None = None
) -> list[listing.Serialized]:
    """List items of ``rows`` (``SUMMARY_COLUMNS``), with four queries whatever their number."""
    if not rows:
        return []
    attendees: dict[int, list[quorum.Attendee]] = {}
    for session_id, *attendee in _rows(_ATTENDEES, (row.id for row in rows)):
        attendees.setdefault(session_id, []).append(quorum.Attendee(*attendee))
    over_75 = {
        session_id
        for (session_id,) in _rows(_OVER_75, (r.id for r in rows if r.geriatrician_over_75))
    }
    people = directory_people(
        rpps for row in rows for rpps in (row.coordinator_rpps, row.substitute_rpps)
    )
    places = directory_places(
        finess for row in rows for finess in (row.host_finess, row.place_finess)
    )

    def who(rpps: str | None) -> dict[str, Any] | None:
        names, specialties = people.get(rpps or "", (None, ()))
        return listing.person(rpps, names, specialties)

    out = []
    for index, row in enumerate(rows):
        status = quorum.session_status(
            quorum_rule(row), attendees.get(row.id, ()), any_patient_over_75=row.id in over_75
        )
        out.append(
            listing.session_summary(
                row,
                host=listing.place(row.host_finess, places.get(row.host_finess)),
                site=listing.place(row.place_finess, places.get(row.place_finess or "")),
                coordinator=who(row.coordinator_rpps),
                substitute=who(row.substitute_rpps),
                quorum=status,
                distance_km=distances[index] if distances is not None else None,
            )
        )
    return out


People = dict[str, tuple[tuple[str, str], list[tuple[str | None, str | None]]]]


def directory_people(rpps: Iterable[str | None]) -> People:
    """Names and (specialty, label) of activities, in activity order, by RPPS, in one query."""
    out: People = {}
    for rpps_, last_name, first_name, code, label in _rows(_PEOPLE, rpps):
        _, specialties = out.setdefault(rpps_, ((last_name, first_name), []))
        if code is not None:
            specialties.append((code, label))
    return out


def directory_places(finess: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """Establishments by FINESS as plain mappings of ``listing.PLACE_FIELDS``, in one query."""
    return {row.finess: row._asdict() for row in _rows(_PLACES, finess)}


def next_sessions(
    *, kind: str, department: str, now: dt.datetime | None = None, limit: int = 10
) -> list[Session]:
    """The next sessions of a kind still taking dossiers, nearest to a department first.

    Within a radius band of 50 km sessions come by date; beyond it, distance wins.
    """
    point = geo.department_point(department)
    if point is None:
        raise InvalidInput(
            f"unknown department {department!r}",
            errors=[
                {
                    "location": "query",
                    "field": "department",
                    "pointer": "department",
                    "detail": "not a French department code",
                }
            ],
        )
    now = now or utcnow()
    query = (
        select(Session)
        .join(Session.rcp)
        .where(Rcp.kind_code == kind, *_taking_dossiers(now))
        .options(*_session_loads())
        .order_by(Session.starts_at)
        .limit(500)
    )
    sessions = list(db.session.scalars(query))
    places = organizations_of(s.place_finess or s.rcp.host_finess for s in sessions)
    ranked = []
    for session in sessions:
        org = places.get(session.place_finess or session.rcp.host_finess)
        distance: float | None
        if org is not None and org.lat is not None and org.lon is not None:
            distance = geo.haversine_km(point[0], point[1], org.lat, org.lon)
        else:
            other = geo.department_point(session.rcp.department)
            distance = geo.haversine_km(*point, *other) if other else None
        session.distance_km = None if distance is None else round(distance, 1)  # type: ignore[attr-defined]
        ranked.append((session, distance))
    ranked.sort(
        key=lambda pair: (
            int((pair[1] if pair[1] is not None else 10_000) // 50),
            pair[0].starts_at,
        )
    )
    return with_quorum([session for session, _ in ranked[:limit]])


def organizations_of(finess: Iterable[str | None]) -> dict[str, Organization]:
    """Establishments by FINESS, in one query."""
    wanted = {f for f in finess if f}
    if not wanted:
        return {}
    rows = db.session.scalars(select(Organization).where(Organization.finess.in_(wanted)))
    return {o.finess: o for o in rows}


def practitioners_of(rpps: Iterable[str | None]) -> dict[str, Practitioner]:
    """Professionals by RPPS, in one query (their activities come with them)."""
    wanted = {r for r in rpps if r}
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(Practitioner)
        .where(Practitioner.rpps.in_(wanted))
        .options(selectinload(Practitioner.activities))
    )
    return {p.rpps: p for p in rows if p.rpps}


# --- registrations ------------------------------------------------------------------------


def _acting_rpps(principal: Principal) -> str:
    rpps = principal.acting_rpps()
    if rpps is None:
        if principal.role is Role.RCP_SOFTWARE:
            raise Forbidden(
                "RCP software registers on a physician's behalf: its token needs dcc_on_behalf_of"
            )
        raise Forbidden(f"a {principal.role.value} cannot register dossiers")
    return rpps


def _take_place_statement(*, before_deadline: bool) -> Any:
    # A Core UPDATE of the table (not ORM-enabled): it skips the ORM's bulk-update machinery,
    # and the feeds still see it (planning.feeds.services notes Core writes of their tables).
    table = Session.__table__
    conditions = [
        table.c.id == bindparam("session_id"),
        table.c.status == SCHEDULED,
        table.c.registered_count < table.c.capacity,
    ]
    if before_deadline:
        conditions.append(
            table.c.registration_deadline > bindparam("deadline_after", type_=UTCDateTime())
        )
    return (
        update(table)
        .where(*conditions)
        .values(
            registered_count=table.c.registered_count + 1,
            updated_at=bindparam("now", type_=UTCDateTime()),
        )
    )


# Built once and run on the driver's cursor: registrations are the hot write path, and
# building, keying and executing a statement through Core costs more than running it.
_TAKE_PLACE = DriverStatement(_take_place_statement(before_deadline=False))
_TAKE_PLACE_BEFORE_DEADLINE = DriverStatement(_take_place_statement(before_deadline=True))


def _take_place(
    session_id: int, now: dt.datetime, *, deadline_after: dt.datetime | None = None
) -> bool:
    """Atomically take one place if the session has room (one conditional UPDATE).

    On PostgreSQL the UPDATE locks the row and re-checks the condition after a concurrent
    transaction commits, so concurrent registrations can never exceed the capacity.
    """
    params: dict[str, Any] = {"session_id": session_id, "now": now}
    statement = _TAKE_PLACE
    if deadline_after is not None:
        statement = _TAKE_PLACE_BEFORE_DEADLINE
        params["deadline_after"] = deadline_after
    taken = bool(statement.execute(db.session.connection(), params).rowcount)
    feed_changes.mark_changed()  # a Core write of a watched table, which no ORM event sees
    _expire_count(session_id)
    return taken


def _release_place(session_id: int, now: dt.datetime) -> None:
    db.session.execute(
        update(Session)
        .where(Session.id == session_id, Session.registered_count > 0)
        .values(registered_count=Session.registered_count - 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    _expire_count(session_id)


def _expire_count(session_id: int) -> None:
    """The counter changed in the database: loaded copies must read it again."""
    loaded = db.session.identity_map.get(identity_key(Session, session_id))
    if loaded is not None:
        db.session.expire(loaded, ["registered_count", "updated_at"])


def _event(
    registration: Registration,
    principal: Principal,
    from_status: str | None,
    to_status: str,
    *,
    reason: str | None = None,
    target_session_id: int | None = None,
) -> None:
    db.session.add(
        RegistrationEvent(
            registration=registration,
            from_status=from_status,
            to_status=to_status,
            actor_subject=principal.subject,
            actor_role=principal.role.value,
            reason=reason,
            target_session_id=target_session_id,
        )
    )


def _active_dossier(session_id: Any, rpps: Any, patient_ref: Any) -> Any:
    """The active registration of a dossier on a session (the unique index holds at most one)."""
    return select(Registration.id).where(
        Registration.session_id == session_id,
        Registration.registering_rpps == rpps,
        Registration.patient_ref == patient_ref,
        # constants written into the SQL: an expanding IN would render it on every call
        Registration.status.in_([literal_column(f"'{s.value}'") for s in _ACTIVE]),
    )


def _registration_context() -> Any:
    """What the checks of a registration need, as plain columns (no ORM entities to build):
    the session's status, deadline and capacity, its RCP's region, host and openness, an
    active registration of the same dossier, whether the physician is active, whether they
    work at the RCP's sites (for closed RCPs), and whether any webhook is active (when none
    is, the outbox needs no query)."""
    session_id, rpps = bindparam("session_id"), bindparam("rpps")
    duplicate = (
        _active_dossier(session_id, rpps, bindparam("patient_ref")).limit(1).scalar_subquery()
    )
    active = select(Practitioner.active).where(Practitioner.rpps == rpps).scalar_subquery()
    works_there = exists().where(
        PractitionerActivity.practitioner_id == Practitioner.id,
        Practitioner.rpps == rpps,
        PractitionerActivity.active.is_(True),
        PractitionerActivity.finess_site.in_(
            [Rcp.host_finess, func.coalesce(Session.place_finess, Rcp.host_finess)]
        ),
    )
    return (
        select(
            Session.status,
            Session.registration_deadline,
            Session.capacity,
            Rcp.id.label("rcp_id"),
            Rcp.region,
            Rcp.host_finess,
            Rcp.open_to_external,
            duplicate.label("duplicate_id"),
            active.label("physician_active"),
            works_there.label("physician_works_there"),
            ANY_ACTIVE_WEBHOOK.label("any_webhook"),
        )
        .join(Session.rcp)
        .where(Session.id == session_id)
    )


_ACTIVE = sorted(lifecycle.ACTIVE)
_REGISTRATION_CONTEXT = _registration_context()
_CONTEXT_WIDTH = len(_REGISTRATION_CONTEXT.selected_columns)  # PostgreSQL's adds two ids
# The registration's statements run on the driver's cursor (the hot write path: Core's
# execution costs more than SQLite takes to run them).
_CONTEXT = DriverStatement(_REGISTRATION_CONTEXT)


def register_dossier(
    *,
    principal: Principal,
    session_id: int,
    data: dict[str, Any],
    now: dt.datetime | None = None,
) -> Registration:
    """Register a dossier for the calling physician (or the one RCP software acts for)."""
    now = now or utcnow()
    rpps = _acting_rpps(principal)
    params = {"session_id": session_id, "patient_ref": data["patient_ref"], "rpps": rpps}
    rows = _NewRegistration.of(principal, session_id, rpps, data)
    # Every statement runs on the driver's cursor of the transaction's connection
    # (DriverStatement: no ORM nor Core execution machinery).
    connection = db.session.connection()
    ids: tuple[int, int] | None = None
    if connection.dialect.name == "postgresql":
        # the checks, the place and the writes in one statement (_REGISTER)
        with _duplicate_as_conflict(session_id):
            found = _REGISTER.first(connection, {**params, **rows.statement_params(now)})
        taken = found is not None and found[_CONTEXT_WIDTH] is not None
        if taken:
            ids = found[_CONTEXT_WIDTH], found[_CONTEXT_WIDTH + 1]  # type: ignore[index]
            _expire_count(session_id)
            feed_changes.bumped()  # its statement replaced the feeds' row
        else:  # why not: as the session is now, not as it was before waiting for its lock
            found = _CONTEXT.first(connection, params)
    else:
        # Take the place first, with one conditional UPDATE: the transaction starts as a
        # writer, so concurrent registrations queue on the database lock instead of racing;
        # any refusal below rolls the place back with the transaction. Then everything the
        # checks need in one query (_REGISTRATION_CONTEXT): plain columns.
        taken = _take_place(session_id, now, deadline_after=now)
        found = _CONTEXT.first(connection, params)
    if found is None:
        raise NotFound(f"no session {session_id}")
    (
        status,
        deadline,
        capacity,
        rcp_id,
        region,
        host_finess,
        open_to_external,
        duplicate_id,
        physician_active,
        physician_works_there,
        any_webhook,
    ) = found[:_CONTEXT_WIDTH]
    if status == CANCELLED:
        raise Conflict(f"session {session_id} is cancelled", code="session-cancelled")
    if now >= deadline:
        raise Conflict(
            f"the registration deadline of session {session_id} passed at {deadline.isoformat()}",
            code="deadline-passed",
            deadline=deadline.isoformat(),
        )
    if duplicate_id:
        raise Conflict(
            f"this dossier is already registered for session {session_id} "
            f"(registration {duplicate_id})",
            code="duplicate",
        )
    if not physician_active:
        raise Forbidden(f"the physician {rpps} is not an active professional of the directory")
    if not open_to_external and not physician_works_there:
        raise Forbidden(
            f"RCP {rcp_id} takes dossiers only from physicians of establishment {host_finess}"
        )
    if not taken:
        raise Conflict(
            f"session {session_id} is full ({capacity} dossiers)",
            code="session-full",
            capacity=capacity,
        )
    if ids is None:
        with _duplicate_as_conflict(session_id):
            ids = rows.insert(connection, region)
    registration = rows.attach(*ids)
    if any_webhook:
        # the outbox needs the session and its RCP (only when some webhook may want them)
        notify_registration(
            registration=registration, event="registration.created", notify_physician=False
        )
    return registration


_REGISTRATION_TABLE = Registration.__table__
_EVENT_TABLE = RegistrationEvent.__table__
_AUDIT_TABLE = audit.AuditEvent.__table__
_REGISTRATION_COLUMNS = [
    "session_id",
    "registering_rpps",
    "client_id",
    "patient_ref",
    "tumour_code",
    "question",
    "phase",
    "wished_date",
    "patient_over_75",
    "status",
    "reason",
    "deferred_to_id",
    "deferred_from_id",
    "created_at",
    "updated_at",
]
_EVENT_COLUMNS = [
    "at",
    "from_status",
    "to_status",
    "actor_subject",
    "actor_role",
    "reason",
    "target_session_id",
]
_AUDIT_COLUMNS = [
    "at",
    "actor_subject",
    "actor_role",
    "actor_issuer",
    "action",
    "entity_type",
    "region",
    "changes",
]


def _register_in_one_statement() -> Any:
    """PostgreSQL: a whole registration in one statement, the only round trip between BEGIN
    and COMMIT. Data-modifying CTEs, in this order of need:

    - ``registration_context``: what the checks need (``_REGISTRATION_CONTEXT``), read from
      the statement's snapshot;
    - ``taken_place``: the place-taking UPDATE, on condition that the context allows the
      registration (no active registration of the dossier, an active physician who may
      register there). It locks the session row and re-checks the row's own conditions after
      a concurrent registration commits, so the capacity holds; a dossier that a concurrent
      request registered meanwhile is refused by the unique index;
    - the registration, its first event and its audit row (whose region is the context's),
      inserted from the taken place only;
    - the feeds' change token of the region (``feed_changes.registration_bump_cte``).

    The statement returns the context and, when registered, the new registration's and
    event's ids. A refusal (no id) reads the context again to say why, as the session is
    now rather than as it was before waiting for its lock."""

    def param(table: Any, column: str, prefix: str) -> Any:
        # typed in the SQL (a NULL parameter in a SELECT list would be text); strings cast
        # without a length, so that a value too long still fails rather than being cut
        column_type = table.c[column].type
        sql_type = String() if isinstance(column_type, String) else column_type
        return cast(bindparam(prefix + column, type_=column_type), sql_type)

    context = _REGISTRATION_CONTEXT.cte("registration_context")
    allowed = exists().where(
        context.c.duplicate_id.is_(None),
        context.c.physician_active.is_(True),
        or_(context.c.open_to_external.is_(True), context.c.physician_works_there),
    )
    taken = (
        _take_place_statement(before_deadline=True)
        .where(allowed)
        .returning(Session.__table__.c.id)
        .cte("taken_place")
    )
    registration = (
        insert(_REGISTRATION_TABLE)
        .from_select(
            _REGISTRATION_COLUMNS,
            select(
                *[param(_REGISTRATION_TABLE, c, "new_") for c in _REGISTRATION_COLUMNS]
            ).select_from(taken),
        )
        .returning(_REGISTRATION_TABLE.c.id)
        .cte("new_registration")
    )
    event = (
        insert(_EVENT_TABLE)
        .from_select(
            ["registration_id", *_EVENT_COLUMNS],
            select(registration.c.id, *[param(_EVENT_TABLE, c, "event_") for c in _EVENT_COLUMNS]),
        )
        .returning(_EVENT_TABLE.c.registration_id, _EVENT_TABLE.c.id)
        .cte("new_event")
    )
    registered = registration.join(context, true())
    trail = insert(_AUDIT_TABLE).from_select(
        ["entity_id", *_AUDIT_COLUMNS],
        select(
            cast(registration.c.id, String),
            *[
                context.c.region if c == "region" else param(_AUDIT_TABLE, c, "audit_")
                for c in _AUDIT_COLUMNS
            ],
        ).select_from(registered),
    )
    bump = feed_changes.registration_bump_cte(context.c.region, registered)
    return (
        select(*context.c, event.c.registration_id, event.c.id.label("event_id"))
        .select_from(context.outerjoin(event, true()))
        .add_cte(trail.cte("new_audit_event"), bump)
    )


_REGISTER = DriverStatement(_register_in_one_statement())


def _insert_statement(table: Any, columns: list[str]) -> DriverStatement:
    return DriverStatement(insert(table).values({c: bindparam(c) for c in columns}))


# SQLite's three INSERTs (the row ids come from the cursor's lastrowid)
_INSERT_REGISTRATION = _insert_statement(_REGISTRATION_TABLE, _REGISTRATION_COLUMNS)
_INSERT_EVENT = _insert_statement(_EVENT_TABLE, ["registration_id", *_EVENT_COLUMNS])
_INSERT_AUDIT_EVENT = _insert_statement(_AUDIT_TABLE, ["entity_id", *_AUDIT_COLUMNS])


@dataclass
class _NewRegistration:
    """The rows a registration writes: the registration, its first event and its audit row,
    written with INSERTs on the driver's cursor (the hot path: the unit of work costs several
    times the statements), within ``_REGISTER`` on PostgreSQL; then attached to the ORM
    session as persistent objects, loaded as if just read, so that the caller and the
    response need no query and the commit has nothing left to flush."""

    values: dict[str, Any]
    event_values: dict[str, Any]
    trail: dict[str, Any]

    @classmethod
    def of(
        cls, principal: Principal, session_id: int, rpps: str, data: dict[str, Any]
    ) -> _NewRegistration:
        now = utcnow()
        status = lifecycle.RegistrationStatus.PROPOSED.value
        values: dict[str, Any] = {
            "session_id": session_id,
            "registering_rpps": rpps,
            "client_id": principal.client_id if principal.role is Role.RCP_SOFTWARE else None,
            "patient_ref": data["patient_ref"],
            "tumour_code": data["tumour_code"],
            "question": data["question"],
            "phase": data["phase"],
            "wished_date": data.get("wished_date"),
            "patient_over_75": data.get("patient_over_75", False),
            "status": status,
            "reason": None,
            "deferred_to_id": None,
            "deferred_from_id": None,
            "created_at": now,
            "updated_at": now,
        }
        event_values: dict[str, Any] = {
            "at": now,
            "from_status": None,
            "to_status": status,
            "actor_subject": principal.subject,
            "actor_role": principal.role.value,
            "reason": None,
            "target_session_id": None,
        }
        trail = audit.event_values(
            principal,
            "register",
            "registration",
            "",  # the registration's id, known once inserted
            changes={"session_id": session_id, "status": status},
        )
        return cls(values, event_values, trail)

    def statement_params(self, now: dt.datetime) -> dict[str, Any]:
        """The parameters of ``_REGISTER`` besides the context's."""
        params = {"now": now, "deadline_after": now}
        params.update({"new_" + k: v for k, v in self.values.items()})
        params.update({"event_" + k: v for k, v in self.event_values.items()})
        params.update({"audit_" + k: self.trail[k] for k in _AUDIT_COLUMNS if k != "region"})
        params.update(feed_changes.region_row_params(now))
        return params

    def insert(self, connection: Any, region: str | None) -> tuple[int, int]:
        """SQLite: the three INSERTs (the row ids come from the cursor's lastrowid) and the
        feeds' row; the registration's and its event's ids."""
        registration_id = _INSERT_REGISTRATION.execute(connection, self.values).lastrowid
        event_id = _INSERT_EVENT.execute(
            connection, {**self.event_values, "registration_id": registration_id}
        ).lastrowid
        _INSERT_AUDIT_EVENT.execute(
            connection, {**self.trail, "entity_id": str(registration_id), "region": region}
        )
        feed_changes.bump_registration(region, self.values["updated_at"])
        return registration_id, event_id

    def attach(self, registration_id: int, event_id: int) -> Registration:
        """The registration written, with its first event, as persistent ORM objects."""
        event_values = {"id": event_id, "registration_id": registration_id, **self.event_values}
        first_event = _as_loaded(RegistrationEvent, event_values)
        registration = _as_loaded(Registration, {"id": registration_id, **self.values})
        set_committed_value(registration, "events", [first_event])
        set_committed_value(first_event, "registration", registration)
        db.session.add(registration)  # persistent, nothing pending (cascades to the event)
        return registration


@contextmanager
def _duplicate_as_conflict(session_id: int) -> Iterator[None]:
    """A dossier registered concurrently trips the unique index: a 409, not a 500."""
    try:
        yield
    except IntegrityError as error:
        if not any(mark in str(error.orig) for mark in _ACTIVE_DOSSIER_VIOLATION):
            raise
        # the transaction is spoilt (PostgreSQL): the error handler rolls it back
        raise Conflict(
            f"this dossier is already registered for session {session_id}",
            code="duplicate",
        ) from error


def _as_loaded(model: type[Any], row: dict[str, Any]) -> Any:
    """A detached instance of ``model`` holding ``row`` as if read from the database: the
    values go straight into its state, as the ORM's loading does, without the attribute
    events of the constructor (nothing to track: they are what the database holds)."""
    obj = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(row)
    make_transient_to_detached(obj)
    return obj


#: How each engine names a violation of uq_planning_registration_active_dossier.
_ACTIVE_DOSSIER_VIOLATION = (
    "uq_planning_registration_active_dossier",  # PostgreSQL names the index
    "UNIQUE constraint failed: planning_registration.session_id, "  # SQLite, its columns
    "planning_registration.registering_rpps, planning_registration.patient_ref",
)


def _get_registration(registration_id: int, *, for_update: bool = False) -> Registration:
    query = (
        select(Registration)
        .where(Registration.id == registration_id)
        .options(selectinload(Registration.session).selectinload(Session.rcp))
    )
    if for_update:
        query = query.with_for_update()
    registration = db.session.scalars(query).first()
    if registration is None:
        raise NotFound(f"no registration {registration_id}")
    return registration


def _can_read(principal: Principal, registration: Registration) -> bool:
    rcp = registration.session.rcp
    if principal.role is Role.PHYSICIAN:
        return registration.registering_rpps == principal.rpps
    if principal.role is Role.RCP_SOFTWARE and registration.client_id == principal.client_id:
        return True
    return principal.covers_establishment(rcp.host_finess, rcp.region)


def get_registration(*, principal: Principal, registration_id: int) -> Registration:
    registration = _get_registration(registration_id)
    if not _can_read(principal, registration):
        raise Forbidden(f"registration {registration_id} is not in your perimeter")
    return registration


def decide_registration(
    *,
    principal: Principal,
    registration_id: int,
    decision: str,
    reason: str | None = None,
    target_session_id: int | None = None,
    now: dt.datetime | None = None,
) -> Registration:
    """The host 3C accepts, defers (to another session of the same kind) or refuses a dossier."""
    now = now or utcnow()
    registration = _get_registration(registration_id, for_update=True)
    rcp = registration.session.rcp
    principal.require_establishment(rcp.host_finess, rcp.region, "this RCP's registrations")
    action = lifecycle.Action(decision)
    if action is lifecycle.Action.WITHDRAW:
        raise _field_error("decision", "the 3C decides accepted, deferred or refused")
    try:
        status = lifecycle.next_status(registration.status, action)
    except lifecycle.TransitionError as error:
        raise Conflict(
            str(error), code="invalid-transition", status_now=registration.status
        ) from error
    if action is lifecycle.Action.REFUSE and not reason:
        raise _field_error("reason", "a refusal needs a reason")
    before = registration.status
    if action is lifecycle.Action.DEFER:
        if target_session_id is None:
            raise _field_error("target_session_id", "say which session the dossier moves to")
        target = get_session(session_id=target_session_id, full=False)
        _check_deferral_target(principal, registration, target)
        if not _take_place(target.id, now):
            raise Conflict(f"session {target.id} is full", code="session-full")
        moved = Registration(
            session_id=target.id,
            registering_rpps=registration.registering_rpps,
            client_id=registration.client_id,
            patient_ref=registration.patient_ref,
            tumour_code=registration.tumour_code,
            question=registration.question,
            phase=registration.phase,
            wished_date=registration.wished_date,
            patient_over_75=registration.patient_over_75,
            status=lifecycle.RegistrationStatus.ACCEPTED.value,
            deferred_from_id=registration.id,
            events=[],
        )
        db.session.add(moved)
        db.session.flush()
        registration.deferred_to_id = moved.id
        _event(
            moved,
            principal,
            None,
            moved.status,
            reason=f"deferred from registration {registration.id}",
        )
    registration.status = status.value
    registration.reason = reason
    if not lifecycle.holds_place(status):
        _release_place(registration.session_id, now)
    _event(
        registration,
        principal,
        before,
        status.value,
        reason=reason,
        target_session_id=target_session_id,
    )
    db.session.flush()
    audit.record(
        principal,
        "decide",
        "registration",
        registration.id,
        region=rcp.region,
        changes={
            "status": [before, status.value],
            "reason": reason,
            "target_session_id": target_session_id,
        },
    )
    notify_registration(registration=registration, event=f"registration.{status.value}")
    return registration


def _check_deferral_target(
    principal: Principal, registration: Registration, target: Session
) -> None:
    if target.id == registration.session_id:
        raise _field_error("target_session_id", "the dossier is already in this session")
    if target.cancelled:
        raise _field_error("target_session_id", f"session {target.id} is cancelled")
    if target.starts_at <= registration.session.starts_at and target.starts_at <= utcnow():
        raise _field_error("target_session_id", f"session {target.id} is in the past")
    if target.rcp.kind_code != registration.session.rcp.kind_code:
        raise _field_error(
            "target_session_id",
            f"session {target.id} is an RCP of another kind ({target.rcp.kind_code})",
        )
    principal.require_establishment(target.rcp.host_finess, target.rcp.region, "the target session")
    already = db.session.scalar(
        _active_dossier(target.id, registration.registering_rpps, registration.patient_ref)
    )
    if already is not None:
        raise Conflict(
            f"this dossier is already registered for session {target.id} (registration {already})",
            code="duplicate",
        )


def withdraw_registration(
    *, principal: Principal, registration_id: int, now: dt.datetime | None = None
) -> Registration:
    """The registering physician withdraws a dossier, before the session's deadline."""
    now = now or utcnow()
    registration = _get_registration(registration_id, for_update=True)
    rpps = _acting_rpps(principal)
    if registration.registering_rpps != rpps:
        raise Forbidden("only the registering physician may withdraw this dossier")
    if now >= registration.session.registration_deadline:
        raise Conflict("the registration deadline has passed: ask the 3C", code="deadline-passed")
    try:
        status = lifecycle.next_status(registration.status, lifecycle.Action.WITHDRAW)
    except lifecycle.TransitionError as error:
        raise Conflict(str(error), code="invalid-transition") from error
    before = registration.status
    registration.status = status.value
    _release_place(registration.session_id, now)
    _event(registration, principal, before, status.value)
    db.session.flush()
    audit.record(
        principal,
        "withdraw",
        "registration",
        registration.id,
        region=registration.session.rcp.region,
        changes={"status": [before, status.value]},
    )
    notify_registration(
        registration=registration, event="registration.withdrawn", notify_physician=False
    )
    return registration


def list_registrations(
    *,
    principal: Principal,
    session_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Registration], int]:
    """Registrations the caller may read: physicians their own, 3Cs and admins their perimeter."""
    conditions: list[Any] = []
    if session_id is not None:
        session = get_session(session_id=session_id, full=False)
        if principal.role not in (Role.PHYSICIAN, Role.RCP_SOFTWARE):
            _require_session_manager(principal, session)
        conditions.append(Registration.session_id == session_id)
    if status:
        conditions.append(Registration.status == status)
    if principal.role is Role.PHYSICIAN:
        conditions.append(Registration.registering_rpps == principal.rpps)
    elif principal.role is Role.RCP_SOFTWARE:
        perimeter = [Registration.client_id == principal.client_id]
        if principal.region:
            perimeter.append(Rcp.region == principal.region)
        if principal.finess:
            perimeter.append(Rcp.host_finess.in_(principal.finess))
        conditions.append(or_(*perimeter))
    elif principal.role is Role.REGIONAL_ADMIN:
        conditions.append(Rcp.region == principal.region)
    elif principal.role is Role.COORDINATOR_3C:
        conditions.append(Rcp.host_finess.in_(principal.finess))
    base = select(Registration).join(Registration.session).join(Session.rcp).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = db.session.scalars(
        base.options(
            selectinload(Registration.events),
            selectinload(Registration.session).selectinload(Session.rcp),
        )
        .order_by(Registration.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total
