import pytest

from guidelines.applicability import (
    TreeError,
    applicable_recommendations,
    iter_nodes,
    validate_tree,
)
from guidelines.criteria import Outcome

from .conftest import demo_document

LUNG = demo_document("national-poumon-cbnpc")["referential"]["tree"]


def by_id(found):
    return {a.node["id"]: a for a in found}


def test_every_demo_tree_is_valid():
    for name in (
        "national-poumon-cbnpc",
        "national-sein",
        "national-colorectal",
        "bretagne-poumon-cbnpc",
        "bretagne-sein",
        "bretagne-colorectal",
    ):
        validate_tree(demo_document(name)["referential"]["tree"])


def test_stage_iv_egfr_gets_targeted_therapy_with_path_and_trace(fiche):
    found = by_id(applicable_recommendations(LUNG, fiche()))
    osimertinib = found["osimertinib"]
    assert osimertinib.outcome is Outcome.MET
    assert [step["id"] for step in osimertinib.path] == ["cbnpc", "stade4", "egfr", "osimertinib"]
    fields = [t["field"] for t in osimertinib.trace]
    assert "biomarkers.EGFR.status" in fields and "tnm.stage_group" in fields
    assert all(t["outcome"] == "met" for t in osimertinib.trace if t["node_id"] == "egfr")
    # no ALK status in the fiche: the ALK branch stays open, flagged, never dropped
    assert found["alk-itk"].outcome is Outcome.INDETERMINATE
    assert found["alk-itk"].missing == ["biomarkers.ALK.status"]
    # stage I-III branches and the non-addicted branch do not apply
    assert {"chir-lobectomie", "rcc-durva", "pembro-mono", "chimio-immuno"}.isdisjoint(found)


def test_without_egfr_status_the_targeted_therapy_is_indeterminate(fiche):
    found = by_id(applicable_recommendations(LUNG, fiche(biomarkers=[])))
    osimertinib = found["osimertinib"]
    assert osimertinib.outcome is Outcome.INDETERMINATE
    assert "biomarkers.EGFR.status" in osimertinib.missing
    assert osimertinib.as_dict()["missing_fields"] == osimertinib.missing
    # PD-L1 branches are also open: they need EGFR/ALK negative and the PD-L1 value
    assert found["pembro-mono"].outcome is Outcome.INDETERMINATE


def test_wild_type_high_pdl1_gets_immunotherapy_only(fiche):
    biomarkers = [
        {"name": "EGFR", "status": "wild_type"},
        {"name": "ALK", "status": "negative"},
        {"name": "PD-L1", "value": 80, "unit": "%"},
    ]
    found = by_id(applicable_recommendations(LUNG, fiche(biomarkers=biomarkers)))
    assert found["pembro-mono"].outcome is Outcome.MET
    assert set(found) == {"pembro-mono", "essai-poumon"}


def test_iter_nodes_walks_depth_first_with_ancestors():
    nodes = list(iter_nodes(LUNG))
    assert nodes[0][1]["id"] == "cbnpc"
    ids = [n["id"] for _, n in nodes]
    assert ids.index("localise") < ids.index("chir-lobectomie") < ids.index("stade3")
    ancestors, _node = next((a, n) for a, n in nodes if n["id"] == "osimertinib")
    assert [a["id"] for a in ancestors] == ["cbnpc", "stade4", "egfr"]


def _reco(**overrides):
    node = {
        "id": "r",
        "kind": "recommendation",
        "title": "R",
        "treatment_type": "chirurgie",
        "intent": "curative",
        "category": "standard",
    }
    return node | overrides


@pytest.mark.parametrize(
    ("tree", "pointer"),
    [
        ([], "/tree"),
        ({"kind": "situation", "title": "x"}, "/tree/id"),
        ({"id": "a", "kind": "branch", "title": "x"}, "/tree/kind"),
        ({"id": "a", "kind": "situation", "title": " "}, "/tree/title"),
        ({"id": "a", "kind": "situation", "title": "x", "colour": 1}, "/tree"),
        (
            {"id": "a", "kind": "situation", "title": "x", "children": [_reco(id="a")]},
            "/tree/children/0/id",
        ),
        (
            {"id": "a", "kind": "situation", "title": "x", "children": [_reco(intent="cure")]},
            "/tree/children/0/intent",
        ),
        (
            {
                "id": "a",
                "kind": "situation",
                "title": "x",
                "children": [_reco(criteria={"all": [{"field": "age", "op": "ge", "value": "x"}]})],
            },
            "/tree/children/0/criteria/all/0/value",
        ),
        ({**_reco(), "children": [_reco(id="b")]}, "/tree/children"),
        (_reco(references="PMID 1"), "/tree/references"),
    ],
)
def test_invalid_trees_name_the_faulty_node(tree, pointer):
    with pytest.raises(TreeError) as caught:
        validate_tree(tree)
    assert caught.value.pointer == pointer
