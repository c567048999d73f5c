"""Folding of names into search tokens, and the format and Luhn checks of RPPS/FINESS numbers."""

from __future__ import annotations

import functools
import re
import unicodedata

#: Letters NFKD does not decompose; folded by hand so that "Œuvre" finds "OEUVRE".
_LIGATURES = str.maketrans({"Œ": "OE", "œ": "OE", "Æ": "AE", "æ": "AE", "ß": "SS", "ø": "O"})
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")

#: Longest token kept in the index; longer words are cut (a prefix query still finds them).
MAX_TOKEN = 40
#: Length of the name key column; a longer key is cut (search then probes the token table).
MAX_NAME_KEY = 200


def fold(text: str | None) -> str:
    """Upper-case ASCII with accents removed and every separator (``-'’.`` ...) a single space.

    ``"Lebrun-Carpentier Anaïs"`` -> ``"LEBRUN CARPENTIER ANAIS"``. Letters without an ASCII
    decomposition (other scripts, typographic apostrophes) separate words.
    """
    if not text:
        return ""
    return _fold(text)


@functools.lru_cache(maxsize=200_000)
def _fold(text: str) -> str:
    # Names repeat a lot (a few thousand first names for 1.2 M people): the cache pays.
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
        text = "".join(
            c if c.isascii() else "" if unicodedata.combining(c) else " " for c in decomposed
        )
    return _NON_ALNUM.sub(" ", text.upper()).strip()


def tokens(*texts: str | None) -> list[str]:
    """The distinct folded words of ``texts``, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in fold(text).split():
            seen.setdefault(word[:MAX_TOKEN], None)
    return list(seen)


def name_key(last_name: str | None, first_name: str | None) -> str:
    """The sort key of a person: folded "LAST FIRST", cut at ``MAX_NAME_KEY`` characters."""
    return f"{fold(last_name)} {fold(first_name)}".strip()[:MAX_NAME_KEY]


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (folded, non-empty).

    Prefix search is then the index range ``prefix <= token < prefix_upper_bound(prefix)``.
    """
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


#: Luhn's doubled digit, digit sum taken: 2 * 7 = 14 -> 5.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
#: ASCII digits to their value, and to their doubled value (``bytes.translate`` tables).
_VALUE = bytes(range(256)).translate(bytes.maketrans(b"0123456789", bytes(range(10))))
_DOUBLED_VALUE = bytes(range(256)).translate(bytes.maketrans(b"0123456789", bytes(_DOUBLED)))


def luhn_valid(number: str) -> bool:
    """The Luhn check over all the digits of ``number`` (non-digit numbers fail)."""
    if not (number.isascii() and number.isdigit()):
        return False
    # Every summary carries this check (1.2 M at an import): byte sums, no loop in Python.
    digits = number.encode()
    total = sum(digits[-1::-2].translate(_VALUE)) + sum(digits[-2::-2].translate(_DOUBLED_VALUE))
    return total % 10 == 0


_RPPS = re.compile(r"^[0-9]{11}$")
_FINESS = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{7}$")


def rpps_format_error(value: str) -> str | None:
    """Why ``value`` is not an RPPS number (11 digits), or None when its format is right."""
    if _RPPS.match(value):
        return None
    if len(value) != 11:
        return f"an RPPS number has 11 digits, not {len(value)} characters"
    return "an RPPS number has only digits"


def finess_format_error(value: str) -> str | None:
    """Why ``value`` is not a FINESS number (9 characters, digits or 2A/2B), or None."""
    if _FINESS.match(value.upper()):
        return None
    if len(value) != 9:
        return f"a FINESS number has 9 characters, not {len(value)}"
    return "a FINESS number has digits only (2A/2B allowed for Corsica)"


def finess_luhn_valid(value: str) -> bool:
    """Luhn check of a FINESS number; Corsica letters count as 0 (2A) and 1 (2B)."""
    return luhn_valid(value.upper().replace("2A", "20", 1).replace("2B", "21", 1))


def rpps_warnings(rpps: str) -> list[str]:
    """Warnings about a well-formed RPPS number: a failed Luhn check suggests a typo.

    Some genuine numbers (the ANS documentation's own examples) fail it: never a rejection.
    """
    if luhn_valid(rpps):
        return []
    return [f"RPPS number {rpps} fails the Luhn check: check it for a typing error"]


def finess_warnings(finess: str) -> list[str]:
    """Warnings about a well-formed FINESS number (failed Luhn check); never a rejection."""
    if finess_luhn_valid(finess):
        return []
    return [f"FINESS number {finess} fails the Luhn check: check it for a typing error"]
