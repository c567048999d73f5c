"""OAuth 2.0 clients of RCP software and the client-credentials token endpoint (authlib)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask, Response, request
from sqlalchemy import JSON, Boolean, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.auth import Role, SigningKey, claims_for
from core.db import Base, TimestampMixin, UTCDateTime, db, utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.ratelimit import RateLimiter


def hash_secret(secret: str) -> str:
    """Client secrets are 256-bit random strings: a SHA-256 digest is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


class OAuthClient(Base, TimestampMixin, ClientMixin):
    """A machine client (RCP software) allowed the client-credentials grant."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40), default=Role.RCP_SOFTWARE.value)
    region: Mapped[str | None] = mapped_column(String(8))
    finess: Mapped[list[str]] = mapped_column(JSON, default=list)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    # authlib's ClientMixin contract --------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


@dataclass(frozen=True)
class CreatedClient:
    client: OAuthClient
    secret: str


def create_client(
    *,
    name: str,
    role: Role = Role.RCP_SOFTWARE,
    region: str | None = None,
    finess: list[str] | None = None,
) -> CreatedClient:
    """Register a client; the secret is returned once and only its hash is kept."""
    finess = sorted(set(finess or []))
    if role is Role.RCP_SOFTWARE and not (region or finess):
        raise InvalidInput("an rcp_software client needs a perimeter: --region or --finess")
    if role in (Role.PHYSICIAN, Role.COORDINATOR_3C):
        raise InvalidInput(f"{role.value} is a person's role: people sign in, clients do not")
    if role is Role.REGIONAL_ADMIN and not region:
        raise InvalidInput("a regional_admin client needs --region")
    secret = secrets.token_urlsafe(32)
    client = OAuthClient(
        client_id="dcc-" + secrets.token_hex(8),
        secret_hash=hash_secret(secret),
        name=name,
        role=role.value,
        region=region,
        finess=finess,
    )
    db.session.add(client)
    db.session.flush()
    return CreatedClient(client, secret)


def list_clients() -> list[OAuthClient]:
    return list(db.session.scalars(select(OAuthClient).order_by(OAuthClient.id)))


def revoke_client(*, client_id: str) -> OAuthClient:
    client = db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise NotFound(f"no client {client_id}")
    if client.revoked:
        raise Conflict(f"client {client_id} is already revoked")
    client.revoked = True
    client.revoked_at = utcnow()
    return client


class _TokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, key: SigningKey, issuer: str, audience: str, ttl: int) -> None:
        super().__init__(issuer=issuer, alg="RS256", expires_generator=lambda *_: ttl)
        self._key, self._audience = key, audience

    def get_jwks(self) -> Any:
        return self._key.key

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        return self._audience

    def get_extra_claims(
        self, client: Any, grant_type: str, user: Any, scope: Any
    ) -> dict[str, Any]:
        claims = claims_for(
            role=client.role,
            subject=client.client_id,
            region=client.region,
            finess=client.finess or [],
        )
        claims.pop("sub")
        return claims

    def access_token_generator(self, client: Any, grant_type: str, user: Any, scope: Any) -> str:
        # authlib signs without a kid; we sign ourselves so that the JWKS kid matches.
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "exp": now + self._get_expires_in(client, grant_type),
            "client_id": client.get_client_id(),
            "iat": now,
            "nbf": now,
            "jti": self.get_jti(client, grant_type, user, scope),
            "sub": client.get_client_id(),
            "aud": self.get_audiences(client, user, scope),
            **self.get_extra_claims(client, grant_type, user, scope),
        }
        return self._key.sign(claims)


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str) -> OAuthClient | None:
    client = db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None or client.revoked:
        return None
    return client


def _save_token(token: dict[str, Any], oauth_request: Any) -> None:
    # JWT access tokens are self-contained: nothing to store.
    return None


def build_token_endpoint(
    app: Flask, *, key: SigningKey, issuer: str, audience: str, ttl: int, rate: str
) -> Callable[[], Response]:
    """The ``POST /oauth/token`` handler (RFC 6749 §4.4), rate-limited per client address."""
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(_ClientCredentials)
    server.register_token_generator(
        "client_credentials", _TokenGenerator(key, issuer, audience, ttl)
    )
    limiter = RateLimiter(rate)

    def token() -> Response:
        limiter.hit(request.remote_addr or "unknown")
        response: Response = server.create_token_response()
        response.headers["Cache-Control"] = "no-store"
        return response

    return token
