"""Settings read from the environment (prefix ``DCC_``), with safe local defaults."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Settings that are secrets must not keep these values in production.
WEAK_SECRETS = {"", "change-me", "dev", "development", "secret", "dev-secret-not-for-production"}
MIN_SECRET_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The configuration cannot run safely (raised at start-up, never at request time)."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class IssuerConfig:
    """A token issuer this server trusts (the local one or an OpenID Connect provider)."""

    issuer: str
    audience: str
    jwks_uri: str | None = None
    jwks_file: str | None = None
    #: Claim holding the RPPS number of a physician (Pro Santé Connect: configurable).
    rpps_claim: str = "rpps"
    #: Role given to a subject of this issuer when the token carries no ``dcc_role``.
    default_role: str | None = None
    #: Require the RFC 9068 ``at+jwt`` profile (client_id, jti, iat claims).
    rfc9068: bool = True


@dataclass(frozen=True)
class Settings:
    """Every setting of the server; ``from_env`` is the only constructor used in production."""

    env: str = "development"
    instance_dir: Path = Path("instance")
    database_url: str = ""
    index_dir: Path = Path("instance/index")
    #: PostgreSQL: where this node keeps its copy of the directory's search tables
    #: (``planning.directory.replica``); None: the name search reads the database.
    directory_replica_dir: Path | None = None
    secret_key: str = "dev-secret-not-for-production"  # noqa: S105 - refused in production
    public_url: str = "http://127.0.0.1:8000"
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "dcc-services"
    signing_key_file: Path = Path("instance/signing-key.pem")
    token_ttl: int = 3600
    trusted_issuers: tuple[IssuerConfig, ...] = ()
    max_content_length: int = 16 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    rate_limit_token: str = "30/minute"  # noqa: S105 - a rate, not a secret
    rate_limit_feeds: str = "120/minute"
    log_level: str = "INFO"
    log_format: str = "json"
    db_pool_size: int = 5
    db_statement_timeout_ms: int = 5000
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "dcc-services@localhost"
    #: OpenID Connect sign-in of the web pages (Pro Santé Connect style); empty: demo only.
    oidc_metadata_url: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scope: str = "openid"
    oidc_rpps_claim: str = "SubjectNameID"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``DCC_*`` variables; ``overrides`` win (used by tests)."""
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default: str) -> str:
            return env.get(f"DCC_{name}", default)

        instance_dir = Path(get("INSTANCE_DIR", "instance")).resolve()
        database_url = get("DATABASE_URL", f"sqlite:///{instance_dir / 'dcc.sqlite3'}")
        issuers = tuple(IssuerConfig(**item) for item in json.loads(get("TRUSTED_ISSUERS", "[]")))
        values: dict[str, Any] = {
            "env": get("ENV", "development"),
            "instance_dir": instance_dir,
            "database_url": database_url,
            "index_dir": Path(get("INDEX_DIR", str(instance_dir / "index"))).resolve(),
            "directory_replica_dir": _optional_path(
                get("DIRECTORY_REPLICA_DIR", str(instance_dir / "directory-replica"))
            ),
            "secret_key": get("SECRET_KEY", "dev-secret-not-for-production"),
            "public_url": get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            "issuer": get("ISSUER", get("PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/"),
            "audience": get("AUDIENCE", "dcc-services"),
            "signing_key_file": Path(
                get("SIGNING_KEY_FILE", str(instance_dir / "signing-key.pem"))
            ).resolve(),
            "token_ttl": int(get("TOKEN_TTL", "3600")),
            "trusted_issuers": issuers,
            "max_content_length": int(get("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))),
            "cors_origins": tuple(o for o in get("CORS_ORIGINS", "").split(",") if o.strip()),
            "rate_limit_token": get("RATE_LIMIT_TOKEN", "30/minute"),
            "rate_limit_feeds": get("RATE_LIMIT_FEEDS", "120/minute"),
            "log_level": get("LOG_LEVEL", "INFO"),
            "log_format": get("LOG_FORMAT", "json"),
            "db_pool_size": int(get("DB_POOL_SIZE", "5")),
            "db_statement_timeout_ms": int(get("DB_STATEMENT_TIMEOUT_MS", "5000")),
            "smtp_host": get("SMTP_HOST", ""),
            "smtp_port": int(get("SMTP_PORT", "25")),
            "smtp_from": get("SMTP_FROM", "dcc-services@localhost"),
            "oidc_metadata_url": get("OIDC_METADATA_URL", ""),
            "oidc_client_id": get("OIDC_CLIENT_ID", ""),
            "oidc_client_secret": get("OIDC_CLIENT_SECRET", ""),
            "oidc_scope": get("OIDC_SCOPE", "openid"),
            "oidc_rpps_claim": get("OIDC_RPPS_CLAIM", "SubjectNameID"),
        }
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse to run in production with missing or weak secrets."""
        if self.env not in {"development", "testing", "production"}:
            raise ConfigurationError(
                f"DCC_ENV must be development, testing or production, not {self.env!r}"
            )
        if not self.production:
            return
        problems = []
        if self.secret_key in WEAK_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH:
            problems.append(
                f"DCC_SECRET_KEY must be a random string of at least {MIN_SECRET_LENGTH} characters"
            )
        if not self.signing_key_file.is_file():
            problems.append(
                f"DCC_SIGNING_KEY_FILE {self.signing_key_file} does not exist "
                "(the token signing key is never generated in production)"
            )
        if self.database_url.startswith("sqlite"):
            problems.append("DCC_DATABASE_URL must point to PostgreSQL in production")
        if not self.public_url.startswith("https://"):
            problems.append("DCC_PUBLIC_URL must be an https:// URL in production")
        if problems:
            raise ConfigurationError("refusing to start: " + "; ".join(problems))


def _optional_path(value: str) -> Path | None:
    """A directory, or None for "off" (or empty)."""
    if value.strip().lower() in {"", "off", "none", "0", "false", "no"}:
        return None
    return Path(value).resolve()


def as_bool(value: str) -> bool:
    """Parse a boolean environment value ("1", "true", "yes", "on")."""
    return _bool(value)
