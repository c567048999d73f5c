import pytest

from core.fiche import load_fiche
from guidelines import criteria
from guidelines.criteria import CriteriaError, Outcome, evaluate, validate

FICHE = load_fiche(
    {
        "age": 64,
        "sex": "female",
        "karnofsky": 80,
        "diagnosis": {"oncotree_code": "LUAD", "cim10": "C34.1", "histology": "8140/3"},
        "tnm": {"t": "T2a", "n": "N2", "m": "M1c", "stage_group": "IVB"},
        "biomarkers": [
            {"name": "EGFR", "alteration": "L858R"},
            {"name": "PD-L1", "value": 50, "unit": "%"},
            {"name": "HER2", "status": "negative"},
            {"name": "KRAS", "status": "unknown"},
        ],
        "metastatic_sites": ["brain", "bone"],
        "prior_treatments": [{"type": "chimiotherapie", "drugs": ["Carboplatin"], "line": 1}],
        "prior_lines": 1,
    }
)


def leaf(field, op, value=...):
    node = {"field": field, "op": op}
    if value is not ...:
        node["value"] = value
    return node


@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        (leaf("age", "ge", 60), Outcome.MET),
        (leaf("age", "lt", 60), Outcome.NOT_MET),
        (leaf("age", "between", [18, 64]), Outcome.MET),
        (leaf("sex", "eq", "female"), Outcome.MET),
        (leaf("sex", "in", ["male"]), Outcome.NOT_MET),
        (leaf("sex", "not_in", ["male"]), Outcome.MET),
        # ECOG derived from Karnofsky 80
        (leaf("performance_status", "le", 1), Outcome.MET),
        (leaf("diagnosis.oncotree_code", "is_a", "NSCLC"), Outcome.MET),
        (leaf("diagnosis.oncotree_code", "is_a", ["BREAST", "LUNG"]), Outcome.MET),
        (leaf("diagnosis.oncotree_code", "is_a", "BREAST"), Outcome.NOT_MET),
        (leaf("diagnosis.cim10", "is_a", "C33-C34"), Outcome.MET),
        (leaf("diagnosis.cim10", "is_a", "C50"), Outcome.NOT_MET),
        (leaf("diagnosis.histology", "is_a", "814"), Outcome.MET),
        (leaf("tnm.stage_group", "is_a", "IV"), Outcome.MET),
        (leaf("tnm.stage_group", "ge", "IIIC"), Outcome.MET),
        (leaf("tnm.stage_group", "between", ["IA1", "IIB"]), Outcome.NOT_MET),
        (leaf("tnm.t", "is_a", "T2"), Outcome.MET),
        (leaf("tnm.t", "lt", "T3"), Outcome.MET),
        (leaf("tnm.n", "ge", "N1"), Outcome.MET),
        (leaf("tnm.m", "is_a", "M1"), Outcome.MET),
        (leaf("biomarkers.EGFR.status", "eq", "positive"), Outcome.MET),
        (leaf("biomarkers.egfr.alteration", "in", ["L858R", "exon 19 deletion"]), Outcome.MET),
        (leaf("biomarkers.PD-L1.value", "ge", 50), Outcome.MET),
        (leaf("biomarkers.HER2.status", "in", ["negative", "wild_type"]), Outcome.MET),
        (leaf("biomarkers.ERBB2.status", "eq", "positive"), Outcome.NOT_MET),
        (leaf("metastatic_sites", "eq", "brain"), Outcome.MET),
        (leaf("metastatic_sites", "in", ["liver", "bone"]), Outcome.MET),
        (leaf("metastatic_sites", "not_in", ["liver"]), Outcome.MET),
        (leaf("prior_treatments.type", "eq", "chimiotherapie"), Outcome.MET),
        (leaf("prior_treatments.drugs", "eq", "carboplatin"), Outcome.MET),
        (leaf("prior_lines", "ge", 2), Outcome.NOT_MET),
        (leaf("biomarkers.ALK.status", "exists"), Outcome.NOT_MET),
        (leaf("biomarkers.ALK.status", "missing"), Outcome.MET),
        (leaf("phase", "missing"), Outcome.MET),
    ],
)
def test_leaf_outcomes(criterion, expected):
    validate(criterion)
    assert evaluate(criterion, FICHE).outcome is expected


def test_missing_field_is_indeterminate_and_listed():
    result = evaluate(leaf("biomarkers.ALK.status", "eq", "positive"), FICHE)
    assert result.outcome is Outcome.INDETERMINATE
    assert result.missing == ["biomarkers.ALK.status"]
    assert result.trace[0].as_dict()["patient_value"] is None


def test_unknown_status_counts_as_missing():
    result = evaluate(leaf("biomarkers.KRAS.status", "eq", "positive"), FICHE)
    assert result.outcome is Outcome.INDETERMINATE


def test_coarse_diagnosis_is_indeterminate_not_false():
    coarse = load_fiche({"diagnosis": {"oncotree_code": "LUNG"}, "tnm": {"stage_group": "IV"}})
    assert evaluate(leaf("diagnosis.oncotree_code", "is_a", "LUAD"), coarse).outcome is (
        Outcome.INDETERMINATE
    )
    assert evaluate(leaf("diagnosis.oncotree_code", "is_a", "BREAST"), coarse).outcome is (
        Outcome.NOT_MET
    )
    assert evaluate(leaf("tnm.stage_group", "is_a", "IVB"), coarse).outcome is (
        Outcome.INDETERMINATE
    )


def test_unorderable_value_is_indeterminate():
    unknown = load_fiche({"tnm": {"t": "TX"}})
    assert evaluate(leaf("tnm.t", "ge", "T2"), unknown).outcome is Outcome.INDETERMINATE


@pytest.mark.parametrize(
    ("group", "children", "expected"),
    [
        ("all", [Outcome.MET, Outcome.INDETERMINATE], Outcome.INDETERMINATE),
        ("all", [Outcome.NOT_MET, Outcome.INDETERMINATE], Outcome.NOT_MET),
        ("all", [Outcome.MET, Outcome.MET], Outcome.MET),
        ("any", [Outcome.NOT_MET, Outcome.INDETERMINATE], Outcome.INDETERMINATE),
        ("any", [Outcome.MET, Outcome.INDETERMINATE], Outcome.MET),
        ("any", [Outcome.NOT_MET, Outcome.NOT_MET], Outcome.NOT_MET),
        ("none", [Outcome.NOT_MET, Outcome.INDETERMINATE], Outcome.INDETERMINATE),
        ("none", [Outcome.MET, Outcome.INDETERMINATE], Outcome.NOT_MET),
        ("none", [Outcome.NOT_MET, Outcome.NOT_MET], Outcome.MET),
    ],
)
def test_three_valued_groups(group, children, expected):
    by_outcome = {
        Outcome.MET: leaf("age", "ge", 18),
        Outcome.NOT_MET: leaf("age", "lt", 18),
        Outcome.INDETERMINATE: leaf("phase", "eq", "initial"),
    }
    criterion = {group: [by_outcome[o] for o in children]}
    validate(criterion)
    result = evaluate(criterion, FICHE)
    assert result.outcome is expected
    assert len(result.trace) == 2
    assert result.missing == (["phase"] if expected is Outcome.INDETERMINATE else [])


def test_empty_criteria_are_met():
    assert evaluate(None, FICHE).outcome is Outcome.MET
    assert evaluate({"all": []}, FICHE).outcome is Outcome.MET


@pytest.mark.parametrize(
    ("criterion", "pointer", "message"),
    [
        ([], "/", "must be an object"),
        ({"all": [], "any": []}, "/", "exactly one key"),
        ({"all": {}}, "/all", "list of criteria"),
        ({"all": [leaf("age", "ge", 18), leaf("height", "gt", 1)]}, "/all/1/field", "not a fiche"),
        ({"any": [{"none": [leaf("age", "is_a", 3)]}]}, "/any/0/none/0/op", "does not apply"),
        (leaf("age", "around", 3), "/op", "op must be one of"),
        (leaf("age", "ge", "old"), "/value", "must be a number"),
        (leaf("age", "ge"), "/value", "needs a value"),
        (leaf("age", "exists", 1), "/value", "takes no value"),
        (leaf("age", "in", []), "/value", "non-empty list"),
        (leaf("age", "between", [70, 18]), "/value", "low is above high"),
        (leaf("age", "between", [18]), "/value", "pair"),
        (leaf("sex", "eq", "other"), "/value", "must be one of"),
        (leaf("diagnosis.oncotree_code", "is_a", "NOPE"), "/value", "not an OncoTree code"),
        (leaf("diagnosis.cim10", "is_a", "lung"), "/value", "not a CIM-10"),
        (leaf("tnm.stage_group", "ge", "V"), "/value", "not a STAGE category"),
        (leaf("tnm.t", "in", ["T1", "Q2"]), "/value/1", "not a T category"),
        (leaf("biomarkers.EGFR.colour", "eq", "x"), "/field", "not a fiche"),
        (leaf("biomarkers.EGFR.status", "eq", "mutated"), "/value", "must be one of"),
        ({"field": "age", "op": "ge", "value": 1, "unit": "y"}, "/", "unknown keys"),
    ],
)
def test_invalid_criteria_name_the_faulty_node(criterion, pointer, message):
    with pytest.raises(CriteriaError) as caught:
        validate(criterion)
    assert caught.value.pointer == pointer
    assert message in caught.value.message


def test_fields_used_and_describe():
    criterion = {
        "all": [leaf("biomarkers.HER2.status", "eq", "positive"), {"none": [leaf("age", "lt", 18)]}]
    }
    assert criteria.fields_used(criterion) == ["biomarkers.ERBB2.status", "age"]
    assert criteria.describe(criterion) == (
        "(biomarkers.HER2.status eq positive) ET (AUCUN DE (age lt 18))"
    )
    assert criteria.describe(None) == "toujours"
