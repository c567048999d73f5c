"""Factories of directory rows: professionals with activities, establishments."""

from __future__ import annotations

import collections
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from core.db import db
from core.terminology.geo import region_of_department
from planning.directory import services as directory
from planning.directory.models import (
    Organization,
    Practitioner,
    PractitionerActivity,
    PractitionerPrefix,
    PractitionerToken,
)
from planning.directory.normalize import fold, name_key, tokens
from planning.directory.schemas import PractitionerSummarySchema

_numbers = itertools.count(1)


@pytest.fixture
def create_practitioner() -> Callable[..., Practitioner]:
    """``create_practitioner(last_name=..., activities=[{"specialty_code": "SM36"}])``."""

    def create(*, activities: list[dict[str, Any]] | None = None, **overrides: Any) -> Practitioner:
        number = next(_numbers)
        values: dict[str, Any] = {
            "rpps": f"1099{number:07d}",
            "id_type": "8",
            "civility": "M",
            "exercise_civility": "DR",
            "last_name": "MARTIN",
            "first_name": "Jean",
            "active": True,
            "fingerprint": "test",
        }
        values.update(overrides)
        values.setdefault("national_id", "8" + values["rpps"])
        values["name_key"] = name_key(values["last_name"], values["first_name"])
        practitioner = Practitioner(**values)
        for spec in activities if activities is not None else [{}]:
            activity: dict[str, Any] = {
                "activity_key": f"a{next(_numbers)}",
                "profession_code": "10",
                "profession_label": "Médecin",
                "specialty_code": "SM36",
                "specialty_label": "Oncologie option médicale",
                "mode_exercice": "S",
                "department": "29",
                "active": True,
            }
            activity.update(spec)
            activity.setdefault("region", region_of_department(activity["department"]))
            practitioner.activities.append(PractitionerActivity(**activity))
        directory.add_practitioner(practitioner)
        # committed (to the test's savepoint): a failed request's rollback keeps it
        db.session.commit()
        return practitioner

    return create


@pytest.fixture
def create_organization() -> Callable[..., Organization]:
    """``create_organization(finess="290000017", name="CHU DE BREST", department="29")``."""

    def create(**overrides: Any) -> Organization:
        number = next(_numbers)
        values: dict[str, Any] = {
            "finess": f"99{number:07d}",
            "kind": "ET",
            "name": "CH TEST",
            "category_code": "355",
            "category_label": "Centre Hospitalier (C.H.)",
            "department": "29",
            "active": True,
            "source": "etalab",
            "fingerprint": "test",
        }
        values.update(overrides)
        values.setdefault("region", region_of_department(values["department"]))
        values["name_key"] = fold(values["name"])
        organization = Organization(**values)
        directory.add_organization(organization)
        db.session.commit()
        return organization

    return create


def assert_search_data_exact() -> None:
    """The derived search data equals what a recomputation from the rows gives.

    Prefix counts: distinct professionals per (prefix, active) over the token rows, which
    must themselves be the words of the names with the professional's active flag and the
    mask of those words.
    Summaries: ``PractitionerSummarySchema``'s dump, encoded as the JSON API does.
    """
    db.session.flush()
    db.session.expire_all()
    owners: dict[tuple[str, bool], set[int]] = collections.defaultdict(set)
    people = db.session.scalars(select(Practitioner)).all()
    by_id = {p.id: p for p in people}
    stored_tokens: dict[int, set[tuple[str, bool, int]]] = collections.defaultdict(set)
    for owner, token, active, mask in db.session.execute(
        select(
            PractitionerToken.practitioner_id,
            PractitionerToken.token,
            PractitionerToken.active,
            PractitionerToken.name_mask,
        )
    ):
        stored_tokens[owner].add((token, active, mask))
        for end in range(1, len(token) + 1):
            owners[token[:end], active].add(owner)
    for person in people:
        words = tokens(person.last_name, person.first_name)
        mask = _mask(words)
        expected = {(word, person.active, mask) for word in words}
        assert stored_tokens[person.id] == expected, person.name_key
    recomputed = {key: len(ids) for key, ids in owners.items()}
    stored = {
        (prefix, active): n
        for prefix, active, n in db.session.execute(
            select(PractitionerPrefix.prefix, PractitionerPrefix.active, PractitionerPrefix.owners)
        )
    }
    assert stored == recomputed
    schema = PractitionerSummarySchema()
    for key, person in by_id.items():
        dumped = json.dumps(schema.dump(person), sort_keys=True, separators=(",", ":"))
        assert person.summary == dumped, key


def _mask(words: list[str]) -> int:
    # Spelled out again: a bit per hashed pair of leading letters.
    bits = {(ord(word[0]) * 37 + ord(word[1])) % 63 for word in words if len(word) > 1}
    return sum(1 << bit for bit in bits)
