"""Guideline referentials (one row per version, with its decision tree) and CDS Hooks feedback."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TimestampMixin, UTCDateTime, utcnow


class OwnerLevel(enum.StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"
    INTERREGIONAL = "interregional"


class Status(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    ACTIVE = "active"
    RETIRED = "retired"


class Referential(TimestampMixin, Base):
    """One version of a referential: metadata, lifecycle and the decision tree (JSON).

    ``key`` is the stable identifier shared by every version (``inca-poumon-cbnpc``); a version
    is immutable once submitted: editing an active one starts a new draft that supersedes it.
    """

    __tablename__ = "guideline_referential"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        Index("ix_guideline_referential_lookup", "status", "localisation_oncotree"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    #: Localisation: OncoTree code (is_a), CIM-10 range and the RCP organ code (JDV_RCP_Organe).
    localisation_oncotree: Mapped[str | None] = mapped_column(String(20))
    localisation_cim10: Mapped[str | None] = mapped_column(String(40))
    organ_code: Mapped[str | None] = mapped_column(String(40))
    owner_level: Mapped[str] = mapped_column(String(20))
    owner_org: Mapped[str] = mapped_column(String(200))
    #: Owning region (INSEE code) of a regional or interregional referential; None if national.
    region: Mapped[str | None] = mapped_column(String(8), index=True)
    #: Regions an interregional referential applies to (the owning region included).
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=Status.DRAFT.value)
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    next_review_due: Mapped[dt.date | None] = mapped_column(Date)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("guideline_referential.id", ondelete="SET NULL")
    )
    #: Key of the referential this one adapts (a regional variant of a national one).
    derived_from: Mapped[str | None] = mapped_column(String(120))
    source_url: Mapped[str | None] = mapped_column(String(500))
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    validators: Mapped[list[str]] = mapped_column(JSON, default=list)
    changelog: Mapped[str] = mapped_column(Text, default="")
    tree: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retired_by: Mapped[str | None] = mapped_column(String(200))
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def approval_date(self) -> dt.date | None:
        return self.approved_at.date() if self.approved_at else None

    @property
    def citation(self) -> str:
        return citation(
            title=self.title,
            version=self.version,
            owner_org=self.owner_org,
            date=self.effective_from or self.approval_date,
        )

    def covers_region(self, region: str | None) -> bool:
        if self.owner_level == OwnerLevel.NATIONAL:
            return True
        return region is not None and (region == self.region or region in (self.regions or []))


def citation(*, title: str, version: str, owner_org: str, date: dt.date | None) -> str:
    """What a fiche RCP records in "Cadre de la proposition" (name, version, date)."""
    when = f", {date.isoformat()}" if date else ""
    return f"{title}, version {version} ({owner_org}{when})"


class CdsFeedback(Base):
    """The outcome of a CDS Hooks card (accepted / overridden) as reported by the client."""

    __tablename__ = "guideline_cds_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[str] = mapped_column(String(120))
    card_uuid: Mapped[str] = mapped_column(String(80), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    override_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reported_by: Mapped[str] = mapped_column(String(200))
