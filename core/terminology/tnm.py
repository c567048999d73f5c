"""TNM categories and stage groups in order, so that criteria can say "T3 or more" or "stage IV"."""

from __future__ import annotations

import re

_ROMAN = {"0": 0, "I": 1, "II": 2, "III": 3, "IV": 4}
_STAGE = re.compile(r"^(?:STAGE\s*|STADE\s*)?(0|IV|I{1,3})([A-C]?)(\d?)$")
_CATEGORY = re.compile(r"^(?:[CPY]{1,2}|YP)?([TNM])(X|IS|0|\d)([A-D]?)(\d?)", re.I)


def stage_rank(stage: str | None) -> tuple[int, int, int] | None:
    """'IIIB' -> (3, 2, 0); 'IVA' -> (4, 1, 0); 'IA2' -> (1, 1, 2); unknown -> None."""
    if not stage:
        return None
    match = _STAGE.match(stage.strip().upper().replace(" ", ""))
    if not match:
        return None
    roman, letter, digit = match.groups()
    return _ROMAN[roman], (" ABC".index(letter) if letter else 0), int(digit) if digit else 0


def stage_is_a(stage: str | None, group: str) -> bool:
    """'IVB' is a 'IV'; 'IIIA' is a 'III' and a 'IIIA'; 'IV' is not a 'IVB'."""
    rank, target = stage_rank(stage), stage_rank(group)
    if rank is None or target is None:
        return False
    if rank[0] != target[0]:
        return False
    if target[1] and rank[1] != target[1]:
        return False
    return not (target[2] and rank[2] != target[2])


def compare_stage(a: str, b: str) -> int:
    """-1, 0 or 1 as stage ``a`` is lower, equal or higher than ``b`` (main group first)."""
    ra, rb = stage_rank(a), stage_rank(b)
    if ra is None or rb is None:
        raise ValueError(f"cannot compare stages {a!r} and {b!r}")
    return (ra > rb) - (ra < rb)


def category_rank(value: str | None, axis: str) -> tuple[int, int, int] | None:
    """Order T, N or M categories: Tis < T1 < T1a < T1b < T2 ...; TX/NX/MX -> None (unknown)."""
    if not value:
        return None
    text = value.strip().upper().replace(" ", "")
    if not text.startswith(axis.upper()) and not re.match(r"^(C|P|YP|Y)", text):
        text = axis.upper() + text
    match = _CATEGORY.match(text)
    if not match or match[1].upper() != axis.upper():
        return None
    number, letter, digit = match[2].upper(), match[3].upper(), match[4]
    if number == "X":
        return None
    base = -1 if number == "IS" else int(number)
    return base, (" ABCD".index(letter) if letter else 0), int(digit) if digit else 0


def t_rank(value: str | None) -> tuple[int, int, int] | None:
    return category_rank(value, "T")


def n_rank(value: str | None) -> tuple[int, int, int] | None:
    return category_rank(value, "N")


def m_rank(value: str | None) -> tuple[int, int, int] | None:
    return category_rank(value, "M")


def category_is_a(value: str | None, group: str, axis: str) -> bool:
    """'T2a' is a 'T2'; 'M1c' is a 'M1'; 'T2' is not a 'T2a'."""
    rank, target = category_rank(value, axis), category_rank(group, axis)
    if rank is None or target is None or rank[0] != target[0]:
        return False
    if target[1] and rank[1] != target[1]:
        return False
    return not (target[2] and rank[2] != target[2])
