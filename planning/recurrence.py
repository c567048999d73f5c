"""Expansion of an RCP recurrence rule (RFC 5545) into sessions, in Europe/Paris wall time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

PARIS = ZoneInfo("Europe/Paris")

#: One generation request never creates more than this many sessions (a weekly RCP has 53).
MAX_OCCURRENCES = 400


class RecurrenceError(ValueError):
    """The rule cannot be used (syntax, frequency finer than a day, or too many occurrences)."""


@dataclass(frozen=True)
class Occurrence:
    #: The local date the rule produced: the identity of the occurrence within its RCP.
    date: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime


def parse_rule(rule: str, *, anchor: dt.date, start_time: dt.time) -> rrule:
    """Parse ``rule`` ("FREQ=WEEKLY;BYDAY=TU" or "RRULE:...") anchored at ``anchor`` ``start_time``.

    The anchor matters for INTERVAL (every other week counts from it).
    """
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text or "\n" in text or "DTSTART" in text.upper():
        raise RecurrenceError("give one RRULE value, without DTSTART (the RCP carries it)")
    start = dt.datetime.combine(anchor, start_time)
    try:
        parsed = rrulestr(text, dtstart=start, forceset=False)
    except (ValueError, TypeError) as error:
        raise RecurrenceError(f"not a valid RFC 5545 RRULE: {error}") from error
    if not isinstance(parsed, rrule):
        raise RecurrenceError("give a single RRULE")
    if any(f"FREQ={freq}" in text.upper() for freq in ("HOURLY", "MINUTELY", "SECONDLY")):
        raise RecurrenceError("an RCP cannot recur more often than daily")
    return parsed


def localize(wall: dt.datetime, tz: ZoneInfo = PARIS) -> dt.datetime:
    """Attach ``tz`` to a wall-clock time; a time skipped by DST moves forward like a clock."""
    # fold=0 reads a skipped time with the offset before the change: 02:30 becomes 03:30
    return wall.replace(tzinfo=tz, fold=0).astimezone(dt.UTC).astimezone(tz)


def expand(
    rule: str,
    *,
    anchor: dt.date,
    start_time: dt.time,
    duration: dt.timedelta,
    period_start: dt.date,
    period_end: dt.date,
    exdates: Iterable[dt.date] = (),
    tz: ZoneInfo = PARIS,
    limit: int = MAX_OCCURRENCES,
) -> list[Occurrence]:
    """The occurrences whose local date is within [period_start, period_end], minus ``exdates``.

    Wall-clock times are kept across DST changes (14:00 stays 14:00 in Paris in winter and
    summer); the returned instants are timezone-aware.
    """
    if period_end < period_start:
        raise RecurrenceError("the period ends before it starts")
    if duration <= dt.timedelta(0):
        raise RecurrenceError("the duration must be positive")
    parsed = parse_rule(rule, anchor=anchor, start_time=start_time)
    excluded = set(exdates)
    window_start = dt.datetime.combine(max(period_start, anchor), dt.time.min)
    window_end = dt.datetime.combine(period_end, dt.time.max)
    out: list[Occurrence] = []
    for wall in parsed.xafter(window_start, inc=True):
        if wall > window_end:
            break
        if wall.date() in excluded:
            continue
        if len(out) >= limit:
            raise RecurrenceError(
                f"the period holds more than {limit} sessions: generate a shorter period"
            )
        starts_at = localize(wall, tz)
        ends_at = localize(wall + duration, tz)
        out.append(Occurrence(date=wall.date(), starts_at=starts_at, ends_at=ends_at))
    return out
