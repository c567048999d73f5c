"""Agenda grids and French labels."""

from __future__ import annotations

import datetime as dt

import pytest

from web import agenda

UTC = dt.UTC


def test_week_grid_places_items_on_their_paris_day():
    # 23:30 UTC on Monday 30 March 2026 is already Tuesday in Paris (CEST)
    late = dt.datetime(2026, 3, 30, 23, 30, tzinfo=UTC)
    grid = agenda.build_grid("semaine", dt.date(2026, 4, 2), [(late, "a")])
    assert grid.start == dt.date(2026, 3, 30)
    assert grid.end == dt.date(2026, 4, 6)
    assert len(grid.weeks) == 1
    days = {day.date: day.items for day in grid.weeks[0]}
    assert days[dt.date(2026, 3, 31)] == ["a"]
    assert grid.previous == dt.date(2026, 3, 23)
    assert grid.next == dt.date(2026, 4, 6)
    assert grid.title == "Semaine du lundi 30 mars 2026"


def test_month_grid_covers_whole_weeks_and_marks_days_outside():
    grid = agenda.build_grid("mois", dt.date(2026, 2, 14), [])
    assert grid.start == dt.date(2026, 2, 1)
    assert grid.end == dt.date(2026, 3, 1)
    assert grid.weeks[0][0].date == dt.date(2026, 1, 26)
    assert not grid.weeks[0][0].in_period
    assert all(len(week) == 7 for week in grid.weeks)
    assert grid.weeks[-1][-1].date == dt.date(2026, 3, 1)
    assert grid.previous == dt.date(2026, 1, 1)
    assert grid.title == "Février 2026"


def test_labels_are_french_and_in_paris_time():
    instant = dt.datetime(2026, 4, 14, 12, 0, tzinfo=UTC)
    assert agenda.datetime_label(instant) == "mardi 14 avril 2026 à 14 h 00"
    assert agenda.day_label(dt.date(2026, 12, 1)) == "mardi 1 décembre 2026"


def test_group_by_day_keeps_order():
    a = dt.datetime(2026, 4, 14, 8, tzinfo=UTC)
    b = dt.datetime(2026, 4, 14, 12, tzinfo=UTC)
    c = dt.datetime(2026, 4, 15, 8, tzinfo=UTC)
    assert agenda.group_by_day([(a, 1), (b, 2), (c, 3)]) == [
        (dt.date(2026, 4, 14), [1, 2]),
        (dt.date(2026, 4, 15), [3]),
    ]


@pytest.mark.parametrize(("value", "expected"), [("2026-05-01", dt.date(2026, 5, 1)), ("x", None)])
def test_parse_date_falls_back(value, expected):
    default = dt.date(2000, 1, 1)
    assert agenda.parse_date(value, default) == (expected or default)


def test_unknown_view_has_no_grid():
    with pytest.raises(ValueError, match="no grid"):
        agenda.period("liste", dt.date(2026, 1, 1))
