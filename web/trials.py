"""The trial search pages: a form built on the fiche RCP, results with per-criterion verdicts.

The form is read into the API's own request schema (TrialSearchSchema, whose fiche is
core.fiche.FicheSchema), and the search is trials.services.search_trials: the same rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Blueprint, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from core.auth import Principal
from core.fiche import BRAIN_METASTASES, METASTATIC_SITES, SEXES
from trials import services as trials
from trials.schemas import TrialSearchSchema
from web import auth

MAX_BIOMARKERS = 3
PAGE_SIZE = 20

VERDICT_LABELS = {
    "eligible": "éligible",
    "possibly_eligible": "éligibilité à confirmer",
    "ineligible": "non éligible",
}
RESULT_LABELS = {"met": "rempli", "not_met": "non rempli", "unknown": "inconnu"}
SITE_LABELS = {
    "brain": "cerveau",
    "liver": "foie",
    "bone": "os",
    "lung": "poumon",
    "lymph_node": "ganglions",
    "pleura": "plèvre",
    "peritoneum": "péritoine",
    "adrenal": "surrénales",
    "skin": "peau",
    "other": "autre",
}
SEX_LABELS = {"female": "femme", "male": "homme"}
BRAIN_LABELS = {"none": "aucune", "stable": "stables", "active": "évolutives"}


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/essais", view_func=search_page, endpoint="trials")
    blp.add_app_template_filter(lambda v: VERDICT_LABELS.get(v, v), "verdict_label")
    blp.add_app_template_filter(lambda v: RESULT_LABELS.get(v, v), "result_label")


def fiche_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The request body the API would get, from the form's flat fields (empty ones left out)."""

    def text(name: str) -> str | None:
        value = form.get(name, "").strip()
        return value or None

    def number(value: str | None) -> Any:
        """HTML forms send text; JSON sends numbers: convert what reads as one (the schema
        reports the rest)."""
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            try:
                return float(value.replace(",", "."))
            except ValueError:
                return value

    fiche: dict[str, Any] = {}
    for name in ("age", "performance_status", "prior_lines"):
        if text(name) is not None:
            fiche[name] = number(text(name))
    for name in ("sex", "brain_metastases", "phase"):
        if text(name):
            fiche[name] = text(name)
    diagnosis = {k: text(f"diagnosis_{k}") for k in ("oncotree_code", "cim10", "text")}
    diagnosis = {k: v for k, v in diagnosis.items() if v}
    if diagnosis:
        fiche["diagnosis"] = diagnosis
    if text("stage_group"):
        fiche["tnm"] = {"stage_group": text("stage_group")}
    biomarkers = []
    for index in range(MAX_BIOMARKERS):
        name = text(f"biomarker_{index}_name")
        if name:
            marker: dict[str, Any] = {"name": name}
            if text(f"biomarker_{index}_alteration"):
                marker["alteration"] = text(f"biomarker_{index}_alteration")
            if text(f"biomarker_{index}_status"):
                marker["status"] = text(f"biomarker_{index}_status")
            biomarkers.append(marker)
    if biomarkers:
        fiche["biomarkers"] = biomarkers
    sites = [s for s in form.getlist("metastatic_sites") if s]
    if sites:
        fiche["metastatic_sites"] = sites
    residence: dict[str, Any] = {k: text(k) for k in ("postal_code", "department")}
    residence["max_distance_km"] = number(text("max_distance_km"))
    residence = {k: v for k, v in residence.items() if v is not None}
    if residence:
        fiche["residence"] = residence
    body: dict[str, Any] = {"fiche": fiche}
    if form.get("include_ineligible") == "oui":
        body["include_ineligible"] = True
    return body


def _messages(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            out.extend(_messages(value, f"{prefix}{key}."))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix.rstrip('.')} : {m}" for m in messages]
    if isinstance(messages, list):
        return [m for item in messages for m in _messages(item, prefix)]
    return [str(messages)]


@auth.login_required()
def search_page(*, principal: Principal) -> str:
    """GET only: a search changes nothing (and the fiche carries no nominative data)."""
    form = request.args
    submitted = form.get("chercher") == "1"
    hits: list[Any] = []
    total = 0
    errors: list[str] = []
    page = max(1, min(int(form.get("page", "1")) if form.get("page", "").isdigit() else 1, 50))
    if submitted:
        try:
            search = TrialSearchSchema().load(fiche_from_form(form))
        except ma.ValidationError as error:
            errors = _messages(error.messages)
        else:
            hits, total = trials.search_trials(
                fiche=search["fiche"],
                index_dir=Path(current_app.extensions["dcc"].settings.index_dir),
                statuses=search["statuses"],
                phases=search["phases"],
                country=search["country"],
                max_distance_km=search["max_distance_km"],
                include_ineligible=search["include_ineligible"],
                page=page,
                page_size=PAGE_SIZE,
            )
    return render_template(
        "web/trials.html",
        form=form,
        submitted=submitted,
        errors=errors,
        hits=hits,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        **fiche_choices(),
    )


def fiche_choices() -> dict[str, Any]:
    """What the shared fiche fields (_fiche.html) offer."""
    return {
        "max_biomarkers": MAX_BIOMARKERS,
        "sexes": [(s, SEX_LABELS.get(s, s)) for s in SEXES],
        "metastatic_sites": [(s, SITE_LABELS.get(s, s)) for s in METASTATIC_SITES],
        "brain_options": [(s, BRAIN_LABELS.get(s, s)) for s in BRAIN_METASTASES],
    }
