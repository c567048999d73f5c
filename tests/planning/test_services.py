"""Planning services: RCPs, generation, sessions, quorum, registrations, decisions, deliveries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from core.audit import AuditEvent
from core.auth import Principal, Role
from core.db import db
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from planning import delivery, lifecycle, notifications, services
from planning.models import Notification, Registration, Session, WebhookDelivery
from tests.planning.conftest import BREST, NATIONAL, RENNES

DOSSIER = {
    "patient_ref": "DXC-000123",
    "tumour_code": "C18.7",
    "question": "Chimiothérapie adjuvante ?",
    "phase": "initial",
}


def _soon(days: int = 10) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(
        minute=0, second=0, microsecond=0
    )


# --- RCPs ---------------------------------------------------------------------------------


def test_create_rcp_checks_the_directory_and_derives_the_region(world, create_rcp):
    rcp = create_rcp()
    assert rcp.region == "53" and rcp.department == "29"
    assert rcp.place_finess == BREST
    assert [m.specialty_code for m in rcp.members] == ["SM01", "SM44", "SM45"]
    assert rcp.host.name == "CHU DE BREST SITE MORVAN"
    assert rcp.coordinator.last_name == "KERBRAT"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "rcp")).one()
    assert event.region == "53" and event.action == "create"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"coordinator_rpps": "10999999999"}, "coordinator_rpps"),
        ({"host_finess": "990999999"}, "host_finess"),
        ({"place_finess": "990999998"}, "place_finess"),
        ({"kind_code": "NOPE"}, "kind_code"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"members": [{"rpps": "10999999998"}]}, "members.0.rpps"),
        ({"members": [{"rpps": None, "specialty_code": "SM99"}]}, "members.0.specialty_code"),
    ],
)
def test_create_rcp_names_the_faulty_field(world, create_rcp, overrides, field):
    if overrides.get("members") and overrides["members"][0]["rpps"] is None:
        overrides["members"][0]["rpps"] = world.pathologist.rpps
    with pytest.raises(InvalidInput) as caught:
        create_rcp(**overrides)
    assert caught.value.errors[0]["field"] == field


def test_a_3c_creates_rcps_only_for_its_establishments(world, rcp_data):
    services.create_rcp(principal=world.coordinator_3c(BREST), data=rcp_data())
    with pytest.raises(Forbidden):
        services.create_rcp(principal=world.coordinator_3c(RENNES), data=rcp_data())
    regional = Principal("r", Role.REGIONAL_ADMIN, "tests", region="11")
    with pytest.raises(Forbidden):
        services.create_rcp(principal=regional, data=rcp_data())


def test_update_rcp_records_the_diff(world, create_rcp):
    rcp = create_rcp()
    services.update_rcp(principal=NATIONAL, rcp_id=rcp.id, data={"capacity": 12, "room": "B"})
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update", AuditEvent.entity_type == "rcp")
    ).one()
    assert event.changes["capacity"] == [10, 12]


# --- generation ---------------------------------------------------------------------------


def test_generation_is_idempotent_and_leaves_edited_sessions_alone(world, create_rcp):
    rcp = create_rcp()
    first = services.generate_sessions(
        principal=NATIONAL,
        rcp_id=rcp.id,
        period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 12, 31),
    )
    assert len(first.created) == 24 and first.existing == 0
    moved = first.created[0]
    services.update_session(
        principal=NATIONAL,
        session_id=moved.id,
        data={"starts_at": moved.starts_at + dt.timedelta(days=1)},
    )
    services.cancel_session(principal=NATIONAL, session_id=first.created[1].id, reason="congrès")
    again = services.generate_sessions(
        principal=NATIONAL,
        rcp_id=rcp.id,
        period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 12, 31),
    )
    assert again.created == [] and again.existing == 24 and again.cancelled_skipped == 1
    count = db.session.scalar(select(func.count(Session.id)).where(Session.rcp_id == rcp.id))
    assert count == 24
    session = services.read_session(session_id=moved.id)
    assert session.revision == 2 and session.edited
    assert session.starts_at == first.created[0].starts_at


def test_generated_sessions_carry_the_rcp_details(world, create_rcp):
    rcp = create_rcp(exdates=[dt.date(2027, 1, 12)])
    created = services.generate_sessions(
        principal=NATIONAL,
        rcp_id=rcp.id,
        period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 1, 31),
    ).created
    assert len(created) == 1  # 12 January excluded, 26 January kept
    session = created[0]
    assert session.starts_at == dt.datetime(2027, 1, 26, 13, 0, tzinfo=dt.UTC)
    assert session.registration_deadline == dt.datetime(2027, 1, 24, 13, 0, tzinfo=dt.UTC)
    assert session.capacity == 10 and session.revision == 1
    assert [p.role for p in session.participants] == ["coordinator", "member", "member", "member"]
    assert session.quorum_status["met"] is True
    assert session.uid == f"rcp-session-{session.id}"


def test_generation_needs_a_recurrence(world, create_rcp):
    rcp = create_rcp(rrule=None, recurrence_start=None)
    with pytest.raises(Conflict, match="no recurrence"):
        services.generate_sessions(
            principal=NATIONAL,
            rcp_id=rcp.id,
            period_start=dt.date(2027, 1, 1),
            period_end=dt.date(2027, 1, 31),
        )


# --- sessions -----------------------------------------------------------------------------


def test_moving_a_session_bumps_revision_moves_deadline_and_tells_registrants(
    world, create_session
):
    session = create_session()
    services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    new_start = session.starts_at + dt.timedelta(days=2)
    updated = services.update_session(
        principal=NATIONAL, session_id=session.id, data={"starts_at": new_start}
    )
    assert updated.revision == 2
    assert updated.registration_deadline == new_start - dt.timedelta(hours=48)
    assert updated.ends_at - updated.starts_at == dt.timedelta(hours=2)
    message = db.session.scalars(select(Notification)).one()
    assert message.event == "session.changed"
    assert message.recipient_rpps == world.physician.rpps
    with pytest.raises(Conflict, match="revision"):
        services.update_session(
            principal=NATIONAL,
            session_id=session.id,
            data={"room": "C", "expected_revision": 1},
        )


def test_cancel_keeps_the_session(world, create_session):
    session = create_session()
    cancelled = services.cancel_session(principal=NATIONAL, session_id=session.id, reason="grève")
    assert cancelled.status == "cancelled" and cancelled.revision == 2
    listed, _ = services.list_sessions(filters=services.SessionFilters(rcp_id=session.rcp_id))
    assert [s.status for s in listed] == ["cancelled"]
    with pytest.raises(Conflict):
        services.cancel_session(principal=NATIONAL, session_id=session.id, reason="again")
    with pytest.raises(Conflict, match="cancelled"):
        services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)


def test_participants_and_attendance_drive_the_quorum(world, create_session):
    session = create_session(starts_at=_soon(-1))
    session = services.set_participants(
        principal=NATIONAL,
        session_id=session.id,
        participants=[
            {"rpps": world.coordinator.rpps, "role": "coordinator"},
            {"rpps": world.radiologist.rpps},
            {"rpps": world.radiotherapist.rpps},
        ],
    )
    assert session.quorum_status["met"] is False
    assert session.quorum_status["missing_specialties"] == ["SM01"]
    session = services.record_attendance(
        principal=NATIONAL,
        session_id=session.id,
        items=[
            {"rpps": world.coordinator.rpps, "attendance": "present"},
            {
                "rpps": world.radiologist.rpps,
                "attendance": "replaced",
                "replaced_by_rpps": world.pathologist.rpps,
            },
            {"rpps": world.radiotherapist.rpps, "attendance": "present"},
        ],
    )
    quorum = session.quorum_status
    assert quorum["basis"] == "attendance" and quorum["met"] is True
    session = services.record_attendance(
        principal=NATIONAL,
        session_id=session.id,
        items=[{"rpps": world.radiotherapist.rpps, "attendance": "excused"}],
    )
    assert session.quorum_status["met"] is False


def test_attendance_waits_for_the_meeting(world, create_session):
    session = create_session()
    with pytest.raises(Conflict, match="not started"):
        services.record_attendance(
            principal=NATIONAL,
            session_id=session.id,
            items=[{"rpps": world.coordinator.rpps, "attendance": "present"}],
        )


def test_geriatrician_required_once_an_old_patient_is_registered(world, create_rcp, create_session):
    session = create_session(rcp=create_rcp(geriatrician_over_75=True))
    assert services.read_session(session_id=session.id).quorum_status["met"] is True
    services.register_dossier(
        principal=world.doctor(),
        session_id=session.id,
        data={**DOSSIER, "patient_over_75": True},
    )
    quorum = services.read_session(session_id=session.id).quorum_status
    assert quorum["missing_specialties"] == ["SM18"]


def test_list_sessions_filters(world, create_rcp, create_session):
    brest = create_rcp()
    rennes = create_rcp(
        host_finess=RENNES,
        kind_code="76752008",
        visio_url=None,
        open_to_external=False,
        coordinator_rpps=world.physician.rpps,
        substitute_rpps=None,
        members=[],
        required_specialties=[],
    )
    a = create_session(rcp=brest, starts_at=_soon(5))
    b = create_session(rcp=rennes, starts_at=_soon(6))
    full = create_session(rcp=brest, starts_at=_soon(7), capacity=1)
    services.register_dossier(principal=world.doctor(), session_id=full.id, data=DOSSIER)

    elsewhere = create_session(rcp=brest, starts_at=_soon(8), place_finess=RENNES)

    def ids(**filters):
        found, total = services.list_sessions(filters=services.SessionFilters(**filters))
        assert total == len(found)
        # the list representation (API) selects the same sessions, in the same order
        items, summary_total = services.list_session_summaries(
            filters=services.SessionFilters(**filters)
        )
        assert [i["id"] for i in items] == [s.id for s in found] and summary_total == total
        return [s.id for s in found]

    assert ids(region="53") == [a.id, b.id, full.id, elsewhere.id]
    assert ids(department="35") == [b.id]
    assert ids(finess=BREST) == [a.id, full.id, elsewhere.id]
    assert ids(finess=RENNES) == [b.id, elsewhere.id]  # hosted there, or meeting there
    assert ids(kind="76752008") == [b.id]
    assert ids(region="53", kind="MED-251", department="29") == [a.id, full.id, elsewhere.id]
    assert ids(visio=False) == [b.id]
    assert ids(open_to_external=True) == [a.id, full.id, elsewhere.id]
    assert ids(has_capacity=False) == [full.id]
    assert ids(date_from=_soon(6), date_to=_soon(7)) == [b.id]
    assert ids(practitioner=world.pathologist.rpps) == [a.id, full.id, elsewhere.id]
    assert ids(region="11") == []


def test_next_sessions_nearest_first_then_soonest(world, create_rcp, create_session):
    brest = create_rcp()
    rennes = create_rcp(host_finess=RENNES)
    far_late = create_session(rcp=brest, starts_at=_soon(20))
    near = create_session(rcp=rennes, starts_at=_soon(15))
    too_late = create_session(rcp=rennes, starts_at=_soon(1))  # deadline passed
    found = services.next_sessions(kind="MED-251", department="35")
    assert [s.id for s in found] == [near.id, far_late.id]
    assert too_late.id not in [s.id for s in found]
    assert found[0].distance_km < 5 < found[1].distance_km
    with pytest.raises(InvalidInput):
        services.next_sessions(kind="MED-251", department="999")


# --- registrations ------------------------------------------------------------------------


def test_register_enforces_capacity_and_deadline(world, create_session):
    session = create_session(capacity=1)
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    assert registration.status == "proposed"
    assert services.read_session(session_id=session.id).registered_count == 1
    with pytest.raises(Conflict, match="already registered"):
        services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    with pytest.raises(Conflict, match="full") as full:
        services.register_dossier(
            principal=world.doctor(),
            session_id=session.id,
            data={**DOSSIER, "patient_ref": "DXC-000124"},
        )
    assert full.value.extensions["code"] == "session-full"
    late = create_session(starts_at=_soon(1))
    with pytest.raises(Conflict, match="deadline") as caught:
        services.register_dossier(principal=world.doctor(), session_id=late.id, data=DOSSIER)
    assert caught.value.extensions["code"] == "deadline-passed"


def test_a_registration_writes_its_event_and_audit_row(world, create_session):
    session = create_session()
    doctor = world.doctor()
    registration = services.register_dossier(
        principal=doctor,
        session_id=session.id,
        data={**DOSSIER, "wished_date": dt.date(2031, 5, 6), "patient_over_75": True},
    )
    db.session.flush()
    db.session.expunge_all()  # read back what the database holds, not the returned objects
    stored = db.session.get(Registration, registration.id)
    assert (stored.session_id, stored.status, stored.patient_ref) == (
        session.id,
        "proposed",
        DOSSIER["patient_ref"],
    )
    assert stored.wished_date == dt.date(2031, 5, 6) and stored.patient_over_75 is True
    assert stored.created_at.tzinfo is not None
    [event] = stored.events
    assert event.id == registration.events[0].id
    assert (event.from_status, event.to_status, event.actor_subject, event.actor_role) == (
        None,
        "proposed",
        doctor.subject,
        "physician",
    )
    assert event.at == stored.created_at and event.target_session_id is None
    trail = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "registration")
    ).one()
    assert (trail.action, trail.entity_id, trail.region) == (
        "register",
        str(registration.id),
        session.rcp.region,
    )
    assert (trail.actor_subject, trail.actor_issuer) == (doctor.subject, doctor.issuer)
    assert trail.changes == {"session_id": session.id, "status": "proposed"}


def test_closed_rcps_take_only_their_establishment_physicians(world, create_rcp, create_session):
    session = create_session(rcp=create_rcp(open_to_external=False))
    with pytest.raises(Forbidden, match="only from physicians"):
        services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    local = world.doctor(world.local_physician)
    assert services.register_dossier(principal=local, session_id=session.id, data=DOSSIER).id


def test_who_may_register_is_said_before_whether_there_is_room(world, create_rcp, create_session):
    # a refusal names its first reason in a fixed order, whatever the engine: on PostgreSQL
    # the checks are conditions of the place-taking UPDATE, and a full session takes no place
    session = create_session(rcp=create_rcp(open_to_external=False), capacity=1)
    local = world.doctor(world.local_physician)
    services.register_dossier(principal=local, session_id=session.id, data=DOSSIER)
    with pytest.raises(Forbidden, match="only from physicians"):
        services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    unknown = Principal("10000000000", Role.PHYSICIAN, "tests", rpps="10000000000")
    with pytest.raises(Forbidden, match="not an active professional"):
        services.register_dossier(principal=unknown, session_id=session.id, data=DOSSIER)
    with pytest.raises(Conflict, match="full"):
        services.register_dossier(
            principal=local, session_id=session.id, data={**DOSSIER, "patient_ref": "DXC-9"}
        )


def test_software_registers_on_behalf_of_a_physician(world, create_session):
    session = create_session()
    software = Principal("client-1", Role.RCP_SOFTWARE, "tests", region="53", client_id="client-1")
    with pytest.raises(Forbidden, match="dcc_on_behalf_of"):
        services.register_dossier(principal=software, session_id=session.id, data=DOSSIER)
    acting = Principal(
        "client-1",
        Role.RCP_SOFTWARE,
        "tests",
        region="53",
        client_id="client-1",
        on_behalf_of=world.physician.rpps,
    )
    registration = services.register_dossier(principal=acting, session_id=session.id, data=DOSSIER)
    assert registration.registering_rpps == world.physician.rpps
    assert registration.client_id == "client-1"


def test_decisions_follow_the_state_machine_and_are_recorded(world, create_session):
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    three_c = world.coordinator_3c()
    accepted = services.decide_registration(
        principal=three_c, registration_id=registration.id, decision="accepted"
    )
    assert accepted.status == "accepted"
    with pytest.raises(Conflict, match="cannot become") as caught:
        services.decide_registration(
            principal=three_c, registration_id=registration.id, decision="accepted"
        )
    assert caught.value.extensions["code"] == "invalid-transition"
    with pytest.raises(InvalidInput, match="reason"):
        services.decide_registration(
            principal=three_c, registration_id=registration.id, decision="refused"
        )
    refused = services.decide_registration(
        principal=three_c, registration_id=registration.id, decision="refused", reason="hors champ"
    )
    assert [(e.from_status, e.to_status) for e in refused.events] == [
        (None, "proposed"),
        ("proposed", "accepted"),
        ("accepted", "refused"),
    ]
    assert refused.events[1].actor_subject == three_c.subject
    assert services.read_session(session_id=session.id).registered_count == 0
    events = [n.event for n in db.session.scalars(select(Notification).order_by(Notification.id))]
    assert events == ["registration.accepted", "registration.refused"]


def test_a_3c_cannot_decide_for_another_establishment(world, create_session):
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    with pytest.raises(Forbidden):
        services.decide_registration(
            principal=world.coordinator_3c(RENNES),
            registration_id=registration.id,
            decision="accepted",
        )


def test_deferral_moves_the_dossier_to_the_target_session(world, create_rcp, create_session):
    rcp = create_rcp()
    first = create_session(rcp=rcp, starts_at=_soon(10))
    second = create_session(rcp=rcp, starts_at=_soon(24))
    other_kind = create_session(rcp=create_rcp(kind_code="76752008"), starts_at=_soon(24))
    registration = services.register_dossier(
        principal=world.doctor(), session_id=first.id, data=DOSSIER
    )
    with pytest.raises(InvalidInput, match="another kind"):
        services.decide_registration(
            principal=NATIONAL,
            registration_id=registration.id,
            decision="deferred",
            target_session_id=other_kind.id,
        )
    deferred = services.decide_registration(
        principal=NATIONAL,
        registration_id=registration.id,
        decision="deferred",
        target_session_id=second.id,
        reason="bilan incomplet",
    )
    assert deferred.status == "deferred"
    moved = db.session.get(Registration, deferred.deferred_to_id)
    assert moved.session_id == second.id and moved.status == "accepted"
    assert moved.deferred_from_id == registration.id
    assert services.read_session(session_id=first.id).registered_count == 0
    assert services.read_session(session_id=second.id).registered_count == 1
    notification = db.session.scalars(select(Notification)).one()
    assert notification.event == "registration.deferred"
    assert notification.payload["deferred_to"]["session"]["id"] == second.id


def test_deferral_onto_a_session_where_the_dossier_is_active_is_refused(
    world, create_rcp, create_session
):
    rcp = create_rcp()
    first = create_session(rcp=rcp, starts_at=_soon(10))
    second = create_session(rcp=rcp, starts_at=_soon(24))
    registration = services.register_dossier(
        principal=world.doctor(), session_id=first.id, data=DOSSIER
    )
    already = services.register_dossier(
        principal=world.doctor(), session_id=second.id, data=DOSSIER
    )
    with pytest.raises(Conflict, match=f"registration {already.id}") as refused:
        services.decide_registration(
            principal=NATIONAL,
            registration_id=registration.id,
            decision="deferred",
            target_session_id=second.id,
        )
    assert refused.value.extensions["code"] == "duplicate"
    assert services.read_session(session_id=second.id).registered_count == 1


def test_the_database_refuses_a_second_active_registration_of_a_dossier(world, create_session):
    """The unique index holds the rule even where the service's check is bypassed (as two
    concurrent requests on PostgreSQL would); a finished registration does not count."""
    session = create_session()
    first = services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    values = {
        "session_id": session.id,
        "registering_rpps": first.registering_rpps,
        "patient_ref": first.patient_ref,
        "tumour_code": "C18",
        "question": "?",
        "phase": "initial",
        "status": "proposed",
    }
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(insert(Registration), values)
    services.withdraw_registration(principal=world.doctor(), registration_id=first.id)
    again = services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    assert again.status == "proposed" and again.id != first.id


def test_the_active_dossier_index_covers_the_active_statuses():
    from planning.models import ACTIVE_DOSSIER

    listed = set(re.findall(r"'(\w+)'", ACTIVE_DOSSIER))
    assert listed == {status.value for status in lifecycle.ACTIVE}


def test_withdrawal_by_the_registering_physician_only(world, create_session):
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    with pytest.raises(Forbidden):
        services.withdraw_registration(
            principal=world.doctor(world.local_physician), registration_id=registration.id
        )
    withdrawn = services.withdraw_registration(
        principal=world.doctor(), registration_id=registration.id
    )
    assert withdrawn.status == "withdrawn"
    with pytest.raises(Conflict):
        services.withdraw_registration(principal=world.doctor(), registration_id=registration.id)


def test_withdrawal_after_the_deadline_is_refused(world, create_session):
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    with pytest.raises(Conflict, match="deadline"):
        services.withdraw_registration(
            principal=world.doctor(),
            registration_id=registration.id,
            now=session.registration_deadline,
        )


def test_physicians_read_only_their_own_registrations(world, create_session):
    session = create_session()
    mine = services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    other = world.doctor(world.local_physician)
    services.register_dossier(principal=other, session_id=session.id, data=DOSSIER)
    rows, total = services.list_registrations(principal=world.doctor(), session_id=session.id)
    assert total == 1 and rows[0].id == mine.id
    with pytest.raises(Forbidden):
        services.get_registration(principal=other, registration_id=mine.id)
    _, all_of_them = services.list_registrations(principal=world.coordinator_3c())
    assert all_of_them == 2
    _, none = services.list_registrations(principal=world.coordinator_3c(RENNES))
    assert none == 0
    with pytest.raises(NotFound):
        services.get_registration(principal=NATIONAL, registration_id=999999)


# --- notifications, webhooks, e-mail ------------------------------------------------------


def test_webhook_deliveries_retry_with_backoff_then_succeed(world, create_session):
    software = Principal("client-1", Role.RCP_SOFTWARE, "tests", region="53", client_id="c1")
    hook = notifications.create_webhook(
        principal=software, url="https://rcp.example.org/hook", events=[]
    )
    secret = hook.secret
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    services.decide_registration(
        principal=NATIONAL, registration_id=registration.id, decision="accepted"
    )
    sent = []

    def flaky(url, body, headers):
        sent.append((url, body, headers))
        return delivery.Outcome(ok=len(sent) > 2, status_code=200 if len(sent) > 2 else 503)

    now = dt.datetime.now(dt.UTC)
    report = notifications.deliver_due(transport=flaky, now=now)
    assert (report.delivered, report.retried) == (0, 2)  # created + accepted, both failed
    assert notifications.deliver_due(transport=flaky, now=now).retried == 0  # not due yet
    report = notifications.deliver_due(transport=flaky, now=now + dt.timedelta(minutes=1))
    assert report.delivered == 2
    url, body, headers = sent[-1]
    assert url == "https://rcp.example.org/hook"
    timestamp = int(headers["X-DCC-Timestamp"])
    assert delivery.verify(secret, timestamp, body, headers["X-DCC-Signature"])
    log, total = notifications.list_deliveries(principal=software, webhook_id=hook.id)
    assert total == 2 and {d.status for d in log} == {"delivered"}
    assert {d.attempts for d in log} == {2}
    # another region's software hears nothing
    assert "patient_ref" not in log[0].payload["data"]


def test_deliveries_give_up_after_the_last_attempt(world, create_session):
    notifications.create_webhook(principal=NATIONAL, url="https://x.example/h", events=[])
    session = create_session()
    services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    now = dt.datetime.now(dt.UTC)
    down = lambda *_: delivery.Outcome(ok=False, error="refused")  # noqa: E731
    for step in range(delivery.MAX_ATTEMPTS):
        notifications.deliver_due(transport=down, now=now + dt.timedelta(days=step))
    item = db.session.scalars(select(WebhookDelivery)).one()
    assert item.status == "failed" and item.attempts == delivery.MAX_ATTEMPTS


def test_webhooks_of_other_perimeters_get_nothing(world, create_session):
    elsewhere = Principal("c2", Role.RCP_SOFTWARE, "tests", region="11", client_id="c2")
    notifications.create_webhook(principal=elsewhere, url="https://y.example/h", events=[])
    session = create_session()
    services.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    assert db.session.scalar(select(func.count(WebhookDelivery.id))) == 0


def test_notifications_are_e_mailed_when_smtp_is_configured(world, create_session, monkeypatch):
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    services.decide_registration(
        principal=NATIONAL, registration_id=registration.id, decision="accepted"
    )
    assert notifications.send_emails(smtp=None) == {"sent": 0, "skipped": 0, "failed": 0}
    messages = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            assert (host, port) == ("smtp.example", 2525)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            messages.append(message)

    monkeypatch.setattr(notifications.smtplib, "SMTP", FakeSMTP)
    counts = notifications.send_emails(
        smtp=notifications.SmtpSettings(host="smtp.example", port=2525)
    )
    assert counts["sent"] == 1
    assert messages[0]["To"] == "leroux@example.org"
    assert "DXC-000123" in messages[0].get_content()
    note = db.session.scalars(select(Notification)).one()
    assert note.email_status == "sent"


def test_notifications_list_and_mark_read(world, create_session):
    session = create_session()
    registration = services.register_dossier(
        principal=world.doctor(), session_id=session.id, data=DOSSIER
    )
    services.decide_registration(
        principal=NATIONAL, registration_id=registration.id, decision="accepted"
    )
    rows, total, unread = notifications.list_notifications(principal=world.doctor())
    assert (total, unread) == (1, 1)
    notifications.mark_read(principal=world.doctor(), notification_id=rows[0].id)
    assert notifications.list_notifications(principal=world.doctor())[2] == 0
    with pytest.raises(NotFound):
        notifications.mark_read(
            principal=world.doctor(world.local_physician), notification_id=rows[0].id
        )
    with pytest.raises(Forbidden):
        notifications.list_notifications(principal=NATIONAL)
