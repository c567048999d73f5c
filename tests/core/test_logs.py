"""Logs carry request ids and never secrets, tokens, query strings or bodies."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest

from core import oauth
from core.db import db
from core.logs import JsonFormatter, redact_path


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dcc")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def test_a_full_run_logs_no_secret(client, captured_logs):
    created = oauth.create_client(name="Logiciel X", region="53")
    db.session.commit()
    basic = base64.b64encode(f"{created.client.client_id}:{created.secret}".encode()).decode()
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    ).get_json()["access_token"]
    client.get(
        "/audit/events?page=1&entity_id=secret-query-value",
        headers={"Authorization": f"Bearer {token}"},
    )
    client.get("/audit/events", headers={"Authorization": f"Bearer {token}x"})
    client.get("/feeds/abcdefsecretfeedtoken.ics")
    client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": "wrong-secret-value"},
    )
    text = captured_logs.getvalue()
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) >= 5
    assert all(r.get("request_id") for r in records if r["logger"] == "dcc.request")
    for secret in (
        created.secret,
        token,
        token[-20:],
        "secret-query-value",
        "abcdefsecretfeedtoken",
        "wrong-secret-value",
        basic,
    ):
        assert secret not in text
    assert any(r.get("path") == "/feeds/***" for r in records)


def test_redact_path():
    assert redact_path("/feeds/abc123.ics") == "/feeds/***"
    assert redact_path("/planning/sessions/3") == "/planning/sessions/3"


def test_cors_is_closed_by_default(client):
    response = client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allow_list(database_url, tmp_path):
    from server.app import create_app

    app = create_app(
        env="testing",
        database_url=database_url,
        instance_dir=tmp_path,
        signing_key_file=tmp_path / "k.pem",
        log_level="WARNING",
        cors_origins=("https://rcp.chu-brest.fr",),
    )
    client = app.test_client()
    allowed = client.get("/health/live", headers={"Origin": "https://rcp.chu-brest.fr"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://rcp.chu-brest.fr"
    refused = client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
