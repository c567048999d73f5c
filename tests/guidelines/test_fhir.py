import json
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.plandefinition import PlanDefinition

from guidelines import fhir

from .conftest import demo_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "guidelines"


def _export(name):
    document = demo_document(name)
    document["lifecycle"] = {
        "status": "active",
        "approved_at": "2025-01-02T10:00:00+00:00",
        "citation": "Citation",
    }
    return document


def test_validator_accepts_the_hl7_cpg_example():
    example = json.loads(
        (FIXTURES / "anc-example-plandefinition-anc-recommendation-a2.json").read_text()
    )
    assert PlanDefinition.model_validate(example).action[0].condition[0].kind == "applicability"


def test_every_demo_referential_exports_valid_plan_definitions():
    for name in ("national-poumon-cbnpc", "national-sein", "bretagne-colorectal"):
        bundle = fhir.bundle(_export(name))
        parsed = Bundle.model_validate(bundle)
        assert parsed.type == "collection"
        for entry in bundle["entry"]:
            PlanDefinition.model_validate(entry["resource"])


def test_strategy_mirrors_tree_and_recommendations_are_eca_rules():
    bundle = fhir.bundle(_export("national-poumon-cbnpc"))
    strategy, *recommendations = [e["resource"] for e in bundle["entry"]]
    assert strategy["type"]["coding"][0]["code"] == "workflow-definition"
    assert strategy["status"] == "active" and strategy["experimental"] is True
    assert strategy["useContext"][0]["valueCodeableConcept"]["coding"][0]["code"] == "NSCLC"
    assert strategy["jurisdiction"][0]["coding"][0]["code"] == "FR"
    assert strategy["relatedArtifact"][0]["citation"] == "Citation"
    root = strategy["action"][0]
    assert root["id"] == "cbnpc" and root["condition"][0]["kind"] == "applicability"
    osimertinib = next(r for r in recommendations if r["id"].endswith("osimertinib"))
    assert osimertinib["type"]["coding"][0]["code"] == "eca-rule"
    condition = osimertinib["action"][0]["condition"][0]["expression"]
    assert condition["language"] == fhir.CRITERIA_LANGUAGE
    criteria = json.loads(condition["expression"])
    assert len(criteria["all"]) == 4  # NSCLC, stage IV, EGFR branch, the alteration
    assert "biomarkers.EGFR.status eq positive" in condition["description"]
    assert osimertinib["action"][0]["documentation"][0]["type"] == "citation"


def test_regional_jurisdiction_is_the_region():
    strategy = fhir.bundle(_export("bretagne-sein"))["entry"][0]["resource"]
    assert strategy["jurisdiction"][0]["coding"][0]["code"] == "FR-53"
