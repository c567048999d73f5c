"""RCPs, their sessions and participants, registrations of dossiers, notifications and webhooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow
from planning.directory.models import Organization, Practitioner


class Rcp(TimestampMixin, Base):
    """A recurring tumour board (réunion de concertation pluridisciplinaire) of a 3C."""

    __tablename__ = "planning_rcp"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Code of planning.kinds (CI-SIS organ/appareil, or a population such as POP-GER).
    kind_code: Mapped[str] = mapped_column(String(40), index=True)
    level: Mapped[str] = mapped_column(String(20))  # local, regional, interregional, national
    host_finess: Mapped[str] = mapped_column(String(9), index=True)
    three_c: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(3), index=True)
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    coordinator_rpps: Mapped[str] = mapped_column(String(11), index=True)
    substitute_rpps: Mapped[str | None] = mapped_column(String(11), index=True)
    # quorum rule
    min_physicians: Mapped[int] = mapped_column(Integer, default=3)
    min_distinct_specialties: Mapped[int] = mapped_column(Integer, default=3)
    required_specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    geriatrician_over_75: Mapped[bool] = mapped_column(Boolean, default=False)
    # place
    place_finess: Mapped[str | None] = mapped_column(String(9))
    room: Mapped[str | None] = mapped_column(String(200))
    visio_url: Mapped[str | None] = mapped_column(String(500))
    # recurrence, in Europe/Paris wall time
    rrule: Mapped[str | None] = mapped_column(String(300))
    recurrence_start: Mapped[dt.date | None] = mapped_column(Date)
    start_time: Mapped[dt.time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates
    # registrations
    deadline_hours: Mapped[int] = mapped_column(Integer, default=48)
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    open_to_external: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    # Read-only links to the directory (by number, without foreign keys: directory rows are
    # never deleted, only marked inactive).
    host: Mapped[Organization | None] = relationship(
        primaryjoin="foreign(Rcp.host_finess) == Organization.finess", viewonly=True
    )
    coordinator: Mapped[Practitioner | None] = relationship(
        primaryjoin="foreign(Rcp.coordinator_rpps) == Practitioner.rpps", viewonly=True
    )
    substitute: Mapped[Practitioner | None] = relationship(
        primaryjoin="foreign(Rcp.substitute_rpps) == Practitioner.rpps", viewonly=True
    )
    members: Mapped[list[RcpMember]] = relationship(
        back_populates="rcp", cascade="all, delete-orphan", order_by="RcpMember.id"
    )
    sessions: Mapped[list[Session]] = relationship(back_populates="rcp")

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.duration_minutes)


class RcpMember(Base):
    """A standing participant of an RCP, copied into each new session's provisional list."""

    __tablename__ = "planning_rcp_member"
    __table_args__ = (UniqueConstraint("rcp_id", "rpps"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rcp_id: Mapped[int] = mapped_column(ForeignKey("planning_rcp.id", ondelete="CASCADE"))
    rpps: Mapped[str] = mapped_column(String(11), index=True)
    specialty_code: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20), default="member")

    rcp: Mapped[Rcp] = relationship(back_populates="members")
    practitioner: Mapped[Practitioner | None] = relationship(
        primaryjoin="foreign(RcpMember.rpps) == Practitioner.rpps", viewonly=True
    )


class Session(TimestampMixin, Base):
    """One meeting of an RCP. Never deleted: a cancelled session keeps its id and status.

    ``revision`` grows by one on every change (calendar feeds publish it as SEQUENCE).
    """

    __tablename__ = "planning_session"
    __table_args__ = (
        UniqueConstraint("rcp_id", "occurrence_date"),
        CheckConstraint("registered_count >= 0", name="registered_count_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # also the index of the foreign key: it leads with rcp_id
        Index("ix_planning_session_rcp_starts", "rcp_id", "starts_at"),
    )
    # On PostgreSQL the table keeps a fifth of each page free (fillfactor 80, set by migration
    # 3f6a2d8c1e57): every registration updates its session's row, and the room lets the new
    # version go beside the old one without an entry in every index (a HOT update).

    id: Mapped[int] = mapped_column(primary_key=True)
    rcp_id: Mapped[int] = mapped_column(ForeignKey("planning_rcp.id"))
    #: The local date the recurrence produced (None for an ad hoc session): generating the
    #: same period again finds it and creates no duplicate, even when the session was moved.
    occurrence_date: Mapped[dt.date | None] = mapped_column(Date)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # or cancelled
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: Changed by hand (moved, re-placed, participants changed): generation leaves it alone.
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    place_finess: Mapped[str | None] = mapped_column(String(9))
    room: Mapped[str | None] = mapped_column(String(200))
    visio_url: Mapped[str | None] = mapped_column(String(500))
    registration_deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    #: Registrations holding a place (proposed or accepted); kept by the service under a lock.
    registered_count: Mapped[int] = mapped_column(Integer, default=0)

    rcp: Mapped[Rcp] = relationship(back_populates="sessions")
    place: Mapped[Organization | None] = relationship(
        primaryjoin="foreign(Session.place_finess) == Organization.finess", viewonly=True
    )
    participants: Mapped[list[SessionParticipant]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="SessionParticipant.id"
    )

    @property
    def uid(self) -> str:
        """Stable identifier for calendars (UID of the VEVENT, with the server host appended)."""
        return f"rcp-session-{self.id}"

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    def touch(self) -> None:
        """Record a change: bump the revision (updated_at follows through onupdate)."""
        self.revision = (self.revision or 0) + 1
        self.updated_at = utcnow()


class SessionParticipant(Base):
    """A physician on a session's list: provisional before, attendance after the meeting."""

    __tablename__ = "planning_session_participant"
    __table_args__ = (
        UniqueConstraint("session_id", "rpps"),
        # partial: almost every row is NULL, and a full index looks useless to SQLite's planner
        Index(
            "ix_planning_session_participant_replaced_by",
            "replaced_by_rpps",
            sqlite_where=text("replaced_by_rpps IS NOT NULL"),
            postgresql_where=text("replaced_by_rpps IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("planning_session.id", ondelete="CASCADE"), index=True
    )
    rpps: Mapped[str] = mapped_column(String(11), index=True)
    specialty_code: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20), default="member")
    attendance: Mapped[str | None] = mapped_column(String(20))  # present, excused, replaced
    replaced_by_rpps: Mapped[str | None] = mapped_column(String(11))
    replaced_by_specialty: Mapped[str | None] = mapped_column(String(20))

    session: Mapped[Session] = relationship(back_populates="participants")
    practitioner: Mapped[Practitioner | None] = relationship(
        primaryjoin="foreign(SessionParticipant.rpps) == Practitioner.rpps", viewonly=True
    )
    replaced_by: Mapped[Practitioner | None] = relationship(
        primaryjoin="foreign(SessionParticipant.replaced_by_rpps) == Practitioner.rpps",
        viewonly=True,
    )


#: The statuses that hold a place on a session's list (planning.lifecycle.ACTIVE), as SQL.
ACTIVE_DOSSIER = "status IN ('proposed', 'accepted')"


class Registration(TimestampMixin, Base):
    """A dossier registered for a session. Holds an opaque reference, never nominative data."""

    __tablename__ = "planning_registration"
    __table_args__ = (
        Index("ix_planning_registration_session_status", "session_id", "status"),
        # A dossier is on a session's list once: the database holds the rule, so that two
        # identical requests at the same instant (a double click, a retry) cannot both pass.
        Index(
            "uq_planning_registration_active_dossier",
            "session_id",
            "registering_rpps",
            "patient_ref",
            unique=True,
            postgresql_where=text(ACTIVE_DOSSIER),
            sqlite_where=text(ACTIVE_DOSSIER),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("planning_session.id"))
    registering_rpps: Mapped[str] = mapped_column(String(11), index=True)
    #: OAuth client of the RCP software that registered on the physician's behalf.
    client_id: Mapped[str | None] = mapped_column(String(100), index=True)
    patient_ref: Mapped[str] = mapped_column(String(64))
    tumour_code: Mapped[str] = mapped_column(String(10))
    question: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(String(20))  # initial, relapse
    wished_date: Mapped[dt.date | None] = mapped_column(Date)
    patient_over_75: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    reason: Mapped[str | None] = mapped_column(String(500))
    deferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("planning_registration.id"))
    deferred_from_id: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[Session] = relationship()
    events: Mapped[list[RegistrationEvent]] = relationship(
        back_populates="registration", order_by="RegistrationEvent.id"
    )


class RegistrationEvent(Base):
    """One transition of a registration: who, when, from which status to which."""

    __tablename__ = "planning_registration_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("planning_registration.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(500))
    target_session_id: Mapped[int | None] = mapped_column(Integer)

    registration: Mapped[Registration] = relationship(back_populates="events")


class Notification(Base):
    """A message to a physician (the registering one) about their dossier."""

    __tablename__ = "planning_notification"
    __table_args__ = (Index("ix_planning_notification_recipient", "recipient_rpps", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_rpps: Mapped[str] = mapped_column(String(11))
    event: Mapped[str] = mapped_column(String(60))  # e.g. registration.deferred
    registration_id: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(1000))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: pending, sent, skipped (no SMTP or no address), failed
    email_status: Mapped[str] = mapped_column(String(20), default="pending")


class Webhook(TimestampMixin, Base):
    """An endpoint of RCP software that receives signed events of its perimeter."""

    __tablename__ = "planning_webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_subject: Mapped[str] = mapped_column(String(200), index=True)
    client_id: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(3))
    finess: Mapped[list[str]] = mapped_column(JSON, default=list)
    url: Mapped[str] = mapped_column(String(500))
    #: HMAC-SHA256 key; shown once at creation, needed in clear to sign each delivery.
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(Base):
    """One event for one webhook, with its attempts (the delivery log)."""

    __tablename__ = "planning_webhook_delivery"
    __table_args__ = (Index("ix_planning_webhook_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("planning_webhook.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    webhook: Mapped[Webhook] = relationship()
