"""National directories: professionals (RPPS/ADELI) with their activities, FINESS establishments.

Rows are never deleted: a professional or establishment missing from a newer extraction is
marked inactive, so that past RCPs keep valid references. Name search goes through the token
tables (one row per folded name word, index ``(active, token, name_key, owner)``): a prefix query
is an index range scan already in ranking order (exact word first, then longer words, then name).
Professionals also carry derived search data, written by every write path: their summary as
JSON, a name mask on each token, and per-prefix owner counts (``PractitionerPrefix``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin, UTCDateTime, utcnow

#: Binary ordering on PostgreSQL, so that prefix ranges on tokens follow code points
#: (SQLite compares strings bytewise already).
Token = String(40).with_variant(String(40, collation="C"), "postgresql")
NameKey = String(200).with_variant(String(200, collation="C"), "postgresql")


class Practitioner(TimestampMixin, Base):
    """A health professional, identified nationally by type + number (IDNPS)."""

    __tablename__ = "directory_practitioner"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "Identification nationale PP": type digit + number (8 + RPPS, or 0 + ADELI).
    national_id: Mapped[str] = mapped_column(String(12), unique=True)
    #: "8" RPPS, "0" ADELI.
    id_type: Mapped[str] = mapped_column(String(1))
    #: The 11-digit RPPS number; None for professionals known only by ADELI.
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)
    civility: Mapped[str | None] = mapped_column(String(8))
    exercise_civility: Mapped[str | None] = mapped_column(String(8))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(NameKey, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Digest of the source rows of this professional: an unchanged digest means nothing to do.
    fingerprint: Mapped[str] = mapped_column(String(32))
    #: Derived: his search summary as the JSON API writes it (``summary.summary_json``),
    #: rewritten with the row or its active activities by every write path. Null only if
    #: a writer forgot it: the search then computes it (nullable, as SQLite cannot add a
    #: NOT NULL column to a table others refer to without rebuilding them all).
    summary: Mapped[str | None] = mapped_column(Text)

    activities: Mapped[list[PractitionerActivity]] = relationship(
        back_populates="practitioner",
        order_by="PractitionerActivity.id",
        lazy="selectin",
    )


class PractitionerActivity(Base):
    """One line of the extraction: a profession and specialty exercised at a place."""

    __tablename__ = "directory_practitioner_activity"
    __table_args__ = (Index("ix_directory_practitioner_activity_owner", "practitioner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("directory_practitioner.id"))
    #: Digest of the line's content: the same line in a later extraction is the same activity
    #: (unique per professional, which the importer ensures).
    activity_key: Mapped[str] = mapped_column(String(32))
    profession_code: Mapped[str | None] = mapped_column(String(4))
    profession_label: Mapped[str | None] = mapped_column(String(100))
    category_code: Mapped[str | None] = mapped_column(String(4))
    specialty_type: Mapped[str | None] = mapped_column(String(8))
    specialty_code: Mapped[str | None] = mapped_column(String(12), index=True)
    specialty_label: Mapped[str | None] = mapped_column(String(200))
    mode_exercice: Mapped[str | None] = mapped_column(String(4))
    siret: Mapped[str | None] = mapped_column(String(14))
    finess_site: Mapped[str | None] = mapped_column(String(9), index=True)
    finess_ej: Mapped[str | None] = mapped_column(String(9))
    structure_id: Mapped[str | None] = mapped_column(String(20))
    structure_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    #: Not indexed: a region filter is a filter on its departments.
    region: Mapped[str | None] = mapped_column(String(2))
    role_code: Mapped[str | None] = mapped_column(String(8))
    genre_code: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    practitioner: Mapped[Practitioner] = relationship(back_populates="activities")


class PractitionerToken(Base):
    """One folded word of a professional's name (each part of a compound name too)."""

    __tablename__ = "directory_practitioner_token"
    __table_args__ = (
        Index(
            "ix_directory_practitioner_token_search",
            "active",
            "token",
            "name_key",
            "practitioner_id",
            "name_mask",
        ),
    )

    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("directory_practitioner.id"), primary_key=True
    )
    token: Mapped[str] = mapped_column(Token, primary_key=True)
    name_key: Mapped[str] = mapped_column(NameKey)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Derived: ``summary.name_mask`` of all the words of the name (in the search index).
    #: -1, every bit, by default: a row written without its mask is never filtered out.
    name_mask: Mapped[int] = mapped_column(BigInteger, server_default=text("-1"))


class PractitionerPrefix(Base):
    """Derived: how many professionals have a name word starting with ``prefix``.

    One row per prefix (every length) of every token, active and inactive professionals
    apart; kept exact by every write path. A one-word search reads its total here instead
    of counting index entries, and a several-word search its most selective word.
    """

    __tablename__ = "directory_practitioner_prefix"
    __table_args__ = ({"sqlite_with_rowid": False},)

    active: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    prefix: Mapped[str] = mapped_column(Token, primary_key=True)
    owners: Mapped[int] = mapped_column(Integer)


class Organization(TimestampMixin, Base):
    """A FINESS establishment (entité géographique, ET) or legal entity (EJ)."""

    __tablename__ = "directory_organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    #: "ET" (établissement / entité géographique) or "EJ" (entité juridique).
    kind: Mapped[str] = mapped_column(String(2), default="ET")
    finess_ej: Mapped[str | None] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(300))
    long_name: Mapped[str | None] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(NameKey)
    category_code: Mapped[str | None] = mapped_column(String(4), index=True)
    category_label: Mapped[str | None] = mapped_column(String(200))
    siret: Mapped[str | None] = mapped_column(String(14))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    region: Mapped[str | None] = mapped_column(String(2), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    lat: Mapped[float | None] = mapped_column(Float, index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: "etalab" (legacy CSV) or "finess+" (ANS JSON): the last source that wrote the row.
    source: Mapped[str] = mapped_column(String(10))
    fingerprint: Mapped[str] = mapped_column(String(32))


class OrganizationToken(Base):
    """One folded word of an establishment's name."""

    __tablename__ = "directory_organization_token"
    __table_args__ = (
        Index(
            "ix_directory_organization_token_search",
            "active",
            "token",
            "name_key",
            "organization_id",
        ),
        {"sqlite_with_rowid": False},
    )

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("directory_organization.id"), primary_key=True
    )
    token: Mapped[str] = mapped_column(Token, primary_key=True)
    name_key: Mapped[str] = mapped_column(NameKey)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DirectoryImport(Base):
    """One import run of an extraction file, with its report."""

    __tablename__ = "directory_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(300))
    layout: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    read: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deactivated: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
