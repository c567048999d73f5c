"""The web pages: sign-in, calendar and feeds, sessions, registrations and decisions, RCPs.

Each page reads the signed-in Principal and calls the planning services the API calls, with
the API's own schemas to read forms: the rules live in the domains, never here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from core.auth import Principal, Role
from core.db import db, utcnow
from core.errors import DomainError
from core.terminology import geo
from planning import kinds, notifications
from planning import services as planning
from planning.feeds import services as feeds
from planning.feeds.schemas import FeedCreateSchema
from planning.schemas import (
    AttendanceSchema,
    CancelSchema,
    DecisionSchema,
    PeriodSchema,
    RcpCreateSchema,
    RcpUpdateSchema,
    RegistrationCreateSchema,
    SessionUpdateSchema,
)
from web import agenda, auth, demo, guidelines, trials
from web import directory as directory_search
from web import messages as french

blp = Blueprint(
    "web",
    __name__,
    url_prefix="/web",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

trials.register(blp)

MANAGER_ROLES = (Role.NATIONAL_ADMIN, Role.REGIONAL_ADMIN, Role.COORDINATOR_3C)

STATUS_LABELS = {
    "proposed": "proposé",
    "accepted": "accepté",
    "deferred": "reporté",
    "refused": "refusé",
    "withdrawn": "retiré",
    "scheduled": "programmée",
    "cancelled": "annulée",
}
ATTENDANCE_LABELS = {"present": "présent", "excused": "excusé", "replaced": "remplacé"}
ROLE_LABELS = {
    "national_admin": "administrateur national",
    "regional_admin": "administrateur régional",
    "coordinator_3c": "3C",
    "physician": "médecin",
    "rcp_software": "logiciel RCP",
    "coordinator": "coordonnateur",
    "member": "membre",
    "guest": "invité",
}
PHASE_LABELS = {"initial": "prise en charge initiale", "relapse": "rechute"}


def _settings() -> Any:
    return current_app.extensions["dcc"].settings


# --- request policies ---------------------------------------------------------------------


@blp.before_request
def _csrf() -> None:
    if request.method == "POST":
        auth.check_csrf()


@blp.after_request
def _headers(response: Response) -> Response:
    # the pages load only their own assets; set before the app's default (setdefault) CSP
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blp.app_context_processor
def _globals() -> dict[str, Any]:
    return {
        "csrf_token": auth.csrf_token,
        "current_user": auth.current_user,
        "principal": auth.current_principal,
        "status_label": lambda s: STATUS_LABELS.get(s, s),
        "role_label": lambda r: ROLE_LABELS.get(r, r),
        "phase_label": lambda p: PHASE_LABELS.get(p, p),
        "attendance_label": lambda a: ATTENDANCE_LABELS.get(a or "", "non renseigné"),
        "kind_label": kinds.label_of,
        "region_label": lambda r: geo.REGIONS.get(r or "", r or ""),
        "when": agenda.datetime_label,
        "day_label": agenda.day_label,
        "time_label": agenda.time_label,
        "demo_enabled": lambda: not _settings().production,
    }


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    messages = {
        400: "Requête invalide.",
        403: "Cette page n'est pas accessible avec votre profil.",
        404: "Page introuvable.",
    }
    code = error.code or 500
    detail = error.description if code == 400 else messages.get(code, error.name)
    return render_template("web/error.html", code=code, detail=detail), code


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> tuple[str, int]:
    db.session.rollback()
    detail = french.refusal(error)
    return render_template("web/error.html", code=error.status, detail=detail), error.status


def _safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _act(
    action: Callable[[], Any],
    *,
    back: str,
    success: str | Callable[[Any], str],
    then: Callable[[Any], str] | None = None,
) -> Response:
    """Run one service call from a form: commit and flash success, or flash why not.

    On success, go to ``then(result)`` (default ``back``); on failure, back to the form.
    """
    try:
        result = action()
        db.session.commit()
    except ma.ValidationError as error:
        db.session.rollback()
        for message in _messages(error.messages):
            flash(message, "error")
        return redirect(back)  # type: ignore[return-value]
    except DomainError as error:
        db.session.rollback()
        flash(french.refusal(error), "error")
        for item in error.errors or ():
            flash(f"{item.get('field')} : {french.field_message(item.get('detail'))}", "error")
        return redirect(back)  # type: ignore[return-value]
    flash(success(result) if callable(success) else success, "success")
    return redirect(then(result) if then else back)  # type: ignore[return-value]


def _messages(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = f"{prefix}{key}" if key != "_schema" else prefix.rstrip(".")
            out.extend(_messages(value, f"{name}." if name else ""))
        return out
    if isinstance(messages, list):
        label = prefix.rstrip(".")
        return [
            f"{label} : {french.field_message(m)}" if label else french.field_message(m)
            for m in messages
        ]
    return [str(messages)]


def _form(*names: str) -> dict[str, Any]:
    """The non-empty fields of the posted form among ``names`` (schemas refuse the others)."""
    return {
        name: request.form[name].strip() for name in names if request.form.get(name, "").strip()
    }


# --- sign-in ------------------------------------------------------------------------------


@blp.route("/")
def index() -> Response:
    principal = auth.current_principal()
    if principal is None:
        return redirect(url_for("web.login"))  # type: ignore[return-value]
    return redirect(url_for("web.calendar"))  # type: ignore[return-value]


@blp.route("/connexion")
def login() -> str:
    settings = _settings()
    return render_template(
        "web/login.html",
        users=demo.USERS if not settings.production else [],
        oidc=auth.oidc_enabled(settings),
        next=_safe_next(request.args.get("next"), ""),
    )


@blp.route("/connexion/demo", methods=["POST"])
def login_demo() -> Response:
    if _settings().production:
        abort(404)
    user = demo.DEMO_USERS.get(request.form.get("user", ""))
    if user is None:
        abort(400, description="Utilisateur de démonstration inconnu.")
    auth.sign_in(user.principal(), user.label)
    flash(f"Connecté : {user.label}.", "success")
    return redirect(_safe_next(request.form.get("next"), url_for("web.home")))  # type: ignore[return-value]


@blp.route("/connexion/psc")
def login_oidc() -> Response:
    oauth = current_app.extensions.get("dcc_web_oauth")
    if oauth is None:
        abort(404)
    return oauth.psc.authorize_redirect(url_for("web.login_oidc_callback", _external=True))  # type: ignore[no-any-return]


@blp.route("/connexion/psc/retour")
def login_oidc_callback() -> Response:
    oauth = current_app.extensions.get("dcc_web_oauth")
    if oauth is None:
        abort(404)
    token = oauth.psc.authorize_access_token()
    claims = dict(token.get("userinfo") or {})
    if auth.rpps_from_claims(claims, _settings().oidc_rpps_claim) is None:
        claims.update(oauth.psc.userinfo(token=token))
    principal = auth.principal_from_oidc(claims, _settings())
    if principal is None:
        abort(403)
    label = " ".join(str(claims.get(k, "")) for k in ("given_name", "family_name")).strip()
    auth.sign_in(principal, label or f"RPPS {principal.rpps}")
    return redirect(url_for("web.home"))  # type: ignore[return-value]


@blp.route("/deconnexion", methods=["POST"])
def logout() -> Response:
    auth.sign_out()
    return redirect(url_for("web.login"))  # type: ignore[return-value]


@blp.route("/accueil")
@auth.login_required()
def home(*, principal: Principal) -> Response:
    if principal.role is Role.PHYSICIAN:
        return redirect(url_for("web.my_registrations"))  # type: ignore[return-value]
    if principal.role is Role.COORDINATOR_3C:
        return redirect(url_for("web.rcps"))  # type: ignore[return-value]
    return redirect(url_for("web.calendar"))  # type: ignore[return-value]


# --- calendar -----------------------------------------------------------------------------


def _tristate(value: str | None) -> bool | None:
    return {"oui": True, "non": False}.get(value or "")


@blp.route("/calendrier")
@auth.login_required()
def calendar(*, principal: Principal) -> str:
    args = request.args
    view = args.get("vue") if args.get("vue") in agenda.VIEWS else "liste"
    today = utcnow().astimezone(agenda.PARIS).date()
    anchor = agenda.parse_date(args.get("date"), today)
    if view == "liste":
        start = agenda.parse_date(args.get("du"), today)
        end = agenda.parse_date(args.get("au"), start + dt.timedelta(days=60)) + dt.timedelta(1)
    else:
        start, end = agenda.period(view, anchor)
        start -= dt.timedelta(days=start.weekday())
        end += dt.timedelta(days=(7 - end.weekday()) % 7)
    date_from, date_to = agenda.local_bounds(start, end)
    region = args.get("region") or None
    filters = planning.SessionFilters(
        region=region if region in geo.REGIONS else None,
        finess=(args.get("etablissement") or "").strip() or None,
        kind=args.get("type") or None,
        date_from=date_from,
        date_to=date_to,
        visio=_tristate(args.get("visio")),
        # "places": where a dossier can still go ("Trouver une séance pour inscrire un
        # dossier"), not a full session nor one whose deadline passed
        taking_dossiers_at=utcnow() if args.get("places") == "oui" else None,
    )
    sessions, total = planning.list_sessions(filters=filters, limit=500)
    places = planning.organizations_of(s.place_finess or s.rcp.host_finess for s in sessions)
    entries = [(s.starts_at, s) for s in sessions]
    grid = agenda.build_grid(view, anchor, entries) if view != "liste" else None
    query = {k: v for k, v in args.items() if k not in ("vue", "date")}
    return render_template(
        "web/calendar.html",
        view=view,
        grid=grid,
        days=agenda.group_by_day(entries) if view == "liste" else [],
        sessions=sessions,
        total=total,
        places=places,
        args=args,
        query=query,
        anchor=anchor,
        start=start,
        end=end - dt.timedelta(days=1),
        regions=sorted(geo.REGIONS.items(), key=lambda kv: kv[1]),
        kinds=sorted(kinds.catalogue().values(), key=lambda k: k.label),
    )


# --- sessions, registrations and decisions ------------------------------------------------


def _manages(principal: Principal, rcp: Any) -> bool:
    return principal.role in MANAGER_ROLES and principal.covers_establishment(
        rcp.host_finess, rcp.region
    )


@blp.route("/seances/<int:session_id>")
@auth.login_required()
def session_page(session_id: int, *, principal: Principal) -> str:
    session = planning.read_session(session_id=session_id)
    rcp = session.rcp
    manages = _manages(principal, rcp)
    people = planning.practitioners_of(
        [rcp.coordinator_rpps, rcp.substitute_rpps]
        + [p.rpps for p in session.participants]
        + [p.replaced_by_rpps for p in session.participants]
    )
    registrations: list[Any] = []
    targets: list[Any] = []
    if manages:
        registrations, _ = planning.list_registrations(
            principal=principal, session_id=session.id, limit=500
        )
        targets, _ = planning.list_sessions(
            filters=planning.SessionFilters(
                kind=rcp.kind_code, date_from=utcnow(), status=planning.SCHEDULED
            ),
            limit=30,
            include_quorum=False,
        )
        targets = [
            t
            for t in targets
            if t.id != session.id
            and principal.covers_establishment(t.rcp.host_finess, t.rcp.region)
        ]
    mine: list[Any] = []
    if principal.role is Role.PHYSICIAN:
        mine, _ = planning.list_registrations(principal=principal, session_id=session.id, limit=100)
    place = planning.organizations_of([session.place_finess]).get(session.place_finess or "")
    now = utcnow()
    return render_template(
        "web/session.html",
        local_start=session.starts_at.astimezone(agenda.PARIS),
        local_end=session.ends_at.astimezone(agenda.PARIS),
        session=session,
        rcp=rcp,
        host=rcp.host,
        place=place,
        people=people,
        manages=manages,
        registrations=registrations,
        targets=targets,
        mine=mine,
        can_register=principal.role is Role.PHYSICIAN
        and not session.cancelled
        and now < session.registration_deadline,
        started=session.starts_at <= now,
        deadline_passed=now >= session.registration_deadline,
    )


@blp.route("/seances/<int:session_id>/inscriptions", methods=["POST"])
@auth.login_required(Role.PHYSICIAN)
def register(session_id: int, *, principal: Principal) -> Response:
    fields = ("patient_ref", "tumour_code", "question", "phase", "wished_date")
    raw = _form(*fields)
    raw["patient_over_75"] = request.form.get("patient_over_75") == "oui"

    def action() -> None:
        data = RegistrationCreateSchema().load(raw)
        planning.register_dossier(principal=principal, session_id=session_id, data=data)

    return _act(
        action,
        back=url_for("web.session_page", session_id=session_id),
        success="Dossier inscrit : le 3C va statuer sur votre demande.",
    )


@blp.route("/inscriptions/<int:registration_id>/decision", methods=["POST"])
@auth.login_required(*MANAGER_ROLES)
def decide(registration_id: int, *, principal: Principal) -> Response:
    registration = planning.get_registration(principal=principal, registration_id=registration_id)
    raw = _form("decision", "reason", "target_session_id")
    if raw.get("decision") != "deferred":
        raw.pop("target_session_id", None)

    def action() -> None:
        data = DecisionSchema().load(raw)
        planning.decide_registration(
            principal=principal,
            registration_id=registration_id,
            decision=data["decision"],
            reason=data.get("reason"),
            target_session_id=data.get("target_session_id"),
        )

    labels = {"accepted": "accepté", "deferred": "reporté", "refused": "refusé"}
    return _act(
        action,
        back=url_for("web.session_page", session_id=registration.session_id) + "#dossiers",
        success=f"Dossier {registration.patient_ref} {labels.get(raw.get('decision', ''), '')}.",
    )


@blp.route("/seances/<int:session_id>/presences", methods=["POST"])
@auth.login_required(*MANAGER_ROLES)
def attendance(session_id: int, *, principal: Principal) -> Response:
    items = []
    for rpps in request.form.getlist("rpps"):
        value = request.form.get(f"presence-{rpps}", "")
        if not value:
            continue
        item: dict[str, Any] = {"rpps": rpps, "attendance": value}
        if value == "replaced":
            item["replaced_by_rpps"] = request.form.get(f"remplacant-{rpps}", "").strip()
        items.append(item)

    def action() -> None:
        data = AttendanceSchema().load({"items": items})
        planning.record_attendance(principal=principal, session_id=session_id, items=data["items"])

    return _act(
        action,
        back=url_for("web.session_page", session_id=session_id) + "#presences",
        success="Présences enregistrées.",
    )


def _confirmed(what: str) -> None:
    """Destructive actions carry a ticked confirmation box (``required`` in the page; checked
    here too, so that a form posted without it changes nothing)."""
    if request.form.get("confirmation") != "oui":
        raise ma.ValidationError({"confirmation": [f"cochez la case pour confirmer {what}."]})


def _local_instant(day: str | None, time: str | None, field: str) -> str:
    """An aware ISO instant from the form's Paris date and wall time (what the schemas read)."""
    try:
        date = dt.date.fromisoformat((day or "").strip())
        clock = dt.time.fromisoformat((time or "").strip())
    except ValueError:
        raise ma.ValidationError({field: ["date ou heure invalide."]}) from None
    return dt.datetime.combine(date, clock, agenda.PARIS).isoformat()


def _session_change_data() -> dict[str, Any]:
    """The session update asked for: new date and times, place, room and video link (emptied
    fields clear the value), and the revision the form was read at (a concurrent change wins)."""
    form = request.form
    raw: dict[str, Any] = {
        "starts_at": _local_instant(form.get("date"), form.get("start"), "starts_at"),
        "ends_at": _local_instant(form.get("date"), form.get("end"), "ends_at"),
    }
    for name in ("place_finess", "room", "visio_url"):
        raw[name] = form.get(name, "").strip() or None
    if form.get("revision", "").strip():
        raw["expected_revision"] = form["revision"].strip()
    return raw


@blp.route("/seances/<int:session_id>/modifier", methods=["POST"])
@auth.login_required(*MANAGER_ROLES)
def session_change(session_id: int, *, principal: Principal) -> Response:
    def action() -> Any:
        data = SessionUpdateSchema().load(_session_change_data())
        return planning.update_session(principal=principal, session_id=session_id, data=data)

    return _act(
        action,
        back=url_for("web.session_page", session_id=session_id) + "#modifier",
        success=lambda s: (
            f"Séance enregistrée : {agenda.datetime_label(s.starts_at)} – "
            f"{agenda.time_label(s.ends_at)}."
        ),
        then=lambda s: url_for("web.session_page", session_id=s.id),
    )


def _cancel_consequences(held: int) -> str:
    """What cancelling does to the dossiers of the session (``cancel_session``: they keep their
    status and their place; their physicians are notified; the 3C defers or refuses them)."""
    if not held:
        return " Aucun dossier n'y était inscrit."
    return (
        f" {held} dossier(s) inscrit(s) restent rattachés à la séance avec leur statut : "
        "les médecins qui les ont inscrits sont prévenus, et c'est au 3C de les reporter à "
        "une autre séance ou de les refuser."
    )


@blp.route("/seances/<int:session_id>/annuler", methods=["POST"])
@auth.login_required(*MANAGER_ROLES)
def session_cancel(session_id: int, *, principal: Principal) -> Response:
    def action() -> Any:
        _confirmed("l'annulation de la séance")
        data = CancelSchema().load(_form("reason"))
        return planning.cancel_session(
            principal=principal, session_id=session_id, reason=data["reason"]
        )

    return _act(
        action,
        back=url_for("web.session_page", session_id=session_id) + "#annuler",
        success=lambda s: "Séance annulée." + _cancel_consequences(s.registered_count),
        then=lambda s: url_for("web.session_page", session_id=s.id),
    )


@blp.route("/inscriptions/<int:registration_id>/retrait", methods=["POST"])
@auth.login_required(Role.PHYSICIAN)
def withdraw(registration_id: int, *, principal: Principal) -> Response:
    def action() -> Any:
        _confirmed("le retrait du dossier")
        return planning.withdraw_registration(principal=principal, registration_id=registration_id)

    return _act(
        action,
        back=_safe_next(request.form.get("back"), url_for("web.my_registrations")),
        success=lambda r: f"Dossier {r.patient_ref} retiré de la séance.",
    )


@blp.route("/mes-dossiers")
@auth.login_required(Role.PHYSICIAN)
def my_registrations(*, principal: Principal) -> str:
    registrations, _ = planning.list_registrations(principal=principal, limit=200)
    registrations.sort(key=lambda r: r.id, reverse=True)
    items, _, unread = notifications.list_notifications(principal=principal, limit=50)
    return render_template(
        "web/my_registrations.html",
        registrations=registrations,
        notifications=items,
        unread=unread,
        now=utcnow(),
    )


@blp.route("/notifications/<int:notification_id>/lue", methods=["POST"])
@auth.login_required(Role.PHYSICIAN)
def notification_read(notification_id: int, *, principal: Principal) -> Response:
    return _act(
        lambda: notifications.mark_read(principal=principal, notification_id=notification_id),
        back=url_for("web.my_registrations") + "#notifications",
        success="Notification marquée comme lue.",
    )


guidelines.register(blp, _act)


# --- the 3C's RCPs ------------------------------------------------------------------------


def _my_rcps(principal: Principal) -> list[Any]:
    if principal.role is Role.COORDINATOR_3C:
        out: list[Any] = []
        for finess in sorted(principal.finess):
            rows, _ = planning.list_rcps(finess=finess, limit=200)
            out.extend(rows)
        return out
    rows, _ = planning.list_rcps(
        region=None if principal.is_national else principal.region, limit=200
    )
    return rows


@blp.route("/rcp")
@auth.login_required(*MANAGER_ROLES)
def rcps(*, principal: Principal) -> str:
    rows = _my_rcps(principal)
    upcoming: dict[int, list[Any]] = {}
    for rcp in rows:
        sessions, _ = planning.list_sessions(
            filters=planning.SessionFilters(rcp_id=rcp.id, date_from=utcnow()),
            limit=4,
            include_quorum=False,
        )
        upcoming[rcp.id] = sessions
    pending, _ = planning.list_registrations(principal=principal, status="proposed", limit=200)
    return render_template("web/rcps.html", rcps=rows, upcoming=upcoming, pending=pending)


RCP_TEXT_FIELDS = (
    "title",
    "kind_code",
    "level",
    "three_c",
    "coordinator_rpps",
    "substitute_rpps",
    "min_physicians",
    "min_distinct_specialties",
    "place_finess",
    "room",
    "visio_url",
    "rrule",
    "recurrence_start",
    "start_time",
    "duration_minutes",
    "deadline_hours",
    "capacity",
)


def _rcp_form_data(*, create: bool) -> dict[str, Any]:
    raw = _form(*RCP_TEXT_FIELDS, *(("host_finess",) if create else ()))
    raw["members"] = [
        {"rpps": rpps.strip()} for rpps in request.form.getlist("members") if rpps.strip()
    ]
    raw["required_specialties"] = [
        s.strip() for s in request.form.get("required_specialties", "").split(",") if s.strip()
    ]
    raw["open_to_external"] = request.form.get("open_to_external") == "oui"
    raw["geriatrician_over_75"] = request.form.get("geriatrician_over_75") == "oui"
    if not create:
        raw["active"] = request.form.get("active") == "oui"
        for name in ("substitute_rpps", "visio_url", "room", "rrule", "three_c", "place_finess"):
            raw.setdefault(name, None)
    return raw


def _rcp_form(rcp: Any, principal: Principal, values: dict[str, Any] | None = None) -> str:
    people = planning.practitioners_of(
        [m.rpps for m in rcp.members] + [rcp.coordinator_rpps, rcp.substitute_rpps]
        if rcp is not None
        else []
    )
    return render_template(
        "web/rcp_form.html",
        rcp=rcp,
        people=people,
        kinds=sorted(kinds.catalogue().values(), key=lambda k: k.label),
        establishments=sorted(principal.finess),
        levels=planning.LEVELS,
    )


@blp.route("/rcp/nouvelle", methods=["GET", "POST"])
@auth.login_required(*MANAGER_ROLES)
def rcp_new(*, principal: Principal) -> Any:
    if request.method == "GET":
        return _rcp_form(None, principal)
    raw = _rcp_form_data(create=True)

    def action() -> Any:
        return planning.create_rcp(principal=principal, data=RcpCreateSchema().load(raw))

    return _act(
        action,
        back=url_for("web.rcp_new"),
        success="RCP créée.",
        then=lambda rcp: url_for("web.rcp_page", rcp_id=rcp.id),
    )


@blp.route("/rcp/<int:rcp_id>")
@auth.login_required(*MANAGER_ROLES)
def rcp_page(rcp_id: int, *, principal: Principal) -> str:
    rcp = planning.get_rcp(rcp_id=rcp_id)
    principal.require_establishment(rcp.host_finess, rcp.region, "this RCP")
    sessions, _ = planning.list_sessions(
        filters=planning.SessionFilters(rcp_id=rcp.id, date_from=utcnow() - dt.timedelta(days=31)),
        limit=100,
    )
    people = planning.practitioners_of(
        [m.rpps for m in rcp.members] + [rcp.coordinator_rpps, rcp.substitute_rpps]
    )
    today = utcnow().astimezone(agenda.PARIS).date()
    return render_template(
        "web/rcp.html",
        rcp=rcp,
        sessions=sessions,
        people=people,
        period_from=today,
        period_to=today + dt.timedelta(days=90),
    )


@blp.route("/rcp/<int:rcp_id>/modifier", methods=["GET", "POST"])
@auth.login_required(*MANAGER_ROLES)
def rcp_edit(rcp_id: int, *, principal: Principal) -> Any:
    rcp = planning.get_rcp(rcp_id=rcp_id)
    principal.require_establishment(rcp.host_finess, rcp.region, "this RCP")
    if request.method == "GET":
        return _rcp_form(rcp, principal)
    raw = _rcp_form_data(create=False)

    def action() -> Any:
        data = RcpUpdateSchema().load(raw)
        return planning.update_rcp(principal=principal, rcp_id=rcp_id, data=data)

    return _act(
        action,
        back=url_for("web.rcp_edit", rcp_id=rcp_id),
        success="RCP enregistrée.",
        then=lambda rcp: url_for("web.rcp_page", rcp_id=rcp.id),
    )


@blp.route("/rcp/<int:rcp_id>/planifier", methods=["POST"])
@auth.login_required(*MANAGER_ROLES)
def rcp_plan(rcp_id: int, *, principal: Principal) -> Response:
    def action() -> Any:
        period = PeriodSchema().load(_form("from", "to"))
        return planning.generate_sessions(
            principal=principal,
            rcp_id=rcp_id,
            period_start=period["from_"],
            period_end=period["to"],
        )

    return _act(
        action,
        back=url_for("web.rcp_page", rcp_id=rcp_id),
        success=lambda g: (
            f"{len(g.created)} séance(s) créée(s), {g.existing} déjà planifiée(s) sur la période."
        ),
    )


# --- calendar subscriptions ---------------------------------------------------------------


def _feed_data() -> dict[str, Any]:
    """The feed asked for: one RCP, or the calendar's filters (a region or establishment alone
    give that scope's feed; any other combination a search feed)."""
    form = request.form
    if form.get("rcp_id"):
        return {"scope": "rcp", "rcp_id": form["rcp_id"]}
    filters: dict[str, Any] = {}
    for field, name in (("region", "region"), ("etablissement", "finess"), ("type", "kind")):
        if form.get(field, "").strip():
            filters[name] = form[field].strip()
    visio = _tristate(form.get("visio"))
    if visio is not None:
        filters["visio"] = visio
    if form.get("places") == "oui":
        filters["has_capacity"] = True
    if list(filters) == ["region"]:
        return {"scope": "region", "region": filters["region"]}
    if list(filters) == ["finess"]:
        return {"scope": "establishment", "finess": filters["finess"]}
    if not filters:
        return {"scope": "search", "filters": {}, "name": "RCP (toutes)"}
    return {"scope": "search", "filters": filters}


FEED_SCOPE_LABELS = {
    "rcp": "une RCP",
    "establishment": "un établissement",
    "region": "une région",
    "practitioner": "un praticien",
    "search": "une recherche du calendrier",
}

FEED_FILTER_LABELS = {
    "region": "région",
    "department": "département",
    "finess": "établissement",
    "kind": "type",
    "rcp_id": "RCP",
    "from": "du",
    "to": "au",
    "visio": "visioconférence",
    "open_to_external": "ouverte aux autres établissements",
    "has_capacity": "places disponibles",
    "practitioner": "praticien",
    "status": "statut",
}


def _subscriptions_page(
    principal: Principal, *, created: Any = None, back: str | None = None
) -> str:
    items, total = feeds.list_feeds(principal=principal, limit=200)
    return render_template(
        "web/subscribe.html",
        created=created,
        back=back,
        feeds=items,
        total=total,
        scope_labels=FEED_SCOPE_LABELS,
        filter_labels=FEED_FILTER_LABELS,
    )


@blp.route("/abonnements", methods=["GET", "POST"])
@auth.login_required()
def subscribe(*, principal: Principal) -> Any:
    """GET: the caller's private feeds; POST: create one, and show its secret URL this once."""

    if request.method == "GET":
        return _subscriptions_page(principal)
    settings = _settings()
    site = feeds.Site(public_url=settings.public_url, contact_email=settings.smtp_from)
    back = _safe_next(request.form.get("back"), url_for("web.calendar"))
    try:
        data = FeedCreateSchema().load(_feed_data())
        created = feeds.create_feed(principal=principal, data=data, site=site)
        db.session.commit()
    except ma.ValidationError as error:
        db.session.rollback()
        for message in _messages(error.messages):
            flash(message, "error")
        return redirect(back)
    except DomainError as error:
        db.session.rollback()
        flash(french.refusal(error), "error")
        return redirect(back)
    # the token is shown this once: rendered directly, never put in a redirect or a flash
    return _subscriptions_page(principal, created=created, back=back)


@blp.route("/abonnements/<int:feed_id>/revocation", methods=["POST"])
@auth.login_required()
def unsubscribe(feed_id: int, *, principal: Principal) -> Response:
    def action() -> Any:
        _confirmed("la révocation du lien")
        return feeds.revoke_feed(principal=principal, feed_id=feed_id)

    return _act(
        action,
        back=url_for("web.subscribe"),
        success=lambda f: (
            f"Abonnement « {f.name} » révoqué : son lien ne donne plus accès au calendrier."
        ),
    )


# --- directory search-as-you-type ---------------------------------------------------------


@blp.route("/annuaire/professionnels")
@auth.login_required(*MANAGER_ROLES)
def search_practitioners(*, principal: Principal) -> Response:
    return jsonify(directory_search.search_practitioners(text=request.args.get("q", "")))


@blp.route("/annuaire/etablissements")
@auth.login_required(*MANAGER_ROLES)
def search_organizations(*, principal: Principal) -> Response:
    return jsonify(directory_search.search_organizations(text=request.args.get("q", "")))
