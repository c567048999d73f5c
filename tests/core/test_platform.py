"""Health, version, configuration and the audit trail."""

from __future__ import annotations

import pytest

from core import audit
from core.auth import Principal, Role
from core.config import ConfigurationError, Settings
from core.db import db


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_ready_checks_database_migrations_and_index(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert checks["database"]["ok"] and checks["migrations"]["detail"] == "at head"
    assert checks["index_dir"]["ok"]


def test_ready_reports_a_failing_check(app, client):
    platform = app.extensions["dcc"]
    platform.readiness_checks["drill"] = lambda: (False, "index missing")
    try:
        response = client.get("/health/ready")
    finally:
        del platform.readiness_checks["drill"]
    assert response.status_code == 503
    assert response.get_json()["checks"]["drill"] == {"ok": False, "detail": "index missing"}


def test_version(client):
    body = client.get("/version").get_json()
    assert body["name"] == "dcc-services"
    assert body["migration"]
    assert body["database"] in {"sqlite", "postgresql"}


def test_jwks_and_metadata(client, app):
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert keys[0]["kid"] == app.extensions["dcc"].signing_key.kid
    assert "d" not in keys[0], "the private exponent must never be published"
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert meta["grant_types_supported"] == ["client_credentials"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secret_key": "change-me"}, "DCC_SECRET_KEY"),
        ({"secret_key": "x" * 40, "database_url": "sqlite:///x.db"}, "PostgreSQL"),
        ({"secret_key": "x" * 40, "public_url": "http://dcc.example"}, "https://"),
    ],
)
def test_production_refuses_weak_settings(tmp_path, overrides, message):
    values = {
        "env": "production",
        "database_url": "postgresql+psycopg://u@h/db",
        "public_url": "https://dcc.example",
        "signing_key_file": tmp_path / "none.pem",
    }
    values.update(overrides)
    with pytest.raises(ConfigurationError, match=message):
        Settings(**values).check()


def test_production_accepts_strong_settings(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("pem")
    Settings(
        env="production",
        secret_key="k" * 48,
        signing_key_file=key,
        database_url="postgresql+psycopg://u@h/db",
        public_url="https://dcc.example",
    ).check()


def test_settings_from_env_reads_prefixed_variables(tmp_path):
    settings = Settings.from_env(
        {
            "DCC_INSTANCE_DIR": str(tmp_path),
            "DCC_AUDIENCE": "aud-x",
            "DCC_CORS_ORIGINS": "https://a.fr,https://b.fr",
        }
    )
    assert settings.database_url == f"sqlite:///{tmp_path / 'dcc.sqlite3'}"
    assert settings.index_dir == tmp_path / "index"
    assert settings.audience == "aud-x"
    assert settings.cors_origins == ("https://a.fr", "https://b.fr")


def test_audit_trail_is_readable_by_admins_within_their_region(client, auth_header):
    regional = Principal("admin-53", Role.REGIONAL_ADMIN, "local", region="53")
    audit.record(regional, "create", "rcp", 1, region="53", changes={"title": [None, "Poumon"]})
    audit.record(regional, "create", "rcp", 2, region="11")
    db.session.commit()
    own = client.get("/audit/events", headers=auth_header(role="regional_admin", region="53"))
    assert own.status_code == 200
    assert [e["entity_id"] for e in own.get_json()["items"]] == ["1"]
    other = client.get(
        "/audit/events?region=11", headers=auth_header(role="regional_admin", region="53")
    )
    assert other.status_code == 403
    national = client.get("/audit/events", headers=auth_header(role="national_admin"))
    assert national.get_json()["total"] == 2
