"""The referential pages: evaluation of a fiche (path, trace, citation) and, for administrators,
referentials by localisation, their versions with a readable diff, submit / approve / retire.

Forms are read with the API's schemas and every operation is a guidelines.services call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Blueprint, current_app, render_template, request, url_for
from werkzeug.wrappers import Response

from core.auth import Principal, Role
from core.terminology import geo
from guidelines import services as guidelines
from guidelines.models import Status
from guidelines.schemas import EvaluateSchema, NewDraftSchema, ReferentialQueryArgsSchema
from web import auth, trials

ADMINS = (Role.NATIONAL_ADMIN, Role.REGIONAL_ADMIN)
STATUS_LABELS = {
    "draft": "brouillon",
    "in_review": "en relecture",
    "active": "en vigueur",
    "retired": "retiré",
}
OUTCOME_LABELS = {"met": "rempli", "not_met": "non rempli", "indeterminate": "indéterminé"}
LEVEL_LABELS = {"national": "national", "regional": "régional", "interregional": "interrégional"}
ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "soumettre": (guidelines.submit_referential, "Version soumise à relecture."),
    "approuver": (guidelines.approve_referential, "Version approuvée : elle est en vigueur."),
    "retirer": (guidelines.retire_referential, "Version retirée."),
}


def register(blp: Blueprint, act: Callable[..., Response]) -> None:
    """Add the pages to the web blueprint; ``act`` runs a form action (commit, flash)."""
    blp.add_url_rule("/referentiels/evaluer", view_func=evaluate_page, endpoint="evaluate")
    blp.add_url_rule("/referentiels", view_func=referentials_page, endpoint="referentials")
    blp.add_url_rule(
        "/referentiels/<int:referential_id>", view_func=referential_page, endpoint="referential"
    )

    @auth.login_required(*ADMINS)
    def action(referential_id: int, verb: str, *, principal: Principal) -> Response:
        if verb not in ACTIONS:
            from flask import abort

            abort(404)
        function, success = ACTIONS[verb]
        return act(
            lambda: function(principal=principal, referential_id=referential_id),
            back=url_for("web.referential", referential_id=referential_id),
            success=success,
        )

    @auth.login_required(*ADMINS)
    def new_draft(referential_id: int, *, principal: Principal) -> Response:
        raw = {k: request.form[k].strip() for k in ("version", "changelog") if request.form.get(k)}

        def run() -> Any:
            data = NewDraftSchema().load(raw)
            return guidelines.start_draft(
                principal=principal, referential_id=referential_id, index=_index(), **data
            )

        return act(
            run,
            back=url_for("web.referential", referential_id=referential_id),
            success="Nouvelle version créée en brouillon.",
            then=lambda draft: url_for("web.referential", referential_id=draft.id),
        )

    blp.add_url_rule(
        "/referentiels/<int:referential_id>/nouvelle-version",
        view_func=new_draft,
        endpoint="referential_new_draft",
        methods=["POST"],
    )
    blp.add_url_rule(
        "/referentiels/<int:referential_id>/<verb>",
        view_func=action,
        endpoint="referential_action",
        methods=["POST"],
    )
    blp.add_app_template_filter(lambda v: STATUS_LABELS.get(v, v), "referential_status")
    blp.add_app_template_filter(lambda v: OUTCOME_LABELS.get(v, v), "outcome_label")
    blp.add_app_template_filter(lambda v: LEVEL_LABELS.get(v, v), "level_label")


def _index() -> Any:
    """The guidelines' search index (kept up to date by the services after commit)."""
    return current_app.extensions.get("guidelines_index")


@auth.login_required()
def evaluate_page(*, principal: Principal) -> str:
    """GET only: an evaluation changes nothing."""
    form = request.args
    submitted = form.get("evaluer") == "1"
    result: dict[str, Any] | None = None
    errors: list[str] = []
    if submitted:
        body = trials.fiche_from_form(form)
        body.pop("include_ineligible", None)
        if form.get("region"):
            body["region"] = form["region"]
        try:
            data = EvaluateSchema().load(body)
        except ma.ValidationError as error:
            errors = trials._messages(error.messages)
        else:
            result = guidelines.evaluate_fiche(
                principal=principal, fiche=data["fiche"], region=data["region"]
            )
    return render_template(
        "web/evaluate.html",
        form=form,
        submitted=submitted,
        errors=errors,
        result=result,
        regions=sorted(geo.REGIONS.items(), key=lambda kv: kv[1]),
        **trials.fiche_choices(),
    )


@auth.login_required()
def referentials_page(*, principal: Principal) -> str:
    raw = {k: v for k, v in request.args.items() if v and k in ("localisation", "status")}
    errors: list[str] = []
    try:
        args = ReferentialQueryArgsSchema().load({**raw, "page_size": 100})
    except ma.ValidationError as error:
        errors = trials._messages(error.messages)
        args = {"page": 1, "page_size": 100}
    rows, total = guidelines.list_referentials(
        principal=principal,
        localisation=args.get("localisation"),
        status=args.get("status"),
        page=args["page"],
        page_size=args["page_size"],
    )
    by_localisation: dict[str, list[Any]] = {}
    for row in rows:
        where = row.localisation_oncotree or row.localisation_cim10 or "autres"
        by_localisation.setdefault(where, []).append(row)
    return render_template(
        "web/referentials.html",
        groups=sorted(by_localisation.items()),
        total=total,
        errors=errors,
        args=request.args,
        statuses=[(s.value, STATUS_LABELS[s.value]) for s in Status],
    )


@auth.login_required()
def referential_page(referential_id: int, *, principal: Principal) -> str:
    referential = guidelines.get_referential(principal=principal, referential_id=referential_id)
    versions = guidelines.list_versions(principal=principal, referential_id=referential_id)
    changes = None
    against = request.args.get("comparer", "")
    if against.isdigit() or referential.supersedes_id is not None:
        changes = guidelines.diff_versions(
            principal=principal,
            referential_id=referential_id,
            against=int(against) if against.isdigit() else None,
        )
    return render_template(
        "web/referential.html",
        referential=referential,
        versions=versions,
        changes=changes,
        may_write=principal.role in ADMINS,
    )
