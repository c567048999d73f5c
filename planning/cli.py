"""``dcc-services planning``: plan sessions in bulk, deliver webhooks and e-mails."""

from __future__ import annotations

import datetime as dt
import time

import click
from flask import current_app
from sqlalchemy import select

from core.auth import Principal, Role
from core.db import db
from core.errors import DomainError
from planning import notifications, services
from planning.models import Rcp

SYSTEM = Principal("cli", Role.NATIONAL_ADMIN, "local")


@click.group("planning")
def planning() -> None:
    """RCP planning: sessions, webhook and e-mail deliveries."""


@planning.command("generate")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--rcp", "rcp_ids", type=int, multiple=True, help="Only these RCPs (repeatable)")
def generate(start: dt.datetime, end: dt.datetime, rcp_ids: tuple[int, ...]) -> None:
    """Plan the sessions of every active RCP with a recurrence for a period (idempotent)."""
    query = select(Rcp.id).where(Rcp.active.is_(True), Rcp.rrule.is_not(None)).order_by(Rcp.id)
    if rcp_ids:
        query = query.where(Rcp.id.in_(rcp_ids))
    ids = list(db.session.scalars(query))
    created = existing = failed = 0
    with click.progressbar(ids, label="planning RCPs") as bar:
        for rcp_id in bar:
            try:
                with db.transaction():
                    result = services.generate_sessions(
                        principal=SYSTEM,
                        rcp_id=rcp_id,
                        period_start=start.date(),
                        period_end=end.date(),
                    )
                created += len(result.created)
                existing += result.existing
            except DomainError as error:
                failed += 1
                click.echo(f"\nRCP {rcp_id}: {error.detail}", err=True)
    click.echo(
        f"{len(ids)} RCPs: {created} sessions created, {existing} already planned, {failed} failed"
    )


@planning.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering (a worker), every --interval s")
@click.option("--interval", default=10, show_default=True)
def deliver(loop: bool, interval: int) -> None:
    """Send due webhook deliveries (signed, retried with backoff) and pending e-mails."""
    settings = current_app.extensions["dcc"].settings
    smtp = (
        notifications.SmtpSettings(settings.smtp_host, settings.smtp_port, settings.smtp_from)
        if settings.smtp_host
        else None
    )
    while True:
        with db.transaction():
            report = notifications.deliver_due()
        with db.transaction():
            mails = notifications.send_emails(smtp=smtp)
        click.echo(
            f"webhooks: {report.delivered} delivered, {report.retried} to retry, "
            f"{report.failed} failed; e-mails: {mails['sent']} sent, {mails['skipped']} "
            f"without address, {mails['failed']} failed"
        )
        if not loop:
            return
        time.sleep(interval)


def load_demo() -> None:
    """The demo loader registered in ``dcc-services demo``."""
    from planning import demo
    from planning.directory.models import Organization

    sites = db.session.query(Organization.id).count()
    with click.progressbar(length=50, label="planning a demo year") as bar, db.transaction():
        counts = demo.load(progress=bar.update)
    click.echo(
        f"planning demo ({sites} establishments in the directory): {counts['rcps']} RCPs, "
        f"{counts['sessions']} new sessions, {counts['registrations']} new registrations"
    )
