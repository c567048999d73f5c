"""Request and response schemas of the calendar feeds."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.api import PaginationArgsSchema, Schema
from planning.feeds.services import SCOPE_FIELDS, Scope
from planning.schemas import FINESS, RPPS, AwareDateTime


class SearchFeedFiltersSchema(Schema):
    """The filters of ``GET /planning/sessions`` (the feed's window replaces paging).

    Not named ``FeedFilters``: that is the name client generators give the ``filters`` object
    of ``Feed``, and two models of one name make them drop both.
    """

    region = ma.fields.String(metadata={"description": "Region code (INSEE)"})
    department = ma.fields.String(metadata={"description": "Department of the host"})
    finess = ma.fields.String(
        validate=FINESS, metadata={"description": "Host or site establishment"}
    )
    kind = ma.fields.String(metadata={"description": "Kind code of the RCP"})
    rcp_id = ma.fields.Integer(metadata={"description": "Sessions of one RCP"})
    from_ = AwareDateTime(
        data_key="from",
        metadata={"description": "Starting at or after (within the feed's rolling window)"},
    )
    to = AwareDateTime(metadata={"description": "Starting before (within the rolling window)"})
    visio = ma.fields.Boolean(metadata={"description": "With (true) or without a video link"})
    open_to_external = ma.fields.Boolean(
        metadata={"description": "RCPs open to other establishments"}
    )
    has_capacity = ma.fields.Boolean(metadata={"description": "Sessions with places left"})
    practitioner = ma.fields.String(
        validate=RPPS, metadata={"description": "Sessions this RPPS takes part in"}
    )
    status = ma.fields.String(
        validate=validate.OneOf(["scheduled", "cancelled"]),
        metadata={"description": "scheduled or cancelled (both by default)"},
    )

    @ma.post_load
    def _rename(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "from_" in data:
            data["from"] = data.pop("from_")
        return data


class FeedSearchArgsSchema(SearchFeedFiltersSchema):
    """Query arguments of a direct search feed (an unknown filter is refused, not ignored)."""

    name = ma.fields.String(
        validate=validate.Length(1, 200), metadata={"description": "Calendar name to show"}
    )


class FeedCreateSchema(Schema):
    """A private feed: its scope, the scope's value (or the filters of a search), a name."""

    scope = ma.fields.String(
        required=True,
        validate=validate.OneOf([s.value for s in Scope]),
        metadata={"description": "rcp, establishment, region, practitioner or search"},
    )
    rcp_id = ma.fields.Integer(metadata={"description": "The RCP of an rcp feed"})
    finess = ma.fields.String(
        validate=FINESS, metadata={"description": "The establishment of an establishment feed"}
    )
    region = ma.fields.String(
        validate=validate.Length(2, 3), metadata={"description": "The region of a region feed"}
    )
    rpps = ma.fields.String(
        validate=RPPS,
        metadata={
            "description": "The professional of a practitioner feed (coordinator, "
            "substitute or participant)"
        },
    )
    filters = ma.fields.Nested(
        SearchFeedFiltersSchema, metadata={"description": "The session filters of a search feed"}
    )
    name = ma.fields.String(
        validate=validate.Length(1, 200),
        metadata={"description": "Calendar name shown by clients (default: from the scope)"},
    )

    @ma.validates_schema
    def _one_value(self, data: dict[str, Any], **_: Any) -> None:
        scope = Scope(data["scope"]) if data.get("scope") in set(Scope) else None
        if scope is None:
            return
        wanted = SCOPE_FIELDS.get(scope)
        errors: dict[str, list[str]] = {}
        for field in (*SCOPE_FIELDS.values(), "filters"):
            if field == wanted and data.get(field) is None:
                errors[field] = [f"required for a {scope.value} feed"]
            elif (
                field != wanted
                and field in data
                and not (field == "filters" and scope is Scope.SEARCH)
            ):
                errors[field] = [f"not allowed for a {scope.value} feed"]
        if errors:
            raise ma.ValidationError(errors)


class FeedSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Feed id (for revocation)"})
    name = ma.fields.String(metadata={"description": "Calendar name"})
    scope = ma.fields.String(metadata={"description": "What the feed follows"})
    value = ma.fields.String(
        attribute="scope_value",
        allow_none=True,
        metadata={"description": "RCP id, FINESS, region or RPPS of the scope"},
    )
    filters = ma.fields.Dict(metadata={"description": "Session filters of a search feed"})
    created_at = ma.fields.AwareDateTime(metadata={"description": "Creation instant"})
    revoked_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "Revocation instant, if revoked"}
    )


class FeedCreatedSchema(ma.Schema):
    id = ma.fields.Integer(attribute="subscription.id", metadata={"description": "Feed id"})
    name = ma.fields.String(attribute="subscription.name", metadata={"description": "Name"})
    scope = ma.fields.String(attribute="subscription.scope", metadata={"description": "Scope"})
    value = ma.fields.String(
        attribute="subscription.scope_value",
        allow_none=True,
        metadata={"description": "RCP id, FINESS, region or RPPS of the scope"},
    )
    filters = ma.fields.Dict(
        attribute="subscription.filters", metadata={"description": "Filters of a search feed"}
    )
    created_at = ma.fields.AwareDateTime(
        attribute="subscription.created_at", metadata={"description": "Creation instant"}
    )
    url = ma.fields.String(
        metadata={"description": "The private feed URL; shown once, keep it secret"}
    )
    webcal_url = ma.fields.String(
        metadata={"description": "The same URL as webcal:// (opens the calendar client)"}
    )


class FeedListArgsSchema(PaginationArgsSchema):
    include_revoked = ma.fields.Boolean(
        load_default=False, metadata={"description": "Also list revoked feeds"}
    )


class FeedNameArgsSchema(Schema):
    name = ma.fields.String(
        validate=validate.Length(1, 200), metadata={"description": "Calendar name to show"}
    )
