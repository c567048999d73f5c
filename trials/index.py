"""The Whoosh index of trials: schema, documents derived from trials, and the queries of a fiche.

The index only finds and scores candidates (BM25F over titles, conditions and criteria, with
OncoTree codes and genes as keywords); eligibility and the final ranking are computed on the
candidates from the database. Tumour types carry their OncoTree names and French synonyms, genes
their synonyms (HER2 / ERBB2), so that free-text queries in English or French find them.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import query as q
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup
from whoosh.searching import Searcher

from core.fiche import Fiche
from core.search import IndexStore, folding_analyzer
from core.terminology import genes
from core.terminology.oncotree import tree

INDEX_NAME = "trials"
#: Characters of the summary indexed for text relevance. The criteria text is not indexed:
#: its content is in the structured criteria (matched exactly), and Whoosh's indexing cost
#: grows with every token (the full texts would cut the build rate by four).
BODY_SUMMARY = 800

#: French names of common tumour types (OncoTree names are English).
FRENCH_NAMES = {
    "LUNG": "cancer du poumon cancer bronchique",
    "NSCLC": "CBNPC cancer bronchique non à petites cellules",
    "SCLC": "CBPC cancer bronchique à petites cellules",
    "LUAD": "adénocarcinome pulmonaire",
    "LUSC": "carcinome épidermoïde pulmonaire",
    "BREAST": "cancer du sein",
    "BOWEL": "cancer colorectal côlon rectum",
    "COADREAD": "cancer colorectal adénocarcinome colorectal côlon rectum",
    "PROSTATE": "cancer de la prostate",
    "PANCREAS": "cancer du pancréas",
    "MEL": "mélanome",
    "OVARY": "cancer de l'ovaire",
    "STOMACH": "cancer de l'estomac œsophage gastrique",
    "LIVER": "cancer du foie carcinome hépatocellulaire CHC",
    "BRAIN": "tumeur cérébrale glioblastome gliome",
    "KIDNEY": "cancer du rein",
    "BLADDER": "cancer de la vessie urothélial",
    "HEAD_NECK": "cancer ORL voies aérodigestives supérieures VADS",
    "UTERUS": "cancer de l'endomètre utérus",
    "CERVIX": "cancer du col de l'utérus",
    "LYMPH": "lymphome",
    "MYELOID": "leucémie",
}
#: Abbreviations registries use for tumour types.
ABBREVIATIONS = {"NSCLC": "NSCLC", "SCLC": "SCLC", "COADREAD": "CRC", "HCC": "HCC", "GB": "GBM"}


def schema() -> Schema:
    en = folding_analyzer("en")
    fr = folding_analyzer("fr")
    return Schema(
        id=ID(stored=True, unique=True),
        pk=STORED(),
        # What eligibility needs, so that a search reads no database row for its candidates.
        facts=STORED(),
        title=TEXT(analyzer=en, field_boost=2.0),
        conditions=TEXT(analyzer=en, field_boost=3.0),
        conditions_fr=TEXT(analyzer=fr, field_boost=2.0),
        # No positions in the long field: phrase queries are for titles and conditions only,
        # and positions would double the indexing cost.
        body=TEXT(analyzer=en, phrase=False),
        codes=KEYWORD(lowercase=False, commas=False),
        genes=KEYWORD(lowercase=False, commas=False),
        variants=KEYWORD(lowercase=False, commas=False),
        status=ID(),
        phases=KEYWORD(lowercase=False),
        countries=KEYWORD(lowercase=True, commas=True),
        # The hard demographic bounds of the structured criteria (see ``demographics``): a
        # search leaves out the trials they exclude before choosing its candidates.
        age_min=ID(),
        age_max=ID(),
        sex=ID(),
    )


@functools.lru_cache(maxsize=16)
def _store(path: Path) -> IndexStore:
    return IndexStore(path, schema())


def store_at(index_dir: Path) -> IndexStore:
    """The trials index under ``index_dir`` (one store per path, so searchers are reused)."""
    return _store(Path(index_dir).resolve() / INDEX_NAME)


def variant_token(gene: str, alteration: str) -> str:
    """'EGFR', 'exon 19 deletion' -> 'EGFR:exon_19_deletion' (one keyword)."""
    return f"{gene}:{re.sub(r'[^A-Za-z0-9*]+', '_', alteration).strip('_')}"


def code_names(codes: Iterable[str]) -> tuple[str, str]:
    """English (OncoTree names, abbreviations) and French names of tumour types."""
    onco = tree()
    english, french = [], []
    for code in codes:
        node = onco.get(code)
        if node is not None:
            english.append(node.name)
            if node.main_type:
                english.append(node.main_type)
        if code in ABBREVIATIONS:
            english.append(ABBREVIATIONS[code])
        for candidate in [code, *onco.ancestors(code)]:
            if candidate in FRENCH_NAMES:
                french.append(FRENCH_NAMES[candidate])
                break
    return " ".join(english), " ".join(french)


def trial_genes(
    criteria: Iterable[dict[str, Any]], ctml_arms: Iterable[dict[str, Any]]
) -> tuple[set[str], set[str]]:
    """Genes and variants the trial asks for (positive, inclusion criteria and CTML trees)."""
    gene_set: set[str] = set()
    variants: set[str] = set()

    def add(gene: str, alterations: Iterable[str]) -> None:
        canonical = genes.canonical_gene(gene)
        gene_set.add(canonical)
        for alteration in alterations:
            normalized = genes.normalize_alteration(alteration) or alteration
            variants.add(variant_token(canonical, normalized))

    for criterion in criteria:
        if criterion.get("kind") != "biomarker" or not criterion.get("include", True):
            continue
        for option in criterion.get("any_of") or [criterion]:
            if option.get("status") == "wild_type":
                continue
            add(option["gene"], option.get("alterations") or [])

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            genomic = node.get("genomic")
            if isinstance(genomic, dict):
                symbol = str(genomic.get("hugo_symbol") or "")
                if symbol and symbol != "None" and not symbol.startswith("!"):
                    change = genomic.get("protein_change")
                    if not str(genomic.get("variant_category", "")).startswith("!"):
                        add(
                            symbol,
                            [str(change)] if change and not str(change).startswith("!") else [],
                        )
            for key in ("and", "or"):
                if key in node:
                    walk(node[key])

    for arm in ctml_arms:
        if arm.get("open", True):
            walk(arm.get("match"))
    return gene_set, variants


_HYPHEN = re.compile(r"(?<=\w)[-/](?=\w)")


def split_compounds(text: str) -> str:
    """'EGFR-mutant', 'non-small-cell', 'EGFR/ALK' -> separate words, on both the indexing and
    the query side (the shared analyzer keeps hyphenated compounds as one token)."""
    return _HYPHEN.sub(" ", text)


def document(trial: Any) -> dict[str, Any]:
    """The index document of a trial (a ``trials.models.Trial`` or anything shaped like it)."""
    codes = list(trial.oncotree_codes or [])
    english, french = code_names(codes)
    gene_set, variants = trial_genes(trial.criteria or [], trial.ctml_arms or [])
    synonyms = " ".join(sorted({s for g in gene_set for s in genes.gene_synonyms(g)} | gene_set))
    interventions = " ".join(i.get("name", "") for i in trial.interventions or [])
    doc: dict[str, Any] = {
        "id": trial.registry_id,
        "pk": trial.id,
        "facts": facts(trial),
        "title": split_compounds(trial.brief_title),
        "conditions": split_compounds(" ".join([*(trial.conditions or []), english, synonyms])),
        "conditions_fr": french,
        "body": split_compounds(
            " ".join(
                t
                for t in (
                    (trial.summary or "")[:BODY_SUMMARY],
                    " ".join(trial.keywords or []),
                    interventions,
                )
                if t
            )
        ),
        "codes": " ".join(codes),
        "genes": " ".join(sorted(gene_set)),
        "variants": " ".join(sorted(variants)),
        "status": trial.overall_status,
        "phases": " ".join(trial.phases or []) or "NONE",
        "countries": ",".join(sorted({s.country for s in trial.sites if s.country})),
    }
    low, high, sexes = demographics(trial.criteria or [])
    if low is not None:
        doc["age_min"] = f"{low:g}"
    if high is not None:
        doc["age_max"] = f"{high:g}"
    if sexes:
        doc["sex"] = " ".join(sorted(sexes))
    return doc


def demographics(
    criteria: Iterable[dict[str, Any]],
) -> tuple[float | None, float | None, set[str]]:
    """The age range and the sexes every inclusion criterion on age or sex allows.

    A fiche outside them gets "not met" on one of those criteria (``eligibility._age`` and
    ``_sex``: bounds inclusive, sex compared lower-case), so the trial is ineligible whatever else
    it says: exactly the trials a search without ``include_ineligible`` may leave out up front.
    """
    low: float | None = None
    high: float | None = None
    sexes: set[str] = set()
    for criterion in criteria:
        if not criterion.get("include", True):
            continue
        if criterion.get("kind") == "age":
            if criterion.get("min") is not None:
                low = (
                    max(low, float(criterion["min"]))
                    if low is not None
                    else float(criterion["min"])
                )
            if criterion.get("max") is not None:
                high = (
                    min(high, float(criterion["max"]))
                    if high is not None
                    else float(criterion["max"])
                )
        elif criterion.get("kind") == "sex" and criterion.get("value"):
            sexes.add(str(criterion["value"]).lower())
    if len(sexes) > 1:
        sexes = {"none"}  # two different sexes required: nobody meets both
    return low, high, sexes


#: Sites whose coordinates a document carries for the distance filter (the rest stay in the DB).
MAX_SITE_POINTS = 300


def facts(trial: Any) -> dict[str, Any]:
    """The compact eligibility facts of a trial: criteria without their evidence text, curated
    arms, site coordinates. The evidence is read from the database for the page returned."""
    return {
        "criteria": [{k: v for k, v in c.items() if k != "evidence"} for c in trial.criteria or []],
        "arms": [a for a in trial.ctml_arms or [] if a.get("open", True)]
        or ([{"label": "closed", "open": False, "match": {}}] if trial.ctml_arms else []),
        "points": [
            (round(s.lat, 3), round(s.lon, 3))
            for s in trial.sites[:MAX_SITE_POINTS]
            if s.lat is not None and s.lon is not None
        ],
    }


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    country: str | None = None


def filter_query(filters: Filters) -> q.Query | None:
    parts: list[q.Query] = []
    if filters.statuses:
        parts.append(q.Or([q.Term("status", s) for s in filters.statuses]))
    if filters.phases:
        parts.append(q.Or([q.Term("phases", p) for p in filters.phases]))
    if filters.country:
        parts.append(q.Term("countries", filters.country.strip().lower()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else q.And(parts)


#: A term of a fiche query: (field, token, boost).
FicheTerm = tuple[str, str, float]


def fiche_terms(fiche: Fiche) -> list[FicheTerm]:
    """The terms of a fiche: its tumour type (exact, broader, narrower), genes and variants."""
    terms: list[FicheTerm] = []
    code = fiche.oncotree_code()
    if code:
        onco = tree()
        terms.append(("codes", code, 8.0))
        for distance, ancestor in enumerate(onco.ancestors(code), start=1):
            terms.append(("codes", ancestor, max(6.0 - 2 * distance, 2.0)))
        narrower = sorted(onco.descendants(code))[:30]
        terms.extend(("codes", d, 2.0) for d in narrower)
    for marker in fiche.biomarkers:
        if marker.status != "positive":
            continue
        terms.append(("genes", marker.name, 5.0))
        if marker.alteration:
            alteration = genes.normalize_alteration(marker.alteration) or marker.alteration
            terms.append(("variants", variant_token(marker.name, alteration), 5.0))
        # Text relevance: the gene named in the title or summary (BM25).
        terms.append(("title", marker.name.lower(), 1.0))
        terms.append(("body", marker.name.lower(), 0.5))
    return list(dict.fromkeys(terms))  # Whoosh's Or drops repeated sub-queries too


def fiche_query(fiche: Fiche) -> q.Query:
    """The fiche's terms as one Whoosh query (``top_documents`` computes the same scores)."""
    terms = fiche_terms(fiche)
    if not terms:
        return q.Every()
    return q.Or([q.Term(field, text, boost=boost) for field, text, boost in terms])


# --- candidate selection on cached postings -------------------------------------------------
#
# Whoosh scores a query by walking matcher objects document by document, in Python: an Or of
# forty terms over 100,000 trials costs hundreds of milliseconds. A fiche query only ever uses a
# few hundred distinct terms (tumour types, genes, variants), so each term's BM25F scores are
# computed once per searcher (Whoosh's own scorer, so the same figures) and a query is a sum of
# dictionaries. The searcher is replaced when the index changes, and its caches with it.

#: Terms whose scores a searcher keeps (the least recently used go first).
TERM_CACHE = 256


def _cache(searcher: Searcher, name: str) -> OrderedDict[Any, Any]:
    return searcher.__dict__.setdefault(f"_dcc_{name}", OrderedDict())  # type: ignore[no-any-return]


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> Any:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
    return value


def term_scores(searcher: Searcher, field: str, text: str) -> dict[int, float]:
    """Document number -> BM25F score of one term (unboosted), cached on the searcher."""
    cache = _cache(searcher, "terms")
    key = (field, text)
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
        return found  # type: ignore[no-any-return]
    scores: dict[int, float] = {}
    term = searcher.schema[field].to_bytes(text)
    if (field, term) in searcher.reader():
        matcher = searcher.postings(field, term, weighting=searcher.weighting)
        while matcher.is_active():
            scores[matcher.id()] = matcher.score()
            matcher.next()
    return _remember(cache, key, scores, TERM_CACHE)  # type: ignore[no-any-return]


#: Stored fields (pk, eligibility facts) a searcher keeps decoded.
STORED_CACHE = 4000


def stored(searcher: Searcher, docnum: int) -> dict[str, Any]:
    """The stored fields of a document, decoded once per searcher (callers must not mutate)."""
    cache = _cache(searcher, "stored")
    found = cache.get(docnum)
    if found is None:
        found = _remember(cache, docnum, searcher.stored_fields(docnum), STORED_CACHE)
    return found  # type: ignore[no-any-return]


def docs_of(searcher: Searcher, query: q.Query) -> frozenset[int]:
    """The documents a filter query allows, cached on the searcher."""
    cache = _cache(searcher, "filters")
    key = repr(query)
    found = cache.get(key)
    if found is None:
        found = _remember(cache, key, frozenset(searcher.docs_for_query(query)), 64)
    return found  # type: ignore[no-any-return]


def _values(searcher: Searcher, field: str) -> dict[str, frozenset[int]]:
    """Every value of a small ID field with its documents, cached on the searcher."""
    cache = _cache(searcher, "values")
    found = cache.get(field)
    if found is None:
        reader = searcher.reader()
        found = {
            text: frozenset(reader.postings(field, text).all_ids())
            for text in reader.field_terms(field)
        }
        cache[field] = found
    return found  # type: ignore[no-any-return]


def excluded_by_demographics(
    searcher: Searcher, age: float | None, sex: str | None
) -> frozenset[int]:
    """Documents whose age or sex criteria the fiche cannot meet (see ``demographics``)."""
    cache = _cache(searcher, "demographics")
    key = (age, sex)
    found = cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    out: set[int] = set()
    if age is not None:
        for value, docs in _values(searcher, "age_min").items():
            if float(value) > age:
                out |= docs
        for value, docs in _values(searcher, "age_max").items():
            if float(value) < age:
                out |= docs
    if sex is not None:
        for value, docs in _values(searcher, "sex").items():
            if value != sex:
                out |= docs
    return _remember(cache, key, frozenset(out), 256)  # type: ignore[no-any-return]


def top_documents(
    searcher: Searcher,
    terms: Sequence[FicheTerm],
    *,
    limit: int,
    allowed: frozenset[int] | None = None,
    excluded: frozenset[int] = frozenset(),
) -> list[tuple[int, float]]:
    """The ``limit`` best (document number, score) for the terms, as Whoosh's search of
    ``fiche_query`` orders them (score, then document number), among the allowed documents."""
    totals: dict[int, float] = {}
    get = totals.get
    for field, text, boost in terms:
        for docnum, value in term_scores(searcher, field, text).items():
            totals[docnum] = get(docnum, 0.0) + value * boost
    if allowed is not None or excluded:
        items: Iterable[tuple[int, float]] = (
            (d, s)
            for d, s in totals.items()
            if (allowed is None or d in allowed) and d not in excluded
        )
    else:
        items = totals.items()
    return heapq.nsmallest(limit, items, key=lambda item: (-item[1], item[0]))


def text_query(text: str) -> q.Query:
    """A free-text query (English or French) over titles, conditions and criteria."""
    parser = MultifieldParser(
        ["title", "conditions", "conditions_fr", "body"], schema(), group=OrGroup.factory(0.9)
    )
    expanded = text
    for word in re.findall(r"[\w-]+", text):
        canonical = genes.canonical_gene(word)
        if canonical != word.upper() or canonical in genes.GENE_SYNONYMS:
            expanded += " " + " ".join(sorted(genes.gene_synonyms(canonical) | {canonical}))
    return parser.parse(split_compounds(expanded))
