"""How assessed trials are ordered: fit first (tumour type, genes, demographics), then text.

Not tuned to any relevance judgments: the weights only encode an order of evidence. A trial
written for the patient's exact tumour type and variant comes before one for the parent type or
the gene in general, which comes before one that merely mentions them; ineligible trials last.
"""

from __future__ import annotations

from trials.eligibility import ELIGIBLE, INELIGIBLE, MET, NOT_MET, UNKNOWN, Assessment

#: Weights of each kind of evidence (a level is 0, 1 broader, 2 exact).
DIAGNOSIS = 4.0
BIOMARKER = 5.0
DEMOGRAPHIC = 0.5
ELIGIBLE_BONUS = 1.0
UNKNOWN_PENALTY = 0.15
TEXT = 2.0


def score(assessment: Assessment, text: float) -> float:
    """A fit score; ``text`` is the BM25 score normalised to 0..1 among the candidates."""
    value = DIAGNOSIS * assessment.diagnosis_level + BIOMARKER * assessment.biomarker_level
    for criterion in assessment.criteria:
        if criterion.kind in ("age", "sex", "performance_status") and criterion.result == MET:
            value += DEMOGRAPHIC
        elif criterion.result == UNKNOWN:
            value -= UNKNOWN_PENALTY
    if assessment.verdict == ELIGIBLE:
        value += ELIGIBLE_BONUS
    return round(value + TEXT * text, 4)


def sort_key(assessment: Assessment, value: float, tie: str) -> tuple[int, float, str]:
    """Ineligible trials after the others, then by decreasing score, then by id (stable)."""
    return (1 if assessment.verdict == INELIGIBLE else 0, -value, tie)


__all__ = ["ELIGIBLE", "INELIGIBLE", "NOT_MET", "score", "sort_key"]
