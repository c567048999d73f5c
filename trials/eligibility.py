"""Eligibility of a fiche for a trial: a verdict per criterion with the fiche value and evidence.

Every criterion is met, not met, or unknown (the fiche lacks the data, or is less precise than
the criterion). The overall verdict is "ineligible" as soon as one criterion is not met,
"possibly eligible" while some are unknown, and "eligible" when all are met. Curated CTML match
trees are evaluated like MatchMiner does: and/or trees, "!" negations, OncoTree names expanded
to their sub-types, "_SOLID_"/"_LIQUID_", protein wildcards, and only arms open to accrual.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.fiche import Biomarker, Fiche
from core.terminology import genes, tnm
from core.terminology.oncotree import tree

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
ELIGIBLE, POSSIBLY, INELIGIBLE = "eligible", "possibly_eligible", "ineligible"

SYSTEMIC = ("chimiotherapie", "therapie_ciblee", "immunotherapie", "hormonotherapie")
LIQUID_TISSUES = ("MYELOID", "LYMPH")


@dataclass
class CriterionResult:
    kind: str
    label: str
    result: str
    fiche_value: str | None
    evidence: str
    origin: str
    include: bool = True
    #: 0 none, 1 broader (gene / ancestor tumour type), 2 exact (variant / same tumour type).
    match_level: int = 0


@dataclass
class Assessment:
    verdict: str
    criteria: list[CriterionResult] = field(default_factory=list)
    diagnosis_level: int = 0
    biomarker_level: int = 0

    @property
    def reasons(self) -> list[CriterionResult]:
        return [c for c in self.criteria if c.result == NOT_MET]

    @property
    def counts(self) -> dict[str, int]:
        out = {MET: 0, NOT_MET: 0, UNKNOWN: 0}
        for criterion in self.criteria:
            out[criterion.result] += 1
        return out


def overall(results: Iterable[str]) -> str:
    values = list(results)
    if NOT_MET in values:
        return INELIGIBLE
    if UNKNOWN in values:
        return POSSIBLY
    return ELIGIBLE


def _invert(result: str) -> str:
    return {MET: NOT_MET, NOT_MET: MET}.get(result, UNKNOWN)


# --- the trial side -----------------------------------------------------------------------


@dataclass
class TrialCriteria:
    """What eligibility needs of a trial (built from the model or from an index document)."""

    criteria: Sequence[dict[str, Any]]
    ctml_arms: Sequence[dict[str, Any]] = ()


def assess(fiche: Fiche, trial: TrialCriteria) -> Assessment:
    """Evaluate every structured criterion of ``trial`` against ``fiche``."""
    results: list[CriterionResult] = []
    seen: set[tuple[str, str, str]] = set()
    for criterion in trial.criteria:
        result = evaluate(fiche, criterion)
        key = (result.kind, result.label, result.result)
        if key in seen:  # the registry and a sentence often say the same thing
            continue
        seen.add(key)
        results.append(result)
    if trial.ctml_arms:
        results.append(evaluate_ctml(fiche, trial.ctml_arms))
    assessment = Assessment(verdict=overall(r.result for r in results), criteria=results)
    for result in results:
        if result.result == MET and result.include:
            if result.kind == "diagnosis":
                assessment.diagnosis_level = max(assessment.diagnosis_level, result.match_level)
            elif result.kind in ("biomarker", "ctml"):
                assessment.biomarker_level = max(assessment.biomarker_level, result.match_level)
    return assessment


def evaluate(fiche: Fiche, criterion: dict[str, Any]) -> CriterionResult:
    kind = criterion["kind"]
    include = criterion.get("include", True)
    rule = _RULES.get(kind)
    if rule is None:
        result, label, value, level = UNKNOWN, kind, None, 0
    else:
        result, label, value, level = rule(fiche, criterion)
    if not include:
        result = _invert(result)
        label = f"not: {label}"
    return CriterionResult(
        kind=kind,
        label=label,
        result=result,
        fiche_value=value,
        evidence=criterion.get("evidence", ""),
        origin=criterion.get("origin", "registry"),
        include=include,
        match_level=level if include else 0,
    )


Outcome = tuple[str, str, str | None, int]


def _age(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    low, high = c.get("min"), c.get("max")
    label = "age " + (
        f"{low:g}-{high:g} years"
        if low is not None and high is not None
        else f">= {low:g} years"
        if low is not None
        else f"<= {high:g} years"
    )
    if fiche.age is None:
        return UNKNOWN, label, None, 0
    ok = (low is None or fiche.age >= low) and (high is None or fiche.age <= high)
    return (MET if ok else NOT_MET), label, f"{fiche.age} years", 0


def _sex(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    wanted = c["value"].lower()
    label = f"sex {wanted}"
    if fiche.sex is None:
        return UNKNOWN, label, None, 0
    return (MET if fiche.sex == wanted else NOT_MET), label, fiche.sex, 0


def diagnosis_level(patient: str | None, codes: Iterable[str]) -> tuple[str, int]:
    """(result, level) of a patient tumour type against the trial's: exact 2, subtype 1."""
    return _diagnosis_level(patient, tuple(codes))


@functools.lru_cache(maxsize=8192)
def _diagnosis_level(patient: str | None, codes: tuple[str, ...]) -> tuple[str, int]:
    if patient is None:
        return UNKNOWN, 0
    onco = tree()
    best: tuple[str, int] = (NOT_MET, 0)
    for code in codes:
        if patient == code:
            return MET, 2
        if onco.is_a(patient, code):
            best = (MET, 1)
        elif best[0] == NOT_MET and onco.is_a(code, patient):
            best = (UNKNOWN, 0)  # the fiche is less precise than the trial
    return best


def _diagnosis(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    codes = c.get("codes") or []
    label = "tumour type " + " or ".join(codes)
    patient = patient_code(fiche)
    result, level = diagnosis_level(patient, codes)
    return result, label, patient, level


@functools.lru_cache(maxsize=1024)
def patient_code(fiche: Fiche) -> str | None:
    """The fiche's OncoTree code (derived once per fiche: text and CIM-10 lookups cost)."""
    return fiche.oncotree_code()


def _patient_stage(fiche: Fiche) -> str | None:
    if fiche.tnm is None:
        return None
    if fiche.tnm.stage_group:
        return fiche.tnm.stage_group
    if fiche.tnm.m and fiche.tnm.m.upper().startswith("M1"):
        return "IV"
    return None


@functools.lru_cache(maxsize=1024)
def _stage_is_a(stage: str, group: str) -> bool:
    return tnm.stage_is_a(stage, group)


def _stage(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    allowed = c.get("allowed") or []
    label = "stage " + "/".join(allowed)
    stage = _patient_stage(fiche)
    if stage is None:
        if "metastatic" in c and fiche.metastatic_sites:
            return MET, label, "metastatic sites", 0
        return UNKNOWN, label, None, 0
    if any(_stage_is_a(stage, group) for group in allowed):
        return MET, label, stage, 0
    if any(_stage_is_a(group, stage) for group in allowed):
        return UNKNOWN, label, stage, 0  # "IV" given, "IVA" asked
    return NOT_MET, label, stage, 0


def _performance(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    low, high = c.get("min", 0) or 0, c.get("max", 4)
    label = f"ECOG {low}-{high}" if low else f"ECOG <= {high}"
    ecog = fiche.ecog()
    if ecog is None:
        return UNKNOWN, label, None, 0
    return (MET if low <= ecog <= high else NOT_MET), label, f"ECOG {ecog}", 0


_ECOG_TO_KARNOFSKY = {0: (90, 100), 1: (70, 90), 2: (50, 70), 3: (30, 50), 4: (0, 30)}


def _karnofsky(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    minimum = c["min"]
    label = f"Karnofsky >= {minimum}"
    if fiche.karnofsky is not None:
        return (MET if fiche.karnofsky >= minimum else NOT_MET), label, str(fiche.karnofsky), 0
    ecog = fiche.ecog()
    if ecog is None:
        return UNKNOWN, label, None, 0
    low, high = _ECOG_TO_KARNOFSKY[ecog]
    if low >= minimum:
        return MET, label, f"ECOG {ecog}", 0
    if high < minimum:
        return NOT_MET, label, f"ECOG {ecog}", 0
    return UNKNOWN, label, f"ECOG {ecog}", 0


def _fiche_biomarker(fiche: Fiche, gene: str) -> Biomarker | None:
    if gene == "NTRK":
        return next((b for b in fiche.biomarkers if b.name.startswith("NTRK")), None)
    return fiche.biomarker(gene)


def _describe(marker: Biomarker | None) -> str | None:
    if marker is None:
        return None
    parts = [marker.name]
    if marker.alteration:
        parts.append(marker.alteration)
    if marker.value is not None:
        parts.append(f"{marker.value:g}{marker.unit or ''}")
    parts.append(marker.status)
    return " ".join(parts)


_MUTATION_LIKE = re.compile(r"^[A-Z*]\d+|exon \d+ (deletion|insertion|mutation|skipping)|mutation")


def _one_biomarker(fiche: Fiche, c: dict[str, Any]) -> tuple[str, int, str | None]:
    gene = genes.canonical_gene(c["gene"]) if c["gene"] != "NTRK" else "NTRK"
    marker = _fiche_biomarker(fiche, gene)
    value = _describe(marker)
    if marker is None or marker.status == "unknown":
        return UNKNOWN, 0, value
    altered = marker.status == "positive"
    if c.get("status") == "wild_type":
        return (NOT_MET if altered else MET), 0, value
    if not altered:
        return NOT_MET, 0, value
    if c.get("min_value") is not None:
        if marker.value is None:
            return UNKNOWN, 0, value
        return (MET if marker.value >= c["min_value"] else NOT_MET), 1, value
    wanted = [genes.normalize_alteration(a) or a for a in c.get("alterations") or []]
    wildcard = c.get("wildcard")
    if not wanted and not wildcard:
        return MET, 1, value
    patient = genes.normalize_alteration(marker.alteration) if marker.alteration else None
    if patient is None:
        return UNKNOWN, 1, value
    if patient in wanted or (wildcard and patient.startswith(wildcard)):
        return MET, 2, value
    if "mutation" in wanted and _MUTATION_LIKE.match(patient):
        return MET, 1, value
    return NOT_MET, 0, value


def _biomarker(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    options = c.get("any_of") or [c]
    labels, values, outcomes = [], [], []
    for option in options:
        result, level, value = _one_biomarker(fiche, option)
        outcomes.append((result, level))
        labels.append(_biomarker_label(option))
        if value and value not in values:
            values.append(value)
    label = " or ".join(labels)
    met = [level for result, level in outcomes if result == MET]
    if met:
        return MET, label, "; ".join(values) or None, max(met)
    if all(result == NOT_MET for result, _ in outcomes):
        return NOT_MET, label, "; ".join(values) or None, 0
    return UNKNOWN, label, "; ".join(values) or None, 0


def _biomarker_label(c: dict[str, Any]) -> str:
    if c.get("status") == "wild_type":
        return f"{c['gene']} wild-type"
    if c.get("min_value") is not None:
        return f"{c['gene']} >= {c['min_value']:g}%"
    detail = ", ".join(c.get("alterations") or []) or (c.get("wildcard") or "") + (
        "*" if c.get("wildcard") else "altered"
    )
    return f"{c['gene']} {detail}"


def _prior(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    types = set(c.get("types") or [])
    if "systemic" in types:
        types = (types - {"systemic"}) | set(SYSTEMIC)
    drugs = {d.lower() for d in c.get("drugs") or []}
    what = ", ".join(sorted(drugs)[:3] or sorted(types)) or "any treatment"
    known = bool(fiche.prior_treatments) or fiche.prior_lines is not None
    lines = fiche.prior_lines
    if lines is None and fiche.prior_treatments:
        lines = max((t.line or 0 for t in fiche.prior_treatments), default=0) or None
    given = "; ".join(
        t.type + (f" ({', '.join(t.drugs)})" if t.drugs else "") for t in fiche.prior_treatments
    ) or (f"{fiche.prior_lines} prior lines" if fiche.prior_lines is not None else None)
    if c.get("min_lines"):
        label = f"at least {c['min_lines']} prior line(s)"
        if lines is None:
            return UNKNOWN, label, given, 0
        return (MET if lines >= c["min_lines"] else NOT_MET), label, given, 0
    label = f"prior {what}"
    if not known:
        return UNKNOWN, label, None, 0
    matched, maybe = False, False
    for treatment in fiche.prior_treatments:
        had = {d.lower() for d in treatment.drugs}
        if drugs and had & drugs:
            matched = True
        elif treatment.type in types and (not drugs or not had):
            if drugs:
                maybe = True
            else:
                matched = True
    if matched:
        # "within 4 weeks": the fiche has no dates; the past treatment may be too old to count.
        return (UNKNOWN if c.get("recent") else MET), label, given, 0
    if maybe:
        return UNKNOWN, label, given, 0
    return NOT_MET, label, given or "none", 0


def _brain(fiche: Fiche, c: dict[str, Any]) -> Outcome:
    allowed = c.get("allowed") or ["none"]
    label = "brain metastases: " + " or ".join(allowed)
    status = fiche.brain_metastases
    if status is None:
        if fiche.metastatic_sites and "brain" not in fiche.metastatic_sites:
            status = "none"
        else:
            return UNKNOWN, label, None, 0
    return (MET if status in allowed else NOT_MET), label, status, 0


_RULES = {
    "age": _age,
    "sex": _sex,
    "diagnosis": _diagnosis,
    "stage": _stage,
    "performance_status": _performance,
    "karnofsky": _karnofsky,
    "biomarker": _biomarker,
    "prior_treatment": _prior,
    "brain_metastases": _brain,
}


# --- CTML (MatchMiner) --------------------------------------------------------------------


def evaluate_ctml(fiche: Fiche, arms: Sequence[dict[str, Any]]) -> CriterionResult:
    """The best open arm of a curated CTML trial: met if one arm's tree matches the fiche."""
    best: tuple[str, int, str, list[str]] | None = None
    rank = {MET: 2, UNKNOWN: 1, NOT_MET: 0}
    for arm in arms:
        if not arm.get("open", True):
            continue
        result, level, notes = ctml_node(fiche, arm["match"])
        if best is None or (rank[result], level) > (rank[best[0]], best[1]):
            best = (result, level, arm.get("label", "arm"), notes)
    if best is None:
        return CriterionResult(
            kind="ctml",
            label="curated criteria: no arm open to accrual",
            result=NOT_MET,
            fiche_value=None,
            evidence="CTML treatment_list",
            origin="ctml",
        )
    result, level, label, notes = best
    return CriterionResult(
        kind="ctml",
        label=f"curated criteria of arm {label[:120]}",
        result=result,
        fiche_value="; ".join(notes) or None,
        evidence="CTML match tree",
        origin="ctml",
        match_level=level,
    )


def ctml_node(fiche: Fiche, node: Any) -> tuple[str, int, list[str]]:
    """(result, biomarker match level, notes) of one CTML match node."""
    if isinstance(node, list):
        node = {"and": node}
    if "and" in node:
        parts = [ctml_node(fiche, child) for child in node["and"]]
        results = [p[0] for p in parts]
        result = NOT_MET if NOT_MET in results else UNKNOWN if UNKNOWN in results else MET
        return result, max((p[1] for p in parts), default=0), [n for p in parts for n in p[2]]
    if "or" in node:
        parts = [ctml_node(fiche, child) for child in node["or"]]
        met = [p for p in parts if p[0] == MET]
        if met:
            return MET, max(p[1] for p in met), [n for p in met for n in p[2]]
        result = UNKNOWN if any(p[0] == UNKNOWN for p in parts) else NOT_MET
        return result, 0, [n for p in parts for n in p[2]]
    if "clinical" in node:
        return _ctml_clinical(fiche, node["clinical"])
    if "genomic" in node:
        return _ctml_genomic(fiche, node["genomic"])
    return UNKNOWN, 0, []


def _negated(value: Any) -> tuple[bool, str]:
    text = str(value).strip()
    return (True, text[1:].strip()) if text.startswith("!") else (False, text)


def _combine(results: list[str]) -> str:
    return NOT_MET if NOT_MET in results else UNKNOWN if UNKNOWN in results else MET


def _compare(value: float, spec: str) -> bool:
    match = re.match(r"^\s*(>=|<=|==|>|<|=)?\s*(-?\d+(?:\.\d+)?)\s*$", spec)
    if not match:
        raise ValueError(spec)
    op, number = match.group(1) or "==", float(match.group(2))
    return {
        ">=": value >= number,
        "<=": value <= number,
        ">": value > number,
        "<": value < number,
        "==": value == number,
        "=": value == number,
    }[op]


def ctml_diagnosis_codes(name: str) -> list[str]:
    """OncoTree codes a CTML diagnosis name stands for (a code or a node name)."""
    onco = tree()
    node = onco.get(name)
    if node is not None:
        return [node.code]
    return [n.code for n in onco.find(name)][:1]


def _ctml_clinical(fiche: Fiche, clinical: dict[str, Any]) -> tuple[str, int, list[str]]:
    results: list[str] = []
    notes: list[str] = []
    for key, raw in clinical.items():
        negate, value = _negated(raw)
        if key == "age_numerical":
            if fiche.age is None:
                result = UNKNOWN
            else:
                result = MET if _compare(fiche.age, value) else NOT_MET
            notes.append(f"age {fiche.age} vs {value}")
        elif key == "gender":
            result = (
                UNKNOWN if fiche.sex is None else (MET if fiche.sex == value.lower() else NOT_MET)
            )
            notes.append(f"sex {fiche.sex} vs {value}")
        elif key == "oncotree_primary_diagnosis":
            patient = patient_code(fiche)
            if patient is None:
                result = UNKNOWN
            elif value in ("_SOLID_", "_LIQUID_"):
                onco = tree()
                liquid = any(onco.is_a(patient, t) for t in LIQUID_TISSUES)
                result = MET if liquid == (value == "_LIQUID_") else NOT_MET
            else:
                result, _ = diagnosis_level(patient, ctml_diagnosis_codes(value))
            notes.append(f"diagnosis {patient} vs {raw}")
        elif key == "tmb_numerical":
            marker = fiche.biomarker("TMB")
            result = (
                UNKNOWN
                if marker is None or marker.value is None
                else MET
                if _compare(marker.value, value)
                else NOT_MET
            )
            notes.append(f"TMB {marker.value if marker else None} vs {value}")
        else:
            continue  # er/pr/her2 status, disease status: ignored as MatchMiner's DFCI config does
        results.append(_invert(result) if negate else result)
    return _combine(results) if results else MET, 0, notes


_CNV = {
    "amplification": "amplification",
    "high level amplification": "amplification",
    "gain": "amplification",
    "homozygous deletion": "loss",
    "heterozygous deletion": "loss",
}


def _category_of(alteration: str | None) -> str | None:
    if alteration is None:
        return None
    if alteration == "fusion":
        return "structural variation"
    if alteration in ("amplification", "loss"):
        return "cnv"
    return "mutation"


def _ctml_genomic(fiche: Fiche, genomic: dict[str, Any]) -> tuple[str, int, list[str]]:
    symbol = str(genomic.get("hugo_symbol") or "")
    if not symbol or symbol == "None":
        # signatures and MMR/MS status have no gene
        if "mmr_status" in genomic or "ms_status" in genomic:
            msi = fiche.biomarker("MSI")
            if msi is None or msi.status == "unknown":
                return UNKNOWN, 0, ["MSI unknown"]
            wanted_high = "deficient" in str(
                genomic.get("mmr_status", "")
            ).lower() or "MSI-H" in str(genomic.get("ms_status", ""))
            positive = msi.status == "positive"
            return (MET if positive == wanted_high else NOT_MET), 1, [f"MSI {msi.status}"]
        return UNKNOWN, 0, ["mutational signature not in the fiche"]
    gene_negated, gene = _negated(symbol)
    marker = fiche.biomarker(gene)
    description = _describe(marker) or f"{gene} not tested"
    if genomic.get("wildtype") in (True, "true", "True"):
        if marker is None or marker.status == "unknown":
            return UNKNOWN, 0, [description]
        return (NOT_MET if marker.status == "positive" else MET), 0, [description]
    if marker is None or marker.status == "unknown":
        return UNKNOWN, 0, [description]
    if marker.status != "positive":
        return (MET if gene_negated else NOT_MET), 0, [description]
    alteration = genes.normalize_alteration(marker.alteration) if marker.alteration else None
    results: list[str] = []
    level = 1
    category = _category_of(alteration)
    raw_category = genomic.get("variant_category")
    if raw_category:
        negate, wanted = _negated(raw_category)
        wanted = wanted.lower()
        if category is None:
            result = UNKNOWN
        elif wanted == "any variation":
            result = MET if category in ("mutation", "cnv") else NOT_MET
        elif wanted == "signature":
            result = UNKNOWN
        else:
            result = MET if category == wanted else NOT_MET
        results.append(_invert(result) if negate else result)
    if genomic.get("protein_change"):
        negate, wanted = _negated(genomic["protein_change"])
        wanted = genes.normalize_alteration(wanted) or wanted
        result = UNKNOWN if alteration is None else MET if alteration == wanted else NOT_MET
        results.append(_invert(result) if negate else result)
        level = 2
    if genomic.get("wildcard_protein_change"):
        negate, wanted = _negated(genomic["wildcard_protein_change"])
        prefix = wanted.removeprefix("p.")
        result = (
            UNKNOWN
            if alteration is None
            else MET
            if re.match(re.escape(prefix) + r"(?!\d)", alteration)
            else NOT_MET
        )
        results.append(_invert(result) if negate else result)
        level = 2
    if genomic.get("cnv_call"):
        negate, wanted = _negated(genomic["cnv_call"])
        expected = _CNV.get(wanted.lower())
        result = UNKNOWN if alteration is None else MET if alteration == expected else NOT_MET
        results.append(_invert(result) if negate else result)
    if genomic.get("fusion_partner_hugo_symbol") and category == "structural variation":
        negate, wanted = _negated(genomic["fusion_partner_hugo_symbol"])
        partner = marker.fusion_partner
        result = (
            UNKNOWN if partner is None else MET if partner.upper() == wanted.upper() else NOT_MET
        )
        results.append(_invert(result) if negate else result)
    if genomic.get("variant_classification") or genomic.get("exon"):
        classification = str(genomic.get("variant_classification") or "").lower()
        exon = genomic.get("exon")
        expected_kind = (
            "deletion"
            if "del" in classification
            else "insertion"
            if "ins" in classification
            else None
        )
        if alteration is None:
            result = UNKNOWN
        elif exon is not None and expected_kind:
            result = MET if alteration == f"exon {exon} {expected_kind}" else NOT_MET
        elif exon is not None:
            result = MET if alteration.startswith(f"exon {exon} ") else NOT_MET
        elif expected_kind:
            result = MET if alteration.endswith(expected_kind) else UNKNOWN
        elif "missense" in classification:
            result = MET if re.match(r"^[A-Z]\d+[A-Z]$", alteration) else NOT_MET
        else:
            result = UNKNOWN
        results.append(result)
    result = _combine(results) if results else MET
    if gene_negated:
        result = _invert(result)
    return result, level if result == MET and not gene_negated else 0, [description]
