import copy

from guidelines import diff

from .conftest import demo_document


def test_diff_reports_fields_and_nodes_readably():
    old = demo_document("national-poumon-cbnpc")["referential"]
    new = copy.deepcopy(old)
    new["version"] = "2025.2"
    stage4 = new["tree"]["children"][2]
    stage4["children"][2]["children"][0]["criteria"]["all"][0]["value"] = 60
    stage4["children"].insert(0, copy.deepcopy(stage4["children"][-1]) | {"id": "nouveau"})
    del new["tree"]["children"][1]  # stage III removed
    changes = diff.compare(old, new)
    kinds = {(c["kind"], c["where"]) for c in changes}
    assert ("field", "version") in kinds
    assert ("node_added", "nouveau") in kinds
    assert ("node_removed", "stade3") in kinds
    assert ("node_changed", "pembro-mono.criteria") in kinds
    text = diff.render(changes)
    assert "~ version: 2025.1 -> 2025.2" in text
    assert "biomarkers.PD-L1.value ge 60" in text
    assert "- Cancer bronchique non à petites cellules > Stade III" in text


def test_identical_versions_have_no_changes():
    content = demo_document("national-sein")["referential"]
    assert diff.compare(content, copy.deepcopy(content)) == []
    assert diff.render([]) == ""


def test_moved_node_is_reported_as_moved():
    old = demo_document("national-colorectal")["referential"]
    new = copy.deepcopy(old)
    moved = new["tree"]["children"][0]["children"].pop()
    new["tree"]["children"][1]["children"].append(moved)
    kinds = {(c["kind"], c["where"]) for c in diff.compare(old, new)}
    assert ("node_moved", "colectomie") in kinds
