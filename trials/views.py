"""The trial search API: search with a fiche, free-text list, one trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app
from flask.views import MethodView

from core.api import Blueprint, PaginationArgsSchema, page, page_of
from core.db import db
from trials import services
from trials.schemas import (
    TrialMatchSchema,
    TrialQueryArgsSchema,
    TrialSchema,
    TrialSearchSchema,
    TrialSummarySchema,
)

blp = Blueprint(
    "trials",
    __name__,
    url_prefix="/trials",
    description="Clinical-trial search: trials matched to a fiche, criterion by criterion.",
)

EVERY_ROLE = "any authenticated caller: trial registries are public data"


def _index_dir() -> Path:
    return Path(current_app.extensions["dcc"].settings.index_dir)


@blp.record_once
def _register_readiness(state: Any) -> None:
    index_dir = Path(state.app.extensions["dcc"].settings.index_dir)
    services.ensure_index(index_dir=index_dir)
    state.app.extensions["dcc"].readiness_checks["trials_index"] = lambda: services.index_readiness(
        index_dir=index_dir
    )


@blp.route("/search")
class TrialSearch(MethodView):
    @blp.auth(who=EVERY_ROLE)
    @blp.arguments(TrialSearchSchema)
    @blp.arguments(PaginationArgsSchema, location="query")
    @blp.response(200, page_of(TrialMatchSchema))
    @blp.alt_response(503, description="The search index is missing or damaged")
    def post(self, search: dict[str, Any], paging: dict[str, int]) -> dict[str, Any]:
        """Trials a patient may enter, ranked, with a verdict per criterion

        Ranks trials of the requested statuses (default: recruiting and not yet recruiting) by
        how well they fit the fiche: exact then broader tumour type (OncoTree), variant then
        gene, demographics, then text relevance. Each trial comes with an overall verdict
        (eligible, possibly_eligible, ineligible) and one line per criterion: met, not_met, or
        unknown when the fiche lacks the data, with the fiche value and the trial's evidence.
        Trials with a criterion not met are left out unless `include_ineligible` is true; they
        then come last with their reasons. Sites within the distance are listed nearest first.

        The index first narrows the registry to the 150 trials (or more, for later pages) that
        best match the fiche's tumour type, genes and variants, among those the status, phase
        and country filters allow; only these are assessed criterion by criterion, and `total`
        counts the ones kept. Without `include_ineligible`, trials whose age or sex criteria the
        fiche cannot meet are removed before that cut, so they never take a place; with it,
        they compete for the places on their index score and are ranked last.
        """
        hits, total = services.search_trials(
            fiche=search["fiche"],
            index_dir=_index_dir(),
            statuses=search["statuses"],
            phases=search["phases"],
            country=search["country"],
            max_distance_km=search["max_distance_km"],
            include_ineligible=search["include_ineligible"],
            page=paging["page"],
            page_size=paging["page_size"],
        )
        db.session.commit()
        return page(hits, total=total, **paging)


@blp.route("")
class Trials(MethodView):
    @blp.auth(who=EVERY_ROLE)
    @blp.arguments(TrialQueryArgsSchema, location="query")
    @blp.arguments(PaginationArgsSchema, location="query")
    @blp.response(200, page_of(TrialSummarySchema))
    @blp.alt_response(503, description="The search index is missing or damaged")
    def get(self, args: dict[str, Any], paging: dict[str, int]) -> dict[str, Any]:
        """Search trials by free text, with filters

        `q` is searched in titles, conditions (with tumour-type and gene synonyms, English and
        French) and criteria; results in relevance order. Without `q`, every trial matching the
        filters, by registry id.
        """
        trials, total = services.list_trials(
            index_dir=_index_dir(),
            text=args["q"],
            statuses=args["status"],
            phases=args["phase"],
            country=args["country"],
            page=paging["page"],
            page_size=paging["page_size"],
        )
        db.session.commit()
        return page(trials, total=total, **paging)


# At least 7 characters (registry ids have 11 to 17), so "/trials/search" is not a trial id.
@blp.route("/<string(minlength=7):trial_id>")
class TrialById(MethodView):
    @blp.auth(who=EVERY_ROLE)
    @blp.response(200, TrialSchema)
    @blp.alt_response(404, description="No trial with this registry id")
    def get(self, trial_id: str) -> Any:
        """One trial by NCT id or EU CT / EudraCT number

        With its structured criteria (each with its origin and evidence), the sentences left for
        review, and its sites.
        """
        trial = services.get_trial(trial_id=trial_id)
        db.session.commit()
        return trial
