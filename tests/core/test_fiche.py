import marshmallow as ma
import pytest

from core.fiche import dump_fiche, load_fiche

EXAMPLE = {
    "age": 64,
    "sex": "female",
    "performance_status": 1,
    "diagnosis": {"cim10": "c341", "histology": "8140/3"},
    "tnm": {"prefix": "c", "t": "cT2a", "n": "N2", "m": "M1c", "stage_group": "ivb"},
    "biomarkers": [
        {"name": "egfr", "alteration": "del19"},
        {"name": "PD-L1", "value": 50, "unit": "%"},
        {"name": "HER2", "status": "negative"},
    ],
    "metastatic_sites": ["brain"],
    "prior_treatments": [{"type": "chimiotherapie", "drugs": ["Carboplatin"], "line": 1}],
    "prior_lines": 1,
    "phase": "initial",
    "residence": {"postal_code": "29200", "max_distance_km": 100},
}


def test_load_normalises_codes_and_synonyms():
    fiche = load_fiche(EXAMPLE)
    assert fiche.oncotree_code() == "LUAD"  # from ICD-O-3 8140/3 in C34
    assert fiche.biomarker("EGFR").alteration == "exon 19 deletion"
    assert fiche.biomarker("EGFR").status == "positive"
    assert fiche.biomarker("erbb2").status == "negative"
    assert fiche.biomarker("PD-L1").status == "unknown"
    assert fiche.biomarker("PD-L1").value == 50
    assert fiche.tnm.t == "T2a" and fiche.tnm.stage_group == "IVB"
    assert fiche.prior_treatments[0].drugs == ("carboplatin",)
    assert fiche.brain_metastases is None  # a site says nothing of activity
    assert fiche.point() == pytest.approx((47.996, -4.102))  # Quimper, prefecture of 29


def test_every_field_is_optional_and_dump_drops_empty_fields():
    assert dump_fiche(load_fiche({})) == {}
    assert dump_fiche(load_fiche({"age": 3})) == {"age": 3}


def test_ecog_from_karnofsky():
    assert load_fiche({"karnofsky": 70}).ecog() == 2
    assert load_fiche({"karnofsky": 100}).ecog() == 0
    assert load_fiche({"performance_status": 3, "karnofsky": 100}).ecog() == 3


def test_oncotree_from_text_and_cim10():
    assert load_fiche({"diagnosis": {"text": "Lung Adenocarcinoma"}}).oncotree_code() == "LUAD"
    assert load_fiche({"diagnosis": {"cim10": "C50.4"}}).oncotree_code() == "BREAST"
    assert load_fiche({"diagnosis": {"oncotree_code": "luad"}}).oncotree_code() == "LUAD"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"patient_name": "DUPONT"}, ("patient_name",)),
        ({"diagnosis": {"oncotree_code": "ZZZ"}}, ("diagnosis", "oncotree_code")),
        ({"diagnosis": {"histology": "8140"}}, ("diagnosis", "histology")),
        ({"biomarkers": [{"name": "EGFR", "nir": "1 84 12"}]}, ("biomarkers", 0, "nir")),
        ({"age": 130}, ("age",)),
        ({"sex": "F"}, ("sex",)),
        ({"residence": {"department": "99"}}, ("residence", "department")),
        ({"residence": {"address": "1 rue X"}}, ("residence", "address")),
    ],
)
def test_invalid_or_identifying_fields_are_refused(body, pointer):
    with pytest.raises(ma.ValidationError) as caught:
        load_fiche(body)
    node = caught.value.messages
    for key in pointer:
        node = node[key]
    assert node
