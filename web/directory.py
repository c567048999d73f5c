"""Search-as-you-type suggestions for the RCP forms, from the directory's own search services."""

from __future__ import annotations

from typing import Any

from planning.directory import services as directory
from planning.directory.models import Organization, Practitioner

MIN_CHARS = 2


def search_practitioners(*, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Active professionals whose name words start with the words typed (or with this RPPS)."""
    text = (text or "").strip()
    if len(text) < MIN_CHARS:
        return []
    found = directory.search_practitioners(name=text, page_size=limit)
    return [_practitioner(p) for p in found.items if p.rpps]


def _practitioner(practitioner: Practitioner) -> dict[str, Any]:
    activity = next((a for a in practitioner.activities if a.active), None)
    details = (activity.specialty_label, activity.city) if activity else ()
    return {
        "value": practitioner.rpps,
        "label": f"{practitioner.last_name} {practitioner.first_name}",
        "detail": ", ".join(x for x in details if x),
    }


def search_organizations(*, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Active establishments whose name words start with the words typed (or this FINESS)."""
    text = (text or "").strip()
    if len(text) < MIN_CHARS:
        return []
    found = directory.search_organizations(name=text, page_size=limit)
    return [_organization(o) for o in found.items]


def _organization(organization: Organization) -> dict[str, Any]:
    return {
        "value": organization.finess,
        "label": organization.name,
        "detail": " ".join(x for x in (organization.postal_code, organization.city) if x),
    }
