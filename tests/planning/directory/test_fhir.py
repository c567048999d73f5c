"""FHIR R4 resources of the directory, validated with fhir.resources (R4B models)."""

from __future__ import annotations

from types import SimpleNamespace

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole

from planning.directory import fhir


def _activity(**overrides):
    values = {
        "id": 7,
        "active": True,
        "profession_code": "10",
        "profession_label": "Médecin",
        "specialty_code": "SM36",
        "specialty_label": "Oncologie, option médicale",
        "mode_exercice": "S",
        "finess_site": "290000017",
        "structure_name": "CHRU BREST",
        "phone": "0298223333",
        "email": None,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def _practitioner(**overrides):
    values = {
        "national_id": "810101010101",
        "rpps": "10101010101",
        "last_name": "LE GALL-KERBRAT",
        "first_name": "Bénédicte",
        "exercise_civility": "DR",
        "active": True,
        "activities": [_activity(), _activity(id=8, specialty_code=None, finess_site=None)],
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def _organization(**overrides):
    values = {
        "finess": "290000017",
        "kind": "ET",
        "finess_ej": "290000009",
        "name": "CHRU BREST",
        "long_name": "CHRU DE BREST - HOPITAL MORVAN",
        "category_code": "101",
        "category_label": "Centre hospitalier régional (CHR)",
        "address": "2 AV FOCH",
        "postal_code": "29200",
        "city": "Brest",
        "phone": "0298223333",
        "lat": 48.3905,
        "lon": -4.486,
        "active": True,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_practitioner_follows_ans_identifiers():
    resource = fhir.practitioner(_practitioner())
    Practitioner.model_validate(resource)
    systems = {
        i["type"]["coding"][0]["code"]: (i["system"], i["value"]) for i in resource["identifier"]
    }
    assert systems == {
        "IDNPS": ("urn:oid:1.2.250.1.71.4.2.1", "810101010101"),
        "RPPS": ("https://rpps.esante.gouv.fr", "10101010101"),
    }
    codes = [q["code"]["coding"][0]["code"] for q in resource["qualification"]]
    assert codes == ["10", "SM36"]
    assert resource["name"][0] == {
        "use": "usual",
        "family": "LE GALL-KERBRAT",
        "given": ["Bénédicte"],
        "prefix": ["DR"],
    }


def test_adeli_practitioner_without_activities():
    resource = fhir.practitioner(
        _practitioner(rpps=None, national_id="0010001949", first_name="", activities=[])
    )
    Practitioner.model_validate(resource)
    assert "qualification" not in resource
    assert resource["identifier"][1]["type"]["coding"][0]["code"] == "ADELI"


def test_practitioner_roles():
    roles = fhir.practitioner_roles(_practitioner())
    for role in roles:
        PractitionerRole.model_validate(role)
    assert [r["id"] for r in roles] == ["810101010101-7", "810101010101-8"]
    assert roles[0]["organization"]["reference"] == "Organization/290000017"
    assert roles[0]["specialty"][0]["coding"][0]["code"] == "SM36"
    assert "organization" not in roles[1]
    assert [r["id"] for r in fhir.practitioner_roles(_practitioner(), finess="290000017")] == [
        "810101010101-7"
    ]


def test_organization():
    resource = fhir.organization(_organization())
    Organization.model_validate(resource)
    identifiers = {i["type"]["coding"][0]["code"]: i["value"] for i in resource["identifier"]}
    assert identifiers == {"FINEG": "290000017", "IDNST": "1290000017"}
    assert resource["type"][1]["coding"][0]["code"] == "101"
    assert resource["partOf"]["reference"] == "Organization/290000009"
    assert resource["address"][0]["postalCode"] == "29200"
    legal = fhir.organization(
        _organization(kind="EJ", finess_ej=None, lat=None, category_code=None)
    )
    Organization.model_validate(legal)
    assert legal["identifier"][0]["type"]["coding"][0]["code"] == "FINEJ"
    assert "partOf" not in legal


def test_searchset_links():
    resources = [fhir.organization(_organization())]
    bundle = fhir.searchset(
        resources,
        total=120,
        base_url="https://dcc.example",
        path="/fhir/Organization",
        params={"name": "brest", "type": None},
        page=1,
        count=50,
    )
    Bundle.model_validate(bundle)
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links == {
        "self": "https://dcc.example/fhir/Organization?name=brest&_count=50&_page=1",
        "next": "https://dcc.example/fhir/Organization?name=brest&_count=50&_page=2",
    }
    last = fhir.searchset(resources, total=120, base_url="", path="/p", params={}, page=3, count=50)
    assert [link["relation"] for link in last["link"]] == ["self"]


def test_search_parameter_mapping():
    paging = {"_page": 2, "_count": 10, "active": True}
    assert fhir.practitioner_search(
        {**paging, "family": "le gall", "given": "bene", "qualification_code": "SM36"}
    ) == {"page": 2, "page_size": 10, "active": True, "name": "le gall bene", "specialty": "SM36"}
    assert fhir.practitioner_search(
        {
            **paging,
            "identifier": "https://rpps.esante.gouv.fr|10101010101",
            "qualification_code": "10",
        }
    ) == {"page": 2, "page_size": 10, "active": True, "name": "10101010101", "profession": "10"}
    assert fhir.practitioner_role_search(
        {
            **paging,
            "practitioner": "Practitioner/810101010101",
            "organization": "Organization/2a0000154",
        }
    ) == {"page": 2, "page_size": 10, "active": True, "name": "810101010101", "finess": "2A0000154"}
    assert fhir.organization_search(
        {**paging, "name": "brest", "type": "101", "address_postalcode": "29"}
    ) == {
        "page": 2,
        "page_size": 10,
        "active": True,
        "name": "brest",
        "category": "101",
        "postal_code": "29",
    }


def test_searchset_without_total():
    resources = [fhir.organization(_organization())] * 2
    bundle = fhir.searchset(
        resources, total=None, base_url="", path="/p", params={}, page=1, count=2
    )
    Bundle.model_validate(bundle)
    assert "total" not in bundle
    assert [link["relation"] for link in bundle["link"]] == ["self", "next"]
