"""Sessions in their list representation, built from plain rows (the hot read path of the API).

Session lists (a region's month, a physician's next sessions) are the most frequent reads.
Loading them as ORM objects and dumping them field by field through marshmallow cost ten times
the SQL; here the service reads columns, and these functions build each item directly in its
JSON form, equal to what ``SessionSummarySchema`` dumps (tests/planning/test_listing.py checks
both ways on the same sessions). No Flask, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from planning import kinds

#: Establishment fields shown for a host or a meeting site (``PlaceSchema``).
PLACE_FIELDS = (
    "finess",
    "name",
    "address",
    "postal_code",
    "city",
    "department",
    "region",
    "lat",
    "lon",
)


class Serialized(dict[str, Any]):
    """A representation already in its JSON form: the response schemas pass it through as is."""


def person(
    rpps: str | None,
    names: tuple[str | None, str | None] | None,
    specialties: Sequence[tuple[str | None, str | None]],
    specialty_code: str | None = None,
) -> dict[str, Any] | None:
    """A person as shown in RCPs and sessions (``PersonSchema``).

    ``names`` are (last, first) from the directory, None when unknown there; ``specialties`` the
    (code, label) of their directory activities in activity order. Without a ``specialty_code``
    the first activity's specialty is shown; with one, its label.
    """
    if rpps is None:
        return None
    label = None
    for code, code_label in specialties:
        if code and (specialty_code is None or code == specialty_code):
            specialty_code = specialty_code or code
            label = code_label
            break
    return {
        "rpps": rpps,
        "last_name": names[0] if names else None,
        "first_name": names[1] if names else None,
        "specialty_code": specialty_code,
        "specialty_label": label,
    }


def place(finess: str | None, organization: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An establishment as shown for a host or site (``PlaceSchema``); its number alone when
    the directory does not know it."""
    if finess is None:
        return None
    if organization is None:
        return {"finess": finess}
    return {name: organization[name] for name in PLACE_FIELDS}


def _instant(value: dt.datetime) -> str:
    return value.isoformat()


def session_summary(
    row: Any,
    *,
    host: dict[str, Any] | None,
    site: dict[str, Any] | None,
    coordinator: dict[str, Any] | None,
    substitute: dict[str, Any] | None,
    quorum: dict[str, Any],
    distance_km: float | None = None,
) -> Serialized:
    """One session of a list (``SessionSummarySchema``) from a row of session and RCP columns
    (see ``services.SUMMARY_COLUMNS``), with its directory links and quorum already resolved."""
    return Serialized(
        id=row.id,
        uid=f"rcp-session-{row.id}",
        revision=row.revision,
        status=row.status,
        cancel_reason=row.cancel_reason,
        starts_at=_instant(row.starts_at),
        ends_at=_instant(row.ends_at),
        rcp_id=row.rcp_id,
        title=row.title,
        kind_code=row.kind_code,
        kind_label=kinds.label_of(row.kind_code),
        level=row.level,
        region=row.region,
        host=host,
        place=site,
        room=row.room,
        visio_url=row.visio_url,
        open_to_external=row.open_to_external,
        coordinator=coordinator,
        substitute=substitute,
        quorum=quorum,
        registration_deadline=_instant(row.registration_deadline),
        capacity=row.capacity,
        registered_count=row.registered_count,
        places_left=max(row.capacity - row.registered_count, 0),
        distance_km=distance_km,
        updated_at=_instant(row.updated_at),
    )
