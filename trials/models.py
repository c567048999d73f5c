"""Trials of the registry, their sites and their structured eligibility criteria."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin


class Trial(TimestampMixin, Base):
    """One registry record (ClinicalTrials.gov, EU CT), optionally completed by curated CTML.

    Age bounds are in years; ``None`` means explicitly "no bound" (ClinicalTrials.gov leaves
    ``minimumAge`` out for thousands of studies; they must not be dropped by an age filter).
    ``criteria`` holds the structured criteria, each with its ``origin`` ("registry", "ctml",
    "extracted") and ``evidence`` (the field name or the sentence it came from).
    """

    __tablename__ = "trial"
    #: The index catch-up reads max(updated_at) every 30 s per process: without this index, a
    #: scan of every (large) trial row, seconds at national scale.
    __table_args__ = (Index("ix_trial_updated_at", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(40), unique=True)
    nct_id: Mapped[str | None] = mapped_column(String(11), index=True)
    eu_ct_id: Mapped[str | None] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20))
    brief_title: Mapped[str] = mapped_column(Text)
    official_title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    overall_status: Mapped[str] = mapped_column(String(40), index=True)
    phases: Mapped[list[str]] = mapped_column(JSON, default=list)
    study_type: Mapped[str | None] = mapped_column(String(40))
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    interventions: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    sponsor: Mapped[str | None] = mapped_column(String(300))
    start_date: Mapped[str | None] = mapped_column(String(20))
    completion_date: Mapped[str | None] = mapped_column(String(20))
    sex: Mapped[str] = mapped_column(String(6), default="ALL")
    min_age_years: Mapped[float | None] = mapped_column(Float)
    max_age_years: Mapped[float | None] = mapped_column(Float)
    healthy_volunteers: Mapped[bool | None] = mapped_column(Boolean)
    inclusion_text: Mapped[str | None] = mapped_column(Text)
    exclusion_text: Mapped[str | None] = mapped_column(Text)
    #: OncoTree codes of the conditions (registry) or of the CTML diagnoses.
    oncotree_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: Criteria sentences the extractor did not recognise: {"section", "text"}.
    needs_review: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    #: Curated CTML match trees: {"label", "open", "match"} per step/arm/dose level.
    ctml_arms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    sites: Mapped[list[TrialSite]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="TrialSite.id"
    )


class TrialSite(Base):
    """A place where the trial recruits (or recruited)."""

    __tablename__ = "trial_site"
    __table_args__ = (Index("ix_trial_site_country_city", "country", "city"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), index=True)
    facility: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str | None] = mapped_column(String(40))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    #: FINESS number of the establishment, when the national directory knows the site.
    finess: Mapped[str | None] = mapped_column(String(9))

    trial: Mapped[Trial] = relationship(back_populates="sites")
