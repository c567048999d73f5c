"""Every error is RFC 9457 problem+json; nothing internal leaks."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from core import audit
from core.api import Blueprint, Schema
from core.db import db
from core.errors import Conflict, PreconditionFailed, Unavailable

PROBLEM = "application/problem+json"


def _assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text
    return body


def test_404_unknown_path(client):
    body = _assert_problem(client.get("/no/such/thing"), 404)
    assert body["detail"] == "no resource at /no/such/thing"
    assert body["instance"] == "/no/such/thing"


def test_405_has_allow_header(client):
    response = client.delete("/health/live")
    _assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_413_too_large(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/oauth/token", data={"grant_type": "x" * (limit + 10)})
    _assert_problem(response, 413)


def test_422_query_validation_lists_fields(client, auth_header):
    response = client.get(
        "/audit/events?page=0&page_size=1000", headers=auth_header(role="national_admin")
    )
    body = _assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"page", "page_size"}
    assert all(e["location"] == "query" for e in body["errors"])


def test_request_id_is_echoed_and_in_problems(client):
    response = client.get("/nowhere", headers={"X-Request-ID": "abc12345-rid"})
    assert response.headers["X-Request-ID"] == "abc12345-rid"
    assert response.get_json()["request_id"] == "abc12345-rid"


def test_security_headers(client):
    response = client.get("/health/live")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.fixture(scope="module")
def error_app(database_url, tmp_path_factory) -> Flask:
    """A throwaway app with routes that raise each error the handler must render."""
    from server.app import create_app

    tmp = tmp_path_factory.mktemp("errors")
    app = create_app(
        env="testing",
        database_url=database_url,
        instance_dir=tmp,
        signing_key_file=tmp / "k.pem",
        log_level="CRITICAL",
        log_format="text",
    )
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    blp = Blueprint("boom", __name__, url_prefix="/boom", description="Error drills.")

    class Body(Schema):
        import marshmallow as ma

        age = ma.fields.Integer(required=True)
        nested = ma.fields.Nested(Schema.from_dict({"x": ma.fields.Integer()}))

    @blp.route("/conflict")
    def conflict():
        raise Conflict("the session is full", capacity=12)

    @blp.route("/precondition")
    def precondition():
        raise PreconditionFailed("the resource changed since you read it")

    @blp.route("/unavailable")
    def unavailable():
        raise Unavailable("the search index is being rebuilt", headers={"Retry-After": "30"})

    @blp.route("/database")
    def database():
        raise OperationalError("SELECT secret FROM t", {}, Exception("connection refused"))

    @blp.route("/crash")
    def crash():
        raise RuntimeError("secret internal state /etc/passwd")

    @blp.route("/half-written", methods=["POST"])
    def half_written():
        audit.record(None, "create", "thing", 1)
        db.session.flush()
        raise Conflict("refused after a flush")

    @blp.route("/body", methods=["POST"])
    @blp.arguments(Body)
    def body(data):
        return data

    api.register_blueprint(blp)
    return app


def test_domain_errors(error_app):
    client = error_app.test_client()
    body = _assert_problem(client.get("/boom/conflict"), 409)
    assert body["type"] == "urn:dcc-services:problem:conflict"
    assert body["capacity"] == 12
    _assert_problem(client.get("/boom/precondition"), 412)
    unavailable = client.get("/boom/unavailable")
    _assert_problem(unavailable, 503)
    assert unavailable.headers["Retry-After"] == "30"


def test_database_down_is_503_without_sql(error_app):
    response = error_app.test_client().get("/boom/database")
    body = _assert_problem(response, 503)
    assert "secret" not in response.get_data(as_text=True)
    assert body["type"].endswith("database-unavailable")


def test_unexpected_error_is_500_without_details(error_app):
    response = error_app.test_client().get("/boom/crash")
    _assert_problem(response, 500)
    assert "passwd" not in response.get_data(as_text=True)


def test_body_validation_has_pointers_and_rejects_unknown_fields(error_app):
    response = error_app.test_client().post(
        "/boom/body", json={"age": "old", "patient_name": "DUPONT", "nested": {"x": "y"}}
    )
    body = _assert_problem(response, 422)
    by_pointer = {e["pointer"]: e["detail"] for e in body["errors"]}
    assert by_pointer["#/age"] == "Not a valid integer."
    assert by_pointer["#/patient_name"] == "Unknown field."
    assert by_pointer["#/nested/x"] == "Not a valid integer."
    assert "patient_name" in body["detail"]


def test_malformed_json_is_400(error_app):
    response = error_app.test_client().post(
        "/boom/body", data="{not json", headers={"Content-Type": "application/json"}
    )
    _assert_problem(response, 400)


def test_415_non_json_body(error_app):
    response = error_app.test_client().post(
        "/boom/body", data="age=3", headers={"Content-Type": "text/plain"}
    )
    body = _assert_problem(response, 415)
    assert "text/plain" in body["detail"]


def test_nul_characters_are_refused_before_reaching_the_database(client, auth_header):
    response = client.get(
        "/audit/events?entity_id=a%00b", headers=auth_header(role="national_admin")
    )
    body = _assert_problem(response, 422)
    assert "NUL" in body["detail"]


def test_nul_in_a_json_body_is_refused(error_app):
    response = error_app.test_client().post(
        "/boom/body",
        data='{"age": 3, "nested": {"x": 1}, "s": "a\\u0000"}',
        headers={"Content-Type": "application/json"},
    )
    body = _assert_problem(response, 422)
    assert "NUL" in body["detail"]


def test_a_failed_request_leaves_nothing_behind(error_app, db_session):
    from sqlalchemy import func, select

    client = error_app.test_client()
    # Inside an outer application context (as in a worker reusing its session, or a test),
    # no teardown runs between requests: only the error handlers' rollback undoes the flush.
    with error_app.app_context():
        before = db.session.scalar(select(func.count()).select_from(audit.AuditEvent))
        assert client.post("/boom/half-written").status_code == 409
        after = db.session.scalar(select(func.count()).select_from(audit.AuditEvent))
    assert after == before
