"""Access-token validation (RFC 9068 JWTs of trusted issuers), roles, perimeters, the caller."""

from __future__ import annotations

import enum
import json
import logging
import secrets
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import g, request
from joserfc import jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from core.config import IssuerConfig, Settings
from core.errors import Forbidden, Unauthorized

log = logging.getLogger("dcc.auth")

#: Only asymmetric algorithms: a token signed with HS256 using our public key as the secret,
#: or with ``alg: none``, is refused before any signature check.
ALGORITHMS = ["RS256", "ES256"]
CLOCK_LEEWAY_S = 30


class Role(enum.StrEnum):
    """The roles of the national server; each comes with its perimeter claims."""

    NATIONAL_ADMIN = "national_admin"
    REGIONAL_ADMIN = "regional_admin"  # dcc_region
    COORDINATOR_3C = "coordinator_3c"  # dcc_finess: establishments of the 3C
    PHYSICIAN = "physician"  # dcc_rpps
    RCP_SOFTWARE = "rcp_software"  # dcc_finess and/or dcc_region


ALL_ROLES = tuple(Role)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role and its perimeter, taken from a validated token only."""

    subject: str
    role: Role
    issuer: str
    region: str | None = None
    finess: frozenset[str] = field(default_factory=frozenset)
    rpps: str | None = None
    client_id: str | None = None
    #: For RCP software acting on a physician's behalf (``dcc_on_behalf_of`` RPPS).
    on_behalf_of: str | None = None

    @property
    def is_national(self) -> bool:
        return self.role is Role.NATIONAL_ADMIN

    def covers_region(self, region: str | None) -> bool:
        """National admins cover every region; regional admins and software their own."""
        if self.is_national:
            return True
        return (
            region is not None
            and self.region == region
            and self.role
            in (
                Role.REGIONAL_ADMIN,
                Role.RCP_SOFTWARE,
            )
        )

    def covers_establishment(self, finess: str | None, region: str | None) -> bool:
        """Whether the caller may act for an establishment (its 3C, its region, or national)."""
        if self.covers_region(region):
            return True
        return (
            finess is not None
            and finess in self.finess
            and self.role in (Role.COORDINATOR_3C, Role.RCP_SOFTWARE)
        )

    def acting_rpps(self) -> str | None:
        """The physician this call acts for: the caller, or the one software acts on behalf of."""
        if self.role is Role.PHYSICIAN:
            return self.rpps
        if self.role is Role.RCP_SOFTWARE:
            return self.on_behalf_of
        return None

    def require_region(self, region: str | None, what: str = "this resource") -> None:
        if not self.covers_region(region):
            raise Forbidden(
                f"{self.role.value} {self.subject} may not act on {what} "
                f"of region {region or 'unknown'}"
            )

    def require_establishment(
        self, finess: str | None, region: str | None, what: str = "this resource"
    ) -> None:
        if not self.covers_establishment(finess, region):
            raise Forbidden(
                f"{self.role.value} {self.subject} may not act on {what} of "
                f"establishment {finess or 'unknown'}"
            )

    def as_audit(self) -> dict[str, Any]:
        return {"subject": self.subject, "role": self.role.value, "issuer": self.issuer}


# --- keys ---------------------------------------------------------------------------------


class SigningKey:
    """The local issuer's private key (RSA); its public half is published as a JWKS."""

    def __init__(self, key: RSAKey) -> None:
        self.key = key
        self.kid = key.thumbprint()

    @classmethod
    def load_or_create(cls, path: Path, *, create: bool) -> SigningKey:
        if path.is_file():
            return cls(RSAKey.import_key(path.read_bytes()))
        if not create:
            raise FileNotFoundError(path)
        key = RSAKey.generate_key(2048, private=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.as_pem(private=True))
        path.chmod(0o600)
        log.info("generated a new local signing key at %s", path)
        return cls(key)

    def public_jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def sign(self, claims: Mapping[str, Any], *, typ: str = "at+jwt") -> str:
        header = {"alg": "RS256", "typ": typ, "kid": self.kid}
        return jwt.encode(header, dict(claims), self.key)


def claims_for(
    *,
    role: Role | str,
    subject: str,
    region: str | None = None,
    finess: Iterable[str] = (),
    rpps: str | None = None,
    on_behalf_of: str | None = None,
) -> dict[str, Any]:
    """The perimeter claims this server reads (``dcc_*``), shared by every token minter."""
    claims: dict[str, Any] = {"dcc_role": Role(role).value, "sub": subject}
    if region:
        claims["dcc_region"] = region
    finess = sorted(finess)
    if finess:
        claims["dcc_finess"] = finess
    if rpps:
        claims["dcc_rpps"] = rpps
    if on_behalf_of:
        claims["dcc_on_behalf_of"] = on_behalf_of
    return claims


def mint_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    ttl: int,
    client_id: str,
    extra: Mapping[str, Any],
    now: int | None = None,
) -> str:
    """Mint an RFC 9068 access token with the local key (CLI, demo sign-in and tests)."""
    now = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
        "client_id": client_id,
        **extra,
    }
    return key.sign(claims)


# --- verification -------------------------------------------------------------------------


class _RemoteJwks:
    """A JWKS fetched from an issuer's ``jwks_uri``, cached and refreshed on unknown keys."""

    def __init__(self, uri: str, ttl: int = 600) -> None:
        self.uri, self.ttl = uri, ttl
        self._keys: KeySet | None = None
        self._fetched = 0.0
        self._lock = threading.Lock()

    def get(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            stale = time.monotonic() - self._fetched > self.ttl
            # never refetch more than once every 30 s, even when asked to
            if self._keys is None or stale or (refresh and time.monotonic() - self._fetched > 30):
                with urllib.request.urlopen(self.uri, timeout=3) as response:  # noqa: S310
                    self._keys = KeySet.import_key_set(json.load(response))
                self._fetched = time.monotonic()
            return self._keys


@dataclass
class _Issuer:
    config: IssuerConfig
    static_keys: KeySet | None = None
    remote: _RemoteJwks | None = None

    def keys(self) -> KeySet:
        if self.static_keys is not None:
            return self.static_keys
        assert self.remote is not None
        return self.remote.get()


def _import_jwks(data: Mapping[str, Any]) -> KeySet:
    keys: list[Any] = []
    for item in data["keys"]:
        keys.append(
            ECKey.import_key(dict(item))
            if item.get("kty") == "EC"
            else RSAKey.import_key(dict(item))
        )
    return KeySet(keys)


class _VerifiedTokens:
    """Tokens already verified, with their Principal, until they expire (at most ``ttl`` s).

    A client sends the same access token on every call until it expires; checking its
    signature again each time costs more than most operations. An entry is dropped at the
    token's ``exp`` (never kept past it) and after ``ttl`` seconds in any case, as the JWKS
    cache is, so a key removed from an issuer's JWKS stops being honoured within that delay.
    """

    def __init__(self, *, size: int = 10_000, ttl: float = 300) -> None:
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, now: float) -> Principal | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            if now >= entry[1]:
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return entry[0]

    def put(self, token: str, principal: Principal, expires: Any, now: float) -> None:
        if not isinstance(expires, int | float) or expires <= now:
            return
        with self._lock:
            self._entries[token] = (principal, min(float(expires), now + self.ttl))
            self._entries.move_to_end(token)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class TokenVerifier:
    """Validates bearer tokens against the configured issuers and returns the Principal."""

    def __init__(self, issuers: Iterable[_Issuer]) -> None:
        self._issuers = {i.config.issuer: i for i in issuers}
        self._verified = _VerifiedTokens()

    @classmethod
    def from_settings(cls, settings: Settings, local_key: SigningKey) -> TokenVerifier:
        issuers = [
            _Issuer(
                IssuerConfig(issuer=settings.issuer, audience=settings.audience),
                static_keys=_import_jwks(local_key.public_jwks()),
            )
        ]
        for config in settings.trusted_issuers:
            if config.jwks_file:
                keys = _import_jwks(json.loads(Path(config.jwks_file).read_text()))
                issuers.append(_Issuer(config, static_keys=keys))
            elif config.jwks_uri:
                issuers.append(_Issuer(config, remote=_RemoteJwks(config.jwks_uri)))
            else:
                raise ValueError(f"issuer {config.issuer} needs jwks_uri or jwks_file")
        return cls(issuers)

    def verify(self, token: str) -> Principal:
        now = time.time()
        principal = self._verified.get(token, now)
        if principal is None:
            principal, expires = self._verify(token)
            self._verified.put(token, principal, expires, now)
        return principal

    def _verify(self, token: str) -> tuple[Principal, Any]:
        header, unverified_claims = _peek(token)
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(
                f"the access token uses a refused algorithm ({header.get('alg')!r})",
                headers=_challenge("invalid_token"),
            )
        issuer_name = unverified_claims.get("iss")
        issuer = self._issuers.get(issuer_name) if isinstance(issuer_name, str) else None
        if issuer is None:
            raise Unauthorized(
                "the access token comes from an issuer this server does not trust",
                headers=_challenge("invalid_token"),
            )
        try:
            verified = self._decode_with(issuer, token)
        except JoseError as error:
            raise Unauthorized(
                "the access token signature is invalid", headers=_challenge("invalid_token")
            ) from error
        self._validate_claims(issuer.config, verified.header, verified.claims)
        return _principal_from(issuer.config, verified.claims), verified.claims.get("exp")

    def _decode_with(self, issuer: _Issuer, token: str) -> Any:
        try:
            return jwt.decode(token, issuer.keys(), algorithms=ALGORITHMS)
        except JoseError:
            if issuer.remote is None:
                raise
            # the issuer may have rotated its keys since we cached them
            return jwt.decode(token, issuer.remote.get(refresh=True), algorithms=ALGORITHMS)

    @staticmethod
    def _validate_claims(
        config: IssuerConfig, header: Mapping[str, Any], claims: Mapping[str, Any]
    ) -> None:
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": config.issuer},
            "aud": {"essential": True, "value": config.audience},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if config.rfc9068:
            typ = str(header.get("typ", "")).lower()
            if typ not in ("at+jwt", "application/at+jwt"):
                raise Unauthorized(
                    "the access token is not an RFC 9068 JWT access token (typ must be at+jwt)",
                    headers=_challenge("invalid_token"),
                )
            options.update(
                {
                    "client_id": {"essential": True},
                    "iat": {"essential": True},
                    "jti": {"essential": True},
                }
            )
        registry = JWTClaimsRegistry(leeway=CLOCK_LEEWAY_S, **options)
        try:
            registry.validate(dict(claims))
        except ExpiredTokenError as error:
            raise Unauthorized(
                "the access token has expired (exp)", headers=_challenge("invalid_token")
            ) from error
        except ClaimError as error:
            raise Unauthorized(
                f"the access token was refused: {error.description} (claim {error.claim})",
                headers=_challenge("invalid_token"),
            ) from error
        except JoseError as error:
            reason = getattr(error, "description", None) or error.error
            raise Unauthorized(
                f"the access token was refused: {reason}", headers=_challenge("invalid_token")
            ) from error


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read header and claims before choosing the issuer; nothing read here is trusted."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as error:
        raise Unauthorized(
            "the access token is malformed", headers=_challenge("invalid_token")
        ) from error
    if not isinstance(claims, dict):
        raise Unauthorized("the access token is malformed", headers=_challenge("invalid_token"))
    return dict(compact.headers()), claims


def _principal_from(config: IssuerConfig, claims: Mapping[str, Any]) -> Principal:
    raw_role = claims.get("dcc_role") or config.default_role
    try:
        role = Role(str(raw_role))
    except ValueError as error:
        raise Forbidden(f"the token carries no role this server knows ({raw_role!r})") from error
    rpps = claims.get("dcc_rpps") or claims.get(config.rpps_claim)
    finess = claims.get("dcc_finess") or []
    if isinstance(finess, str):
        finess = [finess]
    principal = Principal(
        subject=str(claims["sub"]),
        role=role,
        issuer=config.issuer,
        region=claims.get("dcc_region"),
        finess=frozenset(str(f) for f in finess),
        rpps=str(rpps) if rpps else None,
        client_id=claims.get("client_id"),
        on_behalf_of=claims.get("dcc_on_behalf_of"),
    )
    _check_perimeter(principal)
    return principal


def _check_perimeter(principal: Principal) -> None:
    missing = {
        Role.REGIONAL_ADMIN: not principal.region,
        Role.COORDINATOR_3C: not principal.finess,
        Role.PHYSICIAN: not principal.rpps,
        Role.RCP_SOFTWARE: not (principal.region or principal.finess),
    }.get(principal.role, False)
    if missing:
        raise Forbidden(f"a {principal.role.value} token must carry its perimeter claim")


def _challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="dcc-services", error="{error}"'}


# --- request-time access ------------------------------------------------------------------


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(verifier: TokenVerifier) -> Principal:
    """Validate the request's bearer token and remember the caller for this request."""
    token = bearer_token()
    if token is None:
        raise Unauthorized(
            "this operation needs a bearer access token",
            headers={"WWW-Authenticate": 'Bearer realm="dcc-services"'},
        )
    principal = verifier.verify(token)
    g.principal = principal
    return principal


def current_principal() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Unauthorized("this operation needs a bearer access token")
    return principal


def require_role(principal: Principal, roles: Iterable[Role]) -> None:
    allowed = set(roles)
    if principal.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise Forbidden(
            f"role {principal.role.value} may not call this operation (allowed: {names})"
        )
