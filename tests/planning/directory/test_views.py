"""Directory API: JSON lookups and FHIR views, with their 401/404/422 rules."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner

from core.auth import Role
from planning.directory import services


@pytest.fixture
def directory(create_practitioner, create_organization):
    create_organization(
        finess="290000017", name="CHRU BREST", category_code="101", lat=48.3905, lon=-4.486
    )
    create_organization(name="CH DE CORNOUAILLE", lat=47.996, lon=-4.102)
    create_practitioner(
        rpps="10101010105",
        last_name="LE GALL-KERBRAT",
        first_name="Bénédicte",
        activities=[
            {"specialty_code": "SM36", "finess_site": "290000017", "structure_name": "CHRU"},
            {"specialty_code": "SM37", "department": "35", "active": False},
        ],
    )
    create_practitioner(rpps="10101010200", last_name="KERBRAT", first_name="Yann")
    for index in range(3):
        create_practitioner(last_name=f"MORVAN{index}", first_name="Erwan")


@pytest.fixture
def headers(auth_header):
    return auth_header(role=Role.PHYSICIAN.value, rpps="10101010105")


@pytest.mark.parametrize(
    "path",
    [
        "/directory/practitioners?name=x",
        "/directory/practitioners/10101010105",
        "/directory/organizations",
        "/directory/organizations/290000017",
        "/fhir/Practitioner",
        "/fhir/Organization/290000017",
    ],
)
def test_a_token_is_required(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_may_read_the_directory(client, auth_header, directory, role):
    perimeter = {
        "regional_admin": {"region": "53"},
        "coordinator_3c": {"finess": ["290000017"]},
        "physician": {"rpps": "10101010105"},
        "rcp_software": {"finess": ["290000017"]},
    }.get(role, {})
    response = client.get(
        "/directory/practitioners/10101010105", headers=auth_header(role=role, **perimeter)
    )
    assert response.status_code == 200


def test_search_practitioners(client, headers, directory):
    response = client.get("/directory/practitioners?name=kerbrat", headers=headers)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["total"] == 2 and body["page"] == 1 and body["page_size"] == 50
    # Same matched word: ordered by name.
    assert [p["last_name"] for p in body["items"]] == ["KERBRAT", "LE GALL-KERBRAT"]
    first = body["items"][1]
    assert first["specialties"] == ["SM36"]
    assert first["id_type"] == "RPPS"
    assert first["warnings"] == []


def test_search_accents_and_filters(client, headers, directory):
    body = client.get(
        "/directory/practitioners?name=benedicte&specialty=SM36&region=53", headers=headers
    ).get_json()
    assert [p["first_name"] for p in body["items"]] == ["Bénédicte"]
    body = client.get("/directory/practitioners?specialty=SM37", headers=headers).get_json()
    assert body["total"] == 0  # that activity is no longer active


def test_search_paging(client, headers, directory):
    body = client.get("/directory/practitioners?name=erwan&page=2&page_size=2", headers=headers)
    body = body.get_json()
    assert (body["total"], len(body["items"]), body["page"]) == (3, 1, 2)


def test_search_arguments_are_validated(client, headers):
    response = client.get("/directory/practitioners?page_size=500", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "page_size"
    response = client.get("/directory/organizations?near=abc", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "near"


def test_practitioner_by_rpps(client, headers, directory):
    response = client.get("/directory/practitioners/10101010105", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["rpps"] == "10101010105" and body["national_id"] == "810101010105"
    assert [a["specialty_code"] for a in body["activities"]] == ["SM36", "SM37"]
    assert [a["active"] for a in body["activities"]] == [True, False]


def test_luhn_failure_is_a_warning(client, headers, directory):
    body = client.get("/directory/practitioners/10101010200", headers=headers).get_json()
    assert body["last_name"] == "KERBRAT"
    assert "Luhn" in body["warnings"][0]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/directory/practitioners/1010101010", 422, "rpps"),
        ("/directory/practitioners/1010101010A", 422, "rpps"),
        ("/directory/practitioners/10101010119", 404, None),
        ("/directory/organizations/29000001", 422, "finess"),
        ("/directory/organizations/29000001Z", 422, "finess"),
        ("/directory/organizations/290000025", 404, None),
        ("/fhir/Practitioner/12", 422, "id"),
        ("/fhir/Practitioner/810101010119", 404, None),
        ("/fhir/Organization/123", 422, "finess"),
    ],
)
def test_unknown_and_malformed_numbers(client, headers, directory, path, status, field):
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    if field:
        assert body["errors"][0]["field"] == field
    else:
        assert "no " in body["detail"]


def test_unknown_number_failing_luhn_warns(client, headers):
    body = client.get("/directory/practitioners/10101010102", headers=headers).get_json()
    assert body["status"] == 404
    assert "Luhn" in body["warnings"][0]


def test_organizations(client, headers, directory):
    body = client.get("/directory/organizations?name=brest", headers=headers).get_json()
    assert [o["finess"] for o in body["items"]] == ["290000017"]
    body = client.get(
        "/directory/organizations?near=48.39,-4.49&radius_km=100", headers=headers
    ).get_json()
    assert [o["name"] for o in body["items"]] == ["CHRU BREST", "CH DE CORNOUAILLE"]
    assert body["items"][0]["distance_km"] < 1
    response = client.get("/directory/organizations/290000017", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["category_code"] == "101"


def test_fhir_practitioner_search_bundle(client, headers, directory):
    response = client.get("/fhir/Practitioner?name=erwan&_count=2", headers=headers)
    assert response.status_code == 200
    assert response.content_type == "application/fhir+json"
    body = response.get_json()
    bundle = Bundle.model_validate(body)
    assert bundle.type == "searchset" and bundle.total == 3
    for entry in body["entry"]:
        Practitioner.model_validate(entry["resource"])
    next_url = next(link["url"] for link in body["link"] if link["relation"] == "next")
    assert next_url.endswith("/fhir/Practitioner?name=erwan&_count=2&_page=2")
    parts = urlsplit(next_url)
    page_two = client.get(f"{parts.path}?{parts.query}", headers=headers)
    assert len(page_two.get_json()["entry"]) == 1
    assert all(link["relation"] != "next" for link in page_two.get_json()["link"])


def test_fhir_practitioner_by_identifier_and_qualification(client, headers, directory):
    body = client.get(
        "/fhir/Practitioner?identifier=https://rpps.esante.gouv.fr|10101010105", headers=headers
    ).get_json()
    assert [e["resource"]["id"] for e in body["entry"]] == ["810101010105"]
    body = client.get("/fhir/Practitioner?qualification-code=SM36", headers=headers).get_json()
    assert body["total"] == 5  # the factory's default specialty is SM36


def test_fhir_practitioner_read(client, headers, directory):
    for resource_id in ("810101010105", "10101010105"):
        response = client.get(f"/fhir/Practitioner/{resource_id}", headers=headers)
        assert response.status_code == 200
        assert response.content_type == "application/fhir+json"
        Practitioner.model_validate(response.get_json())


def test_fhir_practitioner_roles(client, headers, directory):
    body = client.get(
        "/fhir/PractitionerRole?organization=Organization/290000017", headers=headers
    ).get_json()
    Bundle.model_validate(body)
    assert [e["resource"]["id"].split("-")[0] for e in body["entry"]] == ["810101010105"]
    body = client.get(
        "/fhir/PractitionerRole?practitioner=Practitioner/810101010105", headers=headers
    ).get_json()
    Bundle.model_validate(body)
    assert len(body["entry"]) == 2


def test_fhir_roles_past_a_capped_total_leave_it_out_and_link_on(
    client, headers, directory, monkeypatch
):
    # 5 professionals with SM36, exact count up to 3: no total, a next link after a full page.
    monkeypatch.setattr(services, "TOTAL_CAP", 3)
    body = client.get("/fhir/PractitionerRole?specialty=SM36&_count=2&_page=2", headers=headers)
    body = body.get_json()
    assert "total" not in body
    assert any(link["relation"] == "next" for link in body["link"])
    json_body = client.get("/directory/practitioners?specialty=SM36", headers=headers).get_json()
    assert (json_body["total"], len(json_body["items"])) == (4, 5)


def test_fhir_organizations(client, headers, directory):
    body = client.get("/fhir/Organization?name=cornouaille", headers=headers).get_json()
    Bundle.model_validate(body)
    assert body["total"] == 1
    body = client.get("/fhir/Organization?address-postalcode=2", headers=headers).get_json()
    assert body["total"] == 0  # the factory sets no postal code
    response = client.get("/fhir/Organization/290000017", headers=headers)
    assert response.content_type == "application/fhir+json"
    resource = Organization.model_validate(response.get_json())
    assert resource.id == "290000017"


def test_the_json_search_reads_outside_a_transaction_with_every_filter(
    client, headers, committed_db, create_practitioner
):
    # Real connections (committed_db): on PostgreSQL the search runs without a transaction,
    # its statements unprepared (the region's departments one array parameter). The answers
    # stay the same past psycopg's prepare threshold (5 runs of a statement).
    create_practitioner(last_name="MARTIN", first_name="Bénédicte")
    create_practitioner(last_name="MARTIN", first_name="Benoît", activities=[{"department": "75"}])
    for _ in range(7):
        found = client.get(
            "/directory/practitioners?name=mar%20ben&region=53&page_size=5", headers=headers
        ).get_json()
        assert [item["first_name"] for item in found["items"]] == ["Bénédicte"]
        assert found["total"] == 1
    assert client.get("/directory/practitioners?name=ben", headers=headers).get_json()["total"] == 2
