"""The application factory: settings, database, auth, errors, OpenAPI, then each domain."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_cors import CORS

import web
from core.api import Api
from core.auth import SigningKey, TokenVerifier
from core.config import Settings
from core.db import db
from core.errors import (
    PROBLEM_JSON,
    InvalidInput,
    UnsupportedMediaType,
    register_error_handlers,
)
from core.logs import configure_logging, init_request_logging
from core.oauth import build_token_endpoint
from core.openapi_nullable import document_nullable_nested_as_null
from guidelines import views as guidelines_views
from planning import views as planning_views
from planning.directory import replica
from planning.directory import views as directory_views
from planning.feeds import views as feeds_views
from server import views as platform_views
from server.platform import Platform
from trials import views as trials_views

API_VERSION = "1.0.0"

API_DESCRIPTION = """\
National services of the French cancer communication record (DCC): RCP planning with the
national directories (RPPS, FINESS) and calendar feeds, clinical-trial search, and the
best-practice guideline referentials.

**Authentication.** Every operation that is not marked public needs an RFC 9068 JWT access
token: RCP software gets one from `POST /oauth/token` (client credentials); physicians come with
a token from the national OpenID Connect provider (Pro Santé Connect). Each operation lists the
roles allowed in `x-dcc-roles` and, where it depends on data, the perimeter rule in
`x-dcc-perimeter`.

**Errors** are RFC 9457 `application/problem+json` documents; validation errors list every
faulty field in `errors` with a JSON pointer.

**No nominative patient data**: request bodies refuse unknown fields.
"""

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RFC 9068)"},
    "oauth2": {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}},
    },
}

#: Request bodies of these content types are accepted; anything else gets 415.
JSON_TYPES = ("application/json",)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building a signer for requests with no cookie.

    API calls carry a bearer token, never the pages' session cookie: Flask would still build
    an HMAC serializer for every one of them, only to find no cookie to check.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class _App(Flask):
    """Flask, minus per-request work whose answer never changes."""

    session_interface = _SessionInterface()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[types.FunctionType, Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks whether each hook and view is a coroutine function on every request;
        # plain functions (all of them: hooks and views are made once) are asked once.
        if not isinstance(func, types.FunctionType):
            return super().ensure_sync(func)
        sync = self._sync.get(func)
        if sync is None:
            sync = self._sync[func] = (
                self.async_to_sync(func) if inspect.iscoroutinefunction(func) else func
            )
        return sync


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the WSGI application; ``settings`` default to the environment (``DCC_*``)."""
    settings = settings or Settings.from_env(**overrides)
    configure_logging(settings.log_level, settings.log_format)

    app = _App("dcc-services", instance_path=str(settings.instance_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.env == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        API_TITLE="DCC national services",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": SECURITY_SCHEMES},
        },
    )

    db.configure(
        settings.database_url,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    signing_key = SigningKey.load_or_create(
        settings.signing_key_file, create=not settings.production
    )
    platform = Platform(
        settings=settings,
        signing_key=signing_key,
        verifier=TokenVerifier.from_settings(settings, signing_key),
    )
    platform.token_endpoint = build_token_endpoint(
        app,
        key=signing_key,
        issuer=settings.issuer,
        audience=settings.audience,
        ttl=settings.token_ttl,
        rate=settings.rate_limit_token,
    )
    app.extensions["dcc"] = platform
    # PostgreSQL: the name search reads this node's copy of its tables while it is current
    engine = db.engine
    if settings.directory_replica_dir and engine and engine.dialect.name == "postgresql":
        app.extensions[replica.EXTENSION] = replica.Replica(settings.directory_replica_dir)

    register_error_handlers(app)
    init_request_logging(app)
    _init_http_policies(app, settings)
    _init_swagger_assets(app)

    api = Api(app)
    document_nullable_nested_as_null(api)
    register_blueprints(api)
    web.init_app(app, settings)

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        db.session.remove()

    return app


def register_blueprints(api: Api) -> None:
    """The domains, in the order of their OpenAPI tags."""
    api.register_blueprint(platform_views.blp)
    api.register_blueprint(planning_views.blp)
    api.register_blueprint(feeds_views.blp)
    api.register_blueprint(directory_views.blp)
    api.register_blueprint(directory_views.fhir_blp)
    api.register_blueprint(trials_views.blp)
    api.register_blueprint(guidelines_views.blp)


def _init_http_policies(app: Flask, settings: Settings) -> None:
    if settings.cors_origins:
        CORS(
            app,
            origins=list(settings.cors_origins),
            expose_headers=["ETag", "X-Request-ID"],
            supports_credentials=False,
        )

    @app.before_request
    def _refuse_nul_characters() -> None:
        # PostgreSQL text cannot hold NUL: refuse it at the door rather than fail in a query.
        if b"%00" in request.query_string.lower() or "\x00" in request.path:
            raise InvalidInput("NUL characters (%00) are not accepted in URLs")
        if request.content_length and (
            request.mimetype in JSON_TYPES or request.mimetype.endswith("+json")
        ):
            body = request.get_data(cache=True)
            if b"\\u0000" in body or b"\x00" in body:
                raise InvalidInput("NUL characters (\\u0000) are not accepted in request bodies")

    @app.before_request
    def _require_json_bodies() -> None:
        if request.method not in ("POST", "PUT", "PATCH") or request.endpoint is None:
            return
        if request.endpoint in _FORM_ENDPOINTS or not request.content_length:
            return
        if request.blueprint == "web":  # the pages post forms (CSRF-checked by the blueprint)
            return
        if request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
            raise UnsupportedMediaType(
                f"request bodies must be application/json, not {request.mimetype or 'untyped'}"
            )

    common = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]
    hsts = [("Strict-Transport-Security", "max-age=31536000")] if settings.production else []
    api_headers = [
        *common,
        ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
        *hsts,
    ]
    docs_headers = [
        *common,
        (
            "Content-Security-Policy",
            # Swagger UI's page bootstraps itself with an inline script.
            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
        *hsts,
    ]

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # One pass over the response's few headers instead of one lookup per policy.
        present = {key.lower() for key, _ in headers.items()}
        policies = docs_headers if request.path.startswith("/docs") else api_headers
        for key, value in policies:
            if key.lower() not in present:
                headers.add(key, value)
        if response.mimetype == PROBLEM_JSON and "cache-control" not in present:
            headers.add("Cache-Control", "no-store")
        return response


#: Endpoints that take form bodies (OAuth 2.0 mandates form encoding for the token endpoint).
_FORM_ENDPOINTS = {"oauth_token", "platform.Token"}


def _init_swagger_assets(app: Flask) -> None:
    import swagger_ui_bundle
    from flask import send_from_directory

    folder = str(swagger_ui_bundle.swagger_ui_path)

    @app.route("/docs/assets/<path:filename>")
    def swagger_asset(filename: str) -> Response:
        return send_from_directory(folder, filename, max_age=86400)
