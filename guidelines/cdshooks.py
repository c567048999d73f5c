"""CDS Hooks 2.0: the service descriptions and the cards made from an evaluation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

SERVICE_ID = "dcc-guidelines-v1"
CARD_NAMESPACE = uuid.UUID("5d0c6f1e-9a8b-4c71-8d53-3f0b6e2a9c10")
SUMMARY_LIMIT = 139
TOPIC_SYSTEM = "urn:dcc-services:guidelines:owner-level"
OVERRIDE_SYSTEM = "urn:dcc-services:guidelines:override-reason"

OVERRIDE_REASONS = [
    {"system": OVERRIDE_SYSTEM, "code": "patient-preference", "display": "Choix du patient"},
    {"system": OVERRIDE_SYSTEM, "code": "contraindication", "display": "Contre-indication"},
    {"system": OVERRIDE_SYSTEM, "code": "clinical-trial", "display": "Inclusion dans un essai"},
    {"system": OVERRIDE_SYSTEM, "code": "rcp-decision", "display": "Décision RCP hors référentiel"},
]

SERVICES: list[dict[str, Any]] = [
    {
        "hook": "patient-view",
        "id": SERVICE_ID,
        "title": "Référentiels de bonnes pratiques (national et régional)",
        "description": (
            "Applicable recommendations of the national and regional referentials for a "
            "structured fiche RCP, each with its citation, path and criteria trace. The fiche "
            "travels in context.fiche (non-FHIR), with context.region and context.as_of."
        ),
        "prefetch": {},
        "usageRequirements": (
            "context.fiche (the DCC structured fiche JSON, no nominative data) is required; "
            "context.region (INSEE code) adds the regional referentials."
        ),
    }
]


def service(service_id: str) -> Mapping[str, Any] | None:
    return next((s for s in SERVICES if s["id"] == service_id), None)


def cards(evaluation: Mapping[str, Any], *, hook_instance: str) -> list[dict[str, Any]]:
    """One card per applicable recommendation; national and regional cards stay apart."""
    out: list[dict[str, Any]] = []
    for scope in ("national", "regional"):
        for referential in evaluation[scope]:
            for recommendation in referential["recommendations"]:
                out.append(card(referential, recommendation, hook_instance=hook_instance))
    return out


def card(
    referential: Mapping[str, Any], recommendation: Mapping[str, Any], *, hook_instance: str
) -> dict[str, Any]:
    indeterminate = recommendation["outcome"] == "indeterminate"
    scope = "National" if referential["owner_level"] == "national" else "Régional"
    prefix = f"[{scope}{' - données manquantes' if indeterminate else ''}] "
    summary = prefix + recommendation["title"]
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    link = referential.get("source_url") or f"/guidelines/referentials/{referential['id']}"
    return {
        "uuid": str(
            uuid.uuid5(
                CARD_NAMESPACE,
                f"{hook_instance}:{referential['id']}:{recommendation['node_id']}",
            )
        ),
        "summary": summary,
        "detail": detail(referential, recommendation),
        "indicator": "warning" if indeterminate else "info",
        "source": {
            "label": referential["citation"][:200],
            "url": link,
            "topic": {
                "system": TOPIC_SYSTEM,
                "code": referential["owner_level"],
                "display": referential["owner_org"],
            },
        },
        "overrideReasons": OVERRIDE_REASONS,
        "links": [
            {
                "label": "Référentiel (API)",
                "url": f"/guidelines/referentials/{referential['id']}",
                "type": "absolute",
            }
        ],
    }


def detail(referential: Mapping[str, Any], recommendation: Mapping[str, Any]) -> str:
    """The card's markdown: recommendation, why it applies, what is missing, the citation."""
    lines = [f"**{recommendation['title']}**", ""]
    if recommendation.get("text"):
        lines += [recommendation["text"], ""]
    facts = [
        ("Catégorie", recommendation.get("category")),
        ("Type de traitement", recommendation.get("treatment_type")),
        ("Intention", recommendation.get("intent")),
        ("Force", recommendation.get("strength")),
        ("Niveau de preuve", recommendation.get("evidence_level")),
    ]
    lines += [f"- {label} : {value}" for label, value in facts if value]
    lines += ["", "Chemin : " + " › ".join(step["title"] for step in recommendation["path"])]
    if recommendation["outcome"] == "indeterminate":
        missing = ", ".join(f"`{m}`" for m in recommendation["missing_fields"])
        lines += ["", f"**Applicabilité indéterminée** : données manquantes {missing}."]
    met = [t for t in recommendation["trace"] if t["outcome"] == "met"]
    if met:
        lines += ["", "Critères remplis :"]
        lines += [f"- `{t['field']}` {t['op']} {t['value']}" for t in met[:12]]
    lines += ["", f"Source : {referential['citation']}"]
    return "\n".join(lines)
