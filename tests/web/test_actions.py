"""The web pages' actions the API already offered: move and cancel a session, withdraw a
dossier, list and revoke calendar feeds; each allowed only to whom the API allows it."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

from sqlalchemy import select

from core.auth import Principal, Role
from core.db import db, utcnow
from planning.feeds.models import FeedSubscription
from planning.models import Notification, Registration, Session
from web import agenda, demo

UTC = dt.UTC

OTHER_3C = Principal(
    subject="demo-3c-rennes",
    role=Role.COORDINATOR_3C,
    issuer=demo.DEMO_ISSUER,
    finess=frozenset({demo.RENNES}),
)
OTHER_PHYSICIAN = Principal(
    subject="demo-chirurgien",
    role=Role.PHYSICIAN,
    issuer=demo.DEMO_ISSUER,
    rpps=demo.SURGEON,
)


def _messages(client, path):
    """The flashed messages shown by the page (text, unescaped)."""
    found = re.findall(
        r'class="message message-\w+"[^>]*>([^<]*)<', client.get(path).get_data(True)
    )
    return [unescape(m) for m in found]


def _register(client, session_id, ref):
    response = client.post(
        f"/web/seances/{session_id}/inscriptions",
        {"patient_ref": ref, "tumour_code": "C18.7", "phase": "initial", "question": "Q ?"},
        page=f"/web/seances/{session_id}",
    )
    assert response.status_code == 302
    return db.session.scalars(select(Registration).where(Registration.patient_ref == ref)).one()


def _move_form(session, *, days=1, start="15:00", end="16:30", **fields):
    local = session.starts_at.astimezone(agenda.PARIS)
    form = {
        "date": (local.date() + dt.timedelta(days=days)).isoformat(),
        "start": start,
        "end": end,
        "place_finess": session.place_finess or "",
        "room": session.room or "",
        "visio_url": session.visio_url or "",
        "revision": str(session.revision),
    }
    return {**form, **fields}


# --- moving a session ---------------------------------------------------------------------


def test_3c_moves_a_session_and_its_registrants_are_told(web_client, open_sessions):
    session = open_sessions[0]
    registration = _register(web_client("medecin"), session.id, "DOS-MOVE-01")
    coordinator = web_client("3c")
    page = coordinator.get(f"/web/seances/{session.id}").get_data(as_text=True)
    assert "Déplacer ou modifier la séance" in page
    local = session.starts_at.astimezone(agenda.PARIS)
    assert f'name="date" value="{local.date().isoformat()}"' in page
    assert f'name="start" value="{local.strftime("%H:%M")}"' in page
    revision = session.revision
    day = local.date() + dt.timedelta(days=1)

    response = coordinator.post(
        f"/web/seances/{session.id}/modifier",
        _move_form(session, room="Salle 5", visio_url=""),
        page=f"/web/seances/{session.id}",
    )
    assert response.status_code == 302
    assert response.location == f"/web/seances/{session.id}"
    moved = db.session.get(Session, session.id)
    db.session.refresh(moved)
    starts = dt.datetime.combine(day, dt.time(15), agenda.PARIS)
    assert moved.starts_at == starts.astimezone(UTC)
    assert moved.ends_at == dt.datetime.combine(day, dt.time(16, 30), agenda.PARIS)
    assert moved.registration_deadline == starts - dt.timedelta(hours=moved.rcp.deadline_hours)
    assert (moved.room, moved.visio_url) == ("Salle 5", None)
    assert moved.revision == revision + 1
    messages = _messages(coordinator, response.location)
    assert any("Séance enregistrée" in m and "15 h 00 – 16 h 30" in m for m in messages)
    told = db.session.scalars(
        select(Notification).where(Notification.recipient_rpps == registration.registering_rpps)
    ).all()
    assert [n.event for n in told] == ["session.changed"]


def test_session_change_errors_come_back_and_change_nothing(web_client, open_sessions):
    session = open_sessions[0]
    before = (session.starts_at, session.ends_at, session.revision)
    db.session.commit()
    coordinator = web_client("3c")
    page = f"/web/seances/{session.id}"
    cases = [
        (_move_form(session, start="", end="10:00"), "starts_at : date ou heure invalide."),
        (_move_form(session, visio_url="http://visio.example/x"), "visio_url"),
        (_move_form(session, revision=str(session.revision - 1)), "rechargez la page"),
    ]
    for form, expected in cases:
        response = coordinator.post(f"{page}/modifier", form, page=page)
        assert response.location == f"{page}#modifier"
        assert any(expected in m for m in _messages(coordinator, page)), expected
    response = coordinator.post(f"{page}/modifier", _move_form(session, end="14:00"), page=page)
    assert _messages(coordinator, page)  # the service's own check of start < end
    db.session.refresh(session)
    assert (session.starts_at, session.ends_at, session.revision) == before


def test_only_the_hosts_managers_may_move_or_cancel(web_client, open_sessions):
    session = open_sessions[0]
    before = (session.starts_at, session.status, session.revision)
    db.session.commit()
    page = f"/web/seances/{session.id}"
    physician = web_client("medecin")
    html = physician.get(page).get_data(as_text=True)
    assert "Déplacer ou modifier" not in html and "Annuler la séance" not in html
    assert physician.post(f"{page}/modifier", _move_form(session)).status_code == 403
    cancel = {"reason": "grève", "confirmation": "oui"}
    assert physician.post(f"{page}/annuler", cancel).status_code == 403

    # a 3C of another establishment: no forms, and the service refuses the posts
    other = web_client()
    other.sign_in_as(OTHER_3C, "3C d'Ille-et-Vilaine (CHU de Rennes)")
    html = other.get(page).get_data(as_text=True)
    assert "Déplacer ou modifier" not in html and "Annuler la séance" not in html
    for action, form in (("modifier", _move_form(session)), ("annuler", cancel)):
        response = other.post(f"{page}/{action}", form, page=page)
        assert response.status_code == 302
        assert any(
            "Votre profil ne vous permet pas d'agir sur cette séance de l'établissement "
            f"{demo.BREST}." == m.strip()
            for m in _messages(other, page)
        )
    db.session.refresh(session)
    assert (session.starts_at, session.status, session.revision) == before


# --- cancelling a session -----------------------------------------------------------------


def test_3c_cancels_a_session_which_stays_visible_with_its_dossiers(web_client, open_sessions):
    session = open_sessions[0]
    registration = _register(web_client("medecin"), session.id, "DOS-CANCEL-01")
    coordinator = web_client("3c")
    page = f"/web/seances/{session.id}"
    html = coordinator.get(page).get_data(as_text=True)
    assert "Les 1 dossier(s) inscrit(s) (proposés ou acceptés) restent rattachés" in html
    assert 'name="confirmation" value="oui" required' in html

    # no confirmation box, then no reason: nothing changes
    response = coordinator.post(f"{page}/annuler", {"reason": "grève"}, page=page)
    assert response.location == f"{page}#annuler"
    assert any("cochez la case" in m for m in _messages(coordinator, page))
    coordinator.post(f"{page}/annuler", {"confirmation": "oui"}, page=page)
    assert any(m.startswith("reason : ") for m in _messages(coordinator, page))
    db.session.refresh(session)
    assert session.status == "scheduled"

    response = coordinator.post(
        f"{page}/annuler", {"reason": "Grève des transports", "confirmation": "oui"}, page=page
    )
    assert response.location == page
    messages = _messages(coordinator, page)
    assert any(m.startswith("Séance annulée. 1 dossier(s) inscrit(s) restent") for m in messages)
    db.session.refresh(session)
    db.session.refresh(registration)
    assert (session.status, session.cancel_reason) == ("cancelled", "Grève des transports")
    assert registration.status == "proposed"  # kept, for the 3C to defer or refuse
    told = db.session.scalars(
        select(Notification).where(Notification.event == "session.cancelled")
    ).one()
    assert told.recipient_rpps == demo.PHYSICIAN and "Grève des transports" in told.message

    html = coordinator.get(page).get_data(as_text=True)
    assert "Séance annulée : Grève des transports" in html
    assert "Déplacer ou modifier" not in html and 'id="session-cancel-submit"' not in html
    assert "reportez-les à une autre séance ou refusez-les" in html
    assert f"d-{registration.id}-d" in html  # the decision form stays
    calendar = coordinator.get(
        f"/web/calendrier?du={session.starts_at.date().isoformat()}"
    ).get_data(as_text=True)
    assert "annulée" in calendar
    physician_page = web_client("medecin").get(page).get_data(as_text=True)
    assert "Séance annulée" in physician_page and "Inscrire le dossier" not in physician_page

    # cancelling twice: the service's conflict comes back
    coordinator.post(f"{page}/annuler", {"reason": "encore", "confirmation": "oui"}, page=page)
    assert f"La séance n° {session.id} est déjà annulée." in _messages(coordinator, page)


def test_a_regional_admin_cancels_a_session_of_the_region(web_client, open_sessions):
    session = open_sessions[1]
    page = f"/web/seances/{session.id}"
    admin = web_client("region")
    assert "Aucun dossier n'est inscrit à cette séance." in admin.get(page).get_data(True)
    admin.post(f"{page}/annuler", {"reason": "Congrès", "confirmation": "oui"}, page=page)
    assert "Séance annulée. Aucun dossier n'y était inscrit." in _messages(admin, page)
    db.session.refresh(session)
    assert session.status == "cancelled"


# --- withdrawing a dossier ----------------------------------------------------------------


def test_physician_withdraws_from_the_session_page_and_from_my_registrations(
    web_client, open_sessions
):
    session = open_sessions[0]
    physician = web_client("medecin")
    first = _register(physician, session.id, "DOS-RETRAIT-01")
    second = _register(physician, session.id, "DOS-RETRAIT-02")
    db.session.refresh(session)
    assert session.registered_count == 2
    page = f"/web/seances/{session.id}"
    html = physician.get(page).get_data(as_text=True)
    assert f'action="/web/inscriptions/{first.id}/retrait"' in html
    assert "Je confirme le retrait du dossier DOS-RETRAIT-01" in html

    # without the confirmation box nothing happens
    response = physician.post(
        f"/web/inscriptions/{first.id}/retrait", {"back": f"{page}#mes-dossiers"}, page=page
    )
    assert response.location == f"{page}#mes-dossiers"
    assert any("cochez la case" in m for m in _messages(physician, page))
    db.session.refresh(first)
    assert first.status == "proposed"

    response = physician.post(
        f"/web/inscriptions/{first.id}/retrait",
        {"back": f"{page}#mes-dossiers", "confirmation": "oui"},
        page=page,
    )
    assert response.location == f"{page}#mes-dossiers"
    assert "Dossier DOS-RETRAIT-01 retiré de la séance." in _messages(physician, page)
    db.session.refresh(first)
    assert first.status == "withdrawn"

    listing = physician.get("/web/mes-dossiers").get_data(as_text=True)
    assert f'action="/web/inscriptions/{second.id}/retrait"' in listing
    assert f'action="/web/inscriptions/{first.id}/retrait"' not in listing  # already withdrawn
    response = physician.post(
        f"/web/inscriptions/{second.id}/retrait",
        {"back": "//evil.example/", "confirmation": "oui"},
        page="/web/mes-dossiers",
    )
    assert response.location == "/web/mes-dossiers"  # no open redirect
    db.session.refresh(second)
    db.session.refresh(session)
    assert second.status == "withdrawn"
    assert session.registered_count == 0
    assert "retiré" in physician.get("/web/mes-dossiers").get_data(as_text=True)


def test_only_the_registering_physician_withdraws_before_the_deadline(web_client, open_sessions):
    session = open_sessions[0]
    registration = _register(web_client("medecin"), session.id, "DOS-RETRAIT-03")
    form = {"back": "/web/mes-dossiers", "confirmation": "oui"}
    path = f"/web/inscriptions/{registration.id}/retrait"

    other = web_client()
    other.sign_in_as(OTHER_PHYSICIAN, "Dr Maëlle Kervella")
    assert path not in other.get("/web/mes-dossiers").get_data(as_text=True)
    other.post(path, form, page="/web/mes-dossiers")
    assert "Seul le médecin qui a inscrit ce dossier peut le retirer." in _messages(
        other, "/web/mes-dossiers"
    )
    assert web_client("3c").post(path, form).status_code == 403
    db.session.refresh(registration)
    assert registration.status == "proposed"

    # past the deadline the form gives way to a hint, and the service refuses
    session.registration_deadline = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    physician = web_client("medecin")
    listing = physician.get("/web/mes-dossiers").get_data(as_text=True)
    assert path not in listing and "date limite passée" in listing
    assert path not in physician.get(f"/web/seances/{session.id}").get_data(as_text=True)
    physician.post(path, form, page="/web/mes-dossiers")
    assert "La date limite d'inscription est passée : adressez-vous au 3C." in _messages(
        physician, "/web/mes-dossiers"
    )
    db.session.refresh(registration)
    assert registration.status == "proposed"


# --- calendar feeds -----------------------------------------------------------------------


def _subscribe(client, **form):
    response = client.post("/web/abonnements", {"back": "/web/calendrier", **form})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_subscriptions_page_lists_my_feeds_and_revokes_one(web_client, open_sessions):
    physician = web_client("medecin")
    assert "Aucun abonnement actif." in physician.get("/web/abonnements").get_data(True)
    created = _subscribe(physician, region="53")
    url = re.search(r'id="feed-https" class="feed-url" readonly value="([^"]+)"', created)[1]
    _subscribe(physician, region="53", type="MED-251", visio="oui")
    feeds = db.session.scalars(select(FeedSubscription).order_by(FeedSubscription.id)).all()
    assert len(feeds) == 2
    assert 'id="feeds"' in created and "nouveau" in created

    listing = physician.get("/web/abonnements").get_data(as_text=True)
    assert "Mes abonnements actifs" in listing
    assert "une région : Bretagne" in listing and "une recherche du calendrier" in listing
    assert "type : " in listing and "visioconférence : oui" in listing
    assert agenda.datetime_label(feeds[0].created_at) in listing
    assert "webcal://" not in listing and "/feeds/" not in listing  # shown at creation only
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert physician.get(path).status_code == 200

    revoke = f"/web/abonnements/{feeds[0].id}/revocation"
    response = physician.post(revoke, {}, page="/web/abonnements")
    assert response.location == "/web/abonnements"
    assert any("cochez la case" in m for m in _messages(physician, "/web/abonnements"))
    assert physician.get(path).status_code == 200

    physician.post(revoke, {"confirmation": "oui"}, page="/web/abonnements")
    messages = _messages(physician, "/web/abonnements")
    assert any(m.startswith(f"Abonnement « {feeds[0].name} » révoqué") for m in messages)
    db.session.refresh(feeds[0])
    assert feeds[0].revoked_at is not None
    assert physician.get(path).status_code == 404
    listing = physician.get("/web/abonnements").get_data(as_text=True)
    assert revoke not in listing
    assert f"/web/abonnements/{feeds[1].id}/revocation" in listing


def test_a_user_cannot_revoke_or_see_another_users_feed(web_client, open_sessions):
    _subscribe(web_client("medecin"), region="53")
    feed = db.session.scalars(select(FeedSubscription)).one()
    db.session.commit()
    coordinator = web_client("3c")
    revoke = f"/web/abonnements/{feed.id}/revocation"
    assert revoke not in coordinator.get("/web/abonnements").get_data(as_text=True)
    coordinator.post(revoke, {"confirmation": "oui"}, page="/web/abonnements")
    assert "Ce lien d'abonnement appartient à un autre utilisateur." in _messages(
        coordinator, "/web/abonnements"
    )
    db.session.refresh(feed)
    assert feed.revoked_at is None


def test_the_subscriptions_page_and_revocation_need_a_sign_in(web_client):
    response = web_client().get("/web/abonnements")
    assert response.status_code == 302
    assert response.location.startswith("/web/connexion")
    anonymous = web_client()
    response = anonymous.post(
        "/web/abonnements/1/revocation", {"confirmation": "oui"}, page="/web/connexion"
    )
    assert response.location.startswith("/web/connexion")
