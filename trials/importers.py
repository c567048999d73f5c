"""Parsers of trial registry files into plain records: ClinicalTrials.gov JSON and XML, CTML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NCT_RE = re.compile(r"^NCT\d{8}$")
EU_CT_RE = re.compile(r"^(\d{4}-\d{6}-\d{2}-\d{2}|\d{4}-\d{6}-\d{2})$")

#: Registry status vocabulary (ClinicalTrials.gov v2); legacy spellings are folded onto it.
STATUSES = (
    "RECRUITING",
    "NOT_YET_RECRUITING",
    "ACTIVE_NOT_RECRUITING",
    "ENROLLING_BY_INVITATION",
    "COMPLETED",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "UNKNOWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
)
PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")


class RecordError(ValueError):
    """A file or record that cannot be read; ``where`` names the file and record."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass
class SiteRecord:
    facility: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    status: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass
class TrialRecord:
    """A trial as read from one registry file, before criteria extraction."""

    registry_id: str
    source: str
    nct_id: str | None = None
    eu_ct_id: str | None = None
    brief_title: str = ""
    official_title: str | None = None
    summary: str | None = None
    overall_status: str = "UNKNOWN"
    phases: list[str] = field(default_factory=list)
    study_type: str | None = None
    conditions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    interventions: list[dict[str, str]] = field(default_factory=list)
    sponsor: str | None = None
    start_date: str | None = None
    completion_date: str | None = None
    sex: str = "ALL"
    min_age_years: float | None = None
    max_age_years: float | None = None
    healthy_volunteers: bool | None = None
    criteria_text: str | None = None
    sites: list[SiteRecord] = field(default_factory=list)
    #: CTML curated criteria: one entry per open/closed arm {"label", "open", "match"}.
    ctml_arms: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ParsedFile:
    path: str
    format: str
    records: list[TrialRecord]
    rejected: list[tuple[str, str]]  # (where, reason)


# --- shared helpers -----------------------------------------------------------------------

_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(year|month|week|day|hour|minute)s?\s*$", re.I)
_UNIT_YEARS = {"year": 1.0, "month": 1 / 12, "week": 7 / 365.25, "day": 1 / 365.25}


def parse_age(text: str | None) -> float | None:
    """'18 Years' -> 18.0, '6 Months' -> 0.5; 'N/A', empty or absent -> None (no bound)."""
    if not text:
        return None
    match = _AGE_RE.match(text)
    if not match:
        return None
    unit = match.group(2).lower()
    return round(float(match.group(1)) * _UNIT_YEARS.get(unit, 0.0), 3)


def normalize_status(text: str | None) -> str:
    """'Recruiting', 'Not yet recruiting', 'open to accrual' -> the v2 vocabulary."""
    if not text:
        return "UNKNOWN"
    key = re.sub(r"[^A-Z]+", "_", text.strip().upper()).strip("_")
    aliases = {
        "OPEN_TO_ACCRUAL": "RECRUITING",
        "ACTIVE_NOT_RECRUITING": "ACTIVE_NOT_RECRUITING",
        "CLOSED_TO_ACCRUAL": "ACTIVE_NOT_RECRUITING",
        "UNKNOWN_STATUS": "UNKNOWN",
    }
    key = aliases.get(key, key)
    return key if key in STATUSES else "UNKNOWN"


def normalize_phase(text: str) -> list[str]:
    """'Phase 1/Phase 2', 'PHASE2', 'I/II', 'N/A' -> ['PHASE1', 'PHASE2'] etc."""
    text = text.strip().upper().replace("PHASE ", "PHASE")
    if text in ("N/A", "NA", "NOT APPLICABLE", ""):
        return ["NA"]
    if "EARLY" in text:
        return ["EARLY_PHASE1"]
    roman = {"IV": "4", "III": "3", "II": "2", "I": "1"}
    phases: list[str] = []
    for part in re.split(r"[/,]| AND ", text):
        part = part.strip().removeprefix("PHASE").strip()
        part = roman.get(part, part)
        if part in ("1", "2", "3", "4") and f"PHASE{part}" not in phases:
            phases.append(f"PHASE{part}")
    return phases


def _sex(text: str | None) -> str:
    value = (text or "").strip().upper()
    if value in ("FEMALE", "F", "WOMEN"):
        return "FEMALE"
    if value in ("MALE", "M", "MEN"):
        return "MALE"
    return "ALL"


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _registry_id(nct: str | None, eu: str | None, where: str) -> str:
    if nct and NCT_RE.match(nct):
        return nct
    if eu and EU_CT_RE.match(eu):
        return eu
    raise RecordError(where, f"no valid NCT or EU CT identifier (got {nct or eu or 'none'})")


# --- ClinicalTrials.gov API v2 JSON ------------------------------------------------------


def from_ctgov_v2(study: dict[str, Any], where: str) -> TrialRecord:
    """One ``studies[]`` element (or a single-study response) of the v2 API."""
    proto = study.get("protocolSection")
    if not isinstance(proto, dict):
        raise RecordError(where, "no protocolSection")
    ident = proto.get("identificationModule") or {}
    status = proto.get("statusModule") or {}
    design = proto.get("designModule") or {}
    elig = proto.get("eligibilityModule") or {}
    conds = proto.get("conditionsModule") or {}
    arms = proto.get("armsInterventionsModule") or {}
    sponsor = (proto.get("sponsorCollaboratorsModule") or {}).get("leadSponsor") or {}
    desc = proto.get("descriptionModule") or {}
    locs = (proto.get("contactsLocationsModule") or {}).get("locations") or []
    eu = next(
        (
            s.get("id")
            for s in ident.get("secondaryIdInfos") or []
            if s.get("type") in ("EUDRACT_NUMBER", "CTIS") or EU_CT_RE.match(s.get("id") or "")
        ),
        None,
    )
    nct = ident.get("nctId")
    record = TrialRecord(
        registry_id=_registry_id(nct, eu, where),
        source="ctgov_v2",
        nct_id=nct,
        eu_ct_id=eu,
        brief_title=ident.get("briefTitle") or ident.get("officialTitle") or "",
        official_title=ident.get("officialTitle"),
        summary=desc.get("briefSummary"),
        overall_status=normalize_status(status.get("overallStatus")),
        phases=[p for p in design.get("phases") or [] if p in PHASES],
        study_type=design.get("studyType"),
        conditions=list(conds.get("conditions") or []),
        keywords=list(conds.get("keywords") or []),
        interventions=[
            {"type": i.get("type") or "OTHER", "name": i.get("name") or ""}
            for i in arms.get("interventions") or []
            if i.get("name")
        ],
        sponsor=sponsor.get("name"),
        start_date=(status.get("startDateStruct") or {}).get("date"),
        completion_date=(status.get("completionDateStruct") or {}).get("date"),
        sex=_sex(elig.get("sex")),
        min_age_years=parse_age(elig.get("minimumAge")),
        max_age_years=parse_age(elig.get("maximumAge")),
        healthy_volunteers=elig.get("healthyVolunteers"),
        criteria_text=elig.get("eligibilityCriteria"),
    )
    for loc in locs:
        point = loc.get("geoPoint") or {}
        record.sites.append(
            SiteRecord(
                facility=loc.get("facility"),
                city=loc.get("city"),
                postal_code=loc.get("zip"),
                country=loc.get("country"),
                status=normalize_status(loc.get("status")) if loc.get("status") else None,
                lat=_float(point.get("lat")),
                lon=_float(point.get("lon")),
            )
        )
    return record


# --- legacy ClinicalTrials.gov XML -------------------------------------------------------


def _text(node: ET.Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _dedent(text: str | None) -> str | None:
    if not text:
        return text
    lines = [line.strip() for line in text.splitlines()]
    # The legacy textblocks wrap sentences at ~80 columns: re-join wrapped lines, keep items.
    out: list[str] = []
    for line in lines:
        if not line:
            out.append("")
        elif out and out[-1] and not re.match(r"^([-*•]|\d+[.)]|[a-z][.)])\s", line):
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out).strip()


def from_ctgov_xml(root: ET.Element, where: str) -> TrialRecord:
    """A legacy ``<clinical_study>`` document."""
    if root.tag != "clinical_study":
        raise RecordError(where, f"root element is <{root.tag}>, expected <clinical_study>")
    nct = _text(root, "id_info/nct_id")
    secondary = [e.text.strip() for e in root.findall("id_info/secondary_id") if e.text]
    eu = next((s for s in secondary if EU_CT_RE.match(s)), None)
    elig = root.find("eligibility")
    phase = _text(root, "phase")
    record = TrialRecord(
        registry_id=_registry_id(nct, eu, where),
        source="ctgov_xml",
        nct_id=nct,
        eu_ct_id=eu,
        brief_title=_text(root, "brief_title") or _text(root, "official_title") or "",
        official_title=_text(root, "official_title"),
        summary=_dedent(_text(root, "brief_summary/textblock")),
        overall_status=normalize_status(_text(root, "overall_status")),
        phases=normalize_phase(phase) if phase else [],
        study_type=(_text(root, "study_type") or "").upper().replace(" ", "_") or None,
        conditions=[e.text.strip() for e in root.findall("condition") if e.text],
        keywords=[e.text.strip() for e in root.findall("keyword") if e.text],
        interventions=[
            {
                "type": (_text(i, "intervention_type") or "OTHER").upper().replace(" ", "_"),
                "name": _text(i, "intervention_name") or "",
            }
            for i in root.findall("intervention")
            if _text(i, "intervention_name")
        ],
        sponsor=_text(root, "sponsors/lead_sponsor/agency"),
        start_date=_text(root, "start_date"),
        completion_date=_text(root, "completion_date"),
        sex=_sex(_text(elig, "gender")),
        min_age_years=parse_age(_text(elig, "minimum_age")),
        max_age_years=parse_age(_text(elig, "maximum_age")),
        healthy_volunteers=(
            None
            if _text(elig, "healthy_volunteers") is None
            else (_text(elig, "healthy_volunteers") or "").lower().startswith(("accepts", "yes"))
        ),
        criteria_text=_dedent(_text(elig, "criteria/textblock")),
    )
    for loc in root.findall("location"):
        address = loc.find("facility/address")
        record.sites.append(
            SiteRecord(
                facility=_text(loc, "facility/name"),
                city=_text(address, "city"),
                postal_code=_text(address, "zip"),
                country=_text(address, "country"),
                status=normalize_status(_text(loc, "status")) if _text(loc, "status") else None,
            )
        )
    return record


# --- MatchMiner CTML -----------------------------------------------------------------------

_CTML_OPEN = ("open to accrual", "open")


def _ctml_open(node: dict[str, Any]) -> bool:
    if str(node.get("arm_suspended", "N")).upper() == "Y":
        return False
    if str(node.get("level_suspended", "N")).upper() == "Y":
        return False
    status = node.get("status") or node.get("arm_status")
    return status is None or str(status).strip().lower() in _CTML_OPEN


def ctml_arms(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every match tree of a CTML trial, with whether its step/arm/dose is open to accrual.

    As in MatchMiner, a tree applies at the level it sits on (step, arm or dose level) and a
    match is visible only when that level and every level above it are open.
    """
    trees: list[dict[str, Any]] = []
    trial_open = _ctml_open({"status": doc.get("status")}) if doc.get("status") else True
    steps = (doc.get("treatment_list") or {}).get("step") or []
    for step in steps:
        step_label = f"step {step.get('step_code', '?')}"
        arms = step.get("arm") or []
        # A step with arms is open to accrual only while one of its arms is (MatchMiner).
        step_open = (
            trial_open and _ctml_open(step) and (not arms or any(_ctml_open(arm) for arm in arms))
        )
        for tree in step.get("match") or []:
            trees.append({"label": step_label, "open": step_open, "match": tree})
        for arm in arms:
            arm_label = arm.get("arm_description") or arm.get("arm_code") or "arm"
            arm_open = step_open and _ctml_open(arm)
            for tree in arm.get("match") or []:
                trees.append({"label": arm_label, "open": arm_open, "match": tree})
            for dose in arm.get("dose_level") or []:
                dose_open = arm_open and _ctml_open(dose)
                for tree in dose.get("match") or []:
                    label = f"{arm_label}, dose level {dose.get('level_code', '?')}"
                    trees.append({"label": label, "open": dose_open, "match": tree})
    return trees


def _summary_values(items: Any) -> list[str]:
    values = set()
    for item in items or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value and not str(value).startswith("_"):
            values.add(str(value))
    return sorted(values)


def from_ctml(doc: dict[str, Any], where: str) -> TrialRecord:
    """A CTML trial (MatchMiner JSON/YAML, CTIMS v3)."""
    if "treatment_list" not in doc:
        raise RecordError(where, "no treatment_list: not a CTML trial")
    nct = doc.get("nct_id")
    protocol = doc.get("protocol_no") or doc.get("protocol_id")
    registry_id = nct if nct and NCT_RE.match(str(nct)) else None
    if registry_id is None:
        if not protocol:
            raise RecordError(where, "neither nct_id nor protocol_no")
        # Curated test protocols without a registry id keep their protocol number.
        registry_id = f"CTML-{protocol}"
    phase = str(doc.get("phase") or "")
    age = str(doc.get("age") or "").upper()
    record = TrialRecord(
        registry_id=str(registry_id),
        source="ctml",
        nct_id=str(nct) if nct and NCT_RE.match(str(nct)) else None,
        brief_title=doc.get("short_title") or doc.get("long_title") or str(registry_id),
        official_title=doc.get("long_title"),
        summary=doc.get("summary") if isinstance(doc.get("summary"), str) else None,
        overall_status=normalize_status(doc.get("status")),
        phases=normalize_phase(phase) if phase else [],
        sponsor=doc.get("principal_investigator_institution") or doc.get("sponsor"),
        min_age_years=18.0 if age == "ADULTS" else None,
        max_age_years=17.999 if age in ("PEDIATRIC", "CHILDREN") else None,
        ctml_arms=ctml_arms(doc),
    )
    summary = doc.get("_summary") or {}
    record.conditions = _summary_values(summary.get("tumor_types"))
    record.keywords = _summary_values(summary.get("genes"))
    drugs = doc.get("drug_list", {})
    names = {
        d.get("drug_name")
        for d in (drugs.get("drug") if isinstance(drugs, dict) else drugs) or []
        if isinstance(d, dict) and d.get("drug_name")
    }
    record.interventions = [{"type": "DRUG", "name": n} for n in sorted(names)]
    for site in (
        doc.get("site_list", {}).get("site", []) if isinstance(doc.get("site_list"), dict) else []
    ):
        if isinstance(site, dict) and site.get("site_name"):
            record.sites.append(SiteRecord(facility=site["site_name"], country="United States"))
    return record


# --- file detection -----------------------------------------------------------------------


def _json_docs(data: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """(format, where, document) for every trial in a JSON value."""
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        for i, study in enumerate(data["studies"]):
            yield "ctgov_v2", f"{where}#studies[{i}]", study
    elif isinstance(data, dict) and "protocolSection" in data:
        yield "ctgov_v2", where, data
    elif isinstance(data, dict) and "treatment_list" in data:
        yield "ctml", where, data
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _json_docs(item, f"{where}[{i}]")
    else:
        yield "unknown", where, data


def _load_json(text: str) -> Any:
    """A JSON value, or several concatenated ones (MatchMiner accepts one trial per line)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        value, position = decoder.raw_decode(text, position)
        values.append(value)
    if not values:
        raise ValueError("empty file")
    return values[0] if len(values) == 1 else values


def parse_file(path: Path) -> ParsedFile:
    """Detect the format of ``path`` and parse every trial in it; bad records are rejected."""
    where = path.name
    records: list[TrialRecord] = []
    rejected: list[tuple[str, str]] = []
    suffix = path.suffix.lower()
    try:
        raw = path.read_bytes()
    except OSError as error:
        return ParsedFile(str(path), "unreadable", [], [(where, error.strerror or "unreadable")])
    if suffix == ".xml" or raw.lstrip().startswith(b"<"):
        try:
            root = ET.fromstring(raw)  # noqa: S314 - stdlib parser, no external entities
        except ET.ParseError as error:
            return ParsedFile(str(path), "xml", [], [(where, f"invalid XML: {error}")])
        try:
            records.append(from_ctgov_xml(root, where))
        except RecordError as error:
            rejected.append((error.where, error.reason))
        return ParsedFile(str(path), "ctgov_xml", records, rejected)
    try:
        if suffix in (".yml", ".yaml"):
            data = yaml.safe_load(raw)
        else:
            data = _load_json(raw.decode("utf-8-sig"))
    except (ValueError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0]
        return ParsedFile(str(path), "json", [], [(where, f"invalid JSON/YAML: {reason}")])
    formats: set[str] = set()
    for fmt, w, doc in _json_docs(data, where):
        formats.add(fmt)
        try:
            if fmt == "ctgov_v2":
                records.append(from_ctgov_v2(doc, w))
            elif fmt == "ctml":
                records.append(from_ctml(doc, w))
            else:
                rejected.append((w, "not a ClinicalTrials.gov study nor a CTML trial"))
        except RecordError as error:
            rejected.append((error.where, error.reason))
    return ParsedFile(str(path), "+".join(sorted(formats)) or "empty", records, rejected)


def iter_files(paths: list[Path]) -> list[Path]:
    """Files under ``paths`` (directories are walked) that may hold trials."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in (".json", ".xml", ".yml", ".yaml")
            )
        else:
            found.append(path)
    return found
