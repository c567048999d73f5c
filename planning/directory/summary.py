"""The derived search data of a professional: his summary as stored JSON, his name prefixes.

Both are written with the professional by every write path (imports, ``add_practitioner``)
so that a search reads them instead of computing them: the summary is spliced into the
response as it is stored, the prefix counts give totals and the word that drives a search.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol, cast

from planning.directory.normalize import rpps_warnings

#: (profession code, specialty code, department) of one active activity.
ActivityValues = tuple[str | None, str | None, str | None]


def summary_json(
    *,
    rpps: str | None,
    national_id: str,
    id_type: str,
    civility: str | None,
    exercise_civility: str | None,
    last_name: str,
    first_name: str,
    active: bool,
    activities: Iterable[ActivityValues],
) -> str:
    """``PractitionerSummarySchema``'s dump of a professional, as the JSON API encodes it.

    ``activities``: the values of his active activities only. Keys sorted and separators
    compact, as Flask's ``jsonify`` writes them: the stored text is the response's text.
    """
    professions: set[str] = set()
    specialties: set[str] = set()
    departments: set[str] = set()
    for profession, specialty, department in activities:
        professions.add(profession or "")
        specialties.add(specialty or "")
        departments.add(department or "")
    # Written by hand, in key order (1.2 M at an import, where the encoder cost more than
    # the rest of the summary): the same text as ``json.dumps(..., sort_keys=True,
    # separators=(",", ":"))``, which tests/planning/directory/test_summary.py checks.
    return (
        f'{{"active":{"true" if active else "false"},"civility":{_text(civility)},'
        f'"departments":{_texts(departments)},"exercise_civility":{_text(exercise_civility)},'
        f'"first_name":{_string(first_name)},"id_type":"{"RPPS" if id_type == "8" else "ADELI"}",'
        f'"last_name":{_string(last_name)},"national_id":{_string(national_id)},'
        f'"professions":{_texts(professions)},"rpps":{_text(rpps)},'
        f'"specialties":{_texts(specialties)},'
        f'"warnings":{_texts_in_order(rpps_warnings(rpps) if rpps else [])}}}'
    )


class Person(Protocol):
    """What a summary shows of a professional: a directory row or an extraction record."""

    rpps: str | None
    national_id: str
    id_type: str
    civility: str | None
    exercise_civility: str | None
    last_name: str
    first_name: str


def person_summary_json(
    person: Person, *, active: bool, activities: Iterable[ActivityValues]
) -> str:
    """``summary_json`` of ``person``'s identity with ``active`` and ``activities``."""
    return summary_json(
        rpps=person.rpps,
        national_id=person.national_id,
        id_type=person.id_type,
        civility=person.civility,
        exercise_civility=person.exercise_civility,
        last_name=person.last_name,
        first_name=person.first_name,
        active=active,
        activities=activities,
    )


#: The C string encoder of ``json`` (ASCII output, as ``json.dumps`` by default).
_string = cast(Callable[[str], str], json.encoder.encode_basestring_ascii)


def _text(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _texts_in_order(values: Iterable[str]) -> str:
    return "[" + ",".join(map(_string, values)) + "]"


def _texts(found: set[str]) -> str:
    return _texts_in_order(_values(found))


def _values(found: set[str]) -> list[str]:
    found.discard("")
    return sorted(found)


#: Bits of a name mask: one per hashed pair of leading letters.
MASK_BITS = 63


def name_mask(words: Iterable[str]) -> int:
    """A bit per pair of first letters of the name ``words`` (words of one letter set none).

    Stored with every token of the name: a several-word search skips the index entries whose
    mask lacks a bit of its other words before matching them on the name key. A filter only
    (a bit may stand for several pairs); it fits a signed 64-bit integer.
    """
    mask = 0
    for word in words:
        if len(word) >= 2:
            mask |= 1 << ((ord(word[0]) * 37 + ord(word[1])) % MASK_BITS)
    return mask


def name_prefixes(words: Iterable[str]) -> set[str]:
    """Every prefix (one character and more) of the folded name ``words``, once each."""
    return {word[:end] for word in words for end in range(1, len(word) + 1)}


class PrefixDeltas:
    """Changes to the per-prefix owner counts, by ``(prefix, active)``, to apply in one go."""

    def __init__(self) -> None:
        self.deltas: Counter[tuple[str, bool]] = Counter()

    def add(self, words: Iterable[str], active: bool, sign: int = 1) -> None:
        """One owner with these name ``words`` appears (``sign=1``) or disappears (``-1``)."""
        for prefix in name_prefixes(words):
            self.deltas[prefix, active] += sign

    def move(
        self, old: Iterable[str], old_active: bool, new: Iterable[str], new_active: bool
    ) -> None:
        """One owner's name words or active flag change."""
        self.add(old, old_active, -1)
        self.add(new, new_active, 1)

    def pop(self) -> list[tuple[str, bool, int]]:
        """The non-zero changes, then forgotten."""
        out = [(prefix, active, n) for (prefix, active), n in self.deltas.items() if n]
        self.deltas.clear()
        return out

    def __len__(self) -> int:
        return len(self.deltas)
