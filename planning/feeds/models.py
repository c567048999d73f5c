"""Feed subscriptions (secret URLs), the feeds' HTTP validators, and the planning change marker."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String
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


class FeedVersion(Base):
    """One row whose token changes in every transaction that changes planning data.

    A feed rendered under a token stays valid while the token is the same, so revalidations
    (304) cost one primary-key read. A random token rather than a counter: a rolled-back
    change can never bring back a token that was already seen.
    """

    __tablename__ = "planning_feed_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
