import datetime as dt

import pytest
from sqlalchemy import select

from core.audit import AuditEvent
from core.auth import Principal, Role
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from guidelines import services
from guidelines.models import Referential
from guidelines.schemas import ImportSchema

from .conftest import BRETAGNE, BRETAGNE_VALIDATOR, NATIONAL, NATIONAL_VALIDATOR

PHYSICIAN = Principal(
    subject="10001234567", role=Role.PHYSICIAN, issuer="tests", rpps="10001234567"
)
OCCITANIE = Principal(subject="occ", role=Role.REGIONAL_ADMIN, issuer="tests", region="76")


def test_workflow_records_who_and_when(create_referential):
    draft = create_referential(status="draft")
    assert draft.status == "draft" and draft.created_by == "national-author"
    services.submit_referential(principal=NATIONAL, referential_id=draft.id)
    assert draft.status == "in_review" and draft.submitted_by == "national-author"
    with pytest.raises(Forbidden, match="other than its author"):
        services.approve_referential(principal=NATIONAL, referential_id=draft.id)
    services.approve_referential(principal=NATIONAL_VALIDATOR, referential_id=draft.id)
    assert draft.status == "active" and draft.approved_by == "national-validator"
    assert draft.approved_at is not None
    services.retire_referential(principal=NATIONAL_VALIDATOR, referential_id=draft.id)
    assert draft.status == "retired" and draft.retired_at is not None
    actions = [
        e.action
        for e in services.db.session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == str(draft.id))
        )
    ]
    assert actions == [
        "guidelines.referential.create",
        "guidelines.referential.submit",
        "guidelines.referential.approve",
        "guidelines.referential.retire",
    ]


def test_active_versions_are_immutable_but_a_new_draft_supersedes(create_referential):
    active = create_referential()
    with pytest.raises(Conflict, match="start a new draft"):
        services.update_draft(principal=NATIONAL, referential_id=active.id, changes={"title": "x"})
    draft = services.start_draft(principal=NATIONAL, referential_id=active.id, version="2025.2")
    assert draft.supersedes_id == active.id and draft.tree == active.tree
    with pytest.raises(Conflict, match="in preparation"):
        services.start_draft(principal=NATIONAL, referential_id=active.id, version="2025.3")
    services.update_draft(
        principal=NATIONAL, referential_id=draft.id, changes={"summary": "Nouvelle version"}
    )
    services.submit_referential(principal=NATIONAL, referential_id=draft.id)
    services.approve_referential(principal=NATIONAL_VALIDATOR, referential_id=draft.id)
    assert active.status == "retired" and active.effective_to == draft.effective_from
    versions = services.list_versions(principal=PHYSICIAN, referential_id=active.id)
    assert [v.version for v in versions] == ["2025.2", "2025.1"]
    result = services.diff_versions(principal=PHYSICIAN, referential_id=draft.id)
    assert result["from_id"] == active.id
    assert "~ summary:" in result["text"] and "~ version: 2025.1 -> 2025.2" in result["text"]


def test_regional_admins_write_only_their_region(create_referential, referential_data):
    national = create_referential()
    bretagne = create_referential("bretagne-poumon-cbnpc", status="draft")
    with pytest.raises(Forbidden, match="national"):
        services.start_draft(principal=BRETAGNE, referential_id=national.id, version="x")
    with pytest.raises(Forbidden, match="region 53"):
        services.update_draft(principal=OCCITANIE, referential_id=bretagne.id, changes={})
    with pytest.raises(Forbidden):
        services.create_referential(principal=BRETAGNE, data=referential_data())
    with pytest.raises(Forbidden):
        services.create_referential(principal=PHYSICIAN, data=referential_data("bretagne-sein"))
    # nor move its own referential to another region
    with pytest.raises(Forbidden):
        services.update_draft(
            principal=BRETAGNE, referential_id=bretagne.id, changes={"region": "76"}
        )
    services.update_draft(principal=BRETAGNE, referential_id=bretagne.id, changes={"summary": "s"})
    # national admins may act on regional referentials
    services.submit_referential(principal=NATIONAL, referential_id=bretagne.id)


def test_drafts_are_hidden_from_other_readers(create_referential):
    draft = create_referential("bretagne-sein", status="draft")
    assert services.get_referential(principal=BRETAGNE_VALIDATOR, referential_id=draft.id)
    for reader in (PHYSICIAN, OCCITANIE):
        with pytest.raises(NotFound):
            services.get_referential(principal=reader, referential_id=draft.id)
    items, total = services.list_referentials(principal=PHYSICIAN)
    assert total == 0 and items == []


def test_invalid_tree_is_refused_with_the_pointer(referential_data):
    data = referential_data()
    data["tree"]["children"][2]["children"][0]["criteria"]["all"][1]["op"] = "equals"
    with pytest.raises(InvalidInput) as caught:
        services.create_referential(principal=NATIONAL, data=data)
    assert caught.value.errors[0]["pointer"] == "#/tree/children/2/children/0/criteria/all/1/op"


def test_ownership_consistency_rules(referential_data, create_referential):
    with pytest.raises(InvalidInput, match="needs its region"):
        services.create_referential(
            principal=NATIONAL, data=referential_data("bretagne-sein", region=None)
        )
    with pytest.raises(InvalidInput, match="no region"):
        services.create_referential(principal=NATIONAL, data=referential_data(region="53"))
    create_referential()
    with pytest.raises(Conflict, match="already has a version"):
        services.create_referential(principal=NATIONAL, data=referential_data())


def test_export_import_round_trip(create_referential):
    active = create_referential("national-sein")
    document = services.export_referential(principal=PHYSICIAN, referential_id=active.id)
    assert document["lifecycle"]["status"] == "active"
    assert document["lifecycle"]["citation"] == active.citation
    document["referential"]["version"] = "2026.1"
    imported = services.import_referential(
        principal=NATIONAL, document=ImportSchema().load(document)
    )
    assert imported.status == "draft" and imported.supersedes_id == active.id
    assert imported.tree == active.tree


def test_evaluate_side_by_side_and_as_of(create_referential, fiche):
    national = create_referential()
    regional = create_referential("bretagne-poumon-cbnpc")
    create_referential("national-sein")
    result = services.evaluate_fiche(principal=PHYSICIAN, fiche=fiche(), region="53")
    assert [r["id"] for r in result["national"]] == [national.id]
    assert [r["id"] for r in result["regional"]] == [regional.id]
    osimertinib = next(
        r for r in result["national"][0]["recommendations"] if r["node_id"] == "osimertinib"
    )
    assert osimertinib["outcome"] == "met"
    assert result["national"][0]["citation"] == national.citation
    assert "2025-01-01" in national.citation and "version 2025.1" in national.citation
    # another region sees only the national referential
    other = services.evaluate_fiche(principal=PHYSICIAN, fiche=fiche(), region="76")
    assert other["regional"] == [] and len(other["national"]) == 1
    # before the referentials came into force, nothing applied
    past = services.evaluate_fiche(
        principal=PHYSICIAN, fiche=fiche(), region="53", as_of=dt.date(2024, 6, 1)
    )
    assert past["national"] == [] and past["regional"] == []


def test_as_of_replays_the_superseded_version(create_referential, fiche):
    old = create_referential(effective_from=dt.date(2024, 1, 1))
    draft = services.start_draft(principal=NATIONAL, referential_id=old.id, version="2025.2")
    services.update_draft(
        principal=NATIONAL, referential_id=draft.id, changes={"effective_from": dt.date(2025, 6, 1)}
    )
    services.submit_referential(principal=NATIONAL, referential_id=draft.id)
    services.approve_referential(principal=NATIONAL_VALIDATOR, referential_id=draft.id)
    then = services.evaluate_fiche(principal=PHYSICIAN, fiche=fiche(), as_of=dt.date(2025, 1, 1))
    now = services.evaluate_fiche(principal=PHYSICIAN, fiche=fiche(), as_of=dt.date(2025, 7, 1))
    assert [r["version"] for r in then["national"]] == ["2025.1"]
    assert [r["version"] for r in now["national"]] == ["2025.2"]


def test_coarse_localisation_is_indeterminate_not_dropped(create_referential, fiche):
    create_referential()
    coarse = fiche(diagnosis={"cim10": "C34.1"})  # gives LUNG, the referential is on NSCLC
    result = services.evaluate_fiche(principal=PHYSICIAN, fiche=coarse)
    referential = result["national"][0]
    assert referential["localisation"]["outcome"] == "indeterminate"
    assert all(r["outcome"] == "indeterminate" for r in referential["recommendations"])
    assert "diagnosis.oncotree_code" in referential["recommendations"][0]["missing_fields"]


def test_list_filters(create_referential):
    lung = create_referential()
    breast = create_referential("national-sein")
    bzh = create_referential("bretagne-colorectal")
    ids = lambda **kw: [r.id for r in services.list_referentials(principal=PHYSICIAN, **kw)[0]]  # noqa: E731
    assert set(ids()) == {lung.id, breast.id, bzh.id}
    assert ids(localisation="LUAD") == [lung.id]
    assert ids(localisation="lung") == [lung.id]
    assert set(ids(region="76")) == {lung.id, breast.id}
    assert ids(status="draft") == []
    assert ids(key="demo-national-sein") == [breast.id]
    assert services.db.session.get(Referential, bzh.id).region == "53"


def test_interregional_referential_applies_to_its_regions(create_referential, fiche):
    inter = create_referential(
        "bretagne-poumon-cbnpc", owner_level="interregional", regions=["52", "53"]
    )
    assert inter.regions == ["52", "53"]
    for region, expected in (("52", [inter.id]), ("53", [inter.id]), ("76", [])):
        result = services.evaluate_fiche(principal=PHYSICIAN, fiche=fiche(), region=region)
        assert [r["id"] for r in result["regional"]] == expected
