"""The demo year (every registration status, idempotent) and the planning commands."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy import func, select

from core.db import db
from planning import demo
from planning.cli import planning as planning_group
from planning.models import Rcp, Registration, Session


def test_demo_plans_a_year_with_every_status_and_runs_twice(app, monkeypatch):
    monkeypatch.setattr(demo, "PROGRAMME", demo.PROGRAMME[:2])
    monkeypatch.setattr(demo, "FALLBACK_SITES", demo.FALLBACK_SITES[:3])
    first = demo.load(days_before=25, days_after=40)
    assert first["rcps"] >= 6 and first["sessions"] > 20 and first["registrations"] > 30
    statuses = set(db.session.scalars(select(Registration.status).distinct()))
    assert statuses == {"proposed", "accepted", "deferred", "refused", "withdrawn"}
    regions = set(db.session.scalars(select(Rcp.region).distinct()))
    assert len(regions) >= 2
    again = demo.load(days_before=25, days_after=40)
    assert again["sessions"] == 0 and again["registrations"] == 0
    assert db.session.scalar(select(func.count(Rcp.id))) == first["rcps"]


def test_generate_command_plans_every_rcp(app, world, create_rcp):
    rcp = create_rcp()
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(
            planning_group, ["generate", "--from", "2027-01-01", "--to", "2027-03-31"]
        )
    assert result.exit_code == 0, result.output
    assert "1 RCPs: 6 sessions created" in result.output
    count = db.session.scalar(select(func.count(Session.id)).where(Session.rcp_id == rcp.id))
    assert count == 6
    assert dt.date(2027, 1, 12) in set(
        db.session.scalars(select(Session.occurrence_date).where(Session.rcp_id == rcp.id))
    )


def test_deliver_command_reports(app):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(planning_group, ["deliver"])
    assert result.exit_code == 0, result.output
    assert "webhooks: 0 delivered" in result.output
