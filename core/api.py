"""Our flask-smorest layer: Api, Blueprint (with the auth decorator), Schema, pagination."""

from __future__ import annotations

import functools
import http
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import flask_smorest
import marshmallow as ma
from flask import current_app, request
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from core.auth import ALL_ROLES, Role, authenticate, require_role
from core.errors import PROBLEM_JSON, InvalidInput, ProblemSchema, render_http_exception

F = TypeVar("F", bound=Callable[..., Any])

MAX_PAGE_SIZE = 200


class Api(flask_smorest.Api):
    """Renders every HTTP error as problem+json and documents it so."""

    ERROR_SCHEMA = ProblemSchema

    def init_app(self, app: Any, *args: Any, **kwargs: Any) -> None:
        # before any rule exists: every <int:...> of every blueprint is bounded
        app.url_map.converters["int"] = BoundedIntConverter
        super().init_app(app, *args, **kwargs)
        self.register_converter(BoundedIntConverter, _bounded_int_schema)

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(_no_nul_characters)
        self.ma_plugin.converter.add_attribute_function(_integer_bounds)
        self.ma_plugin.converter.add_attribute_function(_url_and_time_formats)

    def handle_http_exception(self, error: HTTPException) -> Any:
        return render_http_exception(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            content_type = PROBLEM_JSON if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


#: Identifiers and counts are INTEGER columns (32-bit on PostgreSQL): larger values match no
#: route (path) or are refused with 422 (query and body), never passed to a failing query.
INT_MAX = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` limited to the database's integer range (beyond it: 404, not 500)."""

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = INT_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


_INT_RANGE = ma.validate.Range(min=-INT_MAX - 1, max=INT_MAX)


def _bounded_int_schema(converter: BoundedIntConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": converter.min or 0, "maximum": converter.max}


def _integer_bounds(converter: Any, field: ma.fields.Field, **_: Any) -> dict[str, Any]:
    """Document the database's integer range on integers that declare no narrower one."""
    if isinstance(field, ma.fields.Integer) and not any(
        isinstance(v, ma.validate.Range) for v in field.validators
    ):
        return {"minimum": -INT_MAX - 1, "maximum": INT_MAX}
    return {}


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_CHARS = r"[A-Za-z0-9._~%!$&'()*+,;=:@/?-]"
#: A path, query or both: RFC 3986's unreserved, sub-delims, ":", "@", "/", "?" and "%"
#: (a lone "?" is not a URL to marshmallow).
_PATH = rf"(?:/{_CHARS}*|\?{_CHARS}+)?"
_TLD = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])"
#: The URLs a ``Url`` field takes: host names ending in a TLD, an optional port, a path.
#: Stated in the OpenAPI document and enforced, so that both say the same.
URL_PATTERN = rf"^https?://(?:{_LABEL}\.)+{_TLD}(?::[0-9]{{2,5}})?{_PATH}$"
#: ``Url(local=True)`` (webhook receivers): also a bare host name (localhost) or an IPv4
#: address, as RCP software on a hospital network has.
LOCAL_URL_PATTERN = (
    rf"^https?://(?:(?:{_LABEL}\.)+{_TLD}|{_LABEL}|(?:[0-9]{{1,3}}\.){{3}}[0-9]{{1,3}})"
    rf"(?::[0-9]{{2,5}})?{_PATH}$"
)
TIME_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?$"


class Url(ma.fields.Url):
    """``ma.fields.Url`` held to the pattern the OpenAPI document states for it.

    ``local``: the host may be a bare name or an IPv4 address. ``https_only``: no http.
    Without the pattern check a URL could be accepted that the document says is invalid
    (the release fuzzing pass found ``https://0.fohq:4510/Oq*``), or the reverse.
    """

    def __init__(self, *, local: bool = False, https_only: bool = False, **kwargs: Any) -> None:
        super().__init__(
            schemes={"https"} if https_only else {"https", "http"}, require_tld=not local, **kwargs
        )
        pattern = LOCAL_URL_PATTERN if local else URL_PATTERN
        if https_only:
            pattern = pattern.replace("^https?://", "^https://")
        self.pattern = pattern
        self.validators.append(
            ma.validate.Regexp(
                pattern,
                error="a URL: "
                + ("https" if https_only else "http(s)")
                + "://host[:port][/path], the host"
                + (" a name or an IPv4 address" if local else " a name with a TLD"),
            )
        )


def _url_and_time_formats(converter: Any, field: ma.fields.Field, **_: Any) -> dict[str, Any]:
    """State URL and wall-time formats as patterns that generated clients and fuzzers follow."""
    if isinstance(field, Url):
        return {"pattern": field.pattern}
    if isinstance(field, ma.fields.Time):
        return {"pattern": TIME_PATTERN}
    return {}


def _no_nul_characters(converter: Any, field: ma.fields.Field, **_: Any) -> dict[str, Any]:
    """Document that strings never contain NUL (refused with 422 before any view runs)."""
    if type(field) is ma.fields.String and not any(
        isinstance(v, ma.validate.Regexp | ma.validate.OneOf) for v in field.validators
    ):
        return {"pattern": NO_NUL_PATTERN}
    return {}


#: PostgreSQL text cannot hold NUL: the server refuses it in URLs and JSON bodies.
NO_NUL_PATTERN = "^[^\\u0000]*$"


class Schema(ma.Schema):
    """Base of request and response schemas: unknown fields are refused, order is kept.

    Refusing unknown fields is what keeps nominative data (a name, an INS, a birth date) from
    slipping into the server through a field nobody declared.
    """

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        # enforce the integer range that _integer_bounds documents (DB INTEGER columns)
        if isinstance(field_obj, ma.fields.Integer) and not any(
            isinstance(v, ma.validate.Range) for v in field_obj.validators
        ):
            field_obj.validators = [*field_obj.validators, _INT_RANGE]
        super().on_bind_field(field_name, field_obj)


class Blueprint(flask_smorest.Blueprint):
    """A domain's blueprint; ``auth`` says who may call an operation, enforced and documented."""

    def arguments(
        self, schema: Any, *, location: str = "json", **kwargs: Any
    ) -> Callable[[Any], Any]:
        """flask-smorest's ``arguments``: one schema instance, and undeclared query parameters
        refused with 422.

        Given a class, webargs makes a new instance on every request, which deep-copies every
        declared field; an instance keeps no state between loads, so one, made here, serves
        them all.

        The query schemas of an operation share the query string (filters and pagination), so
        each tolerates the others' parameters; the union of their parameters is checked once
        here. A misspelt filter (``?nmae=``) would otherwise return the unfiltered list. A
        schema with ``lenient_query = True`` (FHIR search) lets unknown parameters through.
        """
        if isinstance(schema, type):
            schema = schema()
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "query" or getattr(schema, "lenient_query", False):
            return decorator
        names = {field.data_key or name for name, field in schema.load_fields.items()}

        def apply(func: F) -> F:
            allowed: set[str] | None = getattr(func, "_dcc_query_parameters", None)
            if allowed is None:
                allowed = set()
                func = _refuse_unknown_query_parameters(func, allowed)
            allowed |= names
            return decorator(func)

        return apply

    def alt_response(
        self, status_code: int | str, response: Any = None, **kwargs: Any
    ) -> Callable[[Any], Any]:
        """Document an alternative response; an error one (4xx, 5xx) is a problem+json body.

        Without this an error response documented by its description alone says "no body", and
        a generated client drops the problem details the server sends (core/errors.py).
        """
        if response is None and kwargs.get("schema") is None and int(status_code) >= 400:
            kwargs["schema"] = ProblemSchema
            kwargs.setdefault("content_type", PROBLEM_JSON)
        return super().alt_response(status_code, response, **kwargs)

    def auth(self, *roles: Role, who: str | None = None) -> Callable[[F], F]:
        """Require a bearer token with one of ``roles`` (all roles when none is given).

        ``who`` states the perimeter rule in words; it becomes part of the OpenAPI description.
        Perimeter checks that depend on data (which establishment hosts an RCP) happen in the
        service functions, with the principal passed to them.
        """
        allowed: Sequence[Role] = roles or ALL_ROLES

        def decorator(func: F) -> F:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                principal = authenticate(current_app.extensions["dcc"].verifier)
                require_role(principal, allowed)
                return func(*args, **kwargs)

            doc = {
                "security": [{"bearerAuth": []}, {"oauth2": []}],
                "x-dcc-roles": [r.value for r in allowed],
            }
            if who:
                doc["x-dcc-perimeter"] = who
            wrapper = self.doc(**doc)(wrapper)
            wrapper = self.alt_response(401, description="Missing, invalid or expired token")(
                wrapper
            )
            return self.alt_response(403, description="Role or perimeter not allowed")(wrapper)

        return decorator

    def public(self, func: F) -> F:
        """Mark an operation as callable without a token (documented as such)."""
        return self.doc(security=[])(func)


def _refuse_unknown_query_parameters(func: F, allowed: set[str]) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        unknown = [name for name in request.args if name not in allowed]
        if unknown:
            raise InvalidInput(
                "unknown query parameter"
                + ("s " if len(unknown) > 1 else " ")
                + ", ".join(repr(name) for name in unknown)
                + f"; this operation takes: {', '.join(sorted(allowed))}",
                errors=[
                    {
                        "location": "query",
                        "field": name,
                        "pointer": name,
                        "detail": "Unknown field.",
                    }
                    for name in unknown
                ],
            )
        return func(*args, **kwargs)

    wrapper._dcc_query_parameters = allowed  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def path_parameter(name: str, pattern: str, description: str) -> dict[str, Any]:
    """Document a path parameter's format (a value breaking it gets 422 from the service)."""
    return {
        "in": "path",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


class PaginationArgsSchema(Schema):
    """Page selection for list operations."""

    class Meta:
        unknown = ma.EXCLUDE

    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=INT_MAX),
        metadata={"description": "Page number, from 1"},
    )
    page_size = ma.fields.Integer(
        load_default=50,
        validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Items per page (at most {MAX_PAGE_SIZE})"},
    )


_page_schemas: dict[str, type[ma.Schema]] = {}


def page_of(item_schema: type[ma.Schema], name: str | None = None) -> type[ma.Schema]:
    """The envelope ``{items, total, page, page_size}`` of a paged list of ``item_schema``."""
    name = name or item_schema.__name__.removesuffix("Schema") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(
            name,
            (ma.Schema,),
            {
                "items": ma.fields.List(
                    ma.fields.Nested(item_schema),
                    metadata={"description": "The items of this page"},
                ),
                "total": ma.fields.Integer(metadata={"description": "Items over all pages"}),
                "page": ma.fields.Integer(metadata={"description": "This page's number"}),
                "page_size": ma.fields.Integer(metadata={"description": "Items per page"}),
            },
        )
    return _page_schemas[name]


def page(items: Iterable[Any], *, total: int, page: int, page_size: int) -> dict[str, Any]:
    """Build the body that ``page_of`` documents."""
    return {"items": list(items), "total": total, "page": page, "page_size": page_size}


def page_json(items: Iterable[str], *, total: int, page: int, page_size: int) -> str:
    """The JSON text of ``page(...)`` whose items are JSON texts already, spliced as they are.

    Keys sorted and separators compact as Flask's ``jsonify`` writes them, so the text is
    the same as encoding the decoded items would give.
    """
    return (
        f'{{"items":[{",".join(items)}],"page":{int(page)},'
        f'"page_size":{int(page_size)},"total":{int(total)}}}\n'
    )
