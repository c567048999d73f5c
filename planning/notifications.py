"""Telling people about decisions: notifications, signed webhooks with retries, and e-mail."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import smtplib
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import exists, func, insert, select

from core import audit
from core.auth import Principal, Role
from core.db import db, utcnow
from core.errors import Forbidden, InvalidInput, NotFound
from planning import delivery
from planning.directory import services as directory
from planning.models import Notification, Registration, Session, Webhook, WebhookDelivery

log = logging.getLogger("dcc.planning.notifications")

EVENTS = (
    "registration.created",
    "registration.accepted",
    "registration.deferred",
    "registration.refused",
    "registration.withdrawn",
    "session.changed",
    "session.cancelled",
)

MESSAGES = {
    "registration.accepted": "Dossier {ref} accepté pour la RCP « {title} » du {when}.",
    "registration.deferred": (
        "Dossier {ref} reporté par le 3C de la RCP « {title} » du {when} à la séance du {target}."
    ),
    "registration.refused": "Dossier {ref} refusé pour la RCP « {title} » du {when} : {reason}.",
    "session.changed": "La RCP « {title} » a changé : séance du {when}.",
    "session.cancelled": "La RCP « {title} » du {when} est annulée : {reason}.",
}


def _when(instant: dt.datetime) -> str:
    from planning.recurrence import PARIS

    return instant.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def _session_summary(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "uid": session.uid,
        "revision": session.revision,
        "status": session.status,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "rcp_id": session.rcp_id,
        "rcp_title": session.rcp.title,
        "kind_code": session.rcp.kind_code,
        "host_finess": session.rcp.host_finess,
    }


def _registration_summary(registration: Registration) -> dict[str, Any]:
    return {
        "id": registration.id,
        "session_id": registration.session_id,
        "status": registration.status,
        "registering_rpps": registration.registering_rpps,
        "reason": registration.reason,
        "deferred_to_id": registration.deferred_to_id,
        "deferred_from_id": registration.deferred_from_id,
    }


def notify_registration(
    *,
    registration: Registration,
    event: str,
    notify_physician: bool = True,
) -> None:
    """Tell the registering physician (notification) and the webhooks of the perimeter."""
    session = registration.session
    data: dict[str, Any] = {
        "registration": _registration_summary(registration),
        "session": _session_summary(session),
    }
    target = None
    if registration.deferred_to_id:
        moved = db.session.get(Registration, registration.deferred_to_id)
        if moved is not None:
            target = moved.session
            data["deferred_to"] = {
                "registration": _registration_summary(moved),
                "session": _session_summary(target),
            }
    if notify_physician and event in MESSAGES:
        message = MESSAGES[event].format(
            ref=registration.patient_ref,
            title=session.rcp.title,
            when=_when(session.starts_at),
            target=_when(target.starts_at) if target else "",
            reason=registration.reason or "",
        )
        db.session.add(
            Notification(
                recipient_rpps=registration.registering_rpps,
                event=event,
                registration_id=registration.id,
                session_id=session.id,
                message=message[:1000],
                payload=data,
            )
        )
    _enqueue(
        event,
        data,
        session=session,
        client_id=registration.client_id,
        patient_ref=registration.patient_ref,
    )


def notify_session_change(*, session: Session, event: str, changes: dict[str, Any]) -> None:
    """Tell every physician with a dossier in the session, and the webhooks of the perimeter."""
    data = {"session": _session_summary(session), "changes": audit._jsonable(changes)}
    rows = db.session.scalars(
        select(Registration).where(
            Registration.session_id == session.id,
            Registration.status.in_(("proposed", "accepted")),
        )
    )
    message = MESSAGES[event].format(
        title=session.rcp.title, when=_when(session.starts_at), reason=session.cancel_reason or ""
    )
    for registering_rpps in sorted({r.registering_rpps for r in rows}):
        db.session.add(
            Notification(
                recipient_rpps=registering_rpps,
                event=event,
                session_id=session.id,
                message=message[:1000],
                payload=data,
            )
        )
    _enqueue(event, data, session=session, client_id=None, patient_ref=None)


_ACTIVE_WEBHOOKS = select(Webhook).where(Webhook.active.is_(True))
#: Whether any webhook is active: a column of the registration's context query (see
#: ``planning.services``), so that a registration with no subscriber builds no event at all.
ANY_ACTIVE_WEBHOOK = exists().where(Webhook.active.is_(True))
_INSERT_DELIVERY = insert(WebhookDelivery.__table__)


def _enqueue(
    event: str,
    data: dict[str, Any],
    *,
    session: Session,
    client_id: str | None,
    patient_ref: str | None,
) -> None:
    """One delivery per active webhook interested in the event (the outbox, same transaction).

    The rows go in with one Core INSERT (executemany).
    """
    rcp = session.rcp
    hooks = db.session.scalars(_ACTIVE_WEBHOOKS)
    now = utcnow()
    rows = []
    for hook in hooks:
        if hook.events and event not in hook.events:
            continue
        own = client_id is not None and hook.client_id == client_id
        in_perimeter = (hook.region and hook.region == rcp.region) or (
            rcp.host_finess in (hook.finess or [])
        )
        if not (own or in_perimeter or hook.region == "*"):
            continue
        payload_data = dict(data)
        if own and patient_ref is not None:
            # the pseudonym is the calling software's own: other software gets no reference
            payload_data["patient_ref"] = patient_ref
        event_id = str(uuid.uuid4())
        rows.append(
            {
                "webhook_id": hook.id,
                "event_id": event_id,
                "event": event,
                "payload": {
                    "id": event_id,
                    "event": event,
                    "occurred_at": now.isoformat(),
                    "data": payload_data,
                },
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_status_code": None,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
        )
    if rows:
        db.session.connection().execute(_INSERT_DELIVERY, rows)


# --- notifications ------------------------------------------------------------------------


def list_notifications(
    *, principal: Principal, unread: bool | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Notification], int, int]:
    """The caller's own notifications, newest first, with the count of unread ones."""
    rpps = principal.acting_rpps()
    if rpps is None:
        raise Forbidden("notifications belong to physicians (a token with an RPPS number)")
    conditions: list[Any] = [Notification.recipient_rpps == rpps]
    unread_count = db.session.scalar(
        select(func.count(Notification.id)).where(*conditions, Notification.read_at.is_(None))
    )
    if unread is True:
        conditions.append(Notification.read_at.is_(None))
    elif unread is False:
        conditions.append(Notification.read_at.is_not(None))
    total = db.session.scalar(select(func.count(Notification.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total, int(unread_count or 0)


def mark_read(*, principal: Principal, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.recipient_rpps != principal.acting_rpps():
        raise NotFound(f"no notification {notification_id} for you")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


# --- webhooks -----------------------------------------------------------------------------


def _check_url(url: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise InvalidInput(
            "the webhook URL must be http(s)",
            errors=[
                {
                    "location": "json",
                    "field": "url",
                    "pointer": "#/url",
                    "detail": "must start with https:// (http:// is accepted for tests)",
                }
            ],
        )


def create_webhook(*, principal: Principal, url: str, events: list[str]) -> Webhook:
    """Register an endpoint; its ``secret`` is returned to the caller only at creation."""
    if principal.role not in (
        Role.RCP_SOFTWARE,
        Role.NATIONAL_ADMIN,
        Role.REGIONAL_ADMIN,
        Role.COORDINATOR_3C,
    ):
        raise Forbidden("webhooks are for RCP software and administrators")
    _check_url(url)
    secret = secrets.token_urlsafe(32)
    hook = Webhook(
        owner_subject=principal.subject,
        client_id=principal.client_id,
        region="*" if principal.is_national else principal.region,
        finess=sorted(principal.finess),
        url=url,
        secret=secret,
        events=sorted(set(events)),
        active=True,
    )
    db.session.add(hook)
    db.session.flush()
    audit.record(
        principal,
        "create",
        "webhook",
        hook.id,
        region=principal.region,
        changes={"url": url, "events": hook.events},
    )
    return hook


def _own_hook(principal: Principal, webhook_id: int) -> Webhook:
    hook = db.session.get(Webhook, webhook_id)
    if hook is None or (hook.owner_subject != principal.subject and not principal.is_national):
        raise NotFound(f"no webhook {webhook_id} of yours")
    return hook


def list_webhooks(*, principal: Principal) -> list[Webhook]:
    query = select(Webhook).order_by(Webhook.id)
    if not principal.is_national:
        query = query.where(Webhook.owner_subject == principal.subject)
    return list(db.session.scalars(query))


def delete_webhook(*, principal: Principal, webhook_id: int) -> None:
    """Deactivate a webhook (its delivery log stays)."""
    hook = _own_hook(principal, webhook_id)
    hook.active = False
    db.session.flush()
    audit.record(principal, "deactivate", "webhook", hook.id, region=principal.region)


def list_deliveries(
    *, principal: Principal, webhook_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[WebhookDelivery], int]:
    hook = _own_hook(principal, webhook_id)
    condition = WebhookDelivery.webhook_id == hook.id
    total = db.session.scalar(select(func.count(WebhookDelivery.id)).where(condition)) or 0
    rows = db.session.scalars(
        select(WebhookDelivery)
        .where(condition)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(
    *,
    transport: delivery.Transport = delivery.http_transport,
    now: dt.datetime | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Send the deliveries that are due; failures wait (exponential backoff), then give up.

    Runs outside requests (``dcc-services planning deliver``); the caller commits. On
    PostgreSQL, rows are claimed with SKIP LOCKED so that several workers can share the work.
    """
    now = now or utcnow()
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    report = DeliveryReport()
    for item in db.session.scalars(query).all():
        hook = item.webhook
        item.attempts += 1
        if not hook.active:
            item.status, item.last_error = "failed", "webhook deactivated"
            report.failed += 1
            continue
        body = delivery.body_of(item.payload)
        headers = delivery.headers_for(
            secret=hook.secret,
            event=item.event,
            delivery_id=item.event_id,
            body=body,
            timestamp=int(time.time()),
        )
        outcome = transport(hook.url, body, headers)
        item.last_status_code = outcome.status_code
        item.last_error = outcome.error
        if outcome.ok:
            item.status, item.delivered_at = "delivered", utcnow()
            report.delivered += 1
        elif item.attempts >= delivery.MAX_ATTEMPTS:
            item.status = "failed"
            report.failed += 1
        else:
            item.next_attempt_at = now + delivery.backoff(item.attempts)
            report.retried += 1
    db.session.flush()
    return report


# --- e-mail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "dcc-services@localhost"


def send_emails(*, smtp: SmtpSettings | None, limit: int = 100) -> dict[str, int]:
    """E-mail pending notifications to the address the directory gives for the physician.

    Without SMTP settings nothing is sent (notifications stay readable through the API).
    """
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    if smtp is None or not smtp.host:
        return counts
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.email_status == "pending")
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return counts
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        for notification in rows:
            practitioner = directory.get_practitioner(rpps=notification.recipient_rpps)
            address = next(
                (a.email for a in (practitioner.activities if practitioner else []) if a.email),
                None,
            )
            if address is None:
                notification.email_status = "skipped"
                counts["skipped"] += 1
                continue
            message = EmailMessage()
            message["From"] = smtp.sender
            message["To"] = address
            message["Subject"] = f"[RCP] {notification.event}"
            message.set_content(notification.message)
            try:
                client.send_message(message)
            except smtplib.SMTPException as error:
                log.warning("e-mail of notification %s failed: %s", notification.id, error)
                notification.email_status = "failed"
                counts["failed"] += 1
            else:
                notification.email_status = "sent"
                counts["sent"] += 1
    db.session.flush()
    return counts
