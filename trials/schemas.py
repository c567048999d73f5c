"""Request and response schemas of the trial search API."""

from __future__ import annotations

import marshmallow as ma

from core.api import Schema
from core.fiche import FicheSchema
from core.jsonfields import JSONBoolean, StrictFloat
from trials.importers import PHASES, STATUSES
from trials.services import DEFAULT_STATUSES


def _d(text: str) -> dict[str, str]:
    return {"description": text}


class TrialSearchSchema(Schema):
    """A fiche and the filters of a search."""

    fiche = ma.fields.Nested(FicheSchema, required=True, metadata=_d("The structured fiche RCP"))
    statuses = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STATUSES)),
        load_default=lambda: list(DEFAULT_STATUSES),
        metadata=_d("Overall statuses kept (default: RECRUITING, NOT_YET_RECRUITING)"),
    )
    phases = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PHASES)),
        load_default=list,
        metadata=_d("Phases kept (PHASE1, PHASE2...); empty: any"),
    )
    country = ma.fields.String(
        load_default=None, allow_none=True, metadata=_d("Only trials with a site in this country")
    )
    max_distance_km = StrictFloat(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=20000),
        metadata=_d(
            "Only trials with a site this close to the patient's residence (default: the fiche's "
            "residence.max_distance_km)"
        ),
    )
    include_ineligible = JSONBoolean(
        load_default=False,
        metadata=_d("Also return trials with a criterion not met (last, with the reasons)"),
    )


class TrialQueryArgsSchema(Schema):
    """Free-text search and filters of the trial list."""

    class Meta:
        unknown = ma.EXCLUDE  # pagination arguments share the query string

    q = ma.fields.String(
        load_default=None, metadata=_d("Free text (English or French): tumour, gene, drug...")
    )
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STATUSES)),
        load_default=list,
        metadata=_d("Overall statuses kept (repeatable); empty: any"),
    )
    phase = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PHASES)),
        load_default=list,
        metadata=_d("Phases kept (repeatable); empty: any"),
    )
    country = ma.fields.String(load_default=None, metadata=_d("Only trials with a site there"))


class SiteSchema(ma.Schema):
    facility = ma.fields.String(allow_none=True, metadata=_d("Facility name"))
    city = ma.fields.String(allow_none=True, metadata=_d("City"))
    postal_code = ma.fields.String(allow_none=True, metadata=_d("Postal code"))
    country = ma.fields.String(allow_none=True, metadata=_d("Country"))
    status = ma.fields.String(allow_none=True, metadata=_d("Recruitment status of the site"))
    finess = ma.fields.String(allow_none=True, metadata=_d("FINESS number, when known"))
    distance_km = ma.fields.Float(
        allow_none=True, metadata=_d("Distance from the patient's residence (km)")
    )


class TrialSummarySchema(ma.Schema):
    registry_id = ma.fields.String(metadata=_d("Registry id (NCT, EU CT number)"))
    nct_id = ma.fields.String(allow_none=True, metadata=_d("ClinicalTrials.gov id"))
    eu_ct_id = ma.fields.String(allow_none=True, metadata=_d("EU CT / EudraCT number"))
    brief_title = ma.fields.String(metadata=_d("Brief title"))
    overall_status = ma.fields.String(metadata=_d("Overall recruitment status"))
    phases = ma.fields.List(ma.fields.String(), metadata=_d("Phases"))
    conditions = ma.fields.List(ma.fields.String(), metadata=_d("Conditions as registered"))
    oncotree_codes = ma.fields.List(ma.fields.String(), metadata=_d("Tumour types (OncoTree)"))
    sponsor = ma.fields.String(allow_none=True, metadata=_d("Lead sponsor"))


class CriterionSchema(ma.Schema):
    kind = ma.fields.String(metadata=_d("age, sex, diagnosis, stage, biomarker, ..."))
    include = ma.fields.Boolean(metadata=_d("False when the trial excludes what it describes"))
    origin = ma.fields.String(metadata=_d("registry, ctml or extracted"))
    evidence = ma.fields.String(metadata=_d("Registry field or criteria sentence"))
    parameters = ma.fields.Method(
        "_parameters", metadata=_d("The criterion's values (bounds, codes, genes...)")
    )

    def _parameters(self, criterion: dict) -> dict:
        skip = {"kind", "include", "origin", "evidence"}
        return {k: v for k, v in criterion.items() if k not in skip}


class ReviewSentenceSchema(ma.Schema):
    section = ma.fields.String(metadata=_d("inclusion or exclusion"))
    text = ma.fields.String(metadata=_d("A criteria sentence no rule recognised"))


class TrialSchema(TrialSummarySchema):
    official_title = ma.fields.String(allow_none=True, metadata=_d("Official title"))
    summary = ma.fields.String(allow_none=True, metadata=_d("Brief summary"))
    study_type = ma.fields.String(allow_none=True, metadata=_d("INTERVENTIONAL, OBSERVATIONAL"))
    keywords = ma.fields.List(ma.fields.String(), metadata=_d("Keywords"))
    interventions = ma.fields.List(ma.fields.Dict(), metadata=_d("Interventions {type, name}"))
    start_date = ma.fields.String(allow_none=True, metadata=_d("Start date"))
    completion_date = ma.fields.String(allow_none=True, metadata=_d("Completion date"))
    sex = ma.fields.String(metadata=_d("ALL, FEMALE or MALE"))
    min_age_years = ma.fields.Float(allow_none=True, metadata=_d("Minimum age; null: no bound"))
    max_age_years = ma.fields.Float(allow_none=True, metadata=_d("Maximum age; null: no bound"))
    healthy_volunteers = ma.fields.Boolean(allow_none=True, metadata=_d("Accepts healthy"))
    inclusion_text = ma.fields.String(allow_none=True, metadata=_d("Inclusion criteria text"))
    exclusion_text = ma.fields.String(allow_none=True, metadata=_d("Exclusion criteria text"))
    criteria = ma.fields.List(
        ma.fields.Nested(CriterionSchema), metadata=_d("Structured criteria with their origin")
    )
    needs_review = ma.fields.List(
        ma.fields.Nested(ReviewSentenceSchema), metadata=_d("Sentences left for human review")
    )
    curated_arms = ma.fields.Method(
        "_arms", metadata=_d("CTML arms {label, open} when curated criteria exist")
    )
    sites = ma.fields.List(ma.fields.Nested(SiteSchema), metadata=_d("Sites"))

    def _arms(self, trial: object) -> list[dict]:
        return [{"label": a.get("label"), "open": a.get("open")} for a in trial.ctml_arms or []]


class CriterionResultSchema(ma.Schema):
    kind = ma.fields.String(metadata=_d("Kind of criterion"))
    label = ma.fields.String(metadata=_d("What the trial asks, in words"))
    result = ma.fields.String(metadata=_d("met, not_met or unknown (the fiche lacks the data)"))
    fiche_value = ma.fields.String(allow_none=True, metadata=_d("The fiche's value used"))
    evidence = ma.fields.String(metadata=_d("Registry field or criteria sentence"))
    origin = ma.fields.String(metadata=_d("registry, ctml or extracted"))


class TrialMatchSchema(ma.Schema):
    trial = ma.fields.Nested(TrialSummarySchema, metadata=_d("The trial"))
    verdict = ma.fields.String(metadata=_d("eligible, possibly_eligible or ineligible"))
    score = ma.fields.Float(metadata=_d("Ranking score (fit, then text relevance)"))
    criteria = ma.fields.List(
        ma.fields.Nested(CriterionResultSchema), metadata=_d("One line per criterion")
    )
    reasons = ma.fields.List(
        ma.fields.String(), metadata=_d("Why the trial is ineligible (criteria not met)")
    )
    sites = ma.fields.List(
        ma.fields.Nested(SiteSchema), metadata=_d("Sites, nearest first (within the distance)")
    )
