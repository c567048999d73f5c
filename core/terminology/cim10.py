"""CIM-10 (ICD-10) codes: normalisation and range membership (e.g. C34.1 in C30-C39)."""

from __future__ import annotations

import re

_CODE = re.compile(r"^([A-Z])(\d{2})(?:\.?(\d{1,2}))?$")


def normalize(code: str | None) -> str | None:
    """'c341' -> 'C34.1'; 'C34' stays; anything else gives None."""
    if not code:
        return None
    match = _CODE.match(code.strip().upper().replace(" ", ""))
    if not match:
        return None
    letter, block, sub = match.groups()
    return f"{letter}{block}.{sub}" if sub else f"{letter}{block}"


def _key(code: str) -> tuple[str, int, int]:
    match = _CODE.match(code.replace(".", "").upper())
    if not match:
        raise ValueError(f"not a CIM-10 code: {code!r}")
    letter, block, sub = match.groups()
    return letter, int(block), int(sub) if sub else -1


def is_valid_range(spec: str) -> bool:
    try:
        _parse_range(spec)
    except ValueError:
        return False
    return True


def _parse_range(spec: str) -> tuple[tuple[str, int, int], tuple[str, int, int]]:
    parts = [p.strip() for p in spec.split("-")]
    if len(parts) == 1:
        low = _key(parts[0])
        return low, (low[0], low[1], low[2] if low[2] >= 0 else 99)
    if len(parts) == 2:
        low, high = _key(parts[0]), _key(parts[1])
        high = (high[0], high[1], high[2] if high[2] >= 0 else 99)
        if low > high:
            raise ValueError(f"empty CIM-10 range {spec!r}")
        return low, high
    raise ValueError(f"not a CIM-10 range: {spec!r}")


def in_range(code: str | None, spec: str) -> bool:
    """Whether ``code`` falls in ``spec``: one code ('C50' covers C50.0-C50.9) or 'C18-C20'."""
    normalized = normalize(code)
    if normalized is None:
        return False
    low, high = _parse_range(spec)
    # a 3-character code sorts before its subdivisions: "C34" is in "C30-C39" and in "C34",
    # not in "C34.1" (an unspecified site is not a specific one)
    return low <= _key(normalized) <= high
