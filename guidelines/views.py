"""HTTP API of the guidelines domain: referentials, their workflow, evaluation and CDS Hooks."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Flask, current_app
from flask.views import MethodView

from core.api import Blueprint, page, page_of
from core.auth import Role, current_principal
from core.db import db
from guidelines import cdshooks, services
from guidelines.index import GuidelineIndex
from guidelines.schemas import (
    CdsFeedbackResultSchema,
    CdsFeedbackSchema,
    CdsRequestSchema,
    CdsResponseSchema,
    CdsServicesSchema,
    DiffArgsSchema,
    DiffSchema,
    EvaluateSchema,
    EvaluationSchema,
    ExportSchema,
    ImportSchema,
    NewDraftSchema,
    ReferentialQueryArgsSchema,
    ReferentialSchema,
    ReferentialSummarySchema,
    ReferentialUpdateSchema,
    ReferentialWriteSchema,
)

blp = Blueprint(
    "guidelines",
    __name__,
    description="National and regional guideline referentials, evaluated against a fiche RCP.",
)

ADMINS = (Role.NATIONAL_ADMIN, Role.REGIONAL_ADMIN)
WRITERS = "national admins write every referential; regional admins only those of their own region"
READERS = "every role reads active and retired versions; drafts only their administrators"


@blp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    index = GuidelineIndex(app.extensions["dcc"].settings.index_dir / "guidelines")
    with contextlib.suppress(OSError):  # readiness reports an unusable index directory
        index.store.create_empty()  # a fresh installation has nothing to index yet
    app.extensions["guidelines_index"] = index
    app.extensions["dcc"].readiness_checks["guidelines_index"] = index.check


def _index() -> GuidelineIndex:
    # A lost index is not silently recreated empty (searches would answer nothing and
    # readiness turn green): it stays missing, searches answer 503, until the reindex command.
    index: GuidelineIndex = current_app.extensions["guidelines_index"]
    return index


@blp.route("/guidelines/referentials")
class Referentials(MethodView):
    @blp.auth(who=READERS)
    @blp.arguments(ReferentialQueryArgsSchema, location="query")
    @blp.response(200, page_of(ReferentialSummarySchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search referential versions

        `q` is a full-text query (French analysis: accents, plurals and case folded) over
        titles, texts and rationales; `localisation` takes an OncoTree code and matches
        referentials on that code, its ancestors and its descendants; `region` keeps that
        region's referentials and the national ones.
        """
        items, total = services.list_referentials(
            principal=current_principal(), index=_index() if args.get("q") else None, **args
        )
        return page(items, total=total, page=args["page"], page_size=args["page_size"])

    @blp.auth(*ADMINS, who=WRITERS)
    @blp.arguments(ReferentialWriteSchema)
    @blp.response(201, ReferentialSchema)
    @blp.alt_response(409, description="This key already has that version, or a draft")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a draft referential version

        The decision tree and its criteria are validated: a faulty node is reported with its
        JSON pointer (e.g. `/tree/children/0/criteria/all/1/op`).
        """
        referential = services.create_referential(
            principal=current_principal(), data=data, index=_index()
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/import")
class ReferentialImport(MethodView):
    @blp.auth(*ADMINS, who=WRITERS)
    @blp.arguments(ImportSchema)
    @blp.response(201, ReferentialSchema)
    @blp.alt_response(409, description="This key already has that version, or a draft")
    def post(self, document: dict[str, Any]) -> Any:
        """Import an exported referential version as a draft

        The body is one file produced by the export operation; its lifecycle (status,
        approvals) is not imported: the version goes through review again.
        """
        referential = services.import_referential(
            principal=current_principal(), document=document, index=_index()
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/<int:referential_id>")
class ReferentialById(MethodView):
    @blp.auth(who=READERS)
    @blp.response(200, ReferentialSchema)
    def get(self, referential_id: int) -> Any:
        """Read a referential version with its decision tree"""
        return services.get_referential(
            principal=current_principal(), referential_id=referential_id
        )

    @blp.auth(*ADMINS, who=WRITERS)
    @blp.arguments(ReferentialUpdateSchema(partial=True))
    @blp.response(200, ReferentialSchema)
    @blp.alt_response(409, description="The version is not a draft: start a new draft")
    def patch(self, changes: dict[str, Any], referential_id: int) -> Any:
        """Edit a draft

        Versions in review, active or retired are immutable (409): start a new draft.
        """
        referential = services.update_draft(
            principal=current_principal(),
            referential_id=referential_id,
            changes=changes,
            index=_index(),
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/<int:referential_id>/drafts")
class ReferentialDrafts(MethodView):
    @blp.auth(*ADMINS, who=WRITERS)
    @blp.arguments(NewDraftSchema)
    @blp.response(201, ReferentialSchema)
    @blp.alt_response(409, description="A version is already in preparation")
    def post(self, data: dict[str, Any], referential_id: int) -> Any:
        """Start a new draft version from this one

        The draft copies this version's content and supersedes the active version once
        approved.
        """
        referential = services.start_draft(
            principal=current_principal(), referential_id=referential_id, index=_index(), **data
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/<int:referential_id>/submit")
class ReferentialSubmit(MethodView):
    @blp.auth(*ADMINS, who=WRITERS)
    @blp.response(200, ReferentialSchema)
    @blp.alt_response(409, description="Only a draft can be submitted")
    def post(self, referential_id: int) -> Any:
        """Submit a draft for review (recorded with who and when)"""
        referential = services.submit_referential(
            principal=current_principal(), referential_id=referential_id
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/<int:referential_id>/approve")
class ReferentialApprove(MethodView):
    @blp.auth(*ADMINS, who=WRITERS + "; never the version's author")
    @blp.response(200, ReferentialSchema)
    @blp.alt_response(409, description="Only a version in review can be approved")
    def post(self, referential_id: int) -> Any:
        """Approve a version in review: it becomes active

        The approver must not be the author. The previously active version of the same
        referential is retired, its effective period ending where this one's starts.
        """
        referential = services.approve_referential(
            principal=current_principal(), referential_id=referential_id
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/<int:referential_id>/retire")
class ReferentialRetire(MethodView):
    @blp.auth(*ADMINS, who=WRITERS)
    @blp.response(200, ReferentialSchema)
    @blp.alt_response(409, description="Only an active version can be retired")
    def post(self, referential_id: int) -> Any:
        """Retire an active version (it stays readable and replayable with as_of)"""
        referential = services.retire_referential(
            principal=current_principal(), referential_id=referential_id
        )
        db.session.commit()
        return referential


@blp.route("/guidelines/referentials/<int:referential_id>/versions")
class ReferentialVersions(MethodView):
    @blp.auth(who=READERS)
    @blp.response(200, ReferentialSummarySchema(many=True))
    def get(self, referential_id: int) -> Any:
        """List every version of this referential, newest first"""
        return services.list_versions(principal=current_principal(), referential_id=referential_id)


@blp.route("/guidelines/referentials/<int:referential_id>/diff")
class ReferentialDiff(MethodView):
    @blp.auth(who=READERS)
    @blp.arguments(DiffArgsSchema, location="query")
    @blp.response(200, DiffSchema)
    def get(self, args: dict[str, Any], referential_id: int) -> Any:
        """Compare this version with another (default: the one it supersedes)"""
        return services.diff_versions(
            principal=current_principal(), referential_id=referential_id, **args
        )


@blp.route("/guidelines/referentials/<int:referential_id>/export")
class ReferentialExport(MethodView):
    @blp.auth(who=READERS)
    @blp.response(200, ExportSchema)
    def get(self, referential_id: int) -> Any:
        """Export a version as one JSON file (the import operation reads it back)"""
        document = services.export_referential(
            principal=current_principal(), referential_id=referential_id
        )
        content = document["referential"]
        filename = f"{content['key']}-{content['version']}.json"
        return document, 200, {"Content-Disposition": f'attachment; filename="{filename}"'}


@blp.route("/guidelines/referentials/<int:referential_id>/fhir")
class ReferentialFhir(MethodView):
    @blp.auth(who=READERS)
    @blp.response(200)
    def get(self, referential_id: int) -> Any:
        """Export a version as FHIR R4 PlanDefinitions (CPG-on-FHIR)

        A collection Bundle: the strategy (workflow-definition) mirroring the decision tree,
        then one recommendation definition (eca-rule) per recommendation, whose applicability
        condition is the conjunction of the criteria on its path.
        """
        return services.plan_definitions(
            principal=current_principal(), referential_id=referential_id
        )


@blp.route("/guidelines/evaluate")
class Evaluate(MethodView):
    @blp.auth(who="every role")
    @blp.arguments(EvaluateSchema)
    @blp.response(200, EvaluationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Evaluate a fiche against the referentials in force

        Returns the national and the regional (patient's region) referentials side by side,
        never merged. Each applicable recommendation carries its path from the localisation,
        the trace of every criterion (met / not met / indeterminate), the fiche fields whose
        absence left it indeterminate, and the citation to record in the fiche RCP.
        `as_of` replays the versions in force on a past RCP date.
        """
        return services.evaluate_fiche(principal=current_principal(), **data)


@blp.route("/cds-services")
class CdsServices(MethodView):
    @blp.public
    @blp.response(200, CdsServicesSchema)
    def get(self) -> Any:
        """CDS Hooks 2.0 discovery"""
        return {"services": cdshooks.SERVICES}


@blp.route("/cds-services/<service_id>")
class CdsService(MethodView):
    @blp.auth(who="every role (RCP software with its client-credentials token)")
    @blp.arguments(CdsRequestSchema)
    @blp.response(200, CdsResponseSchema)
    def post(self, request: dict[str, Any], service_id: str) -> Any:
        """Call the guidelines CDS service with a fiche in `context.fiche`

        Answers one card per applicable recommendation: summary under 140 characters,
        markdown detail with the path, missing data and criteria met, indicator `warning`
        when applicability is indeterminate, and the citation as the card's source.
        """
        return services.cds_call(
            principal=current_principal(), service_id=service_id, request=request
        )


@blp.route("/cds-services/<service_id>/feedback")
class CdsFeedback(MethodView):
    @blp.auth(who="every role")
    @blp.arguments(CdsFeedbackSchema)
    @blp.response(200, CdsFeedbackResultSchema)
    def post(self, data: dict[str, Any], service_id: str) -> Any:
        """Record the outcome of cards (accepted or overridden, with the reason)"""
        recorded = services.record_cds_feedback(
            principal=current_principal(), service_id=service_id, items=data["feedback"]
        )
        db.session.commit()
        return {"recorded": recorded}
