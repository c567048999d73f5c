import pytest

from trials import services

from .conftest import BREST_FICHE

ROLES = [
    {"role": "national_admin"},
    {"role": "regional_admin", "region": "53"},
    {"role": "coordinator_3c", "finess": ["290000017"]},
    {"role": "physician", "rpps": "10001234567"},
    {"role": "rcp_software", "finess": ["290000017"]},
]


@pytest.fixture
def loaded(load_demo):
    load_demo()


def test_search_needs_a_token(client):
    response = client.post("/trials/search", json={"fiche": BREST_FICHE})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert client.get("/trials").status_code == 401
    assert client.get("/trials/NCT05463224").status_code == 401


@pytest.mark.parametrize("perimeter", ROLES, ids=lambda p: p["role"])
def test_every_role_may_search_and_read(client, auth_header, loaded, perimeter):
    headers = auth_header(**perimeter)
    assert (
        client.post("/trials/search", json={"fiche": BREST_FICHE}, headers=headers).status_code
        == 200
    )
    assert client.get("/trials?q=osimertinib", headers=headers).status_code == 200
    assert client.get("/trials/NCT05463224", headers=headers).status_code == 200


def test_search_answers_ranked_trials_with_per_criterion_verdicts(client, auth_header, loaded):
    response = client.post(
        "/trials/search?page_size=5",
        json={"fiche": BREST_FICHE},
        headers=auth_header(role="physician", rpps="10001234567"),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["page"] == 1 and body["page_size"] == 5 and body["total"] >= 5
    first = body["items"][0]
    assert first["verdict"] in ("eligible", "possibly_eligible")
    assert first["trial"]["overall_status"] in ("RECRUITING", "NOT_YET_RECRUITING")
    egfr = [c for c in first["criteria"] if "EGFR" in c["label"] and c["result"] == "met"]
    assert egfr and egfr[0]["fiche_value"] == "EGFR exon 19 deletion positive"
    assert egfr[0]["evidence"] and egfr[0]["origin"] in ("extracted", "ctml", "registry")
    assert set(first) == {"trial", "verdict", "score", "criteria", "reasons", "sites"}
    assert [i["score"] for i in body["items"]] == sorted(
        (i["score"] for i in body["items"]), reverse=True
    )


def test_sixteen_year_old_sees_not_met_when_asking_for_ineligible(client, auth_header, loaded):
    fiche = {**BREST_FICHE, "age": 16}
    response = client.post(
        "/trials/search?page_size=200",
        json={"fiche": fiche, "include_ineligible": True, "statuses": ["RECRUITING"]},
        headers=auth_header(role="national_admin"),
    )
    items = response.get_json()["items"]
    ineligible = [i for i in items if i["verdict"] == "ineligible"]
    assert ineligible and all(i["reasons"] for i in ineligible)
    age_lines = [c for i in ineligible for c in i["criteria"] if c["kind"] == "age"]
    assert any(c["result"] == "not_met" and c["fiche_value"] == "16 years" for c in age_lines)


def test_search_lists_sites_within_the_distance(client, auth_header, loaded):
    fiche = {**BREST_FICHE, "residence": {"postal_code": "29200", "max_distance_km": 700}}
    response = client.post(
        "/trials/search",
        json={"fiche": fiche, "statuses": ["RECRUITING", "COMPLETED", "UNKNOWN"]},
        headers=auth_header(role="national_admin"),
    )
    items = response.get_json()["items"]
    assert items and all(0 <= s["distance_km"] <= 700 for i in items for s in i["sites"])


def test_search_refuses_unknown_fields_and_bad_values(client, auth_header):
    headers = auth_header(role="national_admin")
    response = client.post(
        "/trials/search", json={"fiche": {**BREST_FICHE, "name": "Dupont"}}, headers=headers
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "name" in str(response.get_json()["errors"])
    response = client.post(
        "/trials/search", json={"fiche": BREST_FICHE, "statuses": ["OPEN"]}, headers=headers
    )
    assert response.status_code == 422 and "statuses" in str(response.get_json()["errors"])
    assert client.post("/trials/search", json={}, headers=headers).status_code == 422


def test_search_answers_503_when_the_index_is_missing(client, auth_header, index_dir):
    store = services.index_store(index_dir)
    backup = index_dir / "trials-backup"
    store.rebuild([])
    store.path.rename(backup)
    try:
        response = client.post(
            "/trials/search",
            json={"fiche": BREST_FICHE},
            headers=auth_header(role="national_admin"),
        )
        ready = client.get("/health/ready")
    finally:
        backup.rename(store.path)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "reindex" in response.get_json()["detail"]
    assert ready.status_code == 503 and ready.get_json()["checks"]["trials_index"]["ok"] is False


def test_readiness_reports_the_index(client):
    body = client.get("/health/ready").get_json()
    assert body["checks"]["trials_index"]["ok"] is True


def test_free_text_list_with_filters_and_paging(client, auth_header, loaded):
    headers = auth_header(role="coordinator_3c", finess=["290000017"])
    response = client.get("/trials?q=EGFR&status=RECRUITING&page_size=3", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] > 3 and len(body["items"]) == 3
    assert all(i["overall_status"] == "RECRUITING" for i in body["items"])
    french = client.get("/trials?q=poumon", headers=headers).get_json()
    assert french["total"] > 0
    assert client.get("/trials?status=OPEN", headers=headers).status_code == 422


def test_get_trial_by_registry_id(client, auth_header, loaded):
    response = client.get("/trials/nct05463224", headers=auth_header(role="national_admin"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["registry_id"] == "NCT05463224"
    kinds = {c["kind"] for c in body["criteria"]}
    assert {"age", "diagnosis", "biomarker"} <= kinds
    egfr = next(c for c in body["criteria"] if c["kind"] == "biomarker")
    assert egfr["parameters"]["gene"] == "EGFR" and egfr["evidence"]
    assert body["needs_review"] and body["sites"]
    curated = client.get("/trials/NCT02503722", headers=auth_header(role="national_admin"))
    assert curated.get_json()["curated_arms"][0]["open"] is True


def test_get_unknown_trial_is_404(client, auth_header):
    response = client.get("/trials/NCT00000000", headers=auth_header(role="national_admin"))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
