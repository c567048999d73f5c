import pytest

from trials import extraction


def one(sentence, include=True, kind=None):
    found = extraction.extract_sentence(sentence, include=include)
    if kind:
        found = [c for c in found if c["kind"] == kind]
    assert len(found) == 1, found
    return found[0]


def test_sections_english_and_french():
    inc, exc = extraction.split_sections(
        "Inclusion Criteria:\n\n* Age >= 18\n\nExclusion Criteria:\n\n* Pregnancy"
    )
    assert inc == "* Age >= 18" and exc == "* Pregnancy"
    inc, exc = extraction.split_sections(
        "Critères d'inclusion :\n- Âge ≥ 18 ans\nCritères de non-inclusion :\n- Grossesse"
    )
    assert "18 ans" in inc and "Grossesse" in exc


def test_sentences_split_bullets_and_rejoin_wrapped_lines():
    assert extraction.sentences("* ECOG 0-1\n* Stage IV\n  with\n  measurable disease") == [
        "ECOG 0-1",
        "Stage IV with measurable disease",
    ]


@pytest.mark.parametrize(
    ("sentence", "low", "high"),
    [
        ("Age ≥ 18 years at time of consent", 18, None),
        ("Patients aged 18 years or older", 18, None),
        ("Âge ≥ 18 ans", 18, None),
        ("Between 18 and 75 years of age", 18, 75),
        ("Patients âgés de plus de 70 ans", 70, None),
    ],
)
def test_age(sentence, low, high):
    criterion = one(sentence, kind="age")
    assert (criterion["min"], criterion["max"]) == (low, high)
    assert criterion["origin"] == "extracted" and criterion["evidence"] == sentence


def test_age_in_exclusions_becomes_a_lower_bound():
    criterion = one("Age under 18 years old", include=False, kind="age")
    assert criterion["include"] is True and criterion["min"] == 18


@pytest.mark.parametrize(
    ("sentence", "high"),
    [
        ("ECOG performance status score of ≤2", 2),
        ("ECOG 0-1", 1),
        ("Eastern Cooperative Oncology Group (ECOG) performance status of 0 or 1", 1),
        ("Indice de performance OMS 0 à 2", 2),
        ("WHO performance status < 2", 1),
    ],
)
def test_performance_status(sentence, high):
    assert one(sentence, kind="performance_status")["max"] == high


def test_performance_status_in_exclusions():
    criterion = one("ECOG performance status ≥ 2", include=False, kind="performance_status")
    assert criterion["include"] is True and criterion["max"] == 1


def test_karnofsky():
    assert one("Karnofsky performance status ≥ 70%", kind="karnofsky")["min"] == 70


@pytest.mark.parametrize(
    ("sentence", "allowed"),
    [
        ("Stage IIIB or IV NSCLC", ["IIIB", "IV"]),
        ("Stage IIIB/IIIC, metastatic, or recurrent (stage IV) NSCLC", ["IIIB", "IIIC", "IV"]),
        ("Stage I-III NSCLC", ["I", "II", "III"]),
        ("Metastatic breast cancer", ["IV"]),
    ],
)
def test_stage(sentence, allowed):
    assert one(sentence, kind="stage")["allowed"] == allowed


def test_histology():
    criterion = one("Histologically confirmed non-squamous NSCLC", kind="diagnosis")
    assert criterion["include"] is False and criterion["codes"] == ["LUSC"]
    criterion = one("Histologically confirmed adenocarcinoma of the lung", kind="diagnosis")
    assert criterion["codes"] == ["LUAD"]
    criterion = one("Mixed small cell lung cancer histology", include=False, kind="diagnosis")
    assert criterion["codes"] == ["SCLC"]


def test_biomarker_variants():
    criterion = one("Confirmed EGFR mutations (exon 19 deletion, L858R)", kind="biomarker")
    assert criterion["gene"] == "EGFR" and criterion["status"] == "positive"
    assert criterion["alterations"] == ["exon 19 deletion", "L858R"]
    assert one("BRAF V600E mutation", kind="biomarker")["alterations"] == ["V600E"]
    assert one("Documented ALK rearrangement", kind="biomarker")["alterations"] == ["fusion"]


def test_biomarker_wild_type_and_negative():
    found = extraction.extract_sentence("Wild-type EGFR/ALK;", include=True)
    assert {(c["gene"], c["status"]) for c in found} == {
        ("EGFR", "wild_type"),
        ("ALK", "wild_type"),
    }
    found = extraction.extract_sentence(
        "EGFR gene mutation negative, ROS1 negative, and ALK negative", include=True
    )
    assert {c["status"] for c in found if c["kind"] == "biomarker"} == {"wild_type"}


def test_biomarker_alternatives_are_one_criterion():
    criterion = one("NSCLC with EGFR mutation, ALK fusion or ROS1 fusion", kind="biomarker")
    assert [o["gene"] for o in criterion["any_of"]] == ["EGFR", "ALK", "ROS1"]


def test_pd_l1_threshold():
    criterion = one("PD-L1 expression ≥ 50% (TPS)", kind="biomarker")
    assert criterion["gene"] == "PD-L1" and criterion["min_value"] == 50


def test_prior_treatment():
    criterion = one(
        "Previous treatment with any EGFR tyrosine kinase inhibitor",
        include=False,
        kind="prior_treatment",
    )
    assert criterion["include"] is False and "osimertinib" in criterion["drugs"]
    criterion = one("No prior systemic therapy for advanced disease", kind="prior_treatment")
    assert criterion["include"] is False
    criterion = one(
        "Progression after at least one prior line of platinum chemotherapy", kind="prior_treatment"
    )
    assert criterion["min_lines"] == 1
    criterion = one(
        "Radiotherapy within 4 weeks prior to enrollment", include=False, kind="prior_treatment"
    )
    assert criterion["recent"] is True


def test_brain_metastases():
    criterion = one("Active or untreated brain metastases", include=False, kind="brain_metastases")
    assert criterion["include"] is True and criterion["allowed"] == ["none", "stable"]
    criterion = one("Métastases cérébrales symptomatiques", include=False, kind="brain_metastases")
    assert criterion["allowed"] == ["none", "stable"]


def test_unrecognised_sentences_need_review():
    result = extraction.extract(
        "Inclusion Criteria:\n* Signed informed consent\n* ECOG 0-1\n"
        "Exclusion Criteria:\n* Pregnant or breastfeeding women"
    )
    assert [c["kind"] for c in result.criteria] == ["performance_status"]
    assert result.needs_review == [
        {"section": "inclusion", "text": "Signed informed consent"},
        {"section": "exclusion", "text": "Pregnant or breastfeeding women"},
    ]


def test_registry_criteria():
    criteria = extraction.registry_criteria(
        sex="FEMALE",
        min_age_years=18,
        max_age_years=None,
        conditions=["Carcinoma, Non-Small-Cell Lung"],
    )
    assert [c["kind"] for c in criteria] == ["age", "sex", "diagnosis"]
    assert criteria[2]["codes"] == ["NSCLC"] and criteria[0]["origin"] == "registry"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NSCLC", "NSCLC"),
        ("Cancer bronchique non à petites cellules", "NSCLC"),
        ("Small Cell Lung Carcinoma", "SCLC"),
        ("Breast Cancer", "BREAST"),
        ("Merkel Cell Carcinoma", "MCC"),
        ("Colorectal cancer", "COADREAD"),
    ],
)
def test_diagnosis_codes(text, code):
    assert extraction.diagnosis_codes([text]) == [code]


def test_diagnosis_codes_ignore_non_cancer():
    assert extraction.diagnosis_codes(["Healthy", "Diabetes Mellitus"]) == []


def test_title_states_a_required_biomarker_unless_criteria_do():
    found = extraction.title_criteria("Study of EGFR TKI in NSCLC Harbouring EGFR Mutations", [])
    assert [(c["gene"], c["origin"]) for c in found] == [("EGFR", "registry")]
    assert found[0]["evidence"].startswith("brief title:")
    stated = [{"kind": "biomarker", "gene": "EGFR", "alterations": [], "status": "positive"}]
    assert extraction.title_criteria("NSCLC Harbouring EGFR Mutations", stated) == []
    assert extraction.title_criteria("Chemotherapy in NSCLC", []) == []
