"""Platform operations: health, version, token endpoint, key set, audit trail."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import marshmallow as ma
from flask import Response, current_app, jsonify
from flask.views import MethodView
from sqlalchemy import text

from core import audit
from core.api import Blueprint, PaginationArgsSchema, Schema, page, page_of
from core.auth import Role, current_principal
from core.db import db
from server import migrations_state

blp = Blueprint(
    "platform", __name__, description="Health, version, OAuth 2.0 token endpoint, keys and audit."
)


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "ok, or unavailable"})
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        metadata={"description": "Each check with ok (bool) and detail"},
    )


class VersionSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "Distribution name"})
    version = ma.fields.String(metadata={"description": "Distribution version"})
    api_version = ma.fields.String(metadata={"description": "OpenAPI document version"})
    database = ma.fields.String(metadata={"description": "Database engine in use"})
    migration = ma.fields.String(
        allow_none=True, metadata={"description": "Alembic revision the database is at"}
    )


@blp.route("/health/live")
class Live(MethodView):
    @blp.public
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """Liveness: the process answers

        Used by the orchestrator to restart a hung worker; checks nothing else.
        """
        return {"status": "ok", "checks": {}}


@blp.route("/health/ready")
class Ready(MethodView):
    @blp.public
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Not ready: see the failing checks")
    def get(self) -> Any:
        """Readiness: database reachable, migrations at head, index directory usable

        A load balancer sends traffic to a node only while this answers 200.
        """
        platform = current_app.extensions["dcc"]
        checks: dict[str, dict[str, Any]] = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = {"ok": True, "detail": db.session.get_bind().dialect.name}
            current, heads = migrations_state.current_and_heads(db.session.connection())
            at_head = set(current) == set(heads)
            checks["migrations"] = {
                "ok": at_head,
                "detail": "at head"
                if at_head
                else f"database at {current or 'nothing'}, code expects {heads}",
            }
        except Exception as error:  # readiness must answer, whatever the failure
            checks["database"] = {"ok": False, "detail": type(error).__name__}
            checks["migrations"] = {"ok": False, "detail": "database unreachable"}
        finally:
            db.session.rollback()
        ok, detail = platform.index_dir_usable()
        checks["index_dir"] = {"ok": ok, "detail": detail}
        for name, check in platform.readiness_checks.items():
            ok, detail = check()
            checks[name] = {"ok": ok, "detail": detail}
        healthy = all(c["ok"] for c in checks.values())
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        return body, 200 if healthy else 503


@blp.route("/version")
class Version(MethodView):
    @blp.public
    @blp.response(200, VersionSchema)
    def get(self) -> dict[str, Any]:
        """Version of the server, its API and its database schema"""
        try:
            current, _ = migrations_state.current_and_heads(db.session.connection())
            migration = ",".join(current) or None
        except Exception:  # the version must answer even when the database does not
            migration = None
        finally:
            db.session.rollback()
        return {
            "name": "dcc-services",
            "version": importlib.metadata.version("dcc-services"),
            "api_version": current_app.config["API_VERSION"],
            "database": db.engine.dialect.name if db.engine else "none",
            "migration": migration,
        }


class TokenRequestSchema(Schema):
    class Meta:
        unknown = ma.INCLUDE

    grant_type = ma.fields.String(
        required=True, metadata={"description": "Always client_credentials"}
    )
    client_id = ma.fields.String(
        metadata={"description": "With client_secret_post; otherwise use HTTP Basic"}
    )
    client_secret = ma.fields.String(metadata={"description": "With client_secret_post"})
    scope = ma.fields.String(metadata={"description": "Ignored: roles come from the client"})


class TokenResponseSchema(ma.Schema):
    access_token = ma.fields.String(metadata={"description": "RFC 9068 JWT access token"})
    token_type = ma.fields.String(metadata={"description": "Bearer"})
    expires_in = ma.fields.Integer(metadata={"description": "Lifetime in seconds"})


class OAuthErrorSchema(ma.Schema):
    """An OAuth 2.0 error response (RFC 6749 §5.2): application/json, not problem+json."""

    error = ma.fields.String(metadata={"description": "Error code, e.g. invalid_client"})
    error_description = ma.fields.String(metadata={"description": "Human-readable detail"})
    error_uri = ma.fields.String(metadata={"description": "A page about the error"})


@blp.route("/oauth/token")
class Token(MethodView):
    @blp.public
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": TokenRequestSchema}},
        }
    )
    @blp.response(200, TokenResponseSchema)
    @blp.alt_response(
        400,
        schema=OAuthErrorSchema,
        content_type="application/json",
        description="OAuth 2.0 error (RFC 6749 §5.2), e.g. invalid_request",
    )
    @blp.alt_response(
        401,
        schema=OAuthErrorSchema,
        content_type="application/json",
        description="OAuth 2.0 error invalid_client",
    )
    @blp.alt_response(429, description="Too many token requests from this address")
    def post(self) -> Response:
        """Get an access token (OAuth 2.0 client credentials, RFC 6749 §4.4)

        For RCP software registered with `dcc-services clients create`. Authenticate with HTTP
        Basic (client_secret_basic) or form fields (client_secret_post). Errors follow RFC 6749
        §5.2 (`{"error": ...}`), which OAuth client libraries expect.
        """
        platform = current_app.extensions["dcc"]
        assert platform.token_endpoint is not None  # set by create_app
        return platform.token_endpoint()


class JwksSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Dict(), metadata={"description": "Public JWKs"})


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.public
    @blp.response(
        200, ma.Schema.from_dict({"keys": ma.fields.List(ma.fields.Dict())}, name="JwksSchema")
    )
    def get(self) -> Response:
        """Public keys of the local token issuer (JWKS)"""
        response = jsonify(current_app.extensions["dcc"].signing_key.public_jwks())
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response


class AuthorizationServerMetadataSchema(ma.Schema):
    issuer = ma.fields.String(metadata={"description": "Issuer of the tokens"})
    token_endpoint = ma.fields.String(metadata={"description": "Where to get tokens"})
    jwks_uri = ma.fields.String(metadata={"description": "Public keys"})
    grant_types_supported = ma.fields.List(
        ma.fields.String(), metadata={"description": "Grants offered"}
    )
    token_endpoint_auth_methods_supported = ma.fields.List(
        ma.fields.String(), metadata={"description": "Client authentication methods"}
    )


@blp.route("/.well-known/oauth-authorization-server")
class AuthorizationServerMetadata(MethodView):
    @blp.public
    @blp.response(200, AuthorizationServerMetadataSchema)
    def get(self) -> Response:
        """OAuth 2.0 authorization server metadata (RFC 8414)"""
        settings = current_app.extensions["dcc"].settings
        return jsonify(
            {
                "issuer": settings.issuer,
                "token_endpoint": settings.public_url + "/oauth/token",
                "jwks_uri": settings.public_url + "/.well-known/jwks.json",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "Event number"})
    at = ma.fields.DateTime(metadata={"description": "When (UTC)"})
    actor_subject = ma.fields.String(metadata={"description": "Who: token subject"})
    actor_role = ma.fields.String(metadata={"description": "Who: role"})
    action = ma.fields.String(metadata={"description": "What was done"})
    entity_type = ma.fields.String(metadata={"description": "Kind of thing changed"})
    entity_id = ma.fields.String(metadata={"description": "Its identifier"})
    region = ma.fields.String(allow_none=True, metadata={"description": "Its region"})
    changes = ma.fields.Dict(metadata={"description": "Changed fields as [old, new]"})


class AuditQueryArgsSchema(PaginationArgsSchema):
    region = ma.fields.String(metadata={"description": "Only events of this region"})
    entity_type = ma.fields.String(metadata={"description": "Only this kind of entity"})
    entity_id = ma.fields.String(metadata={"description": "Only this entity"})


@blp.route("/audit/events")
class AuditEvents(MethodView):
    @blp.auth(
        Role.NATIONAL_ADMIN,
        Role.REGIONAL_ADMIN,
        who="national admins: every event; regional admins: their region's",
    )
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, page_of(AuditEventSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The audit trail of writes, newest first"""
        principal = current_principal()
        region = args.get("region")
        if not principal.is_national:
            principal.require_region(region or principal.region, "the audit trail")
            region = principal.region
        size, number = args["page_size"], args["page"]
        events, total = audit.list_events(
            region=region,
            entity_type=args.get("entity_type"),
            entity_id=args.get("entity_id"),
            limit=size,
            offset=(number - 1) * size,
        )
        return page(events, total=total, page=number, page_size=size)
