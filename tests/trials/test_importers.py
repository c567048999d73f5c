import json
from pathlib import Path

import pytest

from trials import importers
from trials.cli import DEMO_DATA

from .conftest import FIXTURES


def test_every_demo_file_parses_without_rejection():
    files = importers.iter_files([DEMO_DATA])
    parsed = [importers.parse_file(p) for p in files]
    assert sum(len(p.records) for p in parsed) == 117
    assert [r for p in parsed for r in p.rejected] == []
    assert {p.format for p in parsed} == {"ctgov_v2", "ctgov_xml", "ctml"}


def test_ctgov_v2_study_fields():
    parsed = importers.parse_file(DEMO_DATA / "ctgov_v2" / "nsclc_phase3_ctgov_v2.json")
    record = next(r for r in parsed.records if r.registry_id == "NCT06576635")
    assert record.source == "ctgov_v2"
    assert record.overall_status == "RECRUITING"
    assert record.conditions == ["NSCLC"]
    assert record.min_age_years == 18.0 and record.max_age_years is None
    assert record.criteria_text.startswith("Inclusion Criteria")
    assert record.sites[0].city == "Chicago" and record.sites[0].lat == pytest.approx(41.85, 0.01)
    assert {"type": "DRUG", "name": "Docetaxel"} in record.interventions


def test_v2_single_study_and_studies_page(tmp_path: Path):
    studies = json.loads((DEMO_DATA / "ctgov_v2" / "nsclc_phase3_ctgov_v2.json").read_text())
    (tmp_path / "one.json").write_text(json.dumps(studies[0]))
    (tmp_path / "page.json").write_text(json.dumps({"studies": studies[:3], "nextPageToken": "x"}))
    assert len(importers.parse_file(tmp_path / "one.json").records) == 1
    page = importers.parse_file(tmp_path / "page.json")
    assert [r.registry_id for r in page.records] == [
        s["protocolSection"]["identificationModule"]["nctId"] for s in studies[:3]
    ]


def test_legacy_xml_fields():
    record = importers.parse_file(DEMO_DATA / "ctgov_xml" / "NCT00283075.xml").records[0]
    assert record.registry_id == "NCT00283075"
    assert record.source == "ctgov_xml"
    assert record.sites[0].city == "New York"
    assert record.phases == ["PHASE1"]


def test_ctml_curated_arms_and_summary():
    record = importers.parse_file(
        DEMO_DATA / "ctml" / "NCT02503722_Osimertinib_fixed.json"
    ).records[0]
    assert record.registry_id == "NCT02503722"
    assert record.source == "ctml"
    assert record.ctml_arms and record.ctml_arms[0]["open"] is True
    assert "and" in record.ctml_arms[0]["match"]


def test_ctml_yaml_and_concatenated_json():
    yaml_file = importers.parse_file(FIXTURES / "00-001.yml")
    assert len(yaml_file.records) == 1 and yaml_file.format == "ctml"
    two = importers.parse_file(FIXTURES / "two_trials_one_doc.json")
    assert len(two.records) == 2
    array = importers.parse_file(FIXTURES / "trials_json_array.json")
    assert len(array.records) >= 2


def test_rejections_name_the_file_and_reason(tmp_path: Path):
    no_id = importers.parse_file(FIXTURES / "11-112.json")
    assert no_id.records == [] and no_id.rejected == [
        ("11-112.json", "neither nct_id nor protocol_no")
    ]
    (tmp_path / "bad.json").write_text("{not json")
    assert importers.parse_file(tmp_path / "bad.json").rejected[0][1].startswith("invalid JSON")
    (tmp_path / "bad.xml").write_text("<clinical_study><id_info></id_info></clinical_study>")
    assert "no valid NCT" in importers.parse_file(tmp_path / "bad.xml").rejected[0][1]
    (tmp_path / "other.json").write_text('{"hello": 1}')
    assert (
        "not a ClinicalTrials.gov study"
        in importers.parse_file(tmp_path / "other.json").rejected[0][1]
    )


def test_closed_arms_and_doses_are_marked_closed():
    arms = importers.parse_file(FIXTURES / "ctml_engine" / "all_closed.json").records[0].ctml_arms
    assert arms and not any(a["open"] for a in arms)
    arms = importers.parse_file(FIXTURES / "ctml_engine" / "closed_dose.json").records[0].ctml_arms
    assert [a["open"] for a in arms] == [True, True, False]


@pytest.mark.parametrize(
    ("text", "years"),
    [("18 Years", 18.0), ("6 Months", 0.5), ("N/A", None), (None, None), ("65 years", 65.0)],
)
def test_parse_age(text, years):
    assert importers.parse_age(text) == years


@pytest.mark.parametrize(
    ("text", "phases"),
    [
        ("Phase 1/Phase 2", ["PHASE1", "PHASE2"]),
        ("N/A", ["NA"]),
        ("I/II", ["PHASE1", "PHASE2"]),
        ("Early Phase 1", ["EARLY_PHASE1"]),
    ],
)
def test_normalize_phase(text, phases):
    assert importers.normalize_phase(text) == phases


def test_normalize_status():
    assert importers.normalize_status("Not yet recruiting") == "NOT_YET_RECRUITING"
    assert importers.normalize_status("open to accrual") == "RECRUITING"
    assert importers.normalize_status("gibberish") == "UNKNOWN"
