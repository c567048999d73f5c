"""Request and response shapes of the planning API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.api import PaginationArgsSchema, Schema, Url
from core.terminology.geo import DEPARTMENTS
from planning import kinds, listing
from planning.lifecycle import RegistrationStatus
from planning.recurrence import PARIS

RPPS = validate.Regexp(r"^[0-9]{11}$", error="an RPPS number has 11 digits")
FINESS = validate.Regexp(r"^(?:[0-9]{2}|2[AB])[0-9]{7}$", error="a FINESS number has 9 characters")
SPECIALTY = validate.Regexp(r"^[A-Z]{1,4}[0-9]{1,4}$", error="an RPPS specialty code, e.g. SM36")
#: A pseudonym of the calling software: letters, digits and - _ . : only, so that a name with
#: spaces, or a 13/15-digit NIR/INS, cannot be sent as a "reference".
PATIENT_REF = validate.Regexp(
    r"^(?![0-9]{13,15}$)[A-Za-z0-9][A-Za-z0-9._:-]{5,63}$",
    error="an opaque pseudonym of 6-64 characters (letters, digits, . _ : -), never an INS/NIR",
)
#: CIM-10 (ICD-10) code of the tumour localisation, e.g. C50, C50.9, D05.1.
TUMOUR_CODE = validate.Regexp(
    r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?$", error="a CIM-10 code, e.g. C50.9"
)


class AwareDateTime(ma.fields.AwareDateTime):
    """An ISO 8601 instant; without an offset it is read as Europe/Paris wall time."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=PARIS, **kwargs)


# --- outputs ------------------------------------------------------------------------------


def person(practitioner: Any, rpps: str | None, specialty_code: str | None = None) -> Any:
    """A person as shown in RCPs and sessions: RPPS, names from the directory, specialty."""
    if practitioner is None:
        return listing.person(rpps, None, (), specialty_code)
    return listing.person(
        rpps,
        (practitioner.last_name, practitioner.first_name),
        [(a.specialty_code, a.specialty_label) for a in practitioner.activities],
        specialty_code,
    )


def place(organization: Any, finess: str | None) -> Any:
    if organization is None:
        return listing.place(finess, None)
    return listing.place(
        finess, {name: getattr(organization, name) for name in listing.PLACE_FIELDS}
    )


def quorum_rule(rcp: Any) -> dict[str, Any]:
    return {
        "min_physicians": rcp.min_physicians,
        "min_distinct_specialties": rcp.min_distinct_specialties,
        "required_specialties": list(rcp.required_specialties or []),
        "geriatrician_over_75": rcp.geriatrician_over_75,
    }


class PersonSchema(ma.Schema):
    rpps = ma.fields.String(metadata={"description": "RPPS number"})
    last_name = ma.fields.String(
        allow_none=True, metadata={"description": "Family name (from the directory)"}
    )
    first_name = ma.fields.String(
        allow_none=True, metadata={"description": "Given name (from the directory)"}
    )
    specialty_code = ma.fields.String(
        allow_none=True, metadata={"description": "Specialty this person brings (RPPS code)"}
    )
    specialty_label = ma.fields.String(
        allow_none=True, metadata={"description": "Label of the specialty"}
    )


class PlaceSchema(ma.Schema):
    finess = ma.fields.String(metadata={"description": "FINESS number of the establishment"})
    name = ma.fields.String(allow_none=True, metadata={"description": "Establishment name"})
    address = ma.fields.String(allow_none=True, metadata={"description": "Street address"})
    postal_code = ma.fields.String(allow_none=True, metadata={"description": "Postal code"})
    city = ma.fields.String(allow_none=True, metadata={"description": "City"})
    department = ma.fields.String(allow_none=True, metadata={"description": "Department code"})
    region = ma.fields.String(allow_none=True, metadata={"description": "Region code (INSEE)"})
    lat = ma.fields.Float(allow_none=True, metadata={"description": "Latitude (WGS 84)"})
    lon = ma.fields.Float(allow_none=True, metadata={"description": "Longitude (WGS 84)"})


class KindSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Kind code (CI-SIS concept or population)"})
    label = ma.fields.String(metadata={"description": "Label in French"})
    category = ma.fields.String(metadata={"description": "tumour or population"})
    code_system = ma.fields.String(metadata={"description": "OID or URI of the code system"})
    code_system_name = ma.fields.String(metadata={"description": "Name of the code system"})
    value_sets = ma.fields.List(
        ma.fields.String(), metadata={"description": "CI-SIS value sets holding the code"}
    )


class MemberSchema(PersonSchema):
    role = ma.fields.String(metadata={"description": "member, coordinator, animator, secretary"})


class RcpSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "RCP identifier"})
    title = ma.fields.String(metadata={"description": "Title"})
    kind_code = ma.fields.String(metadata={"description": "Kind (see /planning/kinds)"})
    kind_label = ma.fields.String(metadata={"description": "Label of the kind"})
    level = ma.fields.String(metadata={"description": "local, regional, interregional, national"})
    host_finess = ma.fields.String(metadata={"description": "FINESS of the host establishment"})
    host = ma.fields.Nested(PlaceSchema, allow_none=True, metadata={"description": "Host"})
    three_c = ma.fields.String(allow_none=True, metadata={"description": "Name of the 3C"})
    region = ma.fields.String(metadata={"description": "Region (from the host)"})
    department = ma.fields.String(allow_none=True, metadata={"description": "Department"})
    coordinator = ma.fields.Nested(PersonSchema, metadata={"description": "Coordinator"})
    substitute = ma.fields.Nested(
        PersonSchema, allow_none=True, metadata={"description": "Substitute of the coordinator"}
    )
    members = ma.fields.List(
        ma.fields.Nested(MemberSchema), metadata={"description": "Standing participants"}
    )
    quorum_rule = ma.fields.Dict(metadata={"description": "Quorum rule of the sessions"})
    place_finess = ma.fields.String(allow_none=True, metadata={"description": "Meeting site"})
    room = ma.fields.String(allow_none=True, metadata={"description": "Room"})
    visio_url = ma.fields.String(allow_none=True, metadata={"description": "Video link"})
    rrule = ma.fields.String(allow_none=True, metadata={"description": "RFC 5545 RRULE"})
    recurrence_start = ma.fields.Date(
        allow_none=True, metadata={"description": "First date of the recurrence (DTSTART)"}
    )
    start_time = ma.fields.Time(metadata={"description": "Start, Europe/Paris wall time"})
    duration_minutes = ma.fields.Integer(metadata={"description": "Length of a session"})
    exdates = ma.fields.List(ma.fields.String(), metadata={"description": "Excluded dates"})
    deadline_hours = ma.fields.Integer(metadata={"description": "Registration deadline, hours"})
    capacity = ma.fields.Integer(metadata={"description": "Dossiers per session"})
    open_to_external = ma.fields.Boolean(
        metadata={"description": "Physicians of other establishments may register"}
    )
    active = ma.fields.Boolean(metadata={"description": "Still planned"})
    created_at = ma.fields.DateTime(metadata={"description": "Creation instant"})
    updated_at = ma.fields.DateTime(metadata={"description": "Last change"})

    @ma.pre_dump
    def from_model(self, rcp: Any, **_: Any) -> Any:
        if isinstance(rcp, dict):
            return rcp
        out = {name: getattr(rcp, name) for name in self.fields if hasattr(rcp, name)}
        out.update(
            kind_label=kinds.label_of(rcp.kind_code),
            host=place(rcp.host, rcp.host_finess),
            coordinator=person(rcp.coordinator, rcp.coordinator_rpps),
            substitute=person(rcp.substitute, rcp.substitute_rpps),
            members=[
                {**person(m.practitioner, m.rpps, m.specialty_code), "role": m.role}
                for m in rcp.members
            ],
            quorum_rule=quorum_rule(rcp),
        )
        return out


class QuorumSchema(ma.Schema):
    met = ma.fields.Boolean(metadata={"description": "Whether the quorum is met"})
    basis = ma.fields.String(metadata={"description": "provisional list, or attendance"})
    physicians = ma.fields.Integer(metadata={"description": "Physicians counted"})
    distinct_specialties = ma.fields.Integer(
        metadata={"description": "Distinct specialties (one per physician)"}
    )
    missing_specialties = ma.fields.List(
        ma.fields.String(), metadata={"description": "Required specialties nobody brings"}
    )
    reasons = ma.fields.List(ma.fields.String(), metadata={"description": "Why it is not met"})


class ParticipantSchema(PersonSchema):
    role = ma.fields.String(metadata={"description": "coordinator, member, guest, ..."})
    attendance = ma.fields.String(
        allow_none=True, metadata={"description": "present, excused, replaced (after the meeting)"}
    )
    replaced_by = ma.fields.Nested(
        PersonSchema, allow_none=True, metadata={"description": "Who replaced them"}
    )


def _all_serialized(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, listing.Serialized) for i in items)


class SessionSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Stable session identifier"})
    uid = ma.fields.String(metadata={"description": "Stable calendar UID stem"})
    revision = ma.fields.Integer(metadata={"description": "Grows by one on every change"})
    status = ma.fields.String(metadata={"description": "scheduled or cancelled"})
    cancel_reason = ma.fields.String(allow_none=True, metadata={"description": "Why cancelled"})
    starts_at = ma.fields.AwareDateTime(metadata={"description": "Start instant"})
    ends_at = ma.fields.AwareDateTime(metadata={"description": "End instant"})
    rcp_id = ma.fields.Integer(metadata={"description": "The RCP"})
    title = ma.fields.String(metadata={"description": "Title of the RCP"})
    kind_code = ma.fields.String(metadata={"description": "Kind of the RCP"})
    kind_label = ma.fields.String(metadata={"description": "Label of the kind"})
    level = ma.fields.String(metadata={"description": "Level of the RCP"})
    region = ma.fields.String(metadata={"description": "Region of the host"})
    host = ma.fields.Nested(PlaceSchema, allow_none=True, metadata={"description": "Host"})
    place = ma.fields.Nested(PlaceSchema, allow_none=True, metadata={"description": "Site"})
    room = ma.fields.String(allow_none=True, metadata={"description": "Room"})
    visio_url = ma.fields.String(allow_none=True, metadata={"description": "Video link"})
    open_to_external = ma.fields.Boolean(
        metadata={"description": "Physicians of other establishments may register"}
    )
    coordinator = ma.fields.Nested(PersonSchema, metadata={"description": "Coordinator"})
    substitute = ma.fields.Nested(
        PersonSchema, allow_none=True, metadata={"description": "Substitute"}
    )
    participants = ma.fields.List(
        ma.fields.Nested(ParticipantSchema), metadata={"description": "Participants"}
    )
    quorum = ma.fields.Nested(QuorumSchema, metadata={"description": "Quorum status"})
    registration_deadline = ma.fields.AwareDateTime(
        metadata={"description": "Last instant to register a dossier"}
    )
    capacity = ma.fields.Integer(metadata={"description": "Dossiers this session takes"})
    registered_count = ma.fields.Integer(metadata={"description": "Dossiers proposed or accepted"})
    places_left = ma.fields.Integer(metadata={"description": "Capacity minus registered"})
    distance_km = ma.fields.Float(
        allow_none=True, metadata={"description": "Distance from the asked department"}
    )
    updated_at = ma.fields.AwareDateTime(metadata={"description": "Last change"})

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        # list items come built in their JSON form (planning.listing): nothing left to convert
        if isinstance(obj, listing.Serialized):
            return obj
        if (self.many if many is None else many) and _all_serialized(obj):
            return list(obj)
        return super().dump(obj, many=many)

    @ma.pre_dump
    def from_model(self, session: Any, **_: Any) -> Any:
        if isinstance(session, dict):
            return session
        rcp = session.rcp
        status = getattr(session, "quorum_status", None)
        return {
            **{
                name: getattr(session, name)
                for name in (
                    "id",
                    "uid",
                    "revision",
                    "status",
                    "cancel_reason",
                    "starts_at",
                    "ends_at",
                    "rcp_id",
                    "room",
                    "visio_url",
                    "registration_deadline",
                    "capacity",
                    "registered_count",
                    "updated_at",
                )
            },
            "title": rcp.title,
            "kind_code": rcp.kind_code,
            "kind_label": kinds.label_of(rcp.kind_code),
            "level": rcp.level,
            "region": rcp.region,
            "open_to_external": rcp.open_to_external,
            "host": place(rcp.host, rcp.host_finess),
            "place": place(session.place, session.place_finess),
            "coordinator": person(rcp.coordinator, rcp.coordinator_rpps),
            "substitute": person(rcp.substitute, rcp.substitute_rpps),
            "participants": []
            if "participants" not in self.fields
            else [
                {
                    **person(p.practitioner, p.rpps, p.specialty_code),
                    "role": p.role,
                    "attendance": p.attendance,
                    "replaced_by": person(
                        p.replaced_by, p.replaced_by_rpps, p.replaced_by_specialty
                    ),
                }
                for p in session.participants
            ],
            "quorum": status,
            "places_left": max(session.capacity - session.registered_count, 0),
            "distance_km": getattr(session, "distance_km", None),
        }


class SessionSummarySchema(SessionSchema):
    """A session in a list: everything but the participants (read one session for them)."""

    class Meta:
        exclude = ("participants",)


class GenerationSchema(ma.Schema):
    created = ma.fields.Integer(metadata={"description": "Sessions created now"})
    existing = ma.fields.Integer(
        metadata={"description": "Occurrences already planned in the period (left alone)"}
    )
    cancelled_skipped = ma.fields.Integer(
        metadata={"description": "Of those, cancelled ones (not recreated)"}
    )
    sessions = ma.fields.List(
        ma.fields.Nested(SessionSchema), metadata={"description": "The sessions created"}
    )


class RegistrationEventSchema(ma.Schema):
    at = ma.fields.AwareDateTime(metadata={"description": "When"})
    from_status = ma.fields.String(allow_none=True, metadata={"description": "Status before"})
    to_status = ma.fields.String(metadata={"description": "Status after"})
    actor_subject = ma.fields.String(metadata={"description": "Who (token subject)"})
    actor_role = ma.fields.String(metadata={"description": "Their role"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "Reason given"})
    target_session_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Session the dossier moved to"}
    )


class RegistrationSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Registration identifier"})
    session_id = ma.fields.Integer(metadata={"description": "The session"})
    status = ma.fields.String(metadata={"description": "proposed, accepted, deferred, ..."})
    registering_rpps = ma.fields.String(metadata={"description": "Registering physician"})
    patient_ref = ma.fields.String(metadata={"description": "Opaque reference of the caller"})
    tumour_code = ma.fields.String(metadata={"description": "CIM-10 localisation"})
    question = ma.fields.String(metadata={"description": "Question asked to the RCP"})
    phase = ma.fields.String(metadata={"description": "initial or relapse"})
    wished_date = ma.fields.Date(allow_none=True, metadata={"description": "Wished-for date"})
    patient_over_75 = ma.fields.Boolean(metadata={"description": "Patient over 75"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "Reason of the decision"})
    deferred_to_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Registration created by the deferral"}
    )
    deferred_from_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Registration this one was deferred from"}
    )
    created_at = ma.fields.AwareDateTime(metadata={"description": "Registration instant"})
    events = ma.fields.List(
        ma.fields.Nested(RegistrationEventSchema), metadata={"description": "Transitions"}
    )


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Notification identifier"})
    event = ma.fields.String(metadata={"description": "e.g. registration.deferred"})
    message = ma.fields.String(metadata={"description": "Text for the physician"})
    registration_id = ma.fields.Integer(allow_none=True, metadata={"description": "Dossier"})
    session_id = ma.fields.Integer(allow_none=True, metadata={"description": "Session"})
    payload = ma.fields.Dict(metadata={"description": "Structured details"})
    created_at = ma.fields.AwareDateTime(metadata={"description": "When"})
    read = ma.fields.Function(
        lambda n: n.read_at is not None,
        metadata={"description": "Read by the physician", "type": "boolean"},
    )
    read_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "When read"})


class NotificationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NotificationSchema), metadata={"description": "Page"})
    total = ma.fields.Integer(metadata={"description": "Items over all pages"})
    unread = ma.fields.Integer(metadata={"description": "Unread notifications in all"})
    page = ma.fields.Integer(metadata={"description": "This page's number"})
    page_size = ma.fields.Integer(metadata={"description": "Items per page"})


class WebhookSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Webhook identifier"})
    url = ma.fields.String(metadata={"description": "Endpoint receiving POSTs"})
    events = ma.fields.List(ma.fields.String(), metadata={"description": "Events (empty: all)"})
    active = ma.fields.Boolean(metadata={"description": "Receives deliveries"})
    region = ma.fields.String(allow_none=True, metadata={"description": "Perimeter region"})
    finess = ma.fields.List(ma.fields.String(), metadata={"description": "Perimeter sites"})
    created_at = ma.fields.AwareDateTime(metadata={"description": "Creation instant"})


class WebhookCreatedSchema(WebhookSchema):
    secret = ma.fields.String(
        metadata={"description": "HMAC-SHA256 key, shown only in this response"}
    )


class DeliverySchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Delivery identifier"})
    event_id = ma.fields.String(metadata={"description": "Event id (X-DCC-Delivery)"})
    event = ma.fields.String(metadata={"description": "Event name"})
    status = ma.fields.String(metadata={"description": "pending, delivered, failed"})
    attempts = ma.fields.Integer(metadata={"description": "Attempts made"})
    next_attempt_at = ma.fields.AwareDateTime(metadata={"description": "Next try"})
    last_status_code = ma.fields.Integer(
        allow_none=True, metadata={"description": "HTTP status of the last try"}
    )
    last_error = ma.fields.String(allow_none=True, metadata={"description": "Last error"})
    created_at = ma.fields.AwareDateTime(metadata={"description": "When enqueued"})
    delivered_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "Delivered"})


# --- inputs -------------------------------------------------------------------------------


class MemberInputSchema(Schema):
    rpps = ma.fields.String(required=True, validate=RPPS, metadata={"description": "RPPS"})
    specialty_code = ma.fields.String(
        validate=SPECIALTY,
        metadata={"description": "Specialty brought (default: their first in the directory)"},
    )
    role = ma.fields.String(
        load_default="member",
        validate=validate.OneOf(["member", "animator", "secretary", "coordinator"]),
        metadata={"description": "Role in the RCP"},
    )


#: Kind codes as an enum, so that clients see them in the OpenAPI document.
_kind_exists = validate.OneOf(
    sorted(kinds.catalogue()), error="unknown RCP kind (see GET /planning/kinds)"
)
#: Department codes (INSEE) as an enum.
_department = validate.OneOf(sorted(DEPARTMENTS), error="not a French department code")


class RcpUpdateSchema(Schema):
    title = ma.fields.String(validate=validate.Length(1, 200), metadata={"description": "Title"})
    kind_code = ma.fields.String(validate=_kind_exists, metadata={"description": "Kind code"})
    level = ma.fields.String(
        validate=validate.OneOf(["local", "regional", "interregional", "national"]),
        metadata={"description": "local, regional, interregional or national"},
    )
    three_c = ma.fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "3C name"}
    )
    coordinator_rpps = ma.fields.String(validate=RPPS, metadata={"description": "Coordinator"})
    substitute_rpps = ma.fields.String(
        allow_none=True, validate=RPPS, metadata={"description": "Substitute"}
    )
    members = ma.fields.List(
        ma.fields.Nested(MemberInputSchema), metadata={"description": "Standing participants"}
    )
    min_physicians = ma.fields.Integer(
        validate=validate.Range(1, 30), metadata={"description": "Quorum: physicians"}
    )
    min_distinct_specialties = ma.fields.Integer(
        validate=validate.Range(1, 30), metadata={"description": "Quorum: distinct specialties"}
    )
    required_specialties = ma.fields.List(
        ma.fields.String(validate=SPECIALTY),
        metadata={"description": "Specialties that must be present (e.g. SM01 pathology)"},
    )
    geriatrician_over_75 = ma.fields.Boolean(
        metadata={"description": "Require a geriatrician (SM18) for dossiers of patients over 75"}
    )
    place_finess = ma.fields.String(
        allow_none=True, validate=FINESS, metadata={"description": "Meeting site"}
    )
    room = ma.fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "Room"}
    )
    visio_url = Url(
        allow_none=True, https_only=True, metadata={"description": "Video link (https)"}
    )
    rrule = ma.fields.String(
        allow_none=True,
        validate=validate.Length(max=300),
        metadata={"description": "RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYDAY=2TU,4TU"},
    )
    recurrence_start = ma.fields.Date(
        allow_none=True, metadata={"description": "First date of the recurrence"}
    )
    start_time = ma.fields.Time(metadata={"description": "Start, Europe/Paris wall time"})
    duration_minutes = ma.fields.Integer(
        validate=validate.Range(15, 720), metadata={"description": "Length of a session"}
    )
    exdates = ma.fields.List(ma.fields.Date(), metadata={"description": "Dates without session"})
    deadline_hours = ma.fields.Integer(
        validate=validate.Range(0, 24 * 30), metadata={"description": "Deadline, hours before"}
    )
    capacity = ma.fields.Integer(
        validate=validate.Range(1, 500), metadata={"description": "Dossiers per session"}
    )
    open_to_external = ma.fields.Boolean(
        metadata={"description": "Physicians of other establishments may register"}
    )
    active = ma.fields.Boolean(metadata={"description": "Still planned"})


class RcpCreateSchema(RcpUpdateSchema):
    host_finess = ma.fields.String(
        required=True, validate=FINESS, metadata={"description": "Host establishment"}
    )

    class Meta(Schema.Meta):
        pass

    @ma.post_load
    def required(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        missing = [
            n
            for n in ("title", "kind_code", "level", "coordinator_rpps", "start_time")
            if n not in data
        ]
        if missing:
            raise ma.ValidationError({n: ["Missing data for required field."] for n in missing})
        data.setdefault("required_specialties", [])
        data.setdefault("exdates", [])
        return data


class RcpQueryArgsSchema(PaginationArgsSchema):
    region = ma.fields.String(metadata={"description": "Region code"})
    department = ma.fields.String(metadata={"description": "Department code"})
    finess = ma.fields.String(metadata={"description": "Host establishment"})
    kind = ma.fields.String(metadata={"description": "Kind code"})
    practitioner = ma.fields.String(validate=RPPS, metadata={"description": "RCPs of this RPPS"})


class PeriodSchema(Schema):
    from_ = ma.fields.Date(
        required=True, data_key="from", metadata={"description": "First day (inclusive)"}
    )
    to = ma.fields.Date(required=True, metadata={"description": "Last day (inclusive)"})

    @ma.validates_schema
    def ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["to"] < data["from_"]:
            raise ma.ValidationError("the period ends before it starts", "to")
        if data["to"] - data["from_"] > dt.timedelta(days=731):
            raise ma.ValidationError("plan at most two years at once", "to")


class SessionCreateSchema(Schema):
    rcp_id = ma.fields.Integer(required=True, metadata={"description": "The RCP"})
    starts_at = AwareDateTime(required=True, metadata={"description": "Start instant"})
    ends_at = AwareDateTime(metadata={"description": "End (default: RCP duration)"})
    place_finess = ma.fields.String(validate=FINESS, metadata={"description": "Site"})
    room = ma.fields.String(validate=validate.Length(max=200), metadata={"description": "Room"})
    visio_url = Url(https_only=True, metadata={"description": "Video link"})
    capacity = ma.fields.Integer(validate=validate.Range(1, 500), metadata={"description": "Cap"})
    registration_deadline = AwareDateTime(metadata={"description": "Deadline"})


class SessionUpdateSchema(Schema):
    starts_at = AwareDateTime(metadata={"description": "New start (moves the session)"})
    ends_at = AwareDateTime(metadata={"description": "New end"})
    place_finess = ma.fields.String(
        allow_none=True, validate=FINESS, metadata={"description": "Site"}
    )
    room = ma.fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "Room"}
    )
    visio_url = Url(allow_none=True, https_only=True, metadata={"description": "Video link"})
    capacity = ma.fields.Integer(validate=validate.Range(1, 500), metadata={"description": "Cap"})
    registration_deadline = AwareDateTime(metadata={"description": "Deadline"})
    expected_revision = ma.fields.Integer(
        metadata={"description": "Refuse the change (409) if the session changed meanwhile"}
    )


class CancelSchema(Schema):
    reason = ma.fields.String(
        required=True, validate=validate.Length(1, 500), metadata={"description": "Why"}
    )


class ParticipantsSchema(Schema):
    participants = ma.fields.List(
        ma.fields.Nested(MemberInputSchema),
        required=True,
        metadata={"description": "The new provisional list"},
    )


class AttendanceItemSchema(Schema):
    rpps = ma.fields.String(required=True, validate=RPPS, metadata={"description": "RPPS"})
    attendance = ma.fields.String(
        required=True,
        validate=validate.OneOf(["present", "excused", "replaced"]),
        metadata={"description": "present, excused or replaced"},
    )
    specialty_code = ma.fields.String(validate=SPECIALTY, metadata={"description": "For guests"})
    replaced_by_rpps = ma.fields.String(validate=RPPS, metadata={"description": "Substitute"})
    replaced_by_specialty = ma.fields.String(
        validate=SPECIALTY, metadata={"description": "Specialty of the substitute"}
    )


class AttendanceSchema(Schema):
    items = ma.fields.List(
        ma.fields.Nested(AttendanceItemSchema),
        required=True,
        metadata={"description": "One line per physician"},
    )


class SessionQueryArgsSchema(PaginationArgsSchema):
    region = ma.fields.String(metadata={"description": "Region code (regional view)"})
    department = ma.fields.String(metadata={"description": "Department of the host"})
    finess = ma.fields.String(metadata={"description": "Host or site establishment (local view)"})
    kind = ma.fields.String(metadata={"description": "Kind code"})
    rcp_id = ma.fields.Integer(metadata={"description": "Sessions of one RCP"})
    from_ = AwareDateTime(data_key="from", metadata={"description": "Starting at or after"})
    to = AwareDateTime(metadata={"description": "Starting before"})
    visio = ma.fields.Boolean(metadata={"description": "With (true) or without a video link"})
    open_to_external = ma.fields.Boolean(metadata={"description": "Open to other establishments"})
    has_capacity = ma.fields.Boolean(metadata={"description": "Still has places"})
    practitioner = ma.fields.String(
        validate=RPPS, metadata={"description": "Sessions this RPPS takes part in"}
    )
    status = ma.fields.String(
        validate=validate.OneOf(["scheduled", "cancelled"]), metadata={"description": "Status"}
    )


class NextSessionsArgsSchema(Schema):
    kind = ma.fields.String(
        required=True, validate=_kind_exists, metadata={"description": "Kind code"}
    )
    department = ma.fields.String(
        required=True, validate=_department, metadata={"description": "Department code"}
    )
    limit = ma.fields.Integer(
        load_default=10, validate=validate.Range(1, 50), metadata={"description": "How many"}
    )


class RegistrationCreateSchema(Schema):
    """No name, INS, NIR nor birth date: unknown fields are refused with 422."""

    patient_ref = ma.fields.String(
        required=True,
        validate=PATIENT_REF,
        metadata={"description": "Opaque pseudonym from the calling software"},
    )
    tumour_code = ma.fields.String(
        required=True, validate=TUMOUR_CODE, metadata={"description": "CIM-10 localisation"}
    )
    question = ma.fields.String(
        required=True,
        validate=validate.Length(1, 2000),
        metadata={"description": "Question asked to the RCP"},
    )
    phase = ma.fields.String(
        required=True,
        validate=validate.OneOf(["initial", "relapse"]),
        metadata={"description": "initial or relapse"},
    )
    wished_date = ma.fields.Date(metadata={"description": "Wished-for date"})
    patient_over_75 = ma.fields.Boolean(
        load_default=False, metadata={"description": "Patient over 75 (oncogeriatric quorum)"}
    )


class DecisionSchema(Schema):
    decision = ma.fields.String(
        required=True,
        validate=validate.OneOf(["accepted", "deferred", "refused"]),
        metadata={"description": "accepted, deferred or refused"},
    )
    reason = ma.fields.String(
        validate=validate.Length(1, 500), metadata={"description": "Required when refused"}
    )
    target_session_id = ma.fields.Integer(
        metadata={"description": "When deferred: the session the dossier moves to"}
    )


class RegistrationQueryArgsSchema(PaginationArgsSchema):
    session_id = ma.fields.Integer(metadata={"description": "Registrations of one session"})
    status = ma.fields.String(
        validate=validate.OneOf([s.value for s in RegistrationStatus]),
        metadata={"description": "Status"},
    )


class NotificationQueryArgsSchema(PaginationArgsSchema):
    unread = ma.fields.Boolean(metadata={"description": "Only unread (true) or read (false)"})


class WebhookCreateSchema(Schema):
    url = Url(required=True, local=True, metadata={"description": "Endpoint (https in production)"})
    events = ma.fields.List(
        ma.fields.String(
            validate=validate.OneOf(
                [
                    "registration.created",
                    "registration.accepted",
                    "registration.deferred",
                    "registration.refused",
                    "registration.withdrawn",
                    "session.changed",
                    "session.cancelled",
                ]
            )
        ),
        load_default=list,
        metadata={"description": "Events wanted (empty: all)"},
    )
