"""The trial search page: the fiche form, per-criterion verdicts with evidence, nearest sites."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from web.trials import fiche_from_form

BREST_QUERY = (
    "/web/essais?chercher=1&age=64&sex=female&performance_status=1"
    "&diagnosis_text=non-small+cell+lung+cancer&biomarker_0_name=EGFR"
    "&biomarker_0_alteration=exon+19+deletion&postal_code=29200"
)


def test_form_fields_become_the_api_body():
    form = MultiDict(
        [
            ("age", "64"),
            ("sex", "female"),
            ("diagnosis_text", "lung"),
            ("diagnosis_oncotree_code", ""),
            ("biomarker_0_name", "EGFR"),
            ("biomarker_0_alteration", "L858R"),
            ("biomarker_1_name", ""),
            ("metastatic_sites", "brain"),
            ("metastatic_sites", "bone"),
            ("postal_code", "29200"),
            ("include_ineligible", "oui"),
        ]
    )
    assert fiche_from_form(form) == {
        "fiche": {
            "age": 64,
            "sex": "female",
            "diagnosis": {"text": "lung"},
            "biomarkers": [{"name": "EGFR", "alteration": "L858R"}],
            "metastatic_sites": ["brain", "bone"],
            "residence": {"postal_code": "29200"},
        },
        "include_ineligible": True,
    }


def test_search_shows_verdicts_evidence_and_nearest_sites(web_client, load_demo):
    load_demo()
    page = web_client("medecin").get(BREST_QUERY)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "essai(s) trouvé(s)" in html
    assert "Explication critère par critère" in html
    assert "EGFR exon 19 deletion positive" in html  # the fiche value of the EGFR criterion
    assert "rempli" in html
    assert " km</li>" in html  # a nearest site with its distance


def test_bad_fiche_values_are_reported_by_field(web_client):
    html = web_client("medecin").get("/web/essais?chercher=1&age=abc&sex=x").get_data(as_text=True)
    assert "fiche.age" in html and "fiche.sex" in html
    assert "essai(s) trouvé(s)" not in html


def test_the_form_alone(web_client):
    html = web_client("3c").get("/web/essais").get_data(as_text=True)
    assert 'id="trial-form"' in html and "essai(s) trouvé(s)" not in html
