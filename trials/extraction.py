"""Rule-based extraction of structured eligibility criteria from registry fields and criteria text.

Every criterion is a plain dict with a ``kind``, its parameters, ``include`` (True for an
inclusion criterion, False when the trial excludes what it describes), its ``origin``
("registry", "ctml", "extracted") and its ``evidence`` (the registry field or the sentence it
came from). English and French sentences are recognised; the others are kept as "needs review".

Kinds and parameters:
- ``age``: ``min``/``max`` in years (``None`` = no bound)
- ``sex``: ``value`` "FEMALE" | "MALE"
- ``diagnosis``: ``codes`` (OncoTree), ``text``
- ``stage``: ``allowed`` stage groups ("I".."IV"), ``metastatic`` True/False when only that is said
- ``performance_status``: ``max`` (and ``min``) ECOG/OMS grade
- ``karnofsky``: ``min``
- ``biomarker``: ``gene``, ``alterations`` (normalised, [] = any), ``status`` "positive" |
  "wild_type", ``min_value`` (e.g. PD-L1 %), ``wildcard`` ("V600")
- ``prior_treatment``: ``types`` (fiche treatment types), ``drugs``, ``max_lines``/``min_lines``
- ``brain_metastases``: ``allowed`` fiche values ("none", "stable", "active")
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from core.terminology.oncotree import tree

# --- text helpers -------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents, typographic symbols made ASCII ('≥ 18 ans' -> '>= 18 ans')."""
    text = (
        text.replace("≥", ">=")
        .replace("≤", "<=")
        .replace("⩾", ">=")
        .replace("⩽", "<=")
        .replace("–", "-")
        .replace("—", "-")
        .replace("’", "'")
        .replace("\u00a0", " ")
    )
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_INCLUSION_HEAD = re.compile(
    r"^\s*(key\s+)?(inclusion criteria|criteres d'inclusion|criteres d'eligibilite)\b[^\n]*$",
    re.M,
)
_EXCLUSION_HEAD = re.compile(
    r"^\s*(key\s+)?(exclusion criteria|criteres d'exclusion|criteres de non[- ]inclusion)\b[^\n]*$",
    re.M,
)


def split_sections(text: str | None) -> tuple[str, str]:
    """(inclusion text, exclusion text) of a criteria block; all inclusion when no heading."""
    if not text:
        return "", ""
    folded = fold(text)
    inc = _INCLUSION_HEAD.search(folded)
    exc = _EXCLUSION_HEAD.search(folded)
    if exc is None:
        start = inc.end() if inc else 0
        return text[start:].strip(), ""
    if inc is None or inc.start() > exc.start():
        return text[: exc.start()].strip(), text[exc.end() :].strip()
    return text[inc.end() : exc.start()].strip(), text[exc.end() :].strip()


_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|[a-z][.)]|\(\w{1,3}\))\s+")


def sentences(section: str) -> list[str]:
    """The criteria items of a section: bullets, numbered items or lines."""
    items: list[str] = []
    for raw in section.splitlines():
        line = raw.strip()
        if not line:
            continue
        bulleted = bool(_BULLET.match(line))
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        if (
            items
            and not bulleted
            and items[-1]
            and items[-1][-1] not in ".:;"
            and line[0].islower()
        ):
            items[-1] += " " + line  # a wrapped continuation line
        else:
            items.append(line)
    return [i for i in items if len(i) > 3]


# --- tumour types -------------------------------------------------------------------------

#: Condition phrases -> OncoTree codes. Most specific first; English and French.
DIAGNOSIS_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), code)
    for p, code in [
        (
            r"(?<!non-)(?<!non )(?<!non)\bsmall[- ]cell (lung|carcinoma of the lung)|(?<!n)\bsclc\b"
            r"|\bcbpc\b|(?<!non )a petites cellules",
            "SCLC",
        ),
        (r"lung adenocarcinoma|adenocarcinoma of the lung|adenocarcinome (du |pulmonaire)", "LUAD"),
        (
            r"squamous[- ]cell (lung|carcinoma of the lung)|lung squamous|epidermoide pulmonaire",
            "LUSC",
        ),
        (r"non[- ]?small[- ]cell lung|\bnsclc\b|\bcbnpc\b|non a petites cellules", "NSCLC"),
        (
            r"\blung (cancer|carcinoma|neoplasm|tumou?r)|cancer (du|bronchique|pulmonaire)"
            r"( du)? poumon|cancer bronchique|\bpulmonary (carcinoma|neoplasm)",
            "LUNG",
        ),
        (r"triple[- ]negative breast|sein triple negatif", "BRCA"),
        (r"breast (cancer|carcinoma|neoplasm|tumou?r)|cancer du sein|mammary carcinoma", "BREAST"),
        (
            r"colorectal|colon (cancer|carcinoma|adenocarcinoma)|rectal (cancer|adenocarcinoma)"
            r"|cancer (colorectal|du colon|du rectum)|\bcrc\b",
            "COADREAD",
        ),
        (r"prostat", "PROSTATE"),
        (r"pancrea", "PANCREAS"),
        (r"cutaneous melanoma|\bmelanoma|\bmelanome", "MEL"),
        (r"ovar|fallopian|ovaire", "OVARY"),
        (r"endometri|uterine (cancer|carcinoma)|corps de l'uterus", "UTERUS"),
        (r"cervical cancer|cervix|col de l'uterus", "CERVIX"),
        (r"gastric|stomach|estomac|gastro-?(o)?esophag|esophag|oesophag", "STOMACH"),
        (r"hepatocellular|\bhcc\b|carcinome hepatocellulaire|liver cancer", "LIVER"),
        (r"glioblastoma|\bgbm\b|glioma|gliome", "BRAIN"),
        (r"renal cell|kidney (cancer|carcinoma)|cancer du rein", "KIDNEY"),
        (r"urothelial|bladder|vessie", "BLADDER"),
        (r"head and neck|oropharyn|larynx|laryng|voies aerodigestives|\bhnscc\b", "HEAD_NECK"),
        (r"thyroid|thyroide", "THYROID"),
        (r"mesothelioma|mesotheliome", "PLEURA"),
        (r"sarcoma|sarcome", "SOFT_TISSUE"),
        (r"multiple myeloma|myelome", "PCM"),
        (r"acute myeloid leuk|\baml\b|leucemie aigue myeloide", "AML"),
        (r"lymphoma|lymphome", "LYMPH"),
        (r"leukemia|leukaemia|leucemie", "MYELOID"),
    ]
]


@functools.lru_cache(maxsize=4096)
def _oncotree_name(text: str) -> str | None:
    found = tree().find(text)
    return found[0].code if len(found) == 1 and found[0].level > 0 else None


def diagnosis_codes(texts: list[str]) -> list[str]:
    """OncoTree codes named by condition texts (most specific code per text).

    Common phrasings (English and French, abbreviations such as NSCLC / CBNPC) first, then an
    exact OncoTree name ("Merkel Cell Carcinoma").
    """
    codes: list[str] = []
    for text in texts:
        folded = fold(text)
        code = next((c for pattern, c in DIAGNOSIS_PATTERNS if pattern.search(folded)), None)
        if code is None and len(text) < 80:
            code = _oncotree_name(text)
        if code and code not in codes:
            codes.append(code)
    return codes


# --- genes and alterations ----------------------------------------------------------------

GENES = {
    "EGFR": r"egfr|her1\b",
    "ALK": r"\balk\b",
    "ROS1": r"\bros-?1\b",
    "KRAS": r"\bkras\b",
    "NRAS": r"\bnras\b",
    "BRAF": r"\bbraf\b",
    "ERBB2": r"\bher-?2\b|\berbb-?2\b|\bher2/neu\b",
    "MET": r"\bc-?met\b|\bmet (exon|amplification|ex14)",
    "RET": r"\bret (fusion|rearrangement|gene|alteration)|\bret[- ]positive",
    "NTRK": r"\bntrk[123]?\b",
    "PIK3CA": r"\bpik3ca\b",
    "BRCA1": r"\bbrca1\b",
    "BRCA2": r"\bbrca2\b",
    "IDH1": r"\bidh1\b",
    "FGFR2": r"\bfgfr2\b",
    "FGFR3": r"\bfgfr3\b",
    "PD-L1": r"\bpd-?l1\b",
    "ESR1": r"\besr1\b",
}
_GENE_RES = {gene: re.compile(p) for gene, p in GENES.items()}

_ALTERATIONS = [
    (
        re.compile(r"exon\s*19\s*(del|deletion)|ex19del|del\s*19|deletion (in|of) exon 19"),
        "exon 19 deletion",
    ),
    (
        re.compile(r"exon\s*20\s*(ins|insertion)|ex20ins|insertion (in|of) exon 20"),
        "exon 20 insertion",
    ),
    (re.compile(r"exon\s*14\s*skip|ex14"), "exon 14 skipping"),
    (re.compile(r"\bamplifi|\bamp\b"), "amplification"),
    (re.compile(r"rearrang|fusion|translocation|rearrangement|rearrangee|rearrange"), "fusion"),
    (re.compile(r"overexpress|surexpr|ihc 3\+"), "overexpression"),
]
_PROTEIN = re.compile(r"\b(?:p\.)?([acdefghiklmnpqrstvwy])(\d{2,4})([acdefghiklmnpqrstvwy*]|x)?\b")

_WILD_TYPE = re.compile(
    r"wild[- ]?type|\bwt\b|non[- ]mute|without (an? )?(known |activating |sensitizing )?"
    r"(egfr|alk|ros1|kras|braf)|negative for|(egfr|alk|ros1)[- /a-z]*negative|absence of"
)


def _alterations(folded: str, gene: str) -> tuple[list[str], str | None]:
    found = [label for pattern, label in _ALTERATIONS if pattern.search(folded)]
    wildcard = None
    for match in _PROTEIN.finditer(folded):
        letter, position, target = match.groups()
        if gene in ("PD-L1",) or int(position) < 10:
            continue
        if target and target != "x":
            found.append(f"{letter.upper()}{position}{target.upper()}")
        elif match.group(0).startswith("p.") or gene in ("BRAF", "KRAS", "NRAS"):
            wildcard = f"{letter.upper()}{position}"
    return found, wildcard


# --- prior treatment ----------------------------------------------------------------------

EGFR_TKIS = ("osimertinib", "gefitinib", "erlotinib", "afatinib", "dacomitinib", "icotinib")
IMMUNOTHERAPIES = (
    "pembrolizumab",
    "nivolumab",
    "atezolizumab",
    "durvalumab",
    "cemiplimab",
    "ipilimumab",
)

_PRIOR_TYPES = [
    (
        re.compile(r"immunotherap|checkpoint inhibitor|anti-?pd-?(l)?1|immunotherapie"),
        "immunotherapie",
    ),
    (
        re.compile(r"tyrosine kinase inhibitor|\btki\b|targeted therap|therapie ciblee"),
        "therapie_ciblee",
    ),
    (re.compile(r"chemotherap|chimiotherap|platinum|platine"), "chimiotherapie"),
    (re.compile(r"radiotherap|radiation|irradiation"), "radiotherapie"),
    (re.compile(r"endocrine therap|hormonotherap|hormone therap"), "hormonotherapie"),
    (re.compile(r"systemic (therapy|treatment|anti-?cancer)|traitement systemique"), "systemic"),
]
_PRIOR = re.compile(
    r"\b(prior|previous(ly)?|received|pretreated|pre-treated|treated with|anterieur|prealable"
    r"|deja (recu|traite)|naive|untreated|non traite|first[- ]line|1st[- ]line|progress(ed|ion)"
    r" (on|after|under)|lines? of)\b"
)
_NAIVE = re.compile(
    r"\b(naive|untreated|no prior|not (have )?(previously )?received|non traite|sans traitement"
    r"|aucun traitement|jamais traite|first[- ]line|1st[- ]line|premiere ligne)\b"
)
_LINES = re.compile(
    r"(at least|>=|minimum( of)?|au moins)\s*(one|two|three|1|2|3)\s*(prior )?(line|regimen|ligne)"
)
_NUM = {"one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}


# --- the extractor ------------------------------------------------------------------------


@dataclass
class Extraction:
    inclusion_text: str = ""
    exclusion_text: str = ""
    criteria: list[dict[str, Any]] = field(default_factory=list)
    needs_review: list[dict[str, str]] = field(default_factory=list)


def registry_criteria(
    *,
    sex: str,
    min_age_years: float | None,
    max_age_years: float | None,
    conditions: list[str],
    keywords: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Criteria stated by the registry's structured fields."""
    criteria: list[dict[str, Any]] = []
    if min_age_years is not None or max_age_years is not None:
        criteria.append(
            {
                "kind": "age",
                "include": True,
                "min": min_age_years,
                "max": max_age_years,
                "origin": "registry",
                "evidence": f"minimumAge {_years(min_age_years)}, maximumAge "
                f"{_years(max_age_years)}",
            }
        )
    if sex in ("FEMALE", "MALE"):
        criteria.append(
            {
                "kind": "sex",
                "include": True,
                "value": sex,
                "origin": "registry",
                "evidence": f"sex {sex}",
            }
        )
    codes = diagnosis_codes(conditions)
    if codes:
        criteria.append(
            {
                "kind": "diagnosis",
                "include": True,
                "codes": codes,
                "text": "; ".join(conditions),
                "origin": "registry",
                "evidence": "conditions: " + "; ".join(conditions),
            }
        )
    return criteria


def title_criteria(title: str, criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Biomarkers a title requires ("... NSCLC Harbouring EGFR Mutations") that no criteria
    sentence states already."""
    stated = {
        option.get("gene")
        for c in criteria
        if c["kind"] == "biomarker"
        for option in c.get("any_of") or [c]
    }
    found = []
    for criterion in _biomarkers(fold(title), True):
        options = criterion.get("any_of") or [criterion]
        if any(o["gene"] in stated or o.get("status") != "positive" for o in options):
            continue
        found.append(
            {
                **criterion,
                "include": True,
                "origin": "registry",
                "evidence": f"brief title: {title}",
            }
        )
    return found


def _years(value: float | None) -> str:
    return "no bound" if value is None else f"{value:g} years"


def extract(criteria_text: str | None) -> Extraction:
    """Structured criteria of the inclusion and exclusion sentences of a criteria block."""
    inclusion, exclusion = split_sections(criteria_text)
    result = Extraction(inclusion_text=inclusion, exclusion_text=exclusion)
    for section, text, include in (("inclusion", inclusion, True), ("exclusion", exclusion, False)):
        for sentence in sentences(text):
            found = extract_sentence(sentence, include=include)
            if found:
                result.criteria.extend(found)
            else:
                result.needs_review.append({"section": section, "text": sentence})
    return result


def extract_sentence(sentence: str, *, include: bool) -> list[dict[str, Any]]:
    """The criteria one sentence states (empty when none is recognised)."""
    folded = fold(sentence)
    found: list[dict[str, Any]] = []
    for rule in (_age, _performance, _karnofsky, _stage, _diagnosis, _biomarkers, _prior, _brain):
        found.extend(rule(folded, include))
    for criterion in found:
        criterion.setdefault("include", include)
        criterion["origin"] = "extracted"
        criterion["evidence"] = sentence
    return found


_AGE_PATTERNS = [
    re.compile(r"(?:between|entre)\s+(\d{1,2})\s*(?:and|et|-)\s*(\d{2,3})\s*(?:years|ans)"),
    re.compile(
        r"(?:age[ds]?|agee?s?)\s*(?:of|de)?\s*(\d{1,2})\s*(?:-|to|a)\s*(\d{2,3})\s*(?:years|ans)"
    ),
]
_AGE_MIN = re.compile(
    r"(?:\bage\b|\baged?\b|\bagee?s?\b|years? (?:of age|old)|\bans\b)[^.;]{0,25}?"
    r"(?:>=|>|at least|over|older than|or older|au moins|superieur ou egal a|plus de|de plus de)"
    r"\s*(\d{1,2})\b|(?:>=|at least|au moins)\s*(\d{1,2})\s*(?:years|ans)"
    r"|(\d{1,2})\s*(?:years|ans)\s*(?:of age )?(?:or|and) (?:older|over|above|plus)"
)
_AGE_MAX = re.compile(
    r"(?:\bage\b|\baged?\b|\bagee?s?\b)[^.;]{0,25}?(?:<=|<|younger than|under|less than|moins de"
    r"|inferieur (?:ou egal )?a)\s*(\d{1,3})\b"
)


def _age(folded: str, include: bool) -> list[dict[str, Any]]:
    if not include:
        under = re.search(
            r"(?:\bage\b|\baged?\b|\bagee?s?\b)[^.;]{0,10}?(?:<|under|less than|"
            r"younger than|moins de|inferieur a)\s*(\d{1,2})\s*(?:years|ans)",
            folded,
        )
        if under:
            return [{"kind": "age", "include": True, "min": float(under.group(1)), "max": None}]
        return []
    if not re.search(r"\bage|\bans\b|years? old|years of age", folded):
        return []
    for pattern in _AGE_PATTERNS:
        match = pattern.search(folded)
        if match:
            return [{"kind": "age", "min": float(match.group(1)), "max": float(match.group(2))}]
    low = _AGE_MIN.search(folded)
    high = _AGE_MAX.search(folded)
    if not low and not high:
        return []
    minimum = next((float(g) for g in low.groups() if g), None) if low else None
    maximum = float(high.group(1)) if high else None
    if minimum is not None and not 0 < minimum < 100:
        return []
    return [{"kind": "age", "min": minimum, "max": maximum}]


_PS = re.compile(
    r"(?:ecog|who|oms|zubrod|performance status|etat general|\bps\b|indice de performance)"
    r"[^.;]{0,40}?(?:(<=|<|of|de|=|:|is)\s*)?([0-4])(?:\s*(?:-|to|or|,|ou|a)\s*([0-4]))?"
    r"(?:\s*(?:,|or|ou)\s*([0-4]))?"
)


def _performance(folded: str, include: bool) -> list[dict[str, Any]]:
    if not re.search(r"ecog|performance status|\bps\b|\boms\b|\bwho\b|zubrod|etat general", folded):
        return []
    match = _PS.search(folded)
    if not match:
        return []
    op, first, second, third = match.groups()
    grades = [int(g) for g in (first, second, third) if g is not None]
    high = max(grades)
    if op == "<":
        high -= 1
    if not include:
        # "ECOG >= 2" in the exclusions: the trial accepts up to 1.
        if re.search(r">=\s*" + first, folded) or re.search(
            first + r"\s*(or more|or higher)", folded
        ):
            return [
                {"kind": "performance_status", "include": True, "min": 0, "max": int(first) - 1}
            ]
        return []
    low = min(grades) if (second or third) else 0
    return [{"kind": "performance_status", "min": low, "max": high}]


_KPS = re.compile(r"karnofsky[^.;]{0,30}?(?:>=|>|of|at least|au moins|superieur a)?\s*(\d{2,3})")


def _karnofsky(folded: str, include: bool) -> list[dict[str, Any]]:
    if not include or "karnofsky" not in folded:
        return []
    match = _KPS.search(folded)
    if not match:
        return []
    value = int(match.group(1))
    return [{"kind": "karnofsky", "min": value}] if 10 <= value <= 100 else []


_STAGE = re.compile(
    r"\bstages?\s+((?:i{1,3}v?|iv)[abc]?(?:\s*(?:-|/|,|or|and|to|ou|et)\s*"
    r"(?:stage\s+)?(?:i{1,3}v?|iv)[abc]?)*)\b"
)
_METASTATIC = re.compile(r"\bmetasta(tic|ses)|\bmetastatique|\bstage iv\b|\bm1\b|advanced|avance")


def _stage(folded: str, include: bool) -> list[dict[str, Any]]:
    if not include:
        return []
    allowed: set[str] = set()
    for match in _STAGE.finditer(folded):
        groups = re.findall(r"(iv|i{1,3})([abc]?)", match.group(1))
        allowed |= {g.upper() + s.upper() for g, s in groups}
        if re.search(r"(?:-|to)\s*(?:stage\s+)?", match.group(1)) and len(groups) == 2:
            order = ["I", "II", "III", "IV"]
            a, b = order.index(groups[0][0].upper()), order.index(groups[1][0].upper())
            allowed |= set(order[a : b + 1])
    if allowed:
        if re.search(r"\bmetasta|\brecurren|\brecidiv", folded):
            allowed.add("IV")
        return [{"kind": "stage", "allowed": sorted(allowed)}]
    if (
        re.search(r"\b(metastatic|metastatique)\b", folded)
        and re.search(r"cancer|carcinoma|disease|tumou?r|nsclc|cbnpc|maladie", folded)
        and not re.search(
            r"brain|cerebr|cns|leptomening|locally advanced or metastatic|"
            r"localement avance ou metastatique|advanced (or|and/or) metastatic",
            folded,
        )
    ):
        return [{"kind": "stage", "allowed": ["IV"], "metastatic": True}]
    return []


def _diagnosis(folded: str, include: bool) -> list[dict[str, Any]]:
    if re.search(r"\bnon[- ]?squamous|non[- ]epidermoide", folded):
        return [
            {
                "kind": "diagnosis",
                "include": False,
                "codes": ["LUSC"],
                "text": "squamous histology excluded",
            }
        ]
    if not include:
        if re.search(r"small[- ]cell (lung|carcinoma|histology|component)|\bsclc\b", folded) and (
            not re.search(r"non[- ]?small", folded)
        ):
            return [{"kind": "diagnosis", "codes": ["SCLC"], "text": "small cell histology"}]
        return []
    if not re.search(r"histolog|cytolog|confirmed|diagnos|documented|prouve|confirme", folded):
        return []
    codes = diagnosis_codes([folded])
    if not codes:
        return []
    return [{"kind": "diagnosis", "codes": codes, "text": folded[:200]}]


def _gene_windows(folded: str) -> list[tuple[str, str]]:
    """(gene, the text from its mention up to the next gene's) for each gene mentioned."""
    hits: list[tuple[int, int, str]] = []
    for gene, pattern in _GENE_RES.items():
        match = pattern.search(folded)
        if match:
            hits.append((match.start(), match.end(), gene))
    hits.sort()
    windows = []
    for i, (begin, _end, gene) in enumerate(hits):
        stop = hits[i + 1][0] if i + 1 < len(hits) else len(folded)
        # Words just before the gene belong to it too ("wild-type EGFR", "mutated KRAS").
        before = folded[max(0, begin - 25) : begin]
        before = before.rsplit(",", 1)[-1].rsplit(";", 1)[-1]
        windows.append((gene, before + folded[begin:stop]))
    return windows


_MENTION = re.compile(
    r"mutat|alteration|rearrang|fusion|amplif|positiv|deletion|insertion|express|variant|driver"
    r"|activating|sensiti[sz]ing|translocation|muta|wild|\bwt\b|negativ|\b[a-z]\d{2,4}[a-z]\b"
    r"|skipping|exon"
)


def _biomarkers(folded: str, include: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    positives: list[dict[str, Any]] = []
    sentence_wild = bool(re.search(r"wild[- ]?type|\bwt\b|non[- ]mute", folded))
    for gene, window in _gene_windows(folded):
        if gene == "PD-L1":
            value = re.search(r"(>=|>|at least|au moins)\s*(\d{1,3})\s*%", window)
            criterion: dict[str, Any] = {
                "kind": "biomarker",
                "gene": "PD-L1",
                "alterations": [],
                "status": "positive",
            }
            if value:
                criterion["min_value"] = float(value.group(2)) + (1 if value.group(1) == ">" else 0)
            elif not re.search(r"positiv|\btps\b|\bcps\b", window) or re.search(
                r"negativ|< ?1 ?%", window
            ):
                continue
            found.append(criterion)
            continue
        if not _MENTION.search(window):
            continue
        wild = (
            bool(_WILD_TYPE.search(window))
            or (sentence_wild and len(window) < 12)
            or ("negativ" in window and "positiv" not in window)
        )
        if wild:
            if include:
                found.append(
                    {"kind": "biomarker", "gene": gene, "alterations": [], "status": "wild_type"}
                )
            continue
        alterations, wildcard = _alterations(window, gene)
        if gene in ("ALK", "ROS1", "RET", "NTRK") and not alterations:
            alterations = ["fusion"]
        criterion = {
            "kind": "biomarker",
            "gene": gene,
            "alterations": alterations,
            "status": "positive",
        }
        if wildcard:
            criterion["wildcard"] = wildcard
        positives.append(criterion)
    if (
        include
        and len(positives) > 1
        and re.search(
            r"\bor\b|\bou\b|including|any of|one of|"
            r"such as|,",
            folded,
        )
    ):
        # "EGFR, ALK, ROS1 or RET alterations": one criterion satisfied by any of them.
        found.append({"kind": "biomarker", "any_of": positives})
    else:
        found.extend(positives)
    return found


_REQUIRED_PRIOR = re.compile(
    r"(previously treated|pretreated|pre-treated|progress(ed|ion)? (on|after|under|following)|"
    r"must have (received|been treated)|failure of|failed|refractory|resistant to|after failure"
    r"|deja traite|en echec|apres echec|progression (sous|apres))"
)
_RECENT = re.compile(
    r"within (the )?(last |past )?\d+ (days|weeks|months)|dans les \d+ "
    r"(jours|semaines|mois)|\d+ (days|weeks) (before|prior)"
)


def _prior(folded: str, include: bool) -> list[dict[str, Any]]:
    if not _PRIOR.search(folded):
        return []
    types = [label for pattern, label in _PRIOR_TYPES if pattern.search(folded)]
    drugs = [d for d in (*EGFR_TKIS, *IMMUNOTHERAPIES) if d in folded]
    if "egfr" in folded and "therapie_ciblee" in types:
        drugs = drugs or list(EGFR_TKIS)
    lines = _LINES.search(folded)
    if lines and include:
        return [
            {
                "kind": "prior_treatment",
                "types": types,
                "drugs": drugs,
                "min_lines": _NUM[lines.group(3)],
            }
        ]
    if not types and not drugs:
        return []
    criterion: dict[str, Any] = {"kind": "prior_treatment", "types": types, "drugs": drugs}
    if _RECENT.search(folded):
        criterion["recent"] = True
    if include:
        if _NAIVE.search(folded):
            return [{**criterion, "include": False}]
        if _REQUIRED_PRIOR.search(folded):
            return [{**criterion, "include": True}]
        return []
    if _REQUIRED_PRIOR.search(folded) or re.search(r"required|must have|\bexcept\b", folded):
        return []
    return [{**criterion, "include": False}]


_BRAIN = re.compile(
    r"brain metasta|cns metasta|central nervous system metasta|"
    r"metastases? cerebrale|metastases? du systeme nerveux|brain lesion"
)


def _brain(folded: str, include: bool) -> list[dict[str, Any]]:
    if not _BRAIN.search(folded):
        return []
    active = re.search(
        r"active|untreated|symptomatic|unstable|progressive|evolutive|symptomatique|non traitee"
        r"|requiring|uncontrolled",
        folded,
    )
    if include:
        if re.search(r"stable|treated|asymptomatic|traitee", folded):
            return [{"kind": "brain_metastases", "allowed": ["none", "stable"]}]
        return []
    allowed = ["none", "stable"] if active else ["none"]
    return [{"kind": "brain_metastases", "include": True, "allowed": allowed}]
