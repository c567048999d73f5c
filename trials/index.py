"""The Whoosh index of trials: schema, documents derived from trials, and the queries of a fiche.

The index only finds and scores candidates (BM25F over titles, conditions and criteria, with
OncoTree codes and genes as keywords); eligibility and the final ranking are computed on the
candidates from the database. Tumour types carry their OncoTree names and French synonyms, genes
their synonyms (HER2 / ERBB2), so that free-text queries in English or French find them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import query as q
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup

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
        min_age=NUMERIC(float),
        max_age=NUMERIC(float),
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
    if trial.min_age_years is not None:
        doc["min_age"] = float(trial.min_age_years)
    if trial.max_age_years is not None:
        doc["max_age"] = float(trial.max_age_years)
    return doc


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


def fiche_query(fiche: Fiche) -> q.Query:
    """Candidates for a fiche: its tumour type (exact, broader, narrower), genes and variants."""
    parts: list[q.Query] = []
    code = fiche.oncotree_code()
    if code:
        onco = tree()
        parts.append(q.Term("codes", code, boost=8.0))
        for distance, ancestor in enumerate(onco.ancestors(code), start=1):
            parts.append(q.Term("codes", ancestor, boost=max(6.0 - 2 * distance, 2.0)))
        narrower = sorted(onco.descendants(code))[:30]
        parts.extend(q.Term("codes", d, boost=2.0) for d in narrower)
    for marker in fiche.biomarkers:
        if marker.status != "positive":
            continue
        parts.append(q.Term("genes", marker.name, boost=5.0))
        if marker.alteration:
            alteration = genes.normalize_alteration(marker.alteration) or marker.alteration
            parts.append(q.Term("variants", variant_token(marker.name, alteration), boost=5.0))
        # Text relevance: the gene named in the title or summary (BM25).
        parts.append(q.Term("title", marker.name.lower(), boost=1.0))
        parts.append(q.Term("body", marker.name.lower(), boost=0.5))
    if not parts:
        return q.Every()
    return q.Or(parts)


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
