"""Quorum of an RCP session: enough physicians of distinct specialties, and the required ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Specialty code of geriatrics ("SM18 Gériatrie", NOS table TRE_R38_SpecialiteOrdinale).
GERIATRICS = "SM18"


@dataclass(frozen=True)
class Rule:
    min_physicians: int = 3
    min_distinct_specialties: int = 3
    required_specialties: frozenset[str] = frozenset()
    #: Require a geriatrician when a dossier of the session concerns a patient over 75.
    geriatrician_over_75: bool = False


@dataclass(frozen=True)
class Status:
    met: bool
    physicians: int
    distinct_specialties: int
    missing_specialties: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def evaluate(
    rule: Rule,
    participants: Mapping[str, Iterable[str]],
    *,
    any_patient_over_75: bool = False,
) -> Status:
    """Evaluate ``participants`` (RPPS -> their specialty codes) against ``rule``.

    A physician counts for one specialty only: three physicians who are all oncologists and
    radiotherapists are not three distinct specialties if two of them can only be oncologists.
    This is a maximum bipartite matching between physicians and specialties, with the required
    specialties matched first.
    """
    specialties_of = {rpps: set(codes) for rpps, codes in participants.items()}
    required = set(rule.required_specialties)
    if rule.geriatrician_over_75 and any_patient_over_75:
        required.add(GERIATRICS)
    assignment: dict[str, str] = {}  # specialty -> physician
    missing = sorted(s for s in required if not _augment(s, specialties_of, assignment, set()))
    every = sorted({s for codes in specialties_of.values() for s in codes} - set(assignment))
    for specialty in every:
        _augment(specialty, specialties_of, assignment, set())
    distinct = len(assignment)
    reasons = []
    if len(specialties_of) < rule.min_physicians:
        reasons.append(f"{len(specialties_of)} physicians, at least {rule.min_physicians} needed")
    if distinct < rule.min_distinct_specialties:
        reasons.append(
            f"{distinct} distinct specialties, at least {rule.min_distinct_specialties} needed"
        )
    if missing:
        reasons.append("missing required specialties: " + ", ".join(missing))
    return Status(
        met=not reasons,
        physicians=len(specialties_of),
        distinct_specialties=distinct,
        missing_specialties=missing,
        reasons=reasons,
    )


def _augment(
    specialty: str,
    specialties_of: Mapping[str, set[str]],
    assignment: dict[str, str],
    visited: set[str],
) -> bool:
    """Kuhn's augmenting path: give ``specialty`` a physician, re-assigning others if needed."""
    by_physician = {p: s for s, p in assignment.items()}
    for physician, codes in specialties_of.items():
        if specialty not in codes or physician in visited:
            continue
        visited.add(physician)
        current = by_physician.get(physician)
        if current is None or _augment(current, specialties_of, assignment, visited):
            assignment[specialty] = physician
            return True
    return False
