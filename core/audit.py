"""The audit trail: who changed what and when, written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from core.auth import Principal
from core.db import Base, UTCDateTime, db, utcnow


class AuditEvent(Base):
    """One write operation; never updated nor deleted by the application."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(40))
    actor_issuer: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(8), index=True)
    #: Changed fields as {"field": [old, new]} or a summary of the operation; never patient data.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record(
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: str | int,
    *,
    region: str | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (flushed with the change it describes)."""
    event = AuditEvent(
        **event_values(principal, action, entity_type, entity_id, region=region, changes=changes)
    )
    db.session.add(event)
    return event


_INSERT_EVENT = insert(AuditEvent)


def event_values(
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: str | int,
    *,
    region: str | None = None,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of the row ``record`` adds, for callers that write it with their own
    statement (``insert_event``; a hot path that chains it with the change it describes)."""
    return {
        "at": utcnow(),
        "actor_subject": principal.subject if principal else "system",
        "actor_role": principal.role.value if principal else "system",
        "actor_issuer": principal.issuer if principal else "local",
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "region": region,
        "changes": _jsonable(changes or {}),
    }


def insert_event(
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: str | int,
    *,
    region: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """``record`` with one Core INSERT, at once, in the current transaction: the same row
    without the unit of work, for hot paths that need no ``AuditEvent`` object."""
    db.session.connection().execute(
        _INSERT_EVENT,
        event_values(principal, action, entity_type, entity_id, region=region, changes=changes),
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields whose values differ, as {"field": [old, new]}."""
    return {
        k: [before.get(k), after.get(k)]
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


def list_events(
    *,
    region: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """A page of events, newest first, and how many match in all."""
    conditions = []
    if region is not None:
        conditions.append(AuditEvent.region == region)
    if entity_type is not None:
        conditions.append(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        conditions.append(AuditEvent.entity_id == entity_id)
    query = select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc())
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
    return list(db.session.scalars(query.limit(limit).offset(offset))), int(total or 0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
