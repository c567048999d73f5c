"""Quorum of an RCP session: enough physicians of distinct specialties, and the required ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
    if all(len(codes) <= 1 for codes in specialties_of.values()):
        # the usual list, one specialty each: nobody can be claimed twice, so the maximum
        # matching is simply every specialty brought (what the search would find)
        brought = {s for codes in specialties_of.values() for s in codes}
        missing, distinct = sorted(required - brought), len(brought)
    else:
        missing, distinct = _match(required, specialties_of)
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


def _match(required: set[str], specialties_of: Mapping[str, set[str]]) -> tuple[list[str], int]:
    """Required specialties left without a physician, and the size of the maximum matching."""
    assignment: dict[str, str] = {}  # specialty -> physician
    missing = sorted(s for s in required if not _augment(s, specialties_of, assignment, set()))
    every = sorted({s for codes in specialties_of.values() for s in codes} - set(assignment))
    for specialty in every:
        _augment(specialty, specialties_of, assignment, set())
    return missing, len(assignment)


class Attendee(NamedTuple):
    """One line of a session's participant list, as the quorum reads it."""

    rpps: str
    specialty_code: str | None
    attendance: str | None = None  # present, excused, replaced (after the meeting)
    replaced_by_rpps: str | None = None
    replaced_by_specialty: str | None = None


def session_status(
    rule: Rule, attendees: Iterable[Attendee], *, any_patient_over_75: bool = False
) -> dict[str, Any]:
    """A session's quorum as the API shows it: on the recorded attendance when there is one
    (present physicians and substitutes), else on the provisional list."""
    attendees = list(attendees)
    recorded = any(a.attendance for a in attendees)
    present: dict[str, set[str]] = {}
    for a in attendees:
        if recorded and a.attendance == "replaced" and a.replaced_by_rpps:
            who, specialty = a.replaced_by_rpps, a.replaced_by_specialty
        elif (recorded and a.attendance == "present") or not recorded:
            who, specialty = a.rpps, a.specialty_code
        else:
            continue
        present.setdefault(who, set()).update([specialty] if specialty else [])
    status = evaluate(rule, present, any_patient_over_75=any_patient_over_75)
    return {
        "met": status.met,
        "basis": "attendance" if recorded else "provisional",
        "physicians": status.physicians,
        "distinct_specialties": status.distinct_specialties,
        "missing_specialties": status.missing_specialties,
        "reasons": status.reasons,
    }


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
