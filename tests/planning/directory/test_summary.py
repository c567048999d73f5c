"""The stored summary of a professional: the text ``json.dumps`` would write, by hand."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from planning.directory.normalize import rpps_warnings
from planning.directory.summary import summary_json

optional_text = st.none() | st.text(max_size=30)
codes = st.none() | st.sampled_from(["", "10", "60", "SM36", "SM37", "35", "2A", "971"])


def _reference(**fields):
    professions = {p or "" for p, _, _ in fields["activities"]} - {""}
    specialties = {s or "" for _, s, _ in fields["activities"]} - {""}
    departments = {d or "" for _, _, d in fields["activities"]} - {""}
    return json.dumps(
        {
            "active": fields["active"],
            "civility": fields["civility"],
            "departments": sorted(departments),
            "exercise_civility": fields["exercise_civility"],
            "first_name": fields["first_name"],
            "id_type": "RPPS" if fields["id_type"] == "8" else "ADELI",
            "last_name": fields["last_name"],
            "national_id": fields["national_id"],
            "professions": sorted(professions),
            "rpps": fields["rpps"],
            "specialties": sorted(specialties),
            "warnings": rpps_warnings(fields["rpps"]) if fields["rpps"] else [],
        },
        sort_keys=True,
        separators=(",", ":"),
    )


@settings(max_examples=300, deadline=None)
@given(
    rpps=st.none() | st.from_regex(r"\A[0-9]{11}\Z"),
    national_id=st.text(min_size=1, max_size=12),
    id_type=st.sampled_from(["8", "0"]),
    civility=optional_text,
    exercise_civility=optional_text,
    # accents, quotes, backslashes, control and non-BMP characters all escape as json does
    last_name=st.text(max_size=40),
    first_name=st.text(max_size=40),
    active=st.booleans(),
    activities=st.lists(st.tuples(codes, codes, codes), max_size=4),
)
def test_the_summary_is_the_text_json_would_write(**fields):
    text = summary_json(**fields)
    assert text == _reference(**fields)
    assert json.loads(text)["last_name"] == fields["last_name"]


def test_a_real_name_with_accents_and_a_luhn_warning():
    text = summary_json(
        rpps="10000000001",
        national_id="810000000001",
        id_type="8",
        civility="MME",
        exercise_civility=None,
        last_name="LEBRUN-CARPENTIER",
        first_name="Bénédicte",
        active=True,
        activities=[("10", "SM36", "29"), ("10", None, "35")],
    )
    assert '"first_name":"B\\u00e9n\\u00e9dicte"' in text
    assert json.loads(text)["warnings"] == [
        "RPPS number 10000000001 fails the Luhn check: check it for a typing error"
    ]
    assert json.loads(text)["specialties"] == ["SM36"]
