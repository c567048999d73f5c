from core.terminology.oncotree import tree


def test_hierarchy():
    onco = tree()
    assert len(onco.nodes) == 897
    assert onco.is_a("LUAD", "NSCLC")
    assert onco.is_a("LUAD", "LUNG")
    assert onco.is_a("LUAD", "LUAD")
    assert not onco.is_a("SCLC", "NSCLC")
    assert not onco.is_a("UNKNOWN", "LUNG")
    assert onco.ancestors("LUAD") == ["NSCLC", "LUNG"]
    assert {"LUAD", "LUSC"} <= onco.descendants("NSCLC")
    assert "LUAD" not in onco.descendants("LUAD")


def test_find_by_name_code_and_main_type():
    onco = tree()
    assert [n.code for n in onco.find("Non-Small Cell Lung Cancer")] == ["NSCLC"]
    assert [n.code for n in onco.find("lung adenocarcinoma")] == ["LUAD"]
    assert [n.code for n in onco.find("luad")] == ["LUAD"]
    assert [n.code for n in onco.find("Mélanome")] == []  # names are English
    assert onco.find("") == []


def test_cim10_and_icdo3_entry_points():
    onco = tree()
    assert onco.from_cim10("C34.1") == "LUNG"
    assert onco.from_cim10("c509") == "BREAST"
    assert onco.from_cim10("C18.7") == "COADREAD"
    assert onco.from_cim10("C20") == "COADREAD"
    assert onco.from_cim10("D05") is None
    assert onco.from_icdo3("8140/3", "C34.1") == ["LUAD"]
    assert onco.from_icdo3("9999/9") == []
