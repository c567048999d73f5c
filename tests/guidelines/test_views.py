import copy

import pytest
from fhir.resources.R4B.bundle import Bundle

from core.db import db
from guidelines import services
from guidelines.models import CdsFeedback

from . import conftest
from .conftest import LUNG_STAGE_IV_EGFR, demo_document

NATIONAL = {"role": "national_admin", "subject": "inca-author"}
NATIONAL_VALIDATOR = {"role": "national_admin", "subject": "inca-validator"}
BRETAGNE = {"role": "regional_admin", "region": "53", "subject": "bzh-author"}
BRETAGNE_VALIDATOR = {"role": "regional_admin", "region": "53", "subject": "bzh-validator"}
OCCITANIE = {"role": "regional_admin", "region": "76", "subject": "occ-admin"}
PHYSICIAN = {"role": "physician", "rpps": "10001234567"}
SOFTWARE = {"role": "rcp_software", "region": "53", "subject": "logiciel-rcp"}


def _body(name, **overrides):
    return demo_document(name)["referential"] | overrides


@pytest.fixture
def active(client, auth_header):
    """``active(name, author, validator)``: create, submit and approve through the API."""

    def make(name="national-poumon-cbnpc", author=NATIONAL, validator=NATIONAL_VALIDATOR):
        created = client.post(
            "/guidelines/referentials", json=_body(name), headers=auth_header(**author)
        )
        assert created.status_code == 201, created.json
        rid = created.json["id"]
        assert (
            client.post(
                f"/guidelines/referentials/{rid}/submit", headers=auth_header(**author)
            ).status_code
            == 200
        )
        approved = client.post(
            f"/guidelines/referentials/{rid}/approve", headers=auth_header(**validator)
        )
        assert approved.status_code == 200, approved.json
        return approved.json

    return make


def test_regional_admin_cannot_change_another_region_or_national(client, auth_header, active):
    national = active()
    bretagne = active("bretagne-sein", BRETAGNE, BRETAGNE_VALIDATOR)
    for target in (national, bretagne):
        response = client.post(
            f"/guidelines/referentials/{target['id']}/drafts",
            json={"version": "2026.1"},
            headers=auth_header(**OCCITANIE),
        )
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert (
            client.post(
                f"/guidelines/referentials/{target['id']}/retire", headers=auth_header(**OCCITANIE)
            ).status_code
            == 403
        )
    response = client.post(
        "/guidelines/referentials",
        json=_body("national-sein", key="x-sein"),
        headers=auth_header(**BRETAGNE),
    )
    assert response.status_code == 403
    assert "national" in response.json["detail"]
    # physicians read but never write
    assert (
        client.post(
            "/guidelines/referentials",
            json=_body("bretagne-sein", key="y"),
            headers=auth_header(**PHYSICIAN),
        ).status_code
        == 403
    )
    # and Bretagne's own admin may start a draft of its referential
    assert (
        client.post(
            f"/guidelines/referentials/{bretagne['id']}/drafts",
            json={"version": "2026.1"},
            headers=auth_header(**BRETAGNE),
        ).status_code
        == 201
    )


def test_approved_version_is_immutable_but_a_new_draft_is_editable(client, auth_header, active):
    national = active()
    response = client.patch(
        f"/guidelines/referentials/{national['id']}",
        json={"summary": "changé"},
        headers=auth_header(**NATIONAL),
    )
    assert response.status_code == 409
    assert "start a new draft" in response.json["detail"]
    draft = client.post(
        f"/guidelines/referentials/{national['id']}/drafts",
        json={"version": "2025.2", "changelog": "Seuil PD-L1"},
        headers=auth_header(**NATIONAL),
    )
    assert draft.status_code == 201
    assert draft.json["status"] == "draft" and draft.json["supersedes_id"] == national["id"]
    tree = copy.deepcopy(draft.json["tree"])
    tree["children"][2]["children"][2]["children"][0]["criteria"]["all"][0]["value"] = 60
    edited = client.patch(
        f"/guidelines/referentials/{draft.json['id']}",
        json={"tree": tree},
        headers=auth_header(**NATIONAL),
    )
    assert edited.status_code == 200, edited.json
    diff = client.get(
        f"/guidelines/referentials/{draft.json['id']}/diff", headers=auth_header(**PHYSICIAN)
    )
    assert diff.status_code == 404  # drafts are not visible to physicians
    diff = client.get(
        f"/guidelines/referentials/{draft.json['id']}/diff", headers=auth_header(**NATIONAL)
    )
    assert diff.status_code == 200
    assert "biomarkers.PD-L1.value ge 60" in diff.json["text"]
    # the author cannot approve their own version
    client.post(
        f"/guidelines/referentials/{draft.json['id']}/submit", headers=auth_header(**NATIONAL)
    )
    selfish = client.post(
        f"/guidelines/referentials/{draft.json['id']}/approve", headers=auth_header(**NATIONAL)
    )
    assert selfish.status_code == 403
    versions = client.get(
        f"/guidelines/referentials/{national['id']}/versions", headers=auth_header(**NATIONAL)
    )
    assert [v["status"] for v in versions.json] == ["in_review", "active"]


def test_invalid_criteria_are_refused_with_the_node_pointer(client, auth_header):
    body = _body("national-poumon-cbnpc")
    body["tree"]["children"][0]["criteria"]["all"][0]["field"] = "tnm.stage"
    response = client.post("/guidelines/referentials", json=body, headers=auth_header(**NATIONAL))
    assert response.status_code == 422
    assert response.json["errors"][0]["pointer"] == "#/tree/children/0/criteria/all/0/field"


def test_evaluate_stage_iv_egfr_lung_adenocarcinoma(client, auth_header, active):
    national = active()
    regional = active("bretagne-poumon-cbnpc", BRETAGNE, BRETAGNE_VALIDATOR)
    response = client.post(
        "/guidelines/evaluate",
        json={"fiche": LUNG_STAGE_IV_EGFR, "region": "53"},
        headers=auth_header(**PHYSICIAN),
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert [r["id"] for r in body["national"]] == [national["id"]]
    assert [r["id"] for r in body["regional"]] == [regional["id"]]
    national_result = body["national"][0]
    assert national_result["citation"] == national["citation"]
    assert "version 2025.1" in national_result["citation"]
    osimertinib = next(
        r for r in national_result["recommendations"] if r["node_id"] == "osimertinib"
    )
    assert osimertinib["outcome"] == "met"
    assert osimertinib["treatment_type"] == "therapie_ciblee"
    assert [p["id"] for p in osimertinib["path"]] == ["cbnpc", "stade4", "egfr", "osimertinib"]
    assert {"field": "biomarkers.EGFR.status", "outcome": "met"}.items() <= next(
        t for t in osimertinib["trace"] if t["field"] == "biomarkers.EGFR.status"
    ).items()
    # the regional variant adds its own recommendation, reported on its own side
    assert "rcp-moleculaire" in [r["node_id"] for r in body["regional"][0]["recommendations"]]
    assert "rcp-moleculaire" not in [r["node_id"] for r in national_result["recommendations"]]


def test_evaluate_without_egfr_status_is_indeterminate(client, auth_header, active):
    active()
    fiche = LUNG_STAGE_IV_EGFR | {"biomarkers": [{"name": "PD-L1", "value": 50, "unit": "%"}]}
    response = client.post(
        "/guidelines/evaluate", json={"fiche": fiche}, headers=auth_header(**PHYSICIAN)
    )
    assert response.status_code == 200
    recommendations = response.json["national"][0]["recommendations"]
    osimertinib = next(r for r in recommendations if r["node_id"] == "osimertinib")
    assert osimertinib["outcome"] == "indeterminate"
    assert "biomarkers.EGFR.status" in osimertinib["missing_fields"]
    assert response.json["regional"] == []


def test_evaluate_refuses_unknown_fields_and_needs_a_token(client, auth_header):
    fiche = LUNG_STAGE_IV_EGFR | {"nom": "Dupont"}
    response = client.post(
        "/guidelines/evaluate", json={"fiche": fiche}, headers=auth_header(**PHYSICIAN)
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["pointer"] == "#/fiche/nom"
    assert client.post("/guidelines/evaluate", json={"fiche": {}}).status_code == 401


def test_search_and_read(client, auth_header, active):
    lung = active()
    active("national-sein")
    headers = auth_header(**SOFTWARE)
    found = client.get("/guidelines/referentials?q=bronchique", headers=headers)
    assert found.status_code == 200
    assert [i["id"] for i in found.json["items"]] == [lung["id"]]
    found = client.get("/guidelines/referentials?q=thérapie ciblée EGFR", headers=headers)
    assert found.json["items"][0]["id"] == lung["id"]
    by_place = client.get(
        "/guidelines/referentials?localisation=LUAD&status=active", headers=headers
    )
    assert [i["id"] for i in by_place.json["items"]] == [lung["id"]]
    assert by_place.json["total"] == 1
    one = client.get(f"/guidelines/referentials/{lung['id']}", headers=headers)
    assert one.status_code == 200 and one.json["tree"]["id"] == "cbnpc"
    assert client.get("/guidelines/referentials/999999", headers=headers).status_code == 404
    bad = client.get("/guidelines/referentials?status=published", headers=headers)
    assert bad.status_code == 422


def test_export_import_and_fhir(client, auth_header, active):
    lung = active()
    exported = client.get(
        f"/guidelines/referentials/{lung['id']}/export", headers=auth_header(**PHYSICIAN)
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"] == (
        'attachment; filename="demo-national-poumon-cbnpc-2025.1.json"'
    )
    document = exported.json
    document["referential"]["version"] = "2026.1"
    imported = client.post(
        "/guidelines/referentials/import", json=document, headers=auth_header(**NATIONAL)
    )
    assert imported.status_code == 201
    assert imported.json["status"] == "draft" and imported.json["supersedes_id"] == lung["id"]
    fhir = client.get(
        f"/guidelines/referentials/{lung['id']}/fhir", headers=auth_header(**PHYSICIAN)
    )
    assert fhir.status_code == 200
    bundle = Bundle.model_validate(fhir.json)
    assert bundle.entry[0].resource.status == "active"
    assert len(bundle.entry) == 1 + 9  # the strategy and one per recommendation


def test_cds_hooks_discovery_call_and_feedback(client, auth_header, active):
    active()
    discovery = client.get("/cds-services")
    assert discovery.status_code == 200
    service = discovery.json["services"][0]
    assert service["id"] == "dcc-guidelines-v1" and service["hook"] == "patient-view"
    call = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"fiche": LUNG_STAGE_IV_EGFR, "region": "53", "patientId": "ignored"},
    }
    assert client.post("/cds-services/dcc-guidelines-v1", json=call).status_code == 401
    response = client.post(
        "/cds-services/dcc-guidelines-v1", json=call, headers=auth_header(**SOFTWARE)
    )
    assert response.status_code == 200, response.json
    cards = response.json["cards"]
    summaries = [c["summary"] for c in cards]
    assert "[National] Thérapie ciblée anti-EGFR de 3e génération (osimertinib)" in summaries
    assert all(len(s) < 140 and c["source"]["label"] for s, c in zip(summaries, cards, strict=True))
    assert {c["indicator"] for c in cards} == {"info", "warning"}
    unknown = client.post("/cds-services/nope", json=call, headers=auth_header(**SOFTWARE))
    assert unknown.status_code == 404
    feedback = client.post(
        "/cds-services/dcc-guidelines-v1/feedback",
        json={
            "feedback": [
                {
                    "card": cards[0]["uuid"],
                    "outcome": "overridden",
                    "overrideReason": {"reason": cards[0]["overrideReasons"][0]},
                    "outcomeTimestamp": "2026-11-20T10:00:00Z",
                }
            ]
        },
        headers=auth_header(**SOFTWARE),
    )
    assert feedback.status_code == 200 and feedback.json == {"recorded": 1}
    stored = db.session.query(CdsFeedback).one()
    assert stored.outcome == "overridden" and stored.card_uuid == cards[0]["uuid"]
    assert stored.reported_by == "logiciel-rcp"


def test_readiness_reports_the_guidelines_index(client):
    checks = client.get("/health/ready").json["checks"]
    assert checks["guidelines_index"]["ok"]


def test_a_node_catches_up_with_referentials_written_elsewhere(
    app, client, auth_header, create_referential
):
    """Writes served by another node (or before this node started) never reached this node's
    index; the first search sees the database moved on and rebuilds from it."""
    index = app.extensions["guidelines_index"]

    def written_elsewhere(name: str) -> int:
        referential = create_referential(name)  # through the services, not this node's index
        db.session.commit()
        return referential.id

    lung = written_elsewhere("national-poumon-cbnpc")
    assert index.search("bronchique") == []
    headers = auth_header(**SOFTWARE)
    found = client.get("/guidelines/referentials?q=bronchique", headers=headers)
    assert [i["id"] for i in found.json["items"]] == [lung]
    assert index.watermark() == services.database_watermark()
    assert services.catch_up_index(index) is False  # unchanged database: no rebuild

    breast = written_elsewhere("national-sein")
    found = client.get("/guidelines/referentials?q=hormonotherapie", headers=headers)
    assert [i["id"] for i in found.json["items"]] == [breast]

    retired = services.retire_referential(
        principal=conftest.NATIONAL_VALIDATOR, referential_id=breast
    )
    db.session.commit()
    assert retired.status == "retired"
    assert services.catch_up_index(index) is True  # a status change moves the watermark too
