"""A lost guidelines index stays lost until reindex: searches 503, never silently empty."""

from __future__ import annotations

import shutil

from guidelines.cli import reindex_all


def test_deleted_index_answers_503_and_is_not_recreated_empty(
    app, client, auth_header, create_referential, empty_index
):
    create_referential()
    reindex_all()
    headers = auth_header(role="national_admin")
    assert client.get("/guidelines/referentials?q=poumon", headers=headers).json["items"]
    shutil.rmtree(empty_index.store.path)
    try:
        for _ in range(2):  # the first refusal must not recreate an empty index
            response = client.get("/guidelines/referentials?q=poumon", headers=headers)
            assert response.status_code == 503
            assert response.mimetype == "application/problem+json"
            assert "reindex" in response.json["detail"]
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json["checks"]["guidelines_index"]["ok"] is False
        # a write is committed and logged as not indexed: the rebuild catches it up
        written = create_referential("bretagne-sein")
        assert not empty_index.store.exists()
    finally:
        reindex_all()
    found = client.get("/guidelines/referentials?q=sein", headers=headers).json["items"]
    assert written.id in [r["id"] for r in found]
