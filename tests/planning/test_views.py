"""The planning API over HTTP with real tokens: the whole story, then permissions and errors."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from typing import Any

import pytest

from planning import delivery, notifications
from tests.planning.conftest import BREST, RENNES

PROBLEM = "application/problem+json"


@pytest.fixture
def receiver():
    """A tiny local webhook endpoint recording what it receives."""
    received: list[tuple[Any, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers, body))  # case-insensitive
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/dcc", received
    finally:
        server.shutdown()
        server.server_close()


def _rcp_body(world, **overrides):
    body = {
        "title": "RCP digestive CHU de Brest",
        "kind_code": "MED-251",
        "level": "local",
        "host_finess": BREST,
        "three_c": "3C du Finistère",
        "coordinator_rpps": world.coordinator.rpps,
        "substitute_rpps": world.radiotherapist.rpps,
        "members": [
            {"rpps": world.pathologist.rpps, "specialty_code": "SM01"},
            {"rpps": world.radiologist.rpps},
        ],
        "required_specialties": ["SM01"],
        "room": "Salle 3",
        "visio_url": "https://visio.example.org/rcp",
        "rrule": "FREQ=MONTHLY;BYDAY=2TU,4TU",
        "recurrence_start": dt.date.today().isoformat(),
        "start_time": "14:00:00",
        "duration_minutes": 120,
        "deadline_hours": 48,
        "capacity": 10,
    }
    body.update(overrides)
    return body


DOSSIER = {
    "patient_ref": "DXC-9F3A21",
    "tumour_code": "C20",
    "question": "Radiochimiothérapie néoadjuvante ?",
    "phase": "initial",
}


def test_the_whole_story_over_http(client, auth_header, world, receiver):
    url, received = receiver
    three_c = auth_header(role="coordinator_3c", finess=[BREST])
    doctor = auth_header(role="physician", rpps=world.physician.rpps)
    software = auth_header(role="rcp_software", region="53")

    # the directory checks the coordinator and the place
    bad = client.post(
        "/planning/rcps",
        json=_rcp_body(world, coordinator_rpps="10999999999"),
        headers=three_c,
    )
    assert bad.status_code == 422 and bad.mimetype == PROBLEM
    assert bad.get_json()["errors"][0]["pointer"] == "#/coordinator_rpps"
    bad_place = client.post(
        "/planning/rcps", json=_rcp_body(world, place_finess="990999999"), headers=three_c
    )
    assert bad_place.get_json()["errors"][0]["field"] == "place_finess", bad_place.get_json()

    # a 3C creates the RCP and plans a year
    created = client.post("/planning/rcps", json=_rcp_body(world), headers=three_c)
    assert created.status_code == 201, created.get_json()
    rcp = created.get_json()
    assert rcp["region"] == "53" and rcp["host"]["name"] == "CHU DE BREST SITE MORVAN"
    assert rcp["coordinator"]["last_name"] == "KERBRAT"
    assert rcp["kind_label"] == "Colon-Rectum-Anus"
    today = dt.date.today()
    period = {"from": today.isoformat(), "to": (today + dt.timedelta(days=364)).isoformat()}
    planned = client.post(
        f"/planning/rcps/{rcp['id']}/sessions/generate", json=period, headers=three_c
    )
    assert planned.status_code == 201
    assert 23 <= planned.get_json()["created"] <= 25
    again = client.post(
        f"/planning/rcps/{rcp['id']}/sessions/generate", json=period, headers=three_c
    )
    assert again.get_json()["created"] == 0

    # RCP software of the region subscribes to events
    hook = client.post("/planning/webhooks", json={"url": url, "events": []}, headers=software)
    assert hook.status_code == 201
    secret = hook.get_json()["secret"]

    # a physician registers a dossier for the first session still open
    listed = client.get(
        f"/planning/sessions?rcp_id={rcp['id']}&has_capacity=true&page_size=5", headers=doctor
    ).get_json()
    now = dt.datetime.now(dt.UTC)
    open_sessions = [
        s for s in listed["items"] if dt.datetime.fromisoformat(s["registration_deadline"]) > now
    ]
    first, following = open_sessions[0], open_sessions[1]
    assert first["quorum"]["met"] is True and first["places_left"] == 10
    registered = client.post(
        f"/planning/sessions/{first['id']}/registrations", json=DOSSIER, headers=doctor
    )
    assert registered.status_code == 201, registered.get_json()
    registration = registered.get_json()
    assert registration["status"] == "proposed"

    # the 3C defers it to the next session
    decided = client.post(
        f"/planning/registrations/{registration['id']}/decision",
        json={"decision": "deferred", "target_session_id": following["id"], "reason": "bilan"},
        headers=three_c,
    )
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["status"] == "deferred"
    moved_id = decided.get_json()["deferred_to_id"]

    # the physician sees the notification
    inbox = client.get("/planning/notifications", headers=doctor).get_json()
    assert inbox["unread"] == 1
    note = inbox["items"][0]
    assert note["event"] == "registration.deferred" and note["read"] is False
    assert note["payload"]["deferred_to"]["session"]["id"] == following["id"]
    moved = client.get(f"/planning/registrations/{moved_id}", headers=doctor).get_json()
    assert moved["session_id"] == following["id"] and moved["status"] == "accepted"

    # the webhook receiver gets correctly signed payloads
    report = notifications.deliver_due(transport=delivery.http_transport)
    assert report.delivered == 2, report
    events = {}
    for headers, body in received:
        assert delivery.verify(
            secret, int(headers["X-DCC-Timestamp"]), body, headers["X-DCC-Signature"]
        )
        events[headers["X-DCC-Event"]] = json.loads(body)
    assert set(events) == {"registration.created", "registration.deferred"}
    deferred = events["registration.deferred"]["data"]
    assert deferred["registration"]["id"] == registration["id"]
    assert deferred["deferred_to"]["session"]["id"] == following["id"]
    log = client.get(f"/planning/webhooks/{hook.get_json()['id']}/deliveries", headers=software)
    assert {d["status"] for d in log.get_json()["items"]} == {"delivered"}

    # over capacity and late registrations get problem+json
    client.patch(f"/planning/sessions/{following['id']}", json={"capacity": 1}, headers=three_c)
    full = client.post(
        f"/planning/sessions/{following['id']}/registrations",
        json={**DOSSIER, "patient_ref": "DXC-OTHER1"},
        headers=doctor,
    )
    assert full.status_code == 409 and full.mimetype == PROBLEM
    assert full.get_json()["code"] == "session-full"
    soon = (now + dt.timedelta(hours=3)).isoformat()
    late_session = client.post(
        "/planning/sessions", json={"rcp_id": rcp["id"], "starts_at": soon}, headers=three_c
    ).get_json()
    late = client.post(
        f"/planning/sessions/{late_session['id']}/registrations", json=DOSSIER, headers=doctor
    )
    assert late.status_code == 409 and late.get_json()["code"] == "deadline-passed"

    # identity fields cannot slip in
    named = client.post(
        f"/planning/sessions/{first['id']}/registrations",
        json={**DOSSIER, "patient_name": "DUPONT Marie"},
        headers=doctor,
    )
    assert named.status_code == 422 and named.mimetype == PROBLEM
    assert named.get_json()["errors"][0]["pointer"] == "#/patient_name"

    # the audit trail shows who did what
    trail = client.get(
        "/audit/events?entity_type=registration", headers=auth_header(role="national_admin")
    ).get_json()
    assert {e["action"] for e in trail["items"]} >= {"register", "decide"}


@pytest.fixture
def planned(world, create_session):
    return create_session()


def test_reads_are_open_to_every_role_writes_are_not(client, auth_header, world, planned):
    doctor = auth_header(role="physician", rpps=world.physician.rpps)
    assert client.get(f"/planning/sessions/{planned.id}", headers=doctor).status_code == 200
    assert client.get("/planning/sessions").status_code == 401
    denied = client.post("/planning/rcps", json=_rcp_body(world), headers=doctor)
    assert denied.status_code == 403 and denied.mimetype == PROBLEM
    other_3c = auth_header(role="coordinator_3c", finess=[RENNES])
    assert (
        client.post(
            f"/planning/sessions/{planned.id}/cancel", json={"reason": "x"}, headers=other_3c
        ).status_code
        == 403
    )
    assert client.post("/planning/rcps", json=_rcp_body(world), headers=other_3c).status_code == 403
    regional = auth_header(role="regional_admin", region="53")
    cancelled = client.post(
        f"/planning/sessions/{planned.id}/cancel", json={"reason": "grève"}, headers=regional
    )
    assert cancelled.status_code == 200
    body = cancelled.get_json()
    assert body["status"] == "cancelled" and body["revision"] == 2
    assert client.get(f"/planning/sessions/{planned.id}", headers=doctor).get_json()["status"] == (
        "cancelled"
    )


def test_a_3c_of_another_establishment_cannot_decide(client, auth_header, world, planned):
    doctor = auth_header(role="physician", rpps=world.physician.rpps)
    registration = client.post(
        f"/planning/sessions/{planned.id}/registrations", json=DOSSIER, headers=doctor
    ).get_json()
    other = client.post(
        f"/planning/registrations/{registration['id']}/decision",
        json={"decision": "accepted"},
        headers=auth_header(role="coordinator_3c", finess=[RENNES]),
    )
    assert other.status_code == 403
    own = client.post(
        f"/planning/registrations/{registration['id']}/decision",
        json={"decision": "accepted"},
        headers=auth_header(role="coordinator_3c", finess=[BREST]),
    )
    assert own.status_code == 200
    invalid = client.post(
        f"/planning/registrations/{registration['id']}/decision",
        json={"decision": "accepted"},
        headers=auth_header(role="coordinator_3c", finess=[BREST]),
    )
    assert invalid.status_code == 409 and invalid.get_json()["code"] == "invalid-transition"


def test_a_physician_cannot_read_another_physicians_registrations(
    client, auth_header, world, planned
):
    mine = auth_header(role="physician", rpps=world.physician.rpps)
    theirs = auth_header(role="physician", rpps=world.local_physician.rpps)
    registration = client.post(
        f"/planning/sessions/{planned.id}/registrations", json=DOSSIER, headers=mine
    ).get_json()
    assert client.get(
        f"/planning/registrations/{registration['id']}", headers=mine
    ).status_code == (200)
    denied = client.get(f"/planning/registrations/{registration['id']}", headers=theirs)
    assert denied.status_code == 403
    listed = client.get(f"/planning/sessions/{planned.id}/registrations", headers=theirs)
    assert listed.get_json()["total"] == 0
    listed = client.get("/planning/registrations", headers=mine)
    assert listed.get_json()["total"] == 1
    assert (
        client.post(
            f"/planning/registrations/{registration['id']}/withdraw", headers=theirs
        ).status_code
        == 403
    )
    withdrawn = client.post(f"/planning/registrations/{registration['id']}/withdraw", headers=mine)
    assert withdrawn.get_json()["status"] == "withdrawn"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("patient_ref", "Marie Dupont"),
        ("patient_ref", "2850275123456"),  # a NIR-like number
        ("tumour_code", "sein gauche"),
        ("phase", "palliative"),
    ],
)
def test_registration_fields_are_validated(client, auth_header, world, planned, field, value):
    response = client.post(
        f"/planning/sessions/{planned.id}/registrations",
        json={**DOSSIER, field: value},
        headers=auth_header(role="physician", rpps=world.physician.rpps),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_software_must_name_the_physician(client, auth_header, world, planned):
    anonymous = client.post(
        f"/planning/sessions/{planned.id}/registrations",
        json=DOSSIER,
        headers=auth_header(role="rcp_software", region="53"),
    )
    assert anonymous.status_code == 403
    acting = client.post(
        f"/planning/sessions/{planned.id}/registrations",
        json=DOSSIER,
        headers=auth_header(role="rcp_software", region="53", on_behalf_of=world.physician.rpps),
    )
    assert acting.status_code == 201
    assert acting.get_json()["registering_rpps"] == world.physician.rpps


def test_session_views_participants_attendance_and_next(client, auth_header, world, create_session):
    admin = auth_header(role="national_admin")
    past = create_session(starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
    listed = client.get("/planning/sessions?region=53&page_size=1", headers=admin)
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["total"] == 1 and body["page_size"] == 1
    assert "participants" not in body["items"][0]
    session = client.get(f"/planning/sessions/{past.id}", headers=admin).get_json()
    assert session["host"]["finess"] == BREST and session["uid"] == f"rcp-session-{past.id}"
    assert {p["specialty_code"] for p in session["participants"]} == {
        "SM36",
        "SM01",
        "SM44",
        "SM45",
    }
    assert session["participants"][0]["last_name"] == "KERBRAT"
    changed = client.put(
        f"/planning/sessions/{past.id}/participants",
        json={"participants": [{"rpps": world.coordinator.rpps}, {"rpps": "10999999999"}]},
        headers=admin,
    )
    assert changed.status_code == 422
    assert changed.get_json()["errors"][0]["field"] == "participants.1.rpps"
    attendance = client.put(
        f"/planning/sessions/{past.id}/attendance",
        json={
            "items": [
                {"rpps": world.coordinator.rpps, "attendance": "present"},
                {"rpps": world.pathologist.rpps, "attendance": "excused"},
            ]
        },
        headers=admin,
    )
    assert attendance.status_code == 200, attendance.get_json()
    quorum = attendance.get_json()["quorum"]
    assert quorum["basis"] == "attendance" and quorum["met"] is False
    assert "SM01" in quorum["missing_specialties"]
    upcoming = create_session(starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=9))
    found = client.get("/planning/sessions/next?kind=MED-251&department=56", headers=admin)
    assert [s["id"] for s in found.get_json()] == [upcoming.id]
    assert found.get_json()[0]["distance_km"] > 100
    unknown = client.get("/planning/sessions/next?kind=MED-251&department=XX", headers=admin)
    assert unknown.status_code == 422


def test_kinds_and_rcp_listing(client, auth_header, world, create_rcp):
    admin = auth_header(role="national_admin")
    kinds = client.get("/planning/kinds", headers=admin).get_json()
    codes = {k["code"] for k in kinds}
    assert {"MED-251", "76752008", "POP-GER"} <= codes
    create_rcp()
    listed = client.get(f"/planning/rcps?practitioner={world.pathologist.rpps}", headers=admin)
    assert listed.get_json()["total"] == 1
    assert listed.get_json()["items"][0]["members"][0]["specialty_label"].startswith("Anatomie")


def test_webhooks_are_private_to_their_owner(client, auth_header):
    owner = auth_header(role="rcp_software", region="53", subject="client-a")
    other = auth_header(role="rcp_software", region="53", subject="client-b")
    created = client.post(
        "/planning/webhooks", json={"url": "https://a.example/h"}, headers=owner
    ).get_json()
    assert "secret" in created
    assert client.get("/planning/webhooks", headers=other).get_json() == []
    assert "secret" not in client.get("/planning/webhooks", headers=owner).get_json()[0]
    assert client.delete(f"/planning/webhooks/{created['id']}", headers=other).status_code == 404
    assert client.delete(f"/planning/webhooks/{created['id']}", headers=owner).status_code == 204
    bad = client.post(
        "/planning/webhooks", json={"url": "https://a.example/h", "events": ["x"]}, headers=owner
    )
    assert bad.status_code == 422
