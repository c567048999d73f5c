"""A referential version as FHIR R4 PlanDefinitions following CPG-on-FHIR.

The version becomes a *strategy* (``workflow-definition``) whose nested actions mirror the
decision tree, and each recommendation a *recommendation definition* (``eca-rule``) whose
single action carries the applicability condition of its whole path. Conditions are written
in the DCC criteria language (``application/x-dcc-criteria+json``; the binding of
``Expression.language`` is extensible), with the human-readable form in ``description``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from guidelines.criteria import describe

BASE_URL = "https://dcc-services.example.fr/fhir"
CRITERIA_LANGUAGE = "application/x-dcc-criteria+json"
PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
CPG = "http://hl7.org/fhir/uv/cpg/StructureDefinition"
EXT_STRENGTH = "http://hl7.org/fhir/StructureDefinition/cqf-strengthOfRecommendation"
EXT_QUALITY = "http://hl7.org/fhir/StructureDefinition/cqf-qualityOfEvidence"
TREATMENT_SYSTEM = "urn:dcc-services:guidelines:treatment-type"
ONCOTREE = "http://oncotree.mskcc.org"
STATUS = {"draft": "draft", "in_review": "draft", "active": "active", "retired": "retired"}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:60]


def _name(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in text).split()
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Referential"
    return name if name[0].isalpha() else "R" + name


def bundle(export: Mapping[str, Any]) -> dict[str, Any]:
    """A collection Bundle: the strategy PlanDefinition, then one per recommendation."""
    content, lifecycle = export["referential"], export["lifecycle"]
    resources = [strategy(content, lifecycle)]
    resources += [
        recommendation(content, lifecycle, node, path)
        for node, path in _recommendations(content["tree"], [])
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"{BASE_URL}/PlanDefinition/{r['id']}", "resource": r} for r in resources
        ],
    }


def _base_id(content: Mapping[str, Any]) -> str:
    return _slug(f"{content['key']}-{content['version']}")


def _url(content: Mapping[str, Any], suffix: str = "") -> str:
    return f"{BASE_URL}/PlanDefinition/{content['key']}{suffix}"


def _metadata(content: Mapping[str, Any], lifecycle: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "version": content["version"],
        "status": STATUS[lifecycle.get("status", "draft")],
        "experimental": "démo" in content["title"].lower() or "demo" in content["title"].lower(),
        "publisher": content["owner_org"],
        "jurisdiction": [
            {
                "coding": [
                    {"system": "urn:iso:std:iso:3166", "code": "FR"}
                    if content["owner_level"] == "national"
                    else {"system": "urn:iso:std:iso:3166:-2", "code": f"FR-{content['region']}"}
                ]
            }
        ],
        "relatedArtifact": [
            {"type": "citation", "citation": lifecycle.get("citation") or content["title"]}
        ],
    }
    if content.get("source_url"):
        meta["relatedArtifact"].append(
            {"type": "documentation", "label": "Source", "url": content["source_url"]}
        )
    if lifecycle.get("approved_at"):
        meta["approvalDate"] = str(lifecycle["approved_at"])[:10]
        meta["date"] = str(lifecycle["approved_at"])
    period = {
        k: v
        for k, v in (("start", content.get("effective_from")), ("end", content.get("effective_to")))
        if v
    }
    if period:
        meta["effectivePeriod"] = period
    if content.get("localisation_oncotree"):
        meta["useContext"] = [
            {
                "code": {
                    "system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                    "code": "focus",
                },
                "valueCodeableConcept": {
                    "coding": [{"system": ONCOTREE, "code": content["localisation_oncotree"]}]
                },
            }
        ]
    if content.get("authors"):
        meta["author"] = [{"name": a} for a in content["authors"]]
    if content.get("validators"):
        meta["reviewer"] = [{"name": v} for v in content["validators"]]
    return meta


def _condition(criterion: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "applicability",
        "expression": {
            "language": CRITERIA_LANGUAGE,
            "description": describe(criterion),
            "expression": json.dumps(criterion, ensure_ascii=False, sort_keys=True),
        },
    }


def strategy(content: Mapping[str, Any], lifecycle: Mapping[str, Any]) -> dict[str, Any]:
    """The referential as a CPG strategy: nested actions are the decision tree."""
    return {
        "resourceType": "PlanDefinition",
        "id": _base_id(content),
        "meta": {"profile": [f"{CPG}/cpg-strategydefinition"]},
        "url": _url(content),
        "name": _name(content["title"]),
        "title": content["title"],
        "type": {"coding": [{"system": PLAN_TYPE, "code": "workflow-definition"}]},
        **_metadata(content, lifecycle),
        "description": content.get("summary") or content["title"],
        "action": [_action(content, content["tree"])],
    }


def _action(content: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = {"id": node["id"], "title": node["title"]}
    if node.get("text"):
        action["description"] = node["text"]
    if node.get("criteria"):
        action["condition"] = [_condition(node["criteria"])]
    if node["kind"] == "recommendation":
        action["definitionCanonical"] = f"{_url(content, '-' + node['id'])}|{content['version']}"
    else:
        action["selectionBehavior"] = "any"
        action["action"] = [_action(content, c) for c in node.get("children", [])]
    return action


def _recommendations(
    node: Mapping[str, Any], path: list[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    here = [*path, node]
    if node["kind"] == "recommendation":
        return [(node, here)]
    return [item for c in node.get("children", []) for item in _recommendations(c, here)]


def recommendation(
    content: Mapping[str, Any],
    lifecycle: Mapping[str, Any],
    node: Mapping[str, Any],
    path: list[Mapping[str, Any]],
) -> dict[str, Any]:
    """One recommendation as a CPGRecommendationDefinition (eca-rule)."""
    criteria = [n["criteria"] for n in path if n.get("criteria")]
    action: dict[str, Any] = {
        "title": node["title"],
        "description": node.get("text") or node["title"],
        "textEquivalent": " › ".join(n["title"] for n in path),
        "code": [{"coding": [{"system": TREATMENT_SYSTEM, "code": node["treatment_type"]}]}],
    }
    if criteria:
        action["condition"] = [_condition({"all": criteria} if len(criteria) > 1 else criteria[0])]
    extensions = []
    if node.get("strength"):
        extensions.append(
            {"url": EXT_STRENGTH, "valueCodeableConcept": {"text": str(node["strength"])}}
        )
    if node.get("evidence_level"):
        extensions.append(
            {"url": EXT_QUALITY, "valueCodeableConcept": {"text": str(node["evidence_level"])}}
        )
    if extensions:
        action["extension"] = extensions
    references = [
        {
            "type": "citation",
            **({"citation": r["label"]} if r.get("label") else {}),
            **({"url": r["url"]} if r.get("url") else {}),
        }
        for r in node.get("references", [])
    ]
    if references:
        action["documentation"] = references
    return {
        "resourceType": "PlanDefinition",
        "id": _slug(f"{_base_id(content)}-{node['id']}"),
        "meta": {"profile": [f"{CPG}/cpg-recommendationdefinition"]},
        "url": _url(content, "-" + node["id"]),
        "name": _name(node["title"]),
        "title": node["title"],
        "type": {"coding": [{"system": PLAN_TYPE, "code": "eca-rule"}]},
        **_metadata(content, lifecycle),
        "description": node.get("rationale") or node.get("text") or node["title"],
        "action": [action],
    }
