"""The referential pages: evaluation with path, trace and citation; versions, diff, lifecycle."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import db
from guidelines.models import Referential

EGFR_QUERY = (
    "/web/referentiels/evaluer?evaluer=1&diagnosis_oncotree_code=LUAD&stage_group=IV"
    "&biomarker_0_name=EGFR&biomarker_0_alteration=exon+19+deletion&region=53"
)


def test_evaluation_shows_path_trace_and_citation(web_client, create_referential):
    create_referential()
    html = web_client("medecin").get(EGFR_QUERY).get_data(as_text=True)
    assert "Référentiels nationaux" in html
    assert "À citer dans la fiche RCP" in html
    assert "version 2025.1" in html
    assert "Chemin :" in html and " › " in html
    assert "Trace de l&#39;évaluation" in html or "Trace de l'évaluation" in html
    assert "biomarkers.EGFR.alteration" in html
    assert "osimertinib" in html


def test_evaluation_reports_bad_fields(web_client):
    html = (
        web_client("medecin")
        .get("/web/referentiels/evaluer?evaluer=1&diagnosis_oncotree_code=NOPE")
        .get_data(as_text=True)
    )
    assert "fiche.diagnosis.oncotree_code" in html


def test_admin_lists_by_localisation_drafts_a_version_sees_the_diff_and_submits(
    web_client, create_referential
):
    active = create_referential()
    db.session.commit()  # a refused form action rolls the request's session back
    admin = web_client("national")
    listing = admin.get("/web/referentiels").get_data(as_text=True)
    assert f"Localisation {active.localisation_oncotree}" in listing
    page = admin.get(f"/web/referentiels/{active.id}").get_data(as_text=True)
    assert 'id="action-retirer"' in page and 'id="action-soumettre"' not in page
    response = admin.post(
        f"/web/referentiels/{active.id}/nouvelle-version",
        {"version": "2026.1", "changelog": "Mise à jour annuelle"},
        page=f"/web/referentiels/{active.id}",
    )
    assert response.status_code == 302
    draft_id = int(re.search(r"/referentiels/(\d+)$", response.location).group(1))
    page = admin.get(response.location).get_data(as_text=True)
    assert "Nouvelle version créée en brouillon" in page
    assert f"Modifications depuis la version {active.id}" in page
    assert "Mise à jour annuelle" in page and "<ins>2026.1</ins>" in page
    response = admin.post(
        f"/web/referentiels/{draft_id}/soumettre", {}, page=f"/web/referentiels/{draft_id}"
    )
    page = admin.get(response.location).get_data(as_text=True)
    assert "Version soumise à relecture" in page
    assert db.session.get(Referential, draft_id).status == "in_review"
    # four eyes: the author may not approve their own version; the service says so
    response = admin.post(
        f"/web/referentiels/{draft_id}/approuver", {}, page=f"/web/referentiels/{draft_id}"
    )
    page = admin.get(response.location).get_data(as_text=True)
    assert "message-error" in page
    assert db.session.get(Referential, draft_id).status == "in_review"


def test_only_administrators_act_on_referentials(web_client, create_referential):
    active = create_referential()
    db.session.commit()  # a refused form action rolls the request's session back
    physician = web_client("medecin")
    page = physician.get(f"/web/referentiels/{active.id}").get_data(as_text=True)
    assert "action-retirer" not in page
    response = physician.post(
        f"/web/referentiels/{active.id}/retirer", {}, page=f"/web/referentiels/{active.id}"
    )
    assert response.status_code == 403
    regional = web_client("region")  # Bretagne may not retire a national referential
    response = regional.post(
        f"/web/referentiels/{active.id}/retirer", {}, page=f"/web/referentiels/{active.id}"
    )
    assert "message-error" in regional.get(response.location).get_data(as_text=True)
    status = db.session.scalar(select(Referential.status).where(Referential.id == active.id))
    assert status == "active"
