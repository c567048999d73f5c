"""The web pages through a test client: sign-in, CSRF, calendar, the registration story."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from core.db import db, utcnow
from planning.models import Notification, Registration
from web import demo


def test_anonymous_visitors_are_sent_to_sign_in(web_client):
    response = web_client().get("/web/calendrier")
    assert response.status_code == 302
    assert response.location.startswith("/web/connexion?next=/web/calendrier")


def test_sign_in_page_offers_the_demo_users_in_french(web_client):
    page = web_client().get("/web/connexion")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="fr">' in html
    assert 'href="#contenu"' in html  # skip link
    for user in demo.USERS:
        assert user.label in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "form-action 'self'" in csp
    assert "http" not in csp  # no CDN


def test_demo_sign_in_sets_a_httponly_lax_cookie(web_client):
    client = web_client()
    response = client.sign_in("3c")
    assert response.status_code == 302
    assert response.location == "/web/accueil"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # local development
    assert client.get("/web/accueil").location == "/web/rcp"


def test_posts_without_the_csrf_token_are_refused(web_client):
    client = web_client()
    response = client.client.post("/web/connexion/demo", data={"user": "3c"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    signed = web_client("3c")
    response = signed.client.post("/web/deconnexion", data={"csrf_token": "forged"})
    assert response.status_code == 400


def test_form_posts_escape_the_json_only_rule_but_the_api_keeps_it(web_client, client):
    signed = web_client("3c")
    assert signed.post("/web/deconnexion", {}).status_code == 302
    response = client.post("/planning/rcps", data={"title": "x"})
    assert response.status_code == 415


def test_open_redirects_are_refused(web_client):
    client = web_client()
    response = client.client.post(
        "/web/connexion/demo",
        data={"user": "3c", "next": "//evil.example", "csrf_token": client.token()},
    )
    assert response.location == "/web/accueil"


def test_calendar_views_and_filters(web_client, demo_world, open_sessions):
    client = web_client("region")
    for view in ("liste", "semaine", "mois"):
        page = client.get(f"/web/calendrier?vue={view}&region=53")
        assert page.status_code == 200
        assert "RCP digestive CHU de Brest" in page.get_data(as_text=True)
    elsewhere = client.get("/web/calendrier?region=11").get_data(as_text=True)
    assert "RCP digestive CHU de Brest" not in elsewhere
    without_visio = client.get("/web/calendrier?visio=non").get_data(as_text=True)
    assert "RCP digestive CHU de Brest" not in without_visio
    assert "0 séance(s) trouvée(s)" in without_visio


def test_places_lists_only_sessions_a_dossier_can_still_go_to(
    web_client, demo_world, open_sessions
):
    # "Trouver une séance pour inscrire un dossier": not a session whose deadline passed,
    # nor a cancelled or full one, though each is still in the plain calendar
    late, cancelled, full, taking = open_sessions[:4]
    late.registration_deadline = utcnow() - dt.timedelta(minutes=1)
    cancelled.status = "cancelled"
    full.registered_count = full.capacity
    db.session.commit()
    client = web_client("medecin")
    listed = client.get("/web/calendrier?places=oui").get_data(as_text=True)
    everything = client.get("/web/calendrier").get_data(as_text=True)
    for session in (late, cancelled, full, taking):
        assert f'/seances/{session.id}"' in everything
    assert f'/seances/{taking.id}"' in listed
    for session in (late, cancelled, full):
        assert f'/seances/{session.id}"' not in listed


def test_session_page_shows_the_facts_but_no_dossier_to_outsiders(
    web_client, demo_world, open_sessions
):
    session = open_sessions[0]
    html = web_client("medecin").get(f"/web/seances/{session.id}").get_data(as_text=True)
    for fact in (
        "Dr Bénédicte LE GALL-KERBRAT",
        "Dr Erwan TANGUY",
        "Salle de staff",
        "visio.example",
    ):
        assert fact in html
    assert "0 sur 12 places" in html
    assert "Quorum" in html
    assert "Inscrire le dossier" in html
    assert "Dossiers inscrits et décisions" not in html


def _register(client, session_id, ref="DOS-2026-0001"):
    return client.post(
        f"/web/seances/{session_id}/inscriptions",
        {
            "patient_ref": ref,
            "tumour_code": "C18.7",
            "phase": "initial",
            "question": "Chimiothérapie adjuvante ?",
        },
        page=f"/web/seances/{session_id}",
    )


def test_physician_registers_and_the_3c_defers_then_the_physician_is_told(
    web_client, open_sessions
):
    first, second = open_sessions[0], open_sessions[1]
    physician = web_client("medecin")
    response = _register(physician, first.id)
    assert response.status_code == 302
    page = physician.get(response.location).get_data(as_text=True)
    assert "Dossier inscrit" in page
    registration = db.session.scalars(
        select(Registration).where(Registration.patient_ref == "DOS-2026-0001")
    ).one()
    assert registration.status == "proposed"
    assert registration.registering_rpps == demo.PHYSICIAN

    coordinator = web_client("3c")
    assert "DOS-2026-0001" in coordinator.get("/web/rcp").get_data(as_text=True)
    response = coordinator.post(
        f"/web/inscriptions/{registration.id}/decision",
        {"decision": "deferred", "target_session_id": str(second.id), "reason": "Bilan"},
        page=f"/web/seances/{first.id}",
    )
    assert response.status_code == 302
    assert "reporté" in coordinator.get(response.location).get_data(as_text=True)
    db.session.refresh(registration)
    assert registration.status == "deferred"

    page = physician.get("/web/mes-dossiers").get_data(as_text=True)
    assert "reporté" in page
    notification = db.session.scalars(
        select(Notification).where(Notification.recipient_rpps == demo.PHYSICIAN)
    ).first()
    assert notification is not None
    assert notification.message in page
    response = physician.post(
        f"/web/notifications/{notification.id}/lue", {}, page="/web/mes-dossiers"
    )
    assert response.status_code == 302
    db.session.refresh(notification)
    assert notification.read_at is not None


def test_the_registration_form_refuses_what_the_api_refuses(web_client, open_sessions):
    physician = web_client("medecin")
    response = _register(physician, open_sessions[0].id, ref="1850599123456")  # a NIR
    page = physician.get(response.location).get_data(as_text=True)
    assert "patient_ref" in page and "never an INS/NIR" in page
    assert db.session.scalar(select(Registration.id)) is None


def test_a_refusal_needs_a_reason_and_is_shown(web_client, open_sessions):
    session = open_sessions[0]
    _register(web_client("medecin"), session.id)
    registration = db.session.scalars(select(Registration)).one()
    coordinator = web_client("3c")
    response = coordinator.post(
        f"/web/inscriptions/{registration.id}/decision",
        {"decision": "refused"},
        page=f"/web/seances/{session.id}",
    )
    assert "a refusal needs a reason" in coordinator.get(response.location).get_data(as_text=True)
    coordinator.post(
        f"/web/inscriptions/{registration.id}/decision",
        {"decision": "refused", "reason": "Hors du champ de la RCP"},
        page=f"/web/seances/{session.id}",
    )
    html = web_client("medecin").get("/web/mes-dossiers").get_data(as_text=True)
    assert "refusé" in html and "Hors du champ de la RCP" in html


def test_pages_check_roles_and_perimeters(web_client, open_sessions):
    session = open_sessions[0]
    _register(web_client("medecin"), session.id)
    registration = db.session.scalars(select(Registration)).one()
    physician = web_client("medecin")
    assert physician.get("/web/rcp").status_code == 403
    response = physician.post(
        f"/web/inscriptions/{registration.id}/decision",
        {"decision": "accepted"},
        page="/web/mes-dossiers",
    )
    assert response.status_code == 403
    # a regional admin of another region: the service's perimeter check answers
    other = web_client("region")
    assert other.get("/web/rcp").status_code == 200
    coordinator = web_client("3c")
    assert coordinator.get(f"/web/seances/{session.id}").status_code == 200
    assert (
        web_client("3c")
        .post(f"/web/seances/{session.id}/inscriptions", {"patient_ref": "x"})
        .status_code
        == 403
    )


def test_3c_creates_an_rcp_with_directory_lookups_and_plans_a_period(web_client, demo_world):
    client = web_client("3c")
    found = client.get("/web/annuaire/professionnels?q=quemen").get_json()
    assert [(f["value"], f["label"]) for f in found] == [(demo.PATHOLOGIST, "QUÉMÉNEUR Anaïs")]
    assert "Anatomie" in found[0]["detail"]
    by_number = client.get(f"/web/annuaire/professionnels?q={demo.SURGEON}").get_json()
    assert by_number[0]["label"] == "KERVELLA Maëlle"
    assert client.get("/web/annuaire/professionnels?q=k").get_json() == []  # 2 characters at least
    found = client.get("/web/annuaire/etablissements?q=chu renn").get_json()
    assert found[0]["value"] == demo.RENNES
    assert "RCP" in client.get("/web/rcp/nouvelle").get_data(as_text=True)
    response = client.post(
        "/web/rcp/nouvelle",
        {
            "title": "RCP thoracique",
            "kind_code": "MED-251",
            "level": "local",
            "host_finess": demo.BREST,
            "coordinator_rpps": demo.COORDINATOR,
            "members": [demo.PATHOLOGIST, demo.RADIOLOGIST, ""],
            "min_physicians": "3",
            "min_distinct_specialties": "3",
            "room": "Salle 4",
            "rrule": "FREQ=WEEKLY;BYDAY=TH",
            "recurrence_start": "2026-01-01",
            "start_time": "08:30",
            "duration_minutes": "90",
            "deadline_hours": "24",
            "capacity": "8",
            "open_to_external": "oui",
        },
        page="/web/rcp/nouvelle",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith("/web/rcp/")
    page = client.get(response.location).get_data(as_text=True)
    assert "RCP thoracique" in page and "Dr Anaïs QUÉMÉNEUR" in page
    start = dt.date.today()
    response = client.post(
        response.location + "/planifier",
        {"from": start.isoformat(), "to": (start + dt.timedelta(days=27)).isoformat()},
        page=response.location,
    )
    assert "4 séance(s) créée(s)" in client.get(response.location).get_data(as_text=True)


def test_rcp_form_errors_come_back_with_the_field(web_client, demo_world):
    client = web_client("3c")
    response = client.post(
        "/web/rcp/nouvelle",
        {
            "title": "X",
            "kind_code": "MED-251",
            "level": "local",
            "host_finess": demo.RENNES,
            "coordinator_rpps": demo.COORDINATOR,
            "start_time": "08:30",
            "room": "A",
        },
        page="/web/rcp/nouvelle",
    )
    assert response.location == "/web/rcp/nouvelle"
    assert (
        "Votre profil ne vous permet pas d&#39;agir sur les RCP de l&#39;établissement "
        f"{demo.RENNES}" in client.get("/web/rcp/nouvelle").get_data(as_text=True)
    )


def test_edit_an_rcp(web_client, demo_world):
    client = web_client("3c")
    rcp_id = demo_world["rcp"]
    form = client.get(f"/web/rcp/{rcp_id}/modifier").get_data(as_text=True)
    assert demo.PATHOLOGIST in form
    response = client.post(
        f"/web/rcp/{rcp_id}/modifier",
        {
            "title": "RCP digestive (Brest)",
            "kind_code": "MED-251",
            "level": "local",
            "coordinator_rpps": demo.COORDINATOR,
            "members": [demo.PATHOLOGIST, demo.RADIOLOGIST, demo.SURGEON],
            "room": "Salle 2",
            "start_time": "14:00",
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "recurrence_start": "2026-01-06",
            "capacity": "12",
            "active": "oui",
            "open_to_external": "oui",
        },
        page=f"/web/rcp/{rcp_id}/modifier",
    )
    assert response.location == f"/web/rcp/{rcp_id}", response.location
    assert "RCP digestive (Brest)" in client.get(response.location).get_data(as_text=True)


def test_production_has_no_demo_sign_in(app):
    from server.app import create_app

    settings = app.extensions["dcc"].settings
    production_like = create_app(
        env="testing",
        database_url=settings.database_url,
        instance_dir=settings.instance_dir,
        signing_key_file=settings.signing_key_file,
        log_format="text",
        log_level="WARNING",
    )
    # flip the flag after start-up checks (a real production start needs PostgreSQL and https)
    object.__setattr__(production_like.extensions["dcc"].settings, "env", "production")
    client = production_like.test_client()
    html = client.get("/web/connexion").get_data(as_text=True)
    assert "Démonstration" not in html
    assert "Aucun moyen de connexion" in html


def test_subscribe_creates_a_private_feed_that_parses(web_client, open_sessions):
    import re

    import icalendar

    client = web_client("medecin")
    response = client.post("/web/abonnements", {"region": "53", "back": "/web/calendrier"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    for how_to in ("Outlook", "Google Agenda", "Thunderbird"):
        assert how_to in html
    webcal = re.search(r'id="webcal-link" href="(webcal://[^"]+)"', html).group(1)
    path = "/" + webcal.split("://", 1)[1].split("/", 1)[1]
    feed = client.get(path)
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(feed.data)
    summaries = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert any("RCP digestive CHU de Brest" in s for s in summaries)


def test_subscribe_to_one_rcp_from_its_session_page(web_client, open_sessions):
    session = open_sessions[0]
    client = web_client("3c")
    assert "subscribe-rcp" in client.get(f"/web/seances/{session.id}").get_data(as_text=True)
    response = client.post(
        "/web/abonnements",
        {"rcp_id": str(session.rcp_id), "back": f"/web/seances/{session.id}"},
        page=f"/web/seances/{session.id}",
    )
    assert "webcal://" in response.get_data(as_text=True)


def test_3c_records_attendance_of_a_past_session(web_client, demo_world):
    from core.db import utcnow
    from planning import services as planning

    past, _ = planning.list_sessions(
        filters=planning.SessionFilters(rcp_id=demo_world["rcp"], date_to=utcnow()), limit=5
    )
    session = past[-1]
    db.session.commit()  # a refused form action rolls the request's session back
    client = web_client("3c")
    page = client.get(f"/web/seances/{session.id}").get_data(as_text=True)
    assert "Enregistrer les présences" in page
    rpps = [p.rpps for p in session.participants]
    form = {"rpps": rpps}
    for number in rpps:
        form[f"presence-{number}"] = "present"
    form[f"presence-{rpps[-1]}"] = "replaced"
    form[f"remplacant-{rpps[-1]}"] = demo.PHYSICIAN
    response = client.post(
        f"/web/seances/{session.id}/presences", form, page=f"/web/seances/{session.id}"
    )
    page = client.get(response.location).get_data(as_text=True)
    assert "Présences enregistrées" in page
    assert "remplacé</em> par Dr Anne-Sophie DE LA FONTAINE" in page
    assert "présences)" in page  # the quorum is now computed on the recorded attendance
    # a replacement needs a substitute: the service's message comes back
    form[f"remplacant-{rpps[-1]}"] = ""
    response = client.post(
        f"/web/seances/{session.id}/presences", form, page=f"/web/seances/{session.id}"
    )
    page = client.get(response.location).get_data(as_text=True)
    assert "replaced_by_rpps" in page, re.findall(r"message-error[^>]*>([^<]*)", page)
