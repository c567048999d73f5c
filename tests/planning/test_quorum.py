"""Quorum: physicians of distinct specialties, required specialties, geriatrician over 75."""

from __future__ import annotations

from planning.quorum import GERIATRICS, Rule, evaluate


def test_three_physicians_of_three_specialties_meet_the_default_rule():
    status = evaluate(Rule(), {"a": {"SM36"}, "b": {"SM01"}, "c": {"SM44"}})
    assert status.met and status.distinct_specialties == 3 and status.reasons == []


def test_same_specialty_counts_once():
    status = evaluate(Rule(), {"a": {"SM36"}, "b": {"SM36"}, "c": {"SM44"}})
    assert not status.met
    assert status.distinct_specialties == 2
    assert status.reasons == ["2 distinct specialties, at least 3 needed"]


def test_a_physician_counts_for_one_specialty_only():
    # b could bring SM01 or SM36, but not both: matching finds 2, not 3
    status = evaluate(Rule(), {"a": {"SM36"}, "b": {"SM01", "SM36"}})
    assert status.distinct_specialties == 2
    assert "2 physicians, at least 3 needed" in status.reasons


def test_required_specialty_is_matched_first():
    # b is both pathologist and oncologist: they must count as the pathologist
    rule = Rule(required_specialties=frozenset({"SM01"}))
    status = evaluate(rule, {"a": {"SM36"}, "b": {"SM36", "SM01"}, "c": {"SM44"}})
    assert status.met and status.missing_specialties == []


def test_missing_required_specialties_are_listed():
    rule = Rule(required_specialties=frozenset({"SM01", "SM44"}))
    status = evaluate(rule, {"a": {"SM36"}, "b": {"SM45"}, "c": {"SM14"}})
    assert not status.met
    assert status.missing_specialties == ["SM01", "SM44"]


def test_geriatrician_only_when_configured_and_a_patient_is_over_75():
    people = {"a": {"SM36"}, "b": {"SM01"}, "c": {"SM44"}}
    assert evaluate(Rule(geriatrician_over_75=True), people).met
    over = evaluate(Rule(geriatrician_over_75=True), people, any_patient_over_75=True)
    assert over.missing_specialties == [GERIATRICS]
    assert evaluate(Rule(), people, any_patient_over_75=True).met
    with_geriatrician = {**people, "d": {GERIATRICS}}
    assert evaluate(
        Rule(geriatrician_over_75=True), with_geriatrician, any_patient_over_75=True
    ).met


def test_nobody():
    status = evaluate(Rule(), {})
    assert not status.met and status.physicians == 0


def test_one_specialty_each_gives_what_the_matching_search_gives():
    import random

    from planning.quorum import _match

    rng = random.Random(5)
    codes = ["SM01", "SM18", "SM36", "SM44", "SM45"]
    for _ in range(300):
        participants = {
            f"p{i}": set(rng.sample(codes, rng.randint(0, 1))) for i in range(rng.randint(0, 6))
        }
        rule = Rule(
            min_physicians=rng.randint(1, 4),
            min_distinct_specialties=rng.randint(1, 4),
            required_specialties=frozenset(rng.sample(codes, rng.randint(0, 2))),
            geriatrician_over_75=rng.random() < 0.5,
        )
        over_75 = rng.random() < 0.5
        status = evaluate(rule, participants, any_patient_over_75=over_75)
        required = set(rule.required_specialties) | (
            {GERIATRICS} if rule.geriatrician_over_75 and over_75 else set()
        )
        missing, distinct = _match(required, participants)
        assert (status.missing_specialties, status.distinct_specialties) == (missing, distinct)
