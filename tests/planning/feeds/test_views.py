"""The feeds API over HTTP: private URLs, direct fetches, conditional GET, real parsers."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest

from core.db import db
from planning.feeds.services import change_token
from planning.ical import PARIS
from tests.planning.conftest import BREST
from tests.planning.feeds.conftest import dst_session_times
from tests.planning.icalcheck import parse_with_ical, parse_with_icaljs

ICS = "text/calendar; charset=utf-8"


def _path(url: str) -> str:
    return urlsplit(url).path


def _date(header: str) -> dt.datetime:
    return parsedate_to_datetime(header)


def _local(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def test_done_when_a_private_feed_url_works_end_to_end(
    client, auth_header, world, dst_sessions, app
):
    rcp, sessions = dst_sessions()
    physician = auth_header(role="physician", rpps=world.physician.rpps)
    coordinator = auth_header(role="coordinator_3c", finess=[BREST])

    # 1. created over the API
    response = client.post(
        "/planning/feeds", json={"scope": "rcp", "rcp_id": rcp.id}, headers=physician
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    url = created["url"]
    public_url = app.extensions["dcc"].settings.public_url
    assert url.startswith(f"{public_url}/feeds/") and url.endswith(".ics")
    assert created["webcal_url"] == "webcal://" + url.split("://", 1)[1]
    token = _path(url).removeprefix("/feeds/").removesuffix(".ics")
    assert len(token) >= 43  # >= 256 bits in base64url; 128 would already do

    # 2. fetched with no Authorization header; parsed by ical.js and ical, right local times
    first = client.get(_path(url))
    assert first.status_code == 200
    assert first.headers["Content-Type"] == ICS
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "private, max-age=300"
    planned = dst_session_times(dt.datetime.now(PARIS).date())
    parsed = parse_with_icaljs(first.data)
    assert [e["start"]["local"] for e in parsed["events"]] == [_local(p) for p in planned]
    assert {e["start"]["zone"] for e in parsed["events"]} == {"Europe/Paris"}
    assert [e["start"]["utc"] for e in parsed["events"]] == [
        p.replace(tzinfo=PARIS).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for p in planned
    ]
    strict = parse_with_ical(first.data)
    assert [e.dtstart.astimezone(PARIS).replace(tzinfo=None) for e in strict.events] == planned
    uids = [e["uid"] for e in parsed["events"]]
    sequences = {e["uid"]: e["sequence"] for e in parsed["events"]}

    # 3. a second fetch with the ETag (or the date) gets 304
    again = client.get(_path(url), headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    since = client.get(_path(url), headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304

    # 4. a moved session: same UID, higher SEQUENCE; the validators change
    moved, cancelled = sessions[0], sessions[1]
    new_start = moved.starts_at + dt.timedelta(hours=1)
    response = client.patch(
        f"/planning/sessions/{moved.id}",
        json={"starts_at": new_start.isoformat()},
        headers=coordinator,
    )
    assert response.status_code == 200, response.get_json()
    # 5. a cancelled one
    response = client.post(
        f"/planning/sessions/{cancelled.id}/cancel", json={"reason": "congrès"}, headers=coordinator
    )
    assert response.status_code == 200, response.get_json()

    changed = client.get(_path(url), headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert _date(changed.headers["Last-Modified"]) > _date(first.headers["Last-Modified"])
    events = {e["uid"]: e for e in parse_with_icaljs(changed.data)["events"]}
    assert sorted(events) == sorted(uids)
    moved_uid = f"rcp-session-{moved.id}@{urlsplit(public_url).hostname}"
    assert events[moved_uid]["sequence"] > sequences[moved_uid]
    assert events[moved_uid]["start"]["local"] == _local(
        new_start.astimezone(PARIS).replace(tzinfo=None)
    )
    cancelled_uid = f"rcp-session-{cancelled.id}@{urlsplit(public_url).hostname}"
    assert events[cancelled_uid]["status"] == "CANCELLED"
    assert {e.uid: e.status.value for e in parse_with_ical(changed.data).events}[
        cancelled_uid
    ] == "CANCELLED"

    # 6. after a revoke the URL gets 404
    response = client.delete(f"/planning/feeds/{created['id']}", headers=physician)
    assert response.status_code == 204
    gone = client.get(_path(url))
    assert gone.status_code == 404
    assert gone.mimetype == "application/problem+json"


def test_the_same_content_keeps_its_validators(client, auth_header, dst_sessions, create_rcp):
    rcp, _ = dst_sessions()
    headers = auth_header(role="regional_admin", region="53")
    first = client.get(f"/planning/feeds/rcp/{rcp.id}.ics", headers=headers)
    assert first.status_code == 200
    # an unrelated change moves the change token: the feed is rendered again, same bytes
    token = change_token()
    create_rcp(title="RCP thoracique")
    db.session.commit()
    assert change_token() != token
    second = client.get(f"/planning/feeds/rcp/{rcp.id}.ics", headers=headers)
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Last-Modified"] == first.headers["Last-Modified"]


def test_a_session_leaving_the_scope_changes_the_validators(
    client, auth_header, world, dst_sessions
):
    _, sessions = dst_sessions()
    headers = auth_header(role="physician", rpps=world.physician.rpps)
    path = "/planning/feeds/sessions.ics?visio=true"
    first = client.get(path, headers=headers)
    assert len(parse_with_icaljs(first.data)["events"]) == len(sessions)
    # one session drops its video link: it leaves the search (nothing is deleted)
    coordinator = auth_header(role="coordinator_3c", finess=[BREST])
    response = client.patch(
        f"/planning/sessions/{sessions[2].id}", json={"visio_url": None}, headers=coordinator
    )
    assert response.status_code == 200, response.get_json()
    second = client.get(path, headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert len(parse_with_icaljs(second.data)["events"]) == len(sessions) - 1
    assert second.headers["ETag"] != first.headers["ETag"]
    assert _date(second.headers["Last-Modified"]) > _date(first.headers["Last-Modified"])
    # an old copy's date does not make the new content look unchanged
    stale = client.get(
        path, headers={**headers, "If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert stale.status_code == 200


def test_feeds_of_other_places_are_empty_but_valid(client, auth_header, world, dst_sessions):
    _, sessions = dst_sessions()
    headers = auth_header(role="physician", rpps=world.physician.rpps)
    region = client.get("/planning/feeds/region/53.ics", headers=headers)
    assert len(parse_with_icaljs(region.data)["events"]) == len(sessions)
    outside = client.get("/planning/feeds/region/11.ics", headers=headers)
    assert parse_with_icaljs(outside.data)["events"] == []
    assert parse_with_ical(outside.data).events == []
    assert outside.headers["ETag"] != region.headers["ETag"]


def test_each_scope_can_be_fetched_directly(client, auth_header, world, dst_sessions):
    rcp, sessions = dst_sessions()
    headers = auth_header(role="physician", rpps=world.physician.rpps)
    for path in (
        f"/planning/feeds/rcp/{rcp.id}.ics",
        f"/planning/feeds/establishment/{BREST}.ics",
        "/planning/feeds/region/53.ics",
        f"/planning/feeds/practitioner/{world.coordinator.rpps}.ics",
        f"/planning/feeds/practitioner/{world.radiotherapist.rpps}.ics",  # the substitute
        f"/planning/feeds/sessions.ics?kind={rcp.kind_code}&region=53",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_json())
        assert response.headers["Content-Type"] == ICS
        assert len(parse_with_icaljs(response.data)["events"]) == len(sessions), path
        parse_with_ical(response.data)
    nobody = client.get(f"/planning/feeds/practitioner/{world.physician.rpps}.ics", headers=headers)
    assert parse_with_icaljs(nobody.data)["events"] == []


def test_a_direct_fetch_needs_a_token(client, dst_sessions):
    rcp, _ = dst_sessions()
    response = client.get(f"/planning/feeds/rcp/{rcp.id}.ics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/planning/feeds/rcp/999999.ics", 404, None),
        ("/planning/feeds/rcp/abc.ics", 422, "value"),
        ("/planning/feeds/galaxy/1.ics", 404, None),
        ("/planning/feeds/establishment/12.ics", 422, "value"),
        ("/planning/feeds/region/99.ics", 422, "value"),
        ("/planning/feeds/practitioner/123.ics", 422, "value"),
        ("/planning/feeds/sessions.ics?status=maybe", 422, "status"),
        ("/planning/feeds/sessions.ics?patient=x", 422, "patient"),
    ],
)
def test_bad_scopes_are_named(client, auth_header, path, status, field):
    response = client.get(path, headers=auth_header(role="national_admin"))
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    if field:
        assert field in {e["field"] for e in response.get_json()["errors"]}


def test_a_single_session_file(client, auth_header, world, dst_sessions, app):
    _, sessions = dst_sessions()
    headers = auth_header(role="physician", rpps=world.physician.rpps)
    response = client.get(f"/planning/sessions/{sessions[0].id}.ics", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ICS
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="rcp-session-{sessions[0].id}.ics"'
    )
    (event,) = parse_with_icaljs(response.data)["events"]
    assert event["summary"] == "RCP digestive CHU de Brest"
    assert event["location"].startswith("CHU DE BREST SITE MORVAN – Salle de staff")
    assert event["organizer"] == "mailto:kerbrat@example.org"
    assert "Coordonnateur : Dr Anne KERBRAT (oncologie option médicale)" in event["description"]
    assert "Suppléant : Dr Anne TANGUY (radio-thérapie)" in event["description"]
    assert "Dossiers inscrits : 0" in event["description"]
    assert event["geo"] == [48.39, -4.486]
    assert event["conference"] == "https://visio.example.org/rcp-digestif"
    again = client.get(
        f"/planning/sessions/{sessions[0].id}.ics",
        headers={**headers, "If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code == 304
    assert client.get("/planning/sessions/999999.ics", headers=headers).status_code == 404


def test_feeds_never_carry_patient_details(client, auth_header, world, dst_sessions):
    rcp, sessions = dst_sessions()
    physician = auth_header(role="physician", rpps=world.physician.rpps)
    response = client.post(
        f"/planning/sessions/{sessions[-1].id}/registrations",
        json={
            "patient_ref": "DXC-SECRET-42",
            "tumour_code": "C18.7",
            "question": "Question confidentielle ?",
            "phase": "initial",
        },
        headers=physician,
    )
    assert response.status_code == 201, response.get_json()
    feed = client.get(f"/planning/feeds/rcp/{rcp.id}.ics", headers=physician)
    text = feed.data.decode().replace("\r\n ", "")
    assert "DXC-SECRET-42" not in text and "confidentielle" not in text and "C18.7" not in text
    assert "Dossiers inscrits : 1" in text


# --- subscriptions --------------------------------------------------------------------------


def test_feeds_are_listed_to_their_creator_only(client, auth_header, world, dst_sessions):
    rcp, _ = dst_sessions()
    mine = auth_header(role="physician", rpps=world.physician.rpps)
    other = auth_header(role="physician", rpps=world.local_physician.rpps)
    created = client.post(
        "/planning/feeds",
        json={
            "scope": "search",
            "filters": {"kind": rcp.kind_code, "visio": True},
            "name": "Visio",
        },
        headers=mine,
    ).get_json()
    assert created["filters"] == {"kind": rcp.kind_code, "visio": True}
    listed = client.get("/planning/feeds", headers=mine).get_json()
    assert [f["id"] for f in listed["items"]] == [created["id"]]
    assert "url" not in listed["items"][0]  # shown once, at creation
    assert client.get("/planning/feeds", headers=other).get_json()["items"] == []
    denied = client.delete(f"/planning/feeds/{created['id']}", headers=other)
    assert denied.status_code == 403
    assert client.get(_path(created["url"])).status_code == 200
    admin = auth_header(role="national_admin")
    assert client.delete(f"/planning/feeds/{created['id']}", headers=admin).status_code == 204
    assert client.get(_path(created["url"])).status_code == 404
    assert client.get("/planning/feeds", headers=mine).get_json()["items"] == []
    with_revoked = client.get("/planning/feeds?include_revoked=true", headers=mine).get_json()
    assert with_revoked["items"][0]["revoked_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "rcp"}, "rcp_id"),
        ({"scope": "region", "region": "53", "finess": BREST}, "finess"),
        ({"scope": "establishment", "finess": "12"}, "finess"),
        ({"scope": "practitioner", "rpps": "abc"}, "rpps"),
        ({"scope": "region", "region": "99"}, "region"),
        ({"scope": "moon"}, "scope"),
        ({"scope": "search", "filters": {"nom_patient": "X"}}, "filters.nom_patient"),
        ({"scope": "rcp", "rcp_id": 1, "patient_ref": "x"}, "patient_ref"),
    ],
)
def test_feed_creation_names_the_faulty_field(client, auth_header, body, field):
    response = client.post(
        "/planning/feeds", json=body, headers=auth_header(role="physician", rpps="10003456789")
    )
    assert response.status_code == 422, response.get_json()
    assert field in {e["field"] for e in response.get_json()["errors"]}


def test_creating_a_feed_needs_a_token(client):
    assert (
        client.post("/planning/feeds", json={"scope": "region", "region": "53"}).status_code == 401
    )


def test_unknown_tokens_get_404(client):
    response = client.get("/feeds/" + "A" * 43 + ".ics")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_feed_urls_are_rate_limited(app, client, auth_header):
    runtime = app.extensions["planning_feeds"]
    limiter = runtime.limiter
    from core.ratelimit import RateLimiter

    runtime.limiter = RateLimiter("2/minute")
    try:
        created = client.post(
            "/planning/feeds",
            json={"scope": "region", "region": "53"},
            headers=auth_header(role="national_admin"),
        ).get_json()
        statuses = [client.get(_path(created["url"])).status_code for _ in range(3)]
    finally:
        runtime.limiter = limiter
    assert statuses == [200, 200, 429]
