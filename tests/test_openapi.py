"""The committed OpenAPI document is the one the code generates; it is served and documented."""

from __future__ import annotations

import json
from pathlib import Path

from server.openapi import dumps, spec_of

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_committed_document_is_in_sync(app):
    generated = dumps(spec_of(app))
    committed = COMMITTED.read_text(encoding="utf-8")
    assert committed == generated, "openapi/openapi.json is stale: run `make openapi`"


def test_served_document_and_offline_swagger_ui(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    docs = client.get("/docs")
    assert docs.status_code == 200
    html = docs.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "unpkg" not in html
    with client.get("/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200
        assert len(asset.get_data()) > 100_000


def test_every_secured_operation_states_its_roles_and_errors_are_problem_json():
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), f"{where} has no summary (docstring)"
            if operation.get("security") == []:
                continue
            assert operation.get("x-dcc-roles"), f"{where} does not state who may call it"
            assert {"401", "403"} <= set(operation["responses"]), where
    default_error = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert "application/problem+json" in default_error["content"]
