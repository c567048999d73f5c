"""A query parameter nobody declared is refused (422), so a misspelt filter never widens a list.

Found the hard way: the mixed load test searched ``/directory/practitioners?q=...`` for a
session, and every "search" was the unfiltered national list.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/directory/practitioners?q=martin",
        "/directory/organizations?nmae=brest",
        "/planning/sessions?regoin=53",
        "/trials?query=egfr",
        "/guidelines/referentials?levle=national",
        "/audit/events?entity_type=session&bogus=1",
    ],
)
def test_unknown_query_parameter_is_422_naming_it(client, auth_header, path):
    response = client.get(path, headers=auth_header(role="national_admin"))
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    unknown = path.split("?")[1].split("&")[-1].split("=")[0]
    assert [e["field"] for e in body["errors"]] == [unknown]
    assert body["errors"][0]["location"] == "query"
    assert repr(unknown) in body["detail"]
    assert "this operation takes" in body["detail"]


def test_parameters_of_every_query_schema_of_an_operation_are_accepted(client, auth_header):
    # /trials parses its filters and the pagination from the same query string
    response = client.get(
        "/trials?q=lung&page=1&page_size=5",
        headers=auth_header(role="physician", rpps="10001234567"),
    )
    assert response.status_code == 200, response.get_json()


def test_several_unknown_parameters_are_all_named(client, auth_header):
    response = client.get(
        "/directory/practitioners?name=mar&x=1&y=2", headers=auth_header(role="national_admin")
    )
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.get_json()["errors"]) == ["x", "y"]


def test_fhir_search_ignores_unsupported_parameters_as_fhir_servers_do(client, auth_header):
    response = client.get(
        "/fhir/Practitioner?name=martin&_elements=id", headers=auth_header(role="national_admin")
    )
    assert response.status_code == 200


def test_the_check_comes_after_authentication(client):
    assert client.get("/directory/practitioners?q=martin").status_code == 401
