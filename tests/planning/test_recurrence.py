"""RRULE expansion in Europe/Paris wall time, with exception dates."""

from __future__ import annotations

import datetime as dt

import pytest

from planning.recurrence import PARIS, RecurrenceError, expand, localize

TWO_HOURS = dt.timedelta(hours=2)


def _expand(rule: str, start: dt.date, end: dt.date, **kwargs):
    kwargs.setdefault("anchor", dt.date(2027, 1, 1))
    kwargs.setdefault("start_time", dt.time(14, 0))
    kwargs.setdefault("duration", TWO_HOURS)
    return expand(rule, period_start=start, period_end=end, **kwargs)


def test_second_and_fourth_tuesday_with_an_exception_date():
    occurrences = _expand(
        "FREQ=MONTHLY;BYDAY=2TU,4TU",
        dt.date(2027, 3, 1),
        dt.date(2027, 4, 30),
        exdates=[dt.date(2027, 4, 13)],
    )
    assert [o.date for o in occurrences] == [
        dt.date(2027, 3, 9),
        dt.date(2027, 3, 23),
        dt.date(2027, 4, 27),
    ]
    assert all(o.date.weekday() == 1 for o in occurrences)


def test_wall_time_is_kept_across_daylight_saving_changes():
    # Paris switches to summer time on 28 March 2027 and back on 31 October 2027
    occurrences = _expand("FREQ=WEEKLY;BYDAY=TU", dt.date(2027, 3, 20), dt.date(2027, 11, 5))
    local = {o.starts_at.astimezone(PARIS).time() for o in occurrences}
    assert local == {dt.time(14, 0)}
    offsets = {o.date: o.starts_at.utcoffset() for o in occurrences}
    assert offsets[dt.date(2027, 3, 23)] == dt.timedelta(hours=1)
    assert offsets[dt.date(2027, 3, 30)] == dt.timedelta(hours=2)
    assert offsets[dt.date(2027, 11, 2)] == dt.timedelta(hours=1)
    assert all(o.ends_at - o.starts_at == TWO_HOURS for o in occurrences)


def test_interval_counts_from_the_anchor():
    every_other = _expand(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        dt.date(2027, 1, 1),
        dt.date(2027, 2, 28),
        anchor=dt.date(2027, 1, 14),
    )
    assert [o.date.isoformat() for o in every_other] == [
        "2027-01-14",
        "2027-01-28",
        "2027-02-11",
        "2027-02-25",
    ]


def test_nothing_before_the_anchor_and_until_is_honoured():
    occurrences = _expand(
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270215T235959",
        dt.date(2026, 12, 1),
        dt.date(2027, 12, 31),
        anchor=dt.date(2027, 2, 1),
    )
    assert [o.date.day for o in occurrences] == [1, 8, 15]


def test_rrule_prefix_is_accepted():
    assert len(_expand("RRULE:FREQ=DAILY;COUNT=3", dt.date(2027, 1, 1), dt.date(2027, 1, 31))) == 3


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=HOURLY", "more often than daily"),
        ("FREQ=SOMETIMES", "not a valid"),
        ("", "one RRULE"),
        ("DTSTART:20270101T000000\nRRULE:FREQ=DAILY", "one RRULE"),
    ],
)
def test_unusable_rules_are_refused(rule, message):
    with pytest.raises(RecurrenceError, match=message):
        _expand(rule, dt.date(2027, 1, 1), dt.date(2027, 1, 31))


def test_a_period_too_long_is_refused():
    with pytest.raises(RecurrenceError, match="more than 5"):
        _expand("FREQ=DAILY", dt.date(2027, 1, 1), dt.date(2027, 1, 31), limit=5)


def test_reversed_period_and_empty_duration_are_refused():
    with pytest.raises(RecurrenceError, match="ends before"):
        _expand("FREQ=DAILY", dt.date(2027, 2, 1), dt.date(2027, 1, 1))
    with pytest.raises(RecurrenceError, match="positive"):
        _expand("FREQ=DAILY", dt.date(2027, 1, 1), dt.date(2027, 1, 2), duration=dt.timedelta(0))


def test_a_time_skipped_by_the_clock_change_moves_forward():
    skipped = localize(dt.datetime(2027, 3, 28, 2, 30))
    assert skipped.hour == 3 and skipped.minute == 30
    assert skipped.utcoffset() == dt.timedelta(hours=2)
