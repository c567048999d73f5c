"""The feeds API: private subscription URLs, direct .ics downloads, conditional GET."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from core.api import Blueprint, page, page_of
from core.auth import current_principal
from core.db import db
from core.ratelimit import RateLimiter
from planning.feeds import services
from planning.feeds.schemas import (
    FeedCreatedSchema,
    FeedCreateSchema,
    FeedListArgsSchema,
    FeedNameArgsSchema,
    FeedSchema,
    FeedSearchArgsSchema,
)

blp = Blueprint(
    "feeds",
    __name__,
    description="iCalendar feeds of the RCP planning: private subscription URLs and .ics files.",
)

ICS = "text/calendar; charset=utf-8"
#: Private (secret URLs); clients may reuse a copy 5 minutes, then revalidate (cheap 304).
CACHE_CONTROL = "private, max-age=300"
WHO = "every authenticated caller (feeds carry no patient data)"
ICS_DOC = {"description": "An iCalendar document (RFC 5545)", "content_type": "text/calendar"}


@dataclasses.dataclass
class _Runtime:
    memo: services.FeedMemo
    limiter: RateLimiter
    site: services.Site


@blp.record_once
def _init_runtime(state: Any) -> None:
    settings = state.app.extensions["dcc"].settings
    state.app.extensions["planning_feeds"] = _Runtime(
        memo=services.FeedMemo(),
        limiter=RateLimiter(settings.rate_limit_feeds),
        site=services.Site(public_url=settings.public_url, contact_email=settings.smtp_from),
    )


def _runtime() -> _Runtime:
    runtime: _Runtime = current_app.extensions["planning_feeds"]
    return runtime


def _site() -> services.Site:
    return _runtime().site


def _commit() -> None:
    """Commit the request's session, if it opened one (a 304 from the memo opens none)."""
    if db.session.registry.has():
        db.session.commit()


def _limit(key: str) -> None:
    _runtime().limiter.hit(hashlib.sha256(key.encode()).hexdigest())


def client_copy_is_current(etag: str, last_modified: dt.datetime) -> bool:
    """Whether the request's validators match (RFC 9110 §13.2.2: If-None-Match, with weak
    comparison, takes precedence over If-Modified-Since)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        # what calendar clients send back: our own ETag, as is (parsing costs more)
        if if_none_match in (f'"{etag}"', f'W/"{etag}"'):
            return True
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and last_modified <= since


def _conditional() -> services.ClientCopyIsCurrent | None:
    headers = request.headers
    if "If-None-Match" in headers or "If-Modified-Since" in headers:
        return client_copy_is_current
    return None


def ics_response(rendered: services.RenderedFeed, *, attachment: bool = False) -> Response:
    """The calendar with its validators; 304 when the client's copy is current."""
    if rendered.body is None or (
        _conditional() is not None and client_copy_is_current(rendered.etag, rendered.last_modified)
    ):
        response = Response(status=304, headers=rendered.not_modified_headers)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response
    response = Response(rendered.body)
    response.headers["Content-Type"] = ICS
    response.set_etag(rendered.etag)
    response.last_modified = rendered.last_modified
    response.headers["Cache-Control"] = CACHE_CONTROL
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{rendered.filename}"'
    return response.make_conditional(request)


@blp.route("/feeds/<token>.ics")
class SubscribedFeed(MethodView):
    @blp.public
    @blp.response(200, **ICS_DOC)
    @blp.alt_response(304, description="Not modified (If-None-Match or If-Modified-Since)")
    @blp.alt_response(404, description="Unknown or revoked feed")
    @blp.alt_response(429, description="Too many requests on this feed")
    def get(self, token: str) -> Response:
        """Fetch a private feed (the secret URL calendar clients subscribe to)

        No Authorization header: the URL is the credential. Sends ETag and Last-Modified,
        which change exactly when the feed's content changes, and answers conditional
        requests with 304.
        """
        token_hash = services.hash_token(token)
        # the key is already a hash: the limiter keeps no token
        _runtime().limiter.hit("url:" + token_hash)
        rendered = services.feed_of_token(
            token_hash=token_hash, memo=_runtime().memo, site=_site(), current=_conditional()
        )
        _commit()
        return ics_response(rendered)


@blp.route("/planning/feeds")
class Feeds(MethodView):
    @blp.auth(who="every authenticated caller; each sees only the feeds they created")
    @blp.arguments(FeedListArgsSchema, location="query")
    @blp.response(200, page_of(FeedSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List my private feeds (their URLs are not shown again)"""
        size = args["page_size"]
        items, total = services.list_feeds(
            principal=current_principal(),
            include_revoked=args["include_revoked"],
            limit=size,
            offset=(args["page"] - 1) * size,
        )
        return page(items, total=total, page=args["page"], page_size=size)

    @blp.auth(who=WHO)
    @blp.arguments(FeedCreateSchema)
    @blp.response(201, FeedCreatedSchema)
    @blp.alt_response(404, description="Unknown RCP")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a private feed URL for a calendar client

        Scopes: one RCP (`rcp_id`), an establishment (`finess`), a region (`region`), a
        practitioner (`rpps`: sessions they coordinate, substitute or take part in) or a
        search (`filters`, those of `GET /planning/sessions`). The answer carries the secret
        URL (at least 128 random bits; only its hash is stored) and its `webcal://` form,
        shown this once.
        """
        created = services.create_feed(principal=current_principal(), data=data, site=_site())
        db.session.commit()
        return created


@blp.route("/planning/feeds/<int:feed_id>")
class FeedById(MethodView):
    @blp.auth(who="the feed's creator, or a national admin")
    @blp.response(204)
    @blp.alt_response(404, description="Unknown feed")
    def delete(self, feed_id: int) -> None:
        """Revoke a private feed: its URL answers 404 from now on"""
        services.revoke_feed(principal=current_principal(), feed_id=feed_id)
        db.session.commit()


@blp.route("/planning/feeds/<scope>/<value>.ics")
class ScopeFeed(MethodView):
    @blp.auth(who=WHO)
    @blp.arguments(FeedNameArgsSchema, location="query")
    @blp.response(200, **ICS_DOC)
    @blp.alt_response(304, description="Not modified (If-None-Match or If-Modified-Since)")
    @blp.alt_response(404, description="Unknown scope or RCP")
    @blp.alt_response(429, description="Too many requests")
    def get(self, args: dict[str, Any], scope: str, value: str) -> Response:
        """Fetch a feed directly with a bearer token

        Scopes: `rcp/<id>`, `establishment/<finess>`, `region/<code>`, `practitioner/<rpps>`.
        The same calendar as a private feed of that scope.
        """
        _limit("bearer:" + current_principal().subject)
        rendered = services.scope_feed(
            scope=scope,
            value=value,
            name=args.get("name"),
            memo=_runtime().memo,
            site=_site(),
            current=_conditional(),
        )
        _commit()
        return ics_response(rendered)


@blp.route("/planning/feeds/sessions.ics")
class SearchFeed(MethodView):
    @blp.auth(who=WHO)
    @blp.arguments(FeedSearchArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, **ICS_DOC)
    @blp.alt_response(304, description="Not modified (If-None-Match or If-Modified-Since)")
    @blp.alt_response(429, description="Too many requests")
    def get(self, args: dict[str, Any]) -> Response:
        """Fetch the feed of any session search (the filters of GET /planning/sessions)"""
        _limit("bearer:" + current_principal().subject)
        name = args.pop("name", None)
        rendered = services.scope_feed(
            scope="search",
            filters=args,
            name=name,
            memo=_runtime().memo,
            site=_site(),
            current=_conditional(),
        )
        _commit()
        return ics_response(rendered)


@blp.route("/planning/sessions/<int:session_id>.ics")
class SessionFile(MethodView):
    @blp.auth(who=WHO)
    @blp.response(200, **ICS_DOC)
    @blp.alt_response(304, description="Not modified (If-None-Match or If-Modified-Since)")
    @blp.alt_response(404, description="Unknown session")
    def get(self, session_id: int) -> Response:
        """Download one session as an .ics file ("add to my calendar")"""
        rendered = services.session_file(session_id=session_id, site=_site())
        return ics_response(rendered, attachment=True)
