"""Agenda grids (week, month) and French date labels from plain (start, item) pairs: no Flask."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
VIEWS = ("liste", "semaine", "mois")


@dataclass
class Day:
    date: dt.date
    items: list[Any] = field(default_factory=list)
    in_period: bool = True

    @property
    def label(self) -> str:
        return day_label(self.date)


@dataclass
class Grid:
    """The days shown by a view, the period it covers [start, end) and its neighbours."""

    view: str
    start: dt.date
    end: dt.date
    weeks: list[list[Day]]
    previous: dt.date
    next: dt.date
    title: str


def day_label(date: dt.date) -> str:
    """``mardi 14 avril 2026``."""
    return f"{DAYS[date.weekday()]} {date.day} {MONTHS[date.month - 1]} {date.year}"


def time_label(instant: dt.datetime) -> str:
    """``14 h 00`` in Paris wall time."""
    local = instant.astimezone(PARIS)
    return f"{local.hour} h {local.minute:02d}"


def datetime_label(instant: dt.datetime) -> str:
    """``mardi 14 avril 2026 à 14 h 00`` in Paris wall time."""
    local = instant.astimezone(PARIS)
    return f"{day_label(local.date())} à {time_label(local)}"


def period(view: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """The [start, end) dates a view shows around ``anchor`` (weeks start on Monday)."""
    if view == "semaine":
        start = anchor - dt.timedelta(days=anchor.weekday())
        return start, start + dt.timedelta(days=7)
    if view == "mois":
        first = anchor.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return first, following
    raise ValueError(f"no grid for view {view!r}")


def local_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Aware instants of Paris midnight at ``start`` and ``end``."""
    return (
        dt.datetime.combine(start, dt.time(), PARIS),
        dt.datetime.combine(end, dt.time(), PARIS),
    )


def build_grid(view: str, anchor: dt.date, entries: Iterable[tuple[dt.datetime, Any]]) -> Grid:
    """Place each (start instant, item) on its Paris day of the week or month grid."""
    start, end = period(view, anchor)
    by_day: dict[dt.date, list[Any]] = {}
    for instant, item in sorted(entries, key=lambda pair: pair[0]):
        by_day.setdefault(instant.astimezone(PARIS).date(), []).append(item)
    first = start - dt.timedelta(days=start.weekday())
    last = end + dt.timedelta(days=(7 - end.weekday()) % 7)
    weeks: list[list[Day]] = []
    day = first
    while day < last:
        week = []
        for _ in range(7):
            week.append(Day(day, by_day.get(day, []), start <= day < end))
            day += dt.timedelta(days=1)
        weeks.append(week)
    if view == "semaine":
        previous, following = start - dt.timedelta(days=7), end
        title = f"Semaine du {day_label(start)}"
    else:
        previous = (start - dt.timedelta(days=1)).replace(day=1)
        following = end
        title = f"{MONTHS[start.month - 1].capitalize()} {start.year}"
    return Grid(view, start, end, weeks, previous, following, title)


def parse_date(value: str | None, default: dt.date) -> dt.date:
    """An ISO date from a query string, or ``default`` when absent or malformed."""
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return default


def group_by_day(entries: Sequence[tuple[dt.datetime, Any]]) -> list[tuple[dt.date, list[Any]]]:
    """Items grouped by Paris day, in order (the list view)."""
    out: list[tuple[dt.date, list[Any]]] = []
    for instant, item in entries:
        day = instant.astimezone(PARIS).date()
        if out and out[-1][0] == day:
            out[-1][1].append(item)
        else:
            out.append((day, [item]))
    return out
