from types import SimpleNamespace

from core.fiche import load_fiche
from core.search import IndexStore
from trials import index


def trial(**overrides):
    values = {
        "id": 1,
        "registry_id": "NCT00000001",
        "brief_title": "Osimertinib in EGFR-mutant Non-Small Cell Lung Cancer",
        "official_title": None,
        "summary": "A study.",
        "conditions": ["NSCLC"],
        "keywords": ["EGFR"],
        "interventions": [{"type": "DRUG", "name": "Osimertinib"}],
        "oncotree_codes": ["NSCLC"],
        "criteria": [
            {
                "kind": "biomarker",
                "gene": "EGFR",
                "alterations": ["exon 19 deletion"],
                "status": "positive",
                "include": True,
                "origin": "extracted",
                "evidence": "x",
            },
            {
                "kind": "biomarker",
                "gene": "ALK",
                "status": "wild_type",
                "alterations": [],
                "include": True,
                "origin": "extracted",
                "evidence": "y",
            },
        ],
        "ctml_arms": [],
        "overall_status": "RECRUITING",
        "phases": ["PHASE3"],
        "sites": [SimpleNamespace(country="France", lat=48.4, lon=-4.5)],
        "min_age_years": 18.0,
        "max_age_years": None,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_document_carries_codes_genes_variants_synonyms_and_facts():
    doc = index.document(trial())
    assert doc["codes"] == "NSCLC" and doc["genes"] == "EGFR"
    assert doc["variants"] == "EGFR:exon_19_deletion"
    assert "Non Small Cell Lung Cancer" in doc["conditions"] and "HER1" in doc["conditions"]
    assert "CBNPC" in doc["conditions_fr"]
    assert "EGFR mutant" in doc["title"]
    assert doc["countries"] == "France" and doc["min_age"] == 18.0 and "max_age" not in doc
    assert doc["facts"]["points"] == [(48.4, -4.5)]
    assert all("evidence" not in c for c in doc["facts"]["criteria"])


def test_ctml_genes_are_indexed():
    arms = [
        {
            "open": True,
            "label": "a",
            "match": {
                "and": [
                    {"genomic": {"hugo_symbol": "BRAF", "protein_change": "p.V600E"}},
                    {"genomic": {"hugo_symbol": "!KRAS"}},
                ]
            },
        }
    ]
    genes, variants = index.trial_genes([], arms)
    assert genes == {"BRAF"} and variants == {"BRAF:V600E"}


def _search(store, query, **kwargs):
    with store.searcher() as searcher:
        return [hit["id"] for hit in searcher.search(query, **kwargs)]


def test_fiche_and_text_queries(tmp_path):
    store = IndexStore(tmp_path / "trials", index.schema())
    breast = trial(
        id=2,
        registry_id="NCT00000002",
        brief_title="HER2-positive breast cancer",
        conditions=["Breast Cancer"],
        oncotree_codes=["BREAST"],
        keywords=[],
        interventions=[],
        criteria=[],
        summary=None,
        phases=["PHASE2"],
    )
    store.rebuild([index.document(trial()), index.document(breast)])
    luad = load_fiche(
        {
            "diagnosis": {"oncotree_code": "LUAD"},
            "biomarkers": [{"name": "EGFR", "alteration": "del19"}],
        }
    )
    assert _search(store, index.fiche_query(luad)) == ["NCT00000001"]
    assert _search(store, index.text_query("ERBB2")) == ["NCT00000002"]
    assert _search(store, index.text_query("cancer du sein"))[0] == "NCT00000002"
    assert _search(store, index.text_query("CBNPC")) == ["NCT00000001"]
    assert _search(store, index.text_query("non-small cell")) == ["NCT00000001"]
    restrict = index.filter_query(index.Filters(("RECRUITING",), ("PHASE3",), "france"))
    assert _search(store, index.fiche_query(load_fiche({})), filter=restrict) == ["NCT00000001"]
