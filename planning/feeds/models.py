"""Feed subscriptions (secret URLs), the feeds' HTTP validators, and the planning change marker."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TimestampMixin, UTCDateTime, utcnow


class FeedSubscription(TimestampMixin, Base):
    """A private feed URL created by an authenticated user for a calendar client.

    Only the SHA-256 of the URL's token is kept: the token itself is shown once, at creation.
    """

    __tablename__ = "planning_feed_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    owner_subject: Mapped[str] = mapped_column(String(200), index=True)
    owner_issuer: Mapped[str] = mapped_column(String(300))
    owner_role: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    #: rcp, establishment, region, practitioner or search.
    scope: Mapped[str] = mapped_column(String(20))
    #: The RCP id, FINESS, region code or RPPS of the scope (None for search).
    scope_value: Mapped[str | None] = mapped_column(String(20))
    #: The session filters of a search scope (the query arguments of GET /planning/sessions).
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class FeedState(Base):
    """The validators of one feed content (scope, filters and name), shared by every node.

    ``last_modified`` moves (forward only) when, and only when, the body's hash changes.
    """

    __tablename__ = "planning_feed_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: The planning change token and the day (the feed's window) the etag was computed for:
    #: while both are current, any node answers a conditional request from this row alone.
    version: Mapped[str | None] = mapped_column(String(64))


class FeedVersion(Base):
    """Change tokens: one of the planning rows (1 and 3 to 17, drawn at random so that
    concurrent writers rarely wait on the same row) changes in every transaction that changes
    planning data (directory included); row 2 only when directory data (establishments,
    professionals) changes. The planning change token is the hash of the planning rows.

    A feed rendered under a token stays valid while the token is the same, so revalidations
    (304) cost one read of these few rows. A random token rather than a counter: a rolled-back
    change can never bring back a token that was already seen.
    """

    __tablename__ = "planning_feed_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeedChunk(Base):
    """The rendered VEVENT of one session, shared by every worker and node.

    ``stamp`` hashes what can change the event, read cheaply with the session (its revision,
    ``updated_at`` and dossier count, its RCP's ``updated_at``, its participants, the directory
    token, the site and the render format): while it matches, ``body`` is reused as is.
    ``inputs`` hashes the complete event description the body was rendered from: when the stamp
    moved but the event did not (an RCP's capacity changed, a directory import left these
    names alone), the body is kept and only the stamp is written again.
    """

    __tablename__ = "planning_feed_chunk"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("planning_session.id", ondelete="CASCADE"), primary_key=True
    )
    stamp: Mapped[str] = mapped_column(Text)
    inputs: Mapped[str] = mapped_column(String(32))
    #: Local (Europe/Paris) years of the event's start and end: the feed's VTIMEZONE covers them.
    first_year: Mapped[int] = mapped_column(Integer)
    last_year: Mapped[int] = mapped_column(Integer)
    #: The VEVENT text, folded, CRLF line ends (UTF-8 when written out).
    body: Mapped[str] = mapped_column(Text)
