"""The structured, non-nominative patient case (fiche RCP criteria) shared by trials and guidelines.

mCODE-inspired and using the CI-SIS fiche RCP codes where they exist. Every field is optional;
unknown fields are refused at every level, so no identity field can slip in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import marshmallow as ma

from core.api import Schema
from core.jsonfields import StrictFloat
from core.terminology import cim10, genes, geo
from core.terminology.oncotree import tree

SEXES = ("female", "male")
BIOMARKER_STATUSES = ("positive", "negative", "wild_type", "unknown")
TREATMENT_TYPES = (
    "chirurgie",
    "radiotherapie",
    "chimiotherapie",
    "therapie_ciblee",
    "immunotherapie",
    "hormonotherapie",
    "curietherapie",
    "autre",
)
METASTATIC_SITES = (
    "brain",
    "liver",
    "bone",
    "lung",
    "peritoneum",
    "adrenal",
    "lymph_node",
    "pleura",
    "skin",
    "other",
)
BRAIN_METASTASES = ("none", "stable", "active")
PHASES = ("initial", "relapse")
TNM_PREFIXES = ("c", "p", "yp")

#: Karnofsky -> ECOG, the usual correspondence (Oken et al. 1982).
_KARNOFSKY_TO_ECOG = ((100, 0), (80, 1), (60, 2), (40, 3), (0, 4))


@dataclass(frozen=True)
class Biomarker:
    name: str
    alteration: str | None = None
    status: str = "unknown"
    fusion_partner: str | None = None
    value: float | None = None
    unit: str | None = None

    @property
    def is_altered(self) -> bool:
        """Positive with an alteration (mutation, amplification, fusion...)."""
        return self.status == "positive" and self.alteration is not None


@dataclass(frozen=True)
class PriorTreatment:
    type: str
    drugs: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Diagnosis:
    oncotree_code: str | None = None
    cim10: str | None = None
    text: str | None = None
    histology: str | None = None


@dataclass(frozen=True)
class TNM:
    prefix: str | None = None
    t: str | None = None
    n: str | None = None
    m: str | None = None
    stage_group: str | None = None


@dataclass(frozen=True)
class Residence:
    department: str | None = None
    postal_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    max_distance_km: float | None = None


@dataclass(frozen=True)
class Fiche:
    age: int | None = None
    sex: str | None = None
    performance_status: int | None = None
    karnofsky: int | None = None
    diagnosis: Diagnosis | None = None
    tnm: TNM | None = None
    biomarkers: tuple[Biomarker, ...] = ()
    metastatic_sites: tuple[str, ...] = ()
    brain_metastases: str | None = None
    prior_treatments: tuple[PriorTreatment, ...] = ()
    prior_lines: int | None = None
    phase: str | None = None
    menopausal_status: str | None = None
    residence: Residence | None = None

    def biomarker(self, name: str) -> Biomarker | None:
        """The biomarker of that gene or marker, whatever synonym is used (HER2 finds ERBB2)."""
        wanted = genes.canonical_gene(name)
        return next((b for b in self.biomarkers if b.name == wanted), None)

    def ecog(self) -> int | None:
        """ECOG/OMS performance status, derived from Karnofsky when only that is known."""
        if self.performance_status is not None:
            return self.performance_status
        if self.karnofsky is None:
            return None
        return next(ecog for floor, ecog in _KARNOFSKY_TO_ECOG if self.karnofsky >= floor)

    def oncotree_code(self) -> str | None:
        """The tumour type: as given, else from the histology (ICD-O-3) and site, else the site."""
        diagnosis = self.diagnosis
        if diagnosis is None:
            return None
        onco = tree()
        if diagnosis.oncotree_code and onco.get(diagnosis.oncotree_code):
            return onco.get(diagnosis.oncotree_code).code  # type: ignore[union-attr]
        if diagnosis.histology:
            candidates = onco.from_icdo3(diagnosis.histology, diagnosis.cim10)
            if len(candidates) == 1:
                return candidates[0]
        if diagnosis.cim10:
            return onco.from_cim10(diagnosis.cim10)
        if diagnosis.text:
            found = onco.find(diagnosis.text)
            if len(found) == 1:
                return found[0].code
        return None

    def point(self) -> tuple[float, float] | None:
        """Where the patient lives: coordinates, else the postal code's or department's centre."""
        residence = self.residence
        if residence is None:
            return None
        if residence.lat is not None and residence.lon is not None:
            return residence.lat, residence.lon
        department = residence.department or geo.department_of_postal_code(residence.postal_code)
        return geo.department_point(department)


# --- schema -------------------------------------------------------------------------------


def _desc(text: str) -> dict[str, str]:
    return {"description": text}


class BiomarkerSchema(Schema):
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata=_desc(
            "Gene (HGNC symbol; synonyms such as HER2 accepted) or marker (PD-L1, ER, PR, MSI, TMB)"
        ),
    )
    alteration = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=80),
        metadata=_desc("Alteration: V600E, L858R, exon 19 deletion, amplification, fusion..."),
    )
    status = ma.fields.String(
        validate=ma.validate.OneOf(BIOMARKER_STATUSES),
        metadata=_desc(
            "positive, negative, wild_type or unknown (default: positive when an "
            "alteration is given, else unknown; a value alone stays unknown)"
        ),
    )
    fusion_partner = ma.fields.String(allow_none=True, metadata=_desc("Fusion partner gene"))
    value = StrictFloat(allow_none=True, metadata=_desc("Measured value, e.g. PD-L1 TPS 50"))
    unit = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=20),
        metadata=_desc("Unit of the value, e.g. %"),
    )

    @ma.post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Biomarker:
        name = genes.canonical_gene(data["name"])
        alteration = genes.normalize_alteration(data.get("alteration"))
        status = data.get("status") or ("positive" if alteration else "unknown")
        partner = data.get("fusion_partner")
        return Biomarker(
            name=name,
            alteration=alteration,
            status=status,
            fusion_partner=genes.canonical_gene(partner) if partner else None,
            value=data.get("value"),
            unit=data.get("unit"),
        )


class PriorTreatmentSchema(Schema):
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(TREATMENT_TYPES),
        metadata=_desc("Treatment type (CI-SIS fiche RCP families)"),
    )
    drugs = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=80)),
        load_default=list,
        metadata=_desc("Drugs (INN), lower case"),
    )
    line = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=20),
        metadata=_desc("Line of treatment, 1 = first line"),
    )

    @ma.post_load
    def _make(self, data: dict[str, Any], **_: Any) -> PriorTreatment:
        return PriorTreatment(
            type=data["type"],
            drugs=tuple(d.strip().lower() for d in data.get("drugs", [])),
            line=data.get("line"),
        )


#: Documents what ``cim10.normalize`` accepts (the OpenAPI document lists the valid values).
CIM10_PATTERN = r"^[A-Za-z][0-9]{2}(\.?[0-9]{1,2})?$"


class _OncoTreeCode(ma.validate.OneOf):
    """One of the OncoTree codes as published (upper case), or the same code all in lower case.

    Only the published spellings are the ``choices``, so the OpenAPI document lists each code
    once: listing both spellings gave an enum whose members collide once case is folded
    (``AA``/``aa``), which generated clients cannot name.
    """

    def __init__(self) -> None:
        codes = sorted(tree().nodes)
        super().__init__(codes, error="unknown OncoTree code {input!r}")
        self._lower = frozenset(code.lower() for code in codes)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and value in self._lower:
            return value
        return super().__call__(value)


class DiagnosisSchema(Schema):
    oncotree_code = ma.fields.String(
        allow_none=True,
        # Listed so that the OpenAPI document says which codes exist.
        validate=_OncoTreeCode(),
        metadata=_desc(
            "OncoTree code, e.g. LUAD (the codes are listed in upper case; the same code in "
            "lower case, e.g. luad, is accepted too and stored in upper case)"
        ),
    )
    cim10 = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(CIM10_PATTERN, error="a CIM-10 code looks like C34.1"),
        metadata=_desc("CIM-10 topography, e.g. C34.1"),
    )
    text = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=300),
        metadata=_desc("Diagnosis as written (no patient identity)"),
    )
    histology = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(r"^\d{4}/\d$", error="ICD-O-3 morphology looks like 8140/3"),
        metadata=_desc("ICD-O-3 morphology, e.g. 8140/3"),
    )

    @ma.validates("oncotree_code")
    def _known_oncotree(self, value: str | None, **_: Any) -> None:
        if value is not None and tree().get(value) is None:
            raise ma.ValidationError(f"unknown OncoTree code {value!r}")

    @ma.validates("cim10")
    def _valid_cim10(self, value: str | None, **_: Any) -> None:
        if value is not None and (
            not re.match(CIM10_PATTERN, value) or cim10.normalize(value) is None
        ):
            raise ma.ValidationError("a CIM-10 code looks like C34.1")

    @ma.post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Diagnosis:
        code = data.get("oncotree_code")
        return Diagnosis(
            oncotree_code=code.upper() if code else None,
            cim10=cim10.normalize(data.get("cim10")),
            text=data.get("text"),
            histology=data.get("histology"),
        )


class TNMSchema(Schema):
    prefix = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(TNM_PREFIXES),
        metadata=_desc("c (clinical), p (pathological), yp (after therapy)"),
    )
    t = ma.fields.String(allow_none=True, metadata=_desc("T category, e.g. T2a"))
    n = ma.fields.String(allow_none=True, metadata=_desc("N category, e.g. N2"))
    m = ma.fields.String(allow_none=True, metadata=_desc("M category, e.g. M1c"))
    stage_group = ma.fields.String(allow_none=True, metadata=_desc("Stage group, e.g. IVB"))

    @ma.post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TNM:
        def clean(value: str | None, axis: str = "") -> str | None:
            if not value:
                return None
            value = value.strip()
            if axis and value[:1].lower() in ("c", "p", "y") and value[1:2].upper() == axis:
                value = value[1:]
            if axis and value.lower().startswith("yp") and value[2:3].upper() == axis:
                value = value[2:]
            return value[0].upper() + value[1:] if axis else value.upper()

        return TNM(
            prefix=data.get("prefix"),
            t=clean(data.get("t"), "T"),
            n=clean(data.get("n"), "N"),
            m=clean(data.get("m"), "M"),
            stage_group=clean(data.get("stage_group")),
        )


class ResidenceSchema(Schema):
    department = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(sorted(geo.DEPARTMENTS), error="unknown department {input!r}"),
        metadata=_desc("Department code, e.g. 29"),
    )
    postal_code = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(r"^\d{5}$"),
        metadata=_desc("Postal code of the commune (5 digits)"),
    )
    lat = StrictFloat(
        allow_none=True,
        validate=ma.validate.Range(min=-90, max=90),
        metadata=_desc("Latitude (WGS84)"),
    )
    lon = StrictFloat(
        allow_none=True,
        validate=ma.validate.Range(min=-180, max=180),
        metadata=_desc("Longitude (WGS84)"),
    )
    max_distance_km = StrictFloat(
        allow_none=True,
        validate=ma.validate.Range(min=0),
        metadata=_desc("How far the patient can travel, in km"),
    )

    @ma.validates("department")
    def _known_department(self, value: str | None, **_: Any) -> None:
        if value is not None and geo.normalize_department(value) is None:
            raise ma.ValidationError(f"unknown department {value!r}")

    @ma.post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Residence:
        return Residence(
            department=geo.normalize_department(data.get("department")),
            postal_code=data.get("postal_code"),
            lat=data.get("lat"),
            lon=data.get("lon"),
            max_distance_km=data.get("max_distance_km"),
        )


class FicheSchema(Schema):
    """A patient case without identity: what a fiche RCP records to decide and to search."""

    age = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=120),
        metadata=_desc("Age in years at the RCP"),
    )
    sex = ma.fields.String(
        allow_none=True, validate=ma.validate.OneOf(SEXES), metadata=_desc("female or male")
    )
    performance_status = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=4),
        metadata=_desc("ECOG / OMS performance status, 0 to 4"),
    )
    karnofsky = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=100),
        metadata=_desc("Karnofsky index, when ECOG is not given"),
    )
    diagnosis = ma.fields.Nested(
        DiagnosisSchema, allow_none=True, metadata=_desc("Tumour type, site and histology")
    )
    tnm = ma.fields.Nested(TNMSchema, allow_none=True, metadata=_desc("TNM and stage group"))
    biomarkers = ma.fields.List(
        ma.fields.Nested(BiomarkerSchema),
        load_default=list,
        metadata=_desc("Biomarkers and molecular alterations"),
    )
    metastatic_sites = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(METASTATIC_SITES)),
        load_default=list,
        metadata=_desc("Sites of distant metastases"),
    )
    brain_metastases = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(BRAIN_METASTASES),
        metadata=_desc("none, stable (treated) or active brain metastases"),
    )
    prior_treatments = ma.fields.List(
        ma.fields.Nested(PriorTreatmentSchema),
        load_default=list,
        metadata=_desc("Treatments received"),
    )
    prior_lines = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=20),
        metadata=_desc("Number of prior systemic lines"),
    )
    phase = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(PHASES),
        metadata=_desc("initial or relapse (CI-SIS phase)"),
    )
    menopausal_status = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(("pre", "post")),
        metadata=_desc("pre or post (menopause)"),
    )
    residence = ma.fields.Nested(
        ResidenceSchema, allow_none=True, metadata=_desc("Where the patient lives (no address)")
    )

    @ma.post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Fiche:
        return Fiche(
            age=data.get("age"),
            sex=data.get("sex"),
            performance_status=data.get("performance_status"),
            karnofsky=data.get("karnofsky"),
            diagnosis=data.get("diagnosis"),
            tnm=data.get("tnm"),
            biomarkers=tuple(data.get("biomarkers", [])),
            metastatic_sites=tuple(dict.fromkeys(data.get("metastatic_sites", []))),
            # brain in metastatic_sites says nothing of activity: brain_metastases stays unknown
            brain_metastases=data.get("brain_metastases"),
            prior_treatments=tuple(data.get("prior_treatments", [])),
            prior_lines=data.get("prior_lines"),
            phase=data.get("phase"),
            menopausal_status=data.get("menopausal_status"),
            residence=data.get("residence"),
        )


def load_fiche(data: dict[str, Any]) -> Fiche:
    """Validate and load a fiche from JSON (raises marshmallow.ValidationError)."""
    fiche: Fiche = FicheSchema().load(data)
    return fiche


def dump_fiche(fiche: Fiche) -> dict[str, Any]:
    """The JSON form of a fiche, without empty fields (as echoed in answers)."""

    def prune(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: prune(v) for k, v in value.items() if v not in (None, [], {})}
        if isinstance(value, list):
            return [prune(v) for v in value]
        return value

    return prune(FicheSchema().dump(fiche))
