"""Name folding, prefix ranges and number checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planning.directory.normalize import (
    finess_format_error,
    finess_luhn_valid,
    finess_warnings,
    fold,
    luhn_valid,
    name_key,
    prefix_upper_bound,
    rpps_format_error,
    rpps_warnings,
    tokens,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Bénédicte", "BENEDICTE"),
        ("LEBRUN-CARPENTIER Anaïs", "LEBRUN CARPENTIER ANAIS"),
        ("L'Hostis", "L HOSTIS"),
        ("d’Almeida", "D ALMEIDA"),
        ("Œuvre  Lyonnaise", "OEUVRE LYONNAISE"),
        ("Müller", "MULLER"),
        ("  ", ""),
        (None, ""),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


def test_tokens_are_distinct_and_split_compounds():
    assert tokens("LE GALL-KERBRAT", "Marie-Hélène") == ["LE", "GALL", "KERBRAT", "MARIE", "HELENE"]
    assert tokens("Martin", "MARTIN") == ["MARTIN"]
    assert tokens(None) == []


def test_tokens_are_cut_to_the_indexed_length():
    assert tokens("A" * 60) == ["A" * 40]


def test_name_key_sorts_last_then_first():
    assert name_key("Lebrun-Carpentier", "Anaïs") == "LEBRUN CARPENTIER ANAIS"


@pytest.mark.parametrize(("prefix", "bound"), [("BENE", "BENF"), ("Z", "["), ("A9", "A:")])
def test_prefix_upper_bound(prefix, bound):
    assert prefix_upper_bound(prefix) == bound
    assert prefix <= prefix + "ZZZ" < bound


def test_luhn_on_real_numbers():
    # A real RPPS number of the 2021 sample and real FINESS numbers pass ...
    assert luhn_valid("10106476764")
    assert finess_luhn_valid("010000024") and finess_luhn_valid("290000017")
    # ... the ANS documentation's example does not (hence a warning, never a rejection).
    assert not luhn_valid("10003461033")
    assert not luhn_valid("1010647676X")


def test_format_errors():
    assert rpps_format_error("10106476764") is None
    assert "11 digits" in rpps_format_error("1010647676")
    assert "only digits" in rpps_format_error("1010647676A")
    assert finess_format_error("290000017") is None
    assert finess_format_error("2A0000154") is None
    assert finess_format_error("2b0000154") is None
    assert "9 characters" in finess_format_error("29000001")
    assert "digits only" in finess_format_error("29000001X")
    assert "digits only" in finess_format_error("01A000001")


def test_warnings():
    assert rpps_warnings("10106476764") == []
    assert "Luhn" in rpps_warnings("10106476765")[0]
    assert finess_warnings("290000017") == []
    assert "Luhn" in finess_warnings("290000018")[0]


def _luhn_reference(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_luhn_agrees_with_the_textbook_loop(number):
    assert luhn_valid(number) is _luhn_reference(number)


def test_luhn_refuses_non_ascii_digits():
    assert not luhn_valid("1010647676²")
    assert not luhn_valid("١٠١٠٦٤٧٦٧٦٤")
    assert not luhn_valid("")
