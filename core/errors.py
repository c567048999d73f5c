"""The DomainError tree and the single handler that renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, Response, json, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:dcc-services:problem:"

log = logging.getLogger("dcc.errors")


class DomainError(Exception):
    """A rule of the domain refused the operation; rendered as problem+json with ``status``."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.extensions = extensions


class InvalidInput(DomainError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class Unavailable(DomainError):
    status, slug, title = 503, "unavailable", "Service unavailable"


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, with field-level ``errors`` for validation failures."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"description": "URI identifying the problem type"})
    title = ma.fields.String(metadata={"description": "Short summary of the problem type"})
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    detail = ma.fields.String(metadata={"description": "What went wrong in this occurrence"})
    instance = ma.fields.String(metadata={"description": "The request path that failed"})
    request_id = ma.fields.String(metadata={"description": "Identifier to quote to support"})
    errors = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Field-level errors: location, pointer (JSON pointer or parameter "
            "name), field and detail"
        },
    )


def problem_response(
    status: int,
    *,
    detail: str,
    title: str | None = None,
    type_: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """Build one problem+json response; used by every error path of the server."""
    from flask import g

    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path if request else None,
    }
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    body.update(extensions)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def flatten_validation_messages(messages: Any, location: str) -> list[dict[str, Any]]:
    """Turn marshmallow's nested messages into a flat list with JSON pointers."""
    out: list[dict[str, Any]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list) and node and all(isinstance(m, str) for m in node):
            for message in node:
                out.append(_field_error(location, path, message))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, [*path, str(index)])
        else:
            out.append(_field_error(location, path, str(node)))

    walk(messages, [])
    return out


def _field_error(location: str, path: list[str], message: str) -> dict[str, Any]:
    field = ".".join(path) if path else None
    if location == "json":
        pointer = "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    else:
        pointer = field or ""
    return {"location": location, "field": field, "pointer": pointer, "detail": message}


def _validation_errors(messages: Any) -> list[dict[str, Any]]:
    # webargs wraps messages by location: {"json": {...}, "query": {...}}
    errors: list[dict[str, Any]] = []
    if (
        isinstance(messages, Mapping)
        and messages
        and set(messages)
        <= {
            "json",
            "query",
            "querystring",
            "form",
            "headers",
            "files",
            "view_args",
            "path",
        }
    ):
        for location, inner in messages.items():
            errors.extend(flatten_validation_messages(inner, location))
    else:
        errors.extend(flatten_validation_messages(messages, "json"))
    return errors


def _summary(errors: list[dict[str, Any]]) -> str:
    parts = [f"{e['field'] or e['location']}: {e['detail']}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def render_domain_error(error: DomainError) -> Response:
    return problem_response(
        error.status,
        title=error.title,
        type_=TYPE_BASE + error.slug,
        detail=error.detail,
        errors=error.errors,
        headers=error.headers,
        **error.extensions,
    )


def render_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if error.response is not None or status == 405:  # e.g. 405 carries an Allow header
        headers.update({k: v for k, v in error.get_headers() if k.lower() == "allow"})
    messages = data.get("errors") or data.get("messages")
    if messages:
        errors = _validation_errors(messages)
        title = "Invalid input" if status == 422 else HTTPStatus(status).phrase
        return problem_response(
            status,
            title=title,
            type_=TYPE_BASE + ("invalid-input" if status == 422 else "bad-request"),
            detail=data.get("message") or _summary(errors),
            errors=errors,
            headers=headers,
        )
    detail = data.get("message") or _http_detail(error)
    return problem_response(status, detail=detail, headers=headers)


def _http_detail(error: HTTPException) -> str:
    status = error.code or 500
    if status == 404:
        return f"no resource at {request.path}"
    if status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if status == 413:
        return "the request body is larger than this server accepts"
    if status >= 500:
        return "the server could not complete the request"
    return error.description or HTTPStatus(status).phrase


def _rolled_back(handler: Any) -> Any:
    """Undo whatever the failed request flushed before its error is rendered."""

    def wrapper(error: Exception) -> Response:
        from core.db import db

        try:
            db.session.rollback()
        except Exception:  # the database may be the very thing that failed
            log.warning("rollback after an error failed", exc_info=True)
        return handler(error)

    return wrapper


def out_of_range_or_invalid(error: Exception) -> Response:
    """PostgreSQL refused a value (out of range, bad encoding): the request's fault, 422."""
    log.warning("database refused a value: %s", type(getattr(error, "orig", error)).__name__)
    return problem_response(
        422,
        title="Invalid input",
        type_=TYPE_BASE + "invalid-input",
        detail="a value in the request cannot be stored (out of range or malformed)",
    )


def register_error_handlers(app: Flask) -> None:
    """Route every exception through problem+json; nothing internal ever reaches the client.

    Every handler first rolls the session back, so that a request that flushed changes and
    then failed leaves nothing behind, even when its connection is reused.
    """

    app.register_error_handler(DomainError, _rolled_back(render_domain_error))
    app.register_error_handler(HTTPException, _rolled_back(render_http_exception))

    def database_unavailable(error: Exception) -> Response:
        log.error("database unavailable: %s", type(error).__name__)
        return problem_response(
            503,
            title="Service unavailable",
            type_=TYPE_BASE + "database-unavailable",
            detail="the database is unreachable; retry shortly",
            headers={"Retry-After": "5"},
        )

    app.register_error_handler(OperationalError, _rolled_back(database_unavailable))
    app.register_error_handler(PoolTimeoutError, _rolled_back(database_unavailable))

    def out_of_range(error: Exception) -> Response:
        return problem_response(
            422,
            title="Invalid input",
            type_=TYPE_BASE + "invalid-input",
            detail="a number in the request is out of the range this server stores (32-bit)",
        )

    app.register_error_handler(OverflowError, _rolled_back(out_of_range))
    app.register_error_handler(DataError, _rolled_back(out_of_range_or_invalid))

    def unexpected(error: Exception) -> Response:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return database_unavailable(error)
        log.error("unhandled error", exc_info=error)
        return problem_response(
            500, detail="an unexpected error occurred; it has been logged with the request id"
        )

    app.register_error_handler(Exception, _rolled_back(unexpected))
