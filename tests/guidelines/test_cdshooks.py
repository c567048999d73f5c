from guidelines import cdshooks


def _evaluation(outcome="met", title="Thérapie ciblée"):
    recommendation = {
        "node_id": "osimertinib",
        "title": title,
        "text": "Texte",
        "category": "standard",
        "treatment_type": "therapie_ciblee",
        "outcome": outcome,
        "path": [{"id": "cbnpc", "title": "CBNPC"}, {"id": "osimertinib", "title": title}],
        "trace": [
            {"field": "biomarkers.EGFR.status", "op": "eq", "value": "positive", "outcome": "met"}
        ],
        "missing_fields": ["biomarkers.ALK.status"] if outcome == "indeterminate" else [],
    }
    referential = {
        "id": 7,
        "owner_level": "national",
        "owner_org": "INCa",
        "citation": "CBNPC, version 2025.1 (INCa, 2025-01-01)",
        "source_url": None,
        "recommendations": [recommendation],
    }
    regional = referential | {"id": 8, "owner_level": "regional", "owner_org": "RRC"}
    return {"national": [referential], "regional": [regional]}


def test_discovery_lists_the_service():
    assert cdshooks.service(cdshooks.SERVICE_ID)["hook"] == "patient-view"
    assert cdshooks.service("nope") is None


def test_cards_carry_summary_source_and_stable_uuid():
    cards = cdshooks.cards(_evaluation(), hook_instance="h1")
    assert [c["summary"] for c in cards] == [
        "[National] Thérapie ciblée",
        "[Régional] Thérapie ciblée",
    ]
    card = cards[0]
    assert card["indicator"] == "info"
    assert card["source"]["label"] == "CBNPC, version 2025.1 (INCa, 2025-01-01)"
    assert card["source"]["url"] == "/guidelines/referentials/7"
    assert "Source : CBNPC" in card["detail"]
    assert card["uuid"] == cdshooks.cards(_evaluation(), hook_instance="h1")[0]["uuid"]
    assert card["uuid"] != cdshooks.cards(_evaluation(), hook_instance="h2")[0]["uuid"]


def test_indeterminate_cards_warn_and_list_missing_data():
    card = cdshooks.cards(_evaluation("indeterminate"), hook_instance="h")[0]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("[National - données manquantes]")
    assert "`biomarkers.ALK.status`" in card["detail"]


def test_summary_stays_under_140_characters():
    card = cdshooks.cards(_evaluation(title="x" * 300), hook_instance="h")[0]
    assert len(card["summary"]) < 140
