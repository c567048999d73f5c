"""Request and response schemas of the guidelines API (referentials, evaluation, CDS Hooks)."""

from __future__ import annotations

import marshmallow as ma

from core.api import PaginationArgsSchema, Schema
from core.fiche import FicheSchema
from guidelines.models import OwnerLevel, Status

F = ma.fields
V = ma.validate

EXPORT_FORMAT = "dcc-guidelines-referential/1"


def _d(text: str, **extra: object) -> dict[str, object]:
    return {"description": text, **extra}


class ReferentialWriteSchema(Schema):
    """The editable content of a referential version (body of create, import and edit)."""

    key = F.String(
        required=True,
        validate=V.Regexp(r"^[a-z0-9][a-z0-9\-]{1,118}$"),
        metadata=_d("Stable identifier shared by every version, e.g. inca-poumon-cbnpc"),
    )
    version = F.String(
        required=True,
        validate=V.Length(min=1, max=40),
        metadata=_d("Version label, e.g. 2025.1"),
    )
    title = F.String(required=True, validate=V.Length(min=3, max=300), metadata=_d("Title"))
    summary = F.String(load_default="", metadata=_d("Short presentation (markdown)"))
    localisation_oncotree = F.String(
        allow_none=True,
        load_default=None,
        metadata=_d("OncoTree code of the localisation (fiches whose tumour is_a it match)"),
    )
    localisation_cim10 = F.String(
        allow_none=True,
        load_default=None,
        metadata=_d("CIM-10 code or range of the localisation, e.g. C33-C34"),
    )
    organ_code = F.String(
        allow_none=True, load_default=None, metadata=_d("RCP organ code (JDV_RCP_Organe)")
    )
    owner_level = F.String(
        required=True,
        validate=V.OneOf([o.value for o in OwnerLevel]),
        metadata=_d("national, regional or interregional"),
    )
    owner_org = F.String(
        required=True,
        validate=V.Length(min=2, max=200),
        metadata=_d("Owning organisation: INCa, or a regional cancer network (DSRC)"),
    )
    region = F.String(
        allow_none=True,
        load_default=None,
        validate=V.Regexp(r"^\d{2}$"),
        metadata=_d("Owning region (INSEE code) of a regional or interregional referential"),
    )
    regions = F.List(
        F.String(validate=V.Regexp(r"^\d{2}$")),
        load_default=list,
        metadata=_d("Regions an interregional referential applies to"),
    )
    effective_from = F.Date(
        allow_none=True, load_default=None, metadata=_d("First day it applies (default: approval)")
    )
    effective_to = F.Date(
        allow_none=True, load_default=None, metadata=_d("Day it stops applying (exclusive)")
    )
    next_review_due = F.Date(allow_none=True, load_default=None, metadata=_d("Next review due"))
    derived_from = F.String(
        allow_none=True,
        load_default=None,
        metadata=_d("Key of the referential this one adapts (e.g. the national one)"),
    )
    source_url = F.String(
        allow_none=True,
        load_default=None,
        validate=[V.Length(max=500), V.Regexp(r"^https?://[^\s]+$")],
        metadata=_d("Published source (http or https URL)"),
    )
    authors = F.List(F.String(), load_default=list, metadata=_d("Working group members"))
    validators = F.List(F.String(), load_default=list, metadata=_d("Reading committee"))
    changelog = F.String(load_default="", metadata=_d("What changed in this version"))
    tree = F.Dict(
        required=True,
        metadata=_d(
            "Decision tree: the root node {id, kind, title, text, rationale, criteria, "
            "children}; see the criteria language in the documentation"
        ),
    )


class ReferentialUpdateSchema(ReferentialWriteSchema):
    """Fields to change on a draft (key and version cannot change)."""

    class Meta:
        exclude = ("key",)


class NewDraftSchema(Schema):
    """A new draft version started from an existing version."""

    version = F.String(
        required=True, validate=V.Length(min=1, max=40), metadata=_d("The new version label")
    )
    changelog = F.String(load_default="", metadata=_d("What this version will change"))


class ImportSchema(Schema):
    """One exported file: a referential version (imported as a draft)."""

    format = F.String(
        required=True, validate=V.Equal(EXPORT_FORMAT), metadata=_d(f"Always {EXPORT_FORMAT}")
    )
    referential = F.Nested(ReferentialWriteSchema, required=True, metadata=_d("The content"))
    lifecycle = F.Dict(
        load_default=dict, metadata=_d("Lifecycle of the exported version (informative)")
    )


class ExportSchema(ma.Schema):
    """One exported version (the body the import operation takes)."""

    format = F.String(metadata=_d(f"Always {EXPORT_FORMAT}"))
    referential = F.Dict(metadata=_d("The content, as in the create operation"))
    lifecycle = F.Dict(metadata=_d("Status, who submitted / approved / retired it and when"))


class ReferentialSummarySchema(ma.Schema):
    """A referential version as listed."""

    id = F.Integer(metadata=_d("Version identifier"))
    key = F.String(metadata=_d("Stable identifier shared by every version"))
    version = F.String(metadata=_d("Version label"))
    title = F.String(metadata=_d("Title"))
    localisation_oncotree = F.String(
        allow_none=True, metadata=_d("OncoTree code of the localisation")
    )
    localisation_cim10 = F.String(allow_none=True, metadata=_d("CIM-10 range of the localisation"))
    owner_level = F.String(metadata=_d("national, regional or interregional"))
    owner_org = F.String(metadata=_d("Owning organisation"))
    region = F.String(allow_none=True, metadata=_d("Owning region"))
    status = F.String(metadata=_d("draft, in_review, active or retired"))
    effective_from = F.Date(allow_none=True, metadata=_d("First day it applies"))
    effective_to = F.Date(allow_none=True, metadata=_d("Day it stops applying"))
    citation = F.String(metadata=_d("Citation to record in the fiche RCP"))


class ReferentialSchema(ReferentialSummarySchema):
    """A referential version in full, with its lifecycle and decision tree."""

    summary = F.String(metadata=_d("Short presentation"))
    organ_code = F.String(allow_none=True, metadata=_d("RCP organ code"))
    regions = F.List(F.String(), metadata=_d("Regions an interregional referential covers"))
    next_review_due = F.Date(allow_none=True, metadata=_d("Next review due"))
    supersedes_id = F.Integer(allow_none=True, metadata=_d("Version this one supersedes"))
    derived_from = F.String(allow_none=True, metadata=_d("Key of the referential this one adapts"))
    source_url = F.String(allow_none=True, metadata=_d("Published source"))
    authors = F.List(F.String(), metadata=_d("Working group"))
    validators = F.List(F.String(), metadata=_d("Reading committee"))
    changelog = F.String(metadata=_d("What changed in this version"))
    created_by = F.String(metadata=_d("Author (token subject)"))
    submitted_by = F.String(allow_none=True, metadata=_d("Who submitted it for review"))
    submitted_at = F.DateTime(allow_none=True, metadata=_d("When it was submitted"))
    approved_by = F.String(allow_none=True, metadata=_d("Who approved it"))
    approved_at = F.DateTime(allow_none=True, metadata=_d("When it was approved"))
    retired_by = F.String(allow_none=True, metadata=_d("Who retired it"))
    retired_at = F.DateTime(allow_none=True, metadata=_d("When it was retired"))
    created_at = F.DateTime(metadata=_d("Creation instant"))
    updated_at = F.DateTime(metadata=_d("Last change"))
    tree = F.Dict(metadata=_d("Decision tree"))


class ReferentialQueryArgsSchema(PaginationArgsSchema):
    """Filters of the referential list."""

    q = F.String(
        validate=[V.Length(max=500), V.Regexp(r"^[^\x00]*$")],
        metadata=_d("Full-text query (French analysis: accents and plurals folded)"),
    )
    localisation = F.String(
        validate=V.Regexp(r"^[A-Za-z0-9_]{1,20}$"),
        metadata=_d("OncoTree code: referentials whose localisation contains it or is under it"),
    )
    region = F.String(
        validate=V.Regexp(r"^\d{2}$"),
        metadata=_d("Region: its own referentials and the national ones"),
    )
    status = F.String(validate=V.OneOf([s.value for s in Status]), metadata=_d("Lifecycle status"))
    key = F.String(
        validate=V.Regexp(r"^[a-z0-9][a-z0-9\-]{1,118}$"),
        metadata=_d("Every version of one referential"),
    )


class DiffArgsSchema(Schema):
    """Which version to compare with."""

    against = F.Integer(
        metadata=_d("Version id to compare with (default: the version this one supersedes)")
    )


class DiffSchema(ma.Schema):
    """A readable diff between two versions."""

    from_id = F.Integer(metadata=_d("Older version id"))
    to_id = F.Integer(metadata=_d("Newer version id"))
    changes = F.List(F.Dict(), metadata=_d("Each change: kind, where, before, after"))
    text = F.String(metadata=_d("The changes as readable lines"))


class EvaluateSchema(Schema):
    """A fiche to evaluate, the patient's region and the date to evaluate at."""

    fiche = F.Nested(FicheSchema, required=True, metadata=_d("The structured fiche RCP"))
    region = F.String(
        allow_none=True,
        load_default=None,
        validate=V.Regexp(r"^\d{2}$"),
        metadata=_d("Patient's region (INSEE code): its regional referentials are returned"),
    )
    as_of = F.Date(
        allow_none=True,
        load_default=None,
        metadata=_d("Evaluate against the versions in force that day (default: today)"),
    )


class EvaluatedRecommendationSchema(ma.Schema):
    node_id = F.String(metadata=_d("Node identifier in the tree"))
    title = F.String(metadata=_d("Recommendation title"))
    text = F.String(metadata=_d("Recommendation text (markdown)"))
    rationale = F.String(metadata=_d("Rationale"))
    treatment_type = F.String(
        allow_none=True, metadata=_d("Treatment type (CI-SIS JDV_TypeTraitement_FRCP)")
    )
    intent = F.String(
        allow_none=True, metadata=_d("curative, adjuvant, neoadjuvant, palliative, surveillance")
    )
    category = F.String(allow_none=True, metadata=_d("standard, option or clinical_trial"))
    strength = F.String(allow_none=True, metadata=_d("Strength of recommendation"))
    evidence_level = F.String(allow_none=True, metadata=_d("Level of evidence"))
    references = F.List(F.Dict(), metadata=_d("Bibliographic references"))
    outcome = F.String(metadata=_d("met, or indeterminate (data missing)"))
    path = F.List(F.Dict(), metadata=_d("Nodes from the localisation to this recommendation"))
    trace = F.List(F.Dict(), metadata=_d("Every criterion evaluated on the path, with outcome"))
    missing_fields = F.List(F.String(), metadata=_d("Fiche fields whose absence left it open"))


class EvaluatedReferentialSchema(ma.Schema):
    id = F.Integer(metadata=_d("Version identifier"))
    key = F.String(metadata=_d("Referential key"))
    version = F.String(metadata=_d("Version label"))
    title = F.String(metadata=_d("Title"))
    owner_level = F.String(metadata=_d("national, regional or interregional"))
    owner_org = F.String(metadata=_d("Owning organisation"))
    region = F.String(allow_none=True, metadata=_d("Owning region"))
    status = F.String(metadata=_d("Status of the version"))
    citation = F.String(metadata=_d("Citation to record in the fiche RCP"))
    source_url = F.String(allow_none=True, metadata=_d("Published source"))
    localisation = F.Dict(metadata=_d("Outcome of the localisation match"))
    recommendations = F.List(
        F.Nested(EvaluatedRecommendationSchema), metadata=_d("Applicable recommendations")
    )


class EvaluationSchema(ma.Schema):
    as_of = F.Date(metadata=_d("Date the versions were chosen for"))
    region = F.String(allow_none=True, metadata=_d("Patient's region"))
    engine_version = F.String(metadata=_d("Version of the evaluation engine"))
    national = F.List(F.Nested(EvaluatedReferentialSchema), metadata=_d("National referentials"))
    regional = F.List(
        F.Nested(EvaluatedReferentialSchema),
        metadata=_d("Regional and interregional referentials of the patient's region"),
    )


# --- CDS Hooks ---------------------------------------------------------------------------


class CdsServicesSchema(ma.Schema):
    services = F.List(F.Dict(), metadata=_d("CDS Hooks 2.0 service descriptions"))


class CdsContextSchema(Schema):
    class Meta:
        unknown = ma.EXCLUDE

    fiche = F.Nested(FicheSchema, required=True, metadata=_d("The structured fiche RCP"))
    region = F.String(
        allow_none=True, load_default=None, metadata=_d("Patient's region (INSEE code)")
    )
    as_of = F.Date(allow_none=True, load_default=None, metadata=_d("RCP date"))
    patientId = F.String(metadata=_d("Ignored: the service works on the fiche only"))  # noqa: N815
    userId = F.String(metadata=_d("Ignored"))  # noqa: N815


class CdsRequestSchema(Schema):
    """A CDS Hooks 2.0 call (non-FHIR context: the fiche)."""

    class Meta:
        unknown = ma.EXCLUDE

    hook = F.String(required=True, metadata=_d("Hook, e.g. patient-view"))
    hookInstance = F.String(required=True, metadata=_d("UUID of this call"))  # noqa: N815
    context = F.Nested(CdsContextSchema, required=True, metadata=_d("fiche, region, as_of"))
    fhirServer = F.String(metadata=_d("Ignored"))  # noqa: N815
    prefetch = F.Dict(metadata=_d("Ignored"))


class CdsResponseSchema(ma.Schema):
    cards = F.List(F.Dict(), metadata=_d("CDS Hooks cards"))


class CdsFeedbackItemSchema(Schema):
    class Meta:
        unknown = ma.EXCLUDE

    card = F.String(required=True, metadata=_d("uuid of the card"))
    outcome = F.String(
        required=True,
        validate=V.OneOf(["accepted", "overridden"]),
        metadata=_d("accepted or overridden"),
    )
    acceptedSuggestions = F.List(F.Dict(), load_default=list, metadata=_d("Suggestions taken"))  # noqa: N815
    overrideReason = F.Dict(allow_none=True, load_default=None, metadata=_d("reason, userComment"))  # noqa: N815
    outcomeTimestamp = F.DateTime(  # noqa: N815
        required=True, metadata=_d("When the user acted on the card")
    )


class CdsFeedbackResultSchema(ma.Schema):
    recorded = F.Integer(metadata=_d("Feedback items recorded"))


class CdsFeedbackSchema(Schema):
    feedback = F.List(
        F.Nested(CdsFeedbackItemSchema),
        required=True,
        validate=V.Length(min=1, max=100),
        metadata=_d("Feedback items"),
    )
