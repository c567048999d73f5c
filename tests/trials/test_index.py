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
    assert doc["countries"] == "France" and "age_min" not in doc and "sex" not in doc
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


def test_demographics_are_the_bounds_every_inclusion_criterion_allows():
    criteria = [
        {"kind": "age", "include": True, "min": 18, "max": None},
        {"kind": "age", "include": True, "min": 20, "max": 75},
        {"kind": "age", "include": False, "min": 70, "max": None},  # an exclusion: not a bound
        {"kind": "sex", "include": True, "value": "FEMALE"},
    ]
    assert index.demographics(criteria) == (20.0, 75.0, {"female"})
    assert index.demographics([]) == (None, None, set())
    both = [{"kind": "sex", "value": "MALE"}, {"kind": "sex", "value": "FEMALE"}]
    assert index.demographics(both)[2] == {"none"}
    doc = index.document(trial(criteria=criteria))
    assert (doc["age_min"], doc["age_max"], doc["sex"]) == ("20", "75", "female")


def _corpus(tmp_path):
    """Trials of several tumour types, genes and demographic bounds, indexed."""
    codes = ["NSCLC", "LUAD", "LUSC", "LUNG", "BREAST", "BRCA", "MEL", "COADREAD"]
    gene_list = [
        ("EGFR", "exon 19 deletion"),
        ("EGFR", "L858R"),
        ("ALK", "fusion"),
        ("KRAS", "G12C"),
    ]
    docs = []
    for n in range(60):
        gene, alteration = gene_list[n % len(gene_list)]
        criteria = [
            {"kind": "biomarker", "gene": gene, "alterations": [alteration], "include": True},
            {
                "kind": "age",
                "include": True,
                "min": [18, None, 12, 65][n % 4],
                "max": [None, 21][n % 2],
            },
        ]
        if n % 5 == 0:
            criteria.append({"kind": "sex", "include": True, "value": "MALE"})
        docs.append(
            index.document(
                trial(
                    id=n + 1,
                    registry_id=f"NCT{n + 1:08d}",
                    brief_title=f"{gene} study {n}" if n % 3 else "A study",
                    oncotree_codes=[codes[n % len(codes)]],
                    conditions=[codes[n % len(codes)]],
                    criteria=criteria,
                    overall_status=["RECRUITING", "COMPLETED"][n % 2],
                )
            )
        )
    store = IndexStore(tmp_path / "trials", index.schema())
    store.rebuild(docs)
    return store


def test_top_documents_scores_and_orders_as_whoosh_does(tmp_path):
    store = _corpus(tmp_path)
    fiches = [
        {
            "diagnosis": {"oncotree_code": "LUAD"},
            "biomarkers": [{"name": "EGFR", "alteration": "del19"}],
        },
        {"diagnosis": {"oncotree_code": "LUNG"}},
        {"diagnosis": {"oncotree_code": "BRCA"}, "biomarkers": [{"name": "KRAS"}]},
        {"biomarkers": [{"name": "ALK", "alteration": "fusion"}]},
    ]
    restrict = index.filter_query(index.Filters(("RECRUITING",)))
    with store.searcher() as searcher:
        allowed = index.docs_of(searcher, restrict)
        for data in fiches:
            fiche = load_fiche(data)
            for limit, only in ((10, None), (100, None), (7, allowed)):
                ours = index.top_documents(
                    searcher, index.fiche_terms(fiche), limit=limit, allowed=only
                )
                theirs = searcher.search(
                    index.fiche_query(fiche), limit=limit, filter=set(only) if only else None
                )
                assert [d for d, _ in ours] == [hit.docnum for hit in theirs], data
                assert [round(s, 6) for _, s in ours] == [round(h.score, 6) for h in theirs]
                assert ours


def test_demographic_exclusion_is_exactly_the_trials_the_fiche_cannot_enter(tmp_path):
    from trials import eligibility

    store = _corpus(tmp_path)
    with store.searcher() as searcher:
        for age, sex in ((16, "female"), (40, "male"), (70, None), (None, "female"), (None, None)):
            fiche = load_fiche({k: v for k, v in (("age", age), ("sex", sex)) if v is not None})
            excluded = index.excluded_by_demographics(searcher, fiche.age, fiche.sex)
            for docnum in range(searcher.doc_count()):
                criteria = searcher.stored_fields(docnum)["facts"]["criteria"]
                assessment = eligibility.assess(fiche, eligibility.TrialCriteria(criteria))
                demographic = [c for c in assessment.criteria if c.kind in ("age", "sex")]
                blocked = any(c.result == eligibility.NOT_MET for c in demographic)
                assert (docnum in excluded) == blocked, (age, sex, criteria)
            if age is None and sex is None:
                assert excluded == frozenset()
