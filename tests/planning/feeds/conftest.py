"""Feed fixtures: sessions around the next DST changes, a fresh memo per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from core.db import db
from planning import ical
from planning.feeds import chunks
from planning.ical import PARIS
from planning.models import Rcp, Session


def last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 31)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


def dst_session_times(today: dt.date) -> list[dt.datetime]:
    """Local starts on the last days of the next March and October, around each DST change."""
    out = []
    for month in (3, 10):
        change = last_sunday(today.year, month)
        if change - dt.timedelta(days=3) <= today:
            change = last_sunday(today.year + 1, month)
        out += [
            dt.datetime.combine(change - dt.timedelta(days=2), dt.time(14, 0)),  # Friday
            dt.datetime.combine(change + dt.timedelta(days=1), dt.time(8, 30)),  # Monday
            dt.datetime.combine(change + dt.timedelta(days=2), dt.time(17, 0)),  # Tuesday
        ]
    return sorted(out)


@pytest.fixture(autouse=True)
def fresh_memo(app):
    """Rendered feeds and events are kept per process; tests roll back, so start each one
    empty."""
    app.extensions["planning_feeds"].memo.clear()
    chunks.MEMORY.clear()
    ical.CACHE.clear()


@pytest.fixture
def dst_sessions(create_rcp, create_session) -> Callable[..., tuple[Rcp, list[Session]]]:
    """An RCP with sessions around the next DST changes, committed (as another request would)."""

    def create(**rcp_overrides) -> tuple[Rcp, list[Session]]:
        rcp = create_rcp(rrule=None, **rcp_overrides)
        today = dt.datetime.now(PARIS).date()
        sessions = [
            create_session(rcp=rcp, starts_at=local.replace(tzinfo=PARIS))
            for local in dst_session_times(today)
        ]
        db.session.commit()
        return rcp, sessions

    return create
