"""Factories of the guidelines tests: fiches, trees, referential versions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.auth import Principal, Role
from core.fiche import load_fiche
from guidelines import services
from guidelines.models import Referential

DEMO = Path(__file__).resolve().parents[2] / "guidelines" / "demo_data"

NATIONAL = Principal(subject="national-author", role=Role.NATIONAL_ADMIN, issuer="tests")
NATIONAL_VALIDATOR = Principal(
    subject="national-validator", role=Role.NATIONAL_ADMIN, issuer="tests"
)
BRETAGNE = Principal(subject="bzh-author", role=Role.REGIONAL_ADMIN, issuer="tests", region="53")
BRETAGNE_VALIDATOR = Principal(
    subject="bzh-validator", role=Role.REGIONAL_ADMIN, issuer="tests", region="53"
)

LUNG_STAGE_IV_EGFR = {
    "age": 64,
    "sex": "female",
    "performance_status": 1,
    "diagnosis": {"oncotree_code": "LUAD", "cim10": "C34.1", "histology": "8140/3"},
    "tnm": {"prefix": "c", "t": "T2a", "n": "N2", "m": "M1c", "stage_group": "IVB"},
    "biomarkers": [
        {"name": "EGFR", "alteration": "exon 19 deletion"},
        {"name": "PD-L1", "value": 50, "unit": "%"},
    ],
    "metastatic_sites": ["brain"],
    "phase": "initial",
}


def demo_document(name: str) -> dict[str, Any]:
    return json.loads((DEMO / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def empty_index(app: Any) -> Any:
    """The index outlives the rolled-back transactions: start each test from an empty one."""
    index = app.extensions["guidelines_index"]
    index.rebuild([])
    return index


@pytest.fixture
def fiche() -> Callable[..., Any]:
    """``fiche(**overrides)``: the stage IV EGFR-mutated lung adenocarcinoma, changed."""

    def make(**overrides: Any) -> Any:
        data = copy.deepcopy(LUNG_STAGE_IV_EGFR) | overrides
        return load_fiche({k: v for k, v in data.items() if v is not ...})

    return make


@pytest.fixture
def referential_data() -> Callable[..., dict[str, Any]]:
    """``referential_data("national-poumon-cbnpc", **overrides)``: content as a write body."""

    def make(name: str = "national-poumon-cbnpc", **overrides: Any) -> dict[str, Any]:
        content = demo_document(name)["referential"]
        content.update(overrides)
        return content

    return make


@pytest.fixture
def create_referential(
    referential_data: Callable[..., dict[str, Any]],
) -> Callable[..., Referential]:
    """``create_referential(name, status="active", **overrides)`` through the services."""

    def make(
        name: str = "national-poumon-cbnpc", *, status: str = "active", **overrides: Any
    ) -> Referential:
        data = referential_data(name, **overrides)
        author, validator = (
            (NATIONAL, NATIONAL_VALIDATOR)
            if data["owner_level"] == "national"
            else (BRETAGNE, BRETAGNE_VALIDATOR)
        )
        for key in ("effective_from", "effective_to", "next_review_due"):
            if isinstance(data.get(key), str):
                data[key] = _date(data[key])
        referential = services.create_referential(principal=author, data=data)
        if status in ("in_review", "active", "retired"):
            services.submit_referential(principal=author, referential_id=referential.id)
        if status in ("active", "retired"):
            services.approve_referential(principal=validator, referential_id=referential.id)
        if status == "retired":
            services.retire_referential(principal=validator, referential_id=referential.id)
        return referential

    return make


def _date(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)
