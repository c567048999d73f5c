"""The client-credentials token endpoint, end to end, and the clients CLI."""

from __future__ import annotations

import base64
import json

from core import oauth
from core.db import db


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _client(**kwargs):
    created = oauth.create_client(name="DxCare CHU Brest", **kwargs)
    db.session.commit()
    return created


def test_token_from_the_endpoint_is_accepted_and_one_changed_character_is_not(client):
    created = _client(finess=["290000017"])
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(created.client.client_id, created.secret),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"].lower() == "bearer"
    assert response.headers["Cache-Control"] == "no-store"
    token = body["access_token"]

    # The token names a role that may not read the audit trail, but it is authenticated:
    ok = client.get("/audit/events", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 403
    _, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert claims["dcc_role"] == "rcp_software"
    assert claims["dcc_finess"] == ["290000017"]
    assert claims["client_id"] == created.client.client_id

    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    refused = client.get("/audit/events", headers={"Authorization": f"Bearer {changed}"})
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"


def test_client_secret_post_works(client):
    created = _client(region="53")
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.client.client_id,
            "client_secret": created.secret,
        },
    )
    assert response.status_code == 200


def test_wrong_secret_is_invalid_client(client):
    created = _client(region="53")
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(created.client.client_id, "wrong"),
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_revoked_client_cannot_get_tokens(client):
    created = _client(region="53")
    oauth.revoke_client(client_id=created.client.client_id)
    db.session.commit()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(created.client.client_id, created.secret),
    )
    assert response.status_code == 401


def test_unsupported_grant(client):
    created = _client(region="53")
    response = client.post(
        "/oauth/token",
        data={"grant_type": "password"},
        headers=_basic(created.client.client_id, created.secret),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_secret_is_stored_hashed():
    created = _client(region="53")
    stored = db.session.get(oauth.OAuthClient, created.client.id)
    assert created.secret not in stored.secret_hash
    assert stored.secret_hash == oauth.hash_secret(created.secret)


def test_token_endpoint_is_rate_limited(app):
    from core.ratelimit import RateLimiter

    limiter = RateLimiter("2/minute")
    limiter.hit("1.2.3.4", now=60.0)
    limiter.hit("1.2.3.4", now=61.0)
    try:
        limiter.hit("1.2.3.4", now=62.0)
    except Exception as error:
        assert error.status == 429
        assert error.headers["Retry-After"] == "58"
    else:
        raise AssertionError("the third hit should be refused")
    limiter.hit("1.2.3.4", now=121.0)  # a new window


def test_token_endpoint_answers_429_problem(client, app, monkeypatch):
    created = _client(region="53")
    headers = _basic(created.client.client_id, created.secret)
    statuses = [
        client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=headers,
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        ).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_clients_cli(app, db_session):
    runner = app.test_cli_runner()
    from server.cli import main

    result = runner.invoke(main, ["clients", "create", "--name", "Logiciel X", "--region", "53"])
    assert result.exit_code == 0, result.output
    client_id = json.loads(result.output[: result.output.index("}") + 1])["client_id"]
    listed = runner.invoke(main, ["clients", "list"])
    assert client_id in listed.output and "active" in listed.output
    revoked = runner.invoke(main, ["clients", "revoke", client_id])
    assert revoked.exit_code == 0
    again = runner.invoke(main, ["clients", "revoke", client_id])
    assert again.exit_code != 0 and "already revoked" in again.output
    missing_perimeter = runner.invoke(main, ["clients", "create", "--name", "Y"])
    assert missing_perimeter.exit_code != 0 and "perimeter" in missing_perimeter.output
