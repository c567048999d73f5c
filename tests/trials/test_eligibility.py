import pytest

from core.fiche import load_fiche
from trials import importers
from trials.eligibility import (
    ELIGIBLE,
    INELIGIBLE,
    MET,
    NOT_MET,
    POSSIBLY,
    UNKNOWN,
    TrialCriteria,
    assess,
    evaluate,
    evaluate_ctml,
)

from .conftest import BREST_FICHE, FIXTURES


def fiche(**fields):
    return load_fiche(fields)


def result(patient, criterion):
    return evaluate(patient, {"origin": "extracted", "evidence": "sentence", **criterion}).result


def test_age_bounds_are_inclusive_and_missing_age_is_unknown():
    criterion = {"kind": "age", "min": 18, "max": 65}
    assert result(fiche(age=18), criterion) == MET
    assert result(fiche(age=65), criterion) == MET
    assert result(fiche(age=16), criterion) == NOT_MET
    assert result(fiche(), criterion) == UNKNOWN
    assert result(fiche(age=90), {"kind": "age", "min": 18, "max": None}) == MET


def test_sex():
    assert result(fiche(sex="female"), {"kind": "sex", "value": "FEMALE"}) == MET
    assert result(fiche(sex="male"), {"kind": "sex", "value": "FEMALE"}) == NOT_MET


def test_diagnosis_exact_subtype_and_less_precise_fiche():
    trial = {"kind": "diagnosis", "codes": ["NSCLC"]}
    exact = evaluate(fiche(diagnosis={"oncotree_code": "NSCLC"}), trial)
    subtype = evaluate(fiche(diagnosis={"oncotree_code": "LUAD"}), trial)
    assert (exact.result, exact.match_level) == (MET, 2)
    assert (subtype.result, subtype.match_level) == (MET, 1)
    assert result(fiche(diagnosis={"oncotree_code": "LUNG"}), trial) == UNKNOWN
    assert result(fiche(diagnosis={"oncotree_code": "BRCA"}), trial) == NOT_MET
    assert result(fiche(diagnosis={"cim10": "C50.9"}), trial) == NOT_MET


def test_excluded_histology():
    criterion = {"kind": "diagnosis", "codes": ["LUSC"], "include": False}
    assert result(fiche(diagnosis={"oncotree_code": "LUSC"}), criterion) == NOT_MET
    assert result(fiche(diagnosis={"oncotree_code": "LUAD"}), criterion) == MET
    assert result(fiche(diagnosis={"oncotree_code": "NSCLC"}), criterion) == UNKNOWN


def test_stage_from_group_or_m_category():
    criterion = {"kind": "stage", "allowed": ["IIIB", "IV"]}
    assert result(fiche(tnm={"stage_group": "IVB"}), criterion) == MET
    assert result(fiche(tnm={"m": "M1c"}), criterion) == MET
    assert result(fiche(tnm={"stage_group": "IIA"}), criterion) == NOT_MET
    assert result(fiche(tnm={"stage_group": "III"}), criterion) == UNKNOWN
    assert result(fiche(), criterion) == UNKNOWN


def test_performance_status_and_karnofsky():
    assert result(fiche(performance_status=1), {"kind": "performance_status", "max": 1}) == MET
    assert result(fiche(performance_status=2), {"kind": "performance_status", "max": 1}) == NOT_MET
    assert result(fiche(karnofsky=90), {"kind": "performance_status", "max": 1}) == MET
    assert result(fiche(performance_status=0), {"kind": "karnofsky", "min": 70}) == MET
    assert result(fiche(performance_status=3), {"kind": "karnofsky", "min": 70}) == NOT_MET


def test_biomarker_variant_gene_wild_type_and_threshold():
    egfr = fiche(biomarkers=[{"name": "EGFR", "alteration": "del19"}])
    variant = evaluate(
        egfr,
        {
            "kind": "biomarker",
            "gene": "EGFR",
            "alterations": ["exon 19 deletion", "L858R"],
            "status": "positive",
        },
    )
    gene = evaluate(
        egfr, {"kind": "biomarker", "gene": "EGFR", "alterations": [], "status": "positive"}
    )
    assert (variant.result, variant.match_level) == (MET, 2)
    assert (gene.result, gene.match_level) == (MET, 1)
    assert (
        result(
            egfr,
            {
                "kind": "biomarker",
                "gene": "EGFR",
                "alterations": ["exon 20 insertion"],
                "status": "positive",
            },
        )
        == NOT_MET
    )
    assert result(egfr, {"kind": "biomarker", "gene": "EGFR", "status": "wild_type"}) == NOT_MET
    assert result(egfr, {"kind": "biomarker", "gene": "ALK", "status": "positive"}) == UNKNOWN
    her2 = fiche(biomarkers=[{"name": "HER2", "alteration": "amplification"}])
    assert (
        result(
            her2,
            {
                "kind": "biomarker",
                "gene": "ERBB2",
                "alterations": ["amplification"],
                "status": "positive",
            },
        )
        == MET
    )
    pdl1 = fiche(biomarkers=[{"name": "PD-L1", "value": 60, "unit": "%", "status": "positive"}])
    assert (
        result(pdl1, {"kind": "biomarker", "gene": "PD-L1", "min_value": 50, "status": "positive"})
        == MET
    )
    braf = fiche(biomarkers=[{"name": "BRAF", "alteration": "V600K"}])
    assert (
        result(
            braf,
            {
                "kind": "biomarker",
                "gene": "BRAF",
                "alterations": [],
                "wildcard": "V600",
                "status": "positive",
            },
        )
        == MET
    )


def test_any_of_biomarkers():
    criterion = {
        "kind": "biomarker",
        "any_of": [
            {"gene": "ALK", "alterations": ["fusion"], "status": "positive"},
            {"gene": "EGFR", "alterations": [], "status": "positive"},
        ],
    }
    assert result(fiche(biomarkers=[{"name": "EGFR", "alteration": "L858R"}]), criterion) == MET
    assert result(fiche(biomarkers=[{"name": "KRAS", "alteration": "G12C"}]), criterion) == UNKNOWN


def test_prior_treatment():
    tki = {
        "kind": "prior_treatment",
        "include": False,
        "types": ["therapie_ciblee"],
        "drugs": ["osimertinib", "gefitinib"],
    }
    assert (
        result(fiche(prior_treatments=[{"type": "therapie_ciblee", "drugs": ["Osimertinib"]}]), tki)
        == NOT_MET
    )
    assert (
        result(fiche(prior_treatments=[{"type": "chimiotherapie", "drugs": ["carboplatin"]}]), tki)
        == MET
    )
    assert result(fiche(prior_treatments=[{"type": "therapie_ciblee"}]), tki) == UNKNOWN
    assert result(fiche(prior_lines=0), tki) == MET
    assert result(fiche(), tki) == UNKNOWN
    lines = {"kind": "prior_treatment", "min_lines": 1, "types": [], "drugs": []}
    assert result(fiche(prior_lines=2), lines) == MET
    assert result(fiche(prior_lines=0), lines) == NOT_MET


def test_brain_metastases():
    criterion = {"kind": "brain_metastases", "allowed": ["none", "stable"]}
    assert result(fiche(brain_metastases="active"), criterion) == NOT_MET
    assert result(fiche(brain_metastases="stable"), criterion) == MET
    assert result(fiche(metastatic_sites=["liver"]), criterion) == MET
    assert result(fiche(metastatic_sites=["brain"]), criterion) == UNKNOWN


def test_overall_verdicts_and_evidence():
    criteria = [
        {
            "kind": "age",
            "min": 18,
            "max": None,
            "origin": "registry",
            "evidence": "minimumAge 18 years",
        },
        {"kind": "performance_status", "max": 1, "origin": "extracted", "evidence": "ECOG 0-1"},
    ]
    trial = TrialCriteria(criteria)
    assert assess(load_fiche(BREST_FICHE), trial).verdict == ELIGIBLE
    assert assess(fiche(age=64), trial).verdict == POSSIBLY
    teen = assess(load_fiche({**BREST_FICHE, "age": 16}), trial)
    assert teen.verdict == INELIGIBLE
    reason = teen.reasons[0]
    assert (reason.kind, reason.fiche_value, reason.evidence, reason.origin) == (
        "age",
        "16 years",
        "minimumAge 18 years",
        "registry",
    )


# --- MatchMiner engine test cases (dfci/matchengine-V2 integration trials) ----------------


def ctml(name):
    return importers.parse_file(FIXTURES / "ctml_engine" / f"{name}.json").records[0].ctml_arms


def ctml_result(name, **patient):
    return evaluate_ctml(fiche(**patient), ctml(name)).result


def test_matchminer_age_cases():
    assert ctml_result("older_than_18", age=30) == MET
    assert ctml_result("older_than_18", age=18) == NOT_MET  # ">18" is strict
    assert ctml_result("older_than_18", age=10) == NOT_MET
    assert ctml_result("younger_than_18", age=10) == MET
    assert ctml_result("younger_than_18", age=40) == NOT_MET
    assert ctml_result("older_than_18") == UNKNOWN


def test_matchminer_wildcard_protein_change():
    assert (
        ctml_result(
            "wildcard_protein_found", biomarkers=[{"name": "BRAF", "alteration": "p.V600E"}]
        )
        == MET
    )
    assert (
        ctml_result("wildcard_protein_found", biomarkers=[{"name": "BRAF", "alteration": "V60E"}])
        == NOT_MET
    )
    assert (
        ctml_result("wildcard_protein_found", biomarkers=[{"name": "BRAF", "alteration": "V6001E"}])
        == NOT_MET
    )
    assert (
        ctml_result(
            "wildcard_protein_not_found", biomarkers=[{"name": "BRAF", "alteration": "V600E"}]
        )
        == UNKNOWN
    )
    assert (
        ctml_result(
            "wildcard_protein_not_found", biomarkers=[{"name": "ARID1A", "alteration": "R911*"}]
        )
        == MET
    )


def test_matchminer_tmb():
    for value in (5, 12, 40, 80):
        assert (
            ctml_result("tmb", biomarkers=[{"name": "TMB", "value": value, "status": "positive"}])
            == MET
        )
    assert ctml_result("tmb") == UNKNOWN


def test_matchminer_closed_arms_and_doses():
    nsclc_egfr = {
        "age": 50,
        "diagnosis": {"oncotree_code": "NSCLC"},
        "biomarkers": [{"name": "EGFR", "alteration": "exon 19 deletion"}],
    }
    assert ctml_result("all_open", **nsclc_egfr) == MET
    assert ctml_result("closed_dose", **nsclc_egfr) == MET
    all_closed = evaluate_ctml(fiche(**nsclc_egfr), ctml("all_closed"))
    assert all_closed.result == NOT_MET and "no arm open" in all_closed.label
    # closed_dose: the only tree for Pleuropulmonary Blastoma sits on a suspended dose level
    pleuropulmonary = {**nsclc_egfr, "diagnosis": {"oncotree_code": "PPB"}}
    assert ctml_result("closed_dose", **pleuropulmonary) == MET  # PPB is_a Lung (open step)
    assert (
        ctml_result("closed_dose", **{**nsclc_egfr, "diagnosis": {"oncotree_code": "BRCA"}})
        == NOT_MET
    )


def test_matchminer_structural_variants_and_negation():
    assert (
        ctml_result("unstructured_sv", biomarkers=[{"name": "EGFR", "alteration": "fusion"}]) == MET
    )
    assert (
        ctml_result("unstructured_sv", biomarkers=[{"name": "EGFR", "alteration": "L858R"}])
        == NOT_MET
    )
    # arm 1: Skin, >= 18, TP53 not a structural variant, and one of the fusions
    skin = {
        "age": 40,
        "diagnosis": {"oncotree_code": "SKCM"},
        "biomarkers": [
            {"name": "TP53", "alteration": "R273H"},
            {"name": "ALK", "alteration": "fusion", "fusion_partner": "TFG"},
        ],
    }
    result_ = evaluate_ctml(fiche(**skin), ctml("structured_sv"))
    assert result_.result in (MET, UNKNOWN)
    tp53_sv = {**skin, "biomarkers": [{"name": "TP53", "alteration": "fusion"}]}
    assert evaluate_ctml(fiche(**tp53_sv), ctml("structured_sv")).result != MET


def test_matchminer_solid_liquid_and_sex():
    # (solid >= 6 or liquid >= 8) and < 21 and (lung < 12 or breast, female, >= 12 ...)
    arms = ctml("massive_match_clause")
    child_lung = fiche(age=10, sex="male", diagnosis={"oncotree_code": "LUAD"})
    adult = fiche(age=40, sex="male", diagnosis={"oncotree_code": "LUAD"})
    assert evaluate_ctml(child_lung, arms).result == MET
    assert evaluate_ctml(adult, arms).result == NOT_MET


@pytest.mark.parametrize("name", ["signatures"])
def test_matchminer_signatures_are_unknown_without_data(name):
    assert ctml_result(name, age=50) == UNKNOWN
