"""Fixtures of the trials tests: the real demo records, loaded and indexed on demand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.fiche import load_fiche
from trials import importers, services
from trials.cli import DEMO_DATA

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trials"

#: The fiche of the issue: NSCLC, EGFR exon 19 deletion, 64-year-old woman, ECOG 1, Brest.
BREST_FICHE: dict[str, Any] = {
    "age": 64,
    "sex": "female",
    "performance_status": 1,
    "diagnosis": {"text": "non-small cell lung cancer"},
    "biomarkers": [{"name": "EGFR", "alteration": "exon 19 deletion"}],
    "residence": {"postal_code": "29200"},
}


@pytest.fixture(scope="session")
def demo_records() -> list[importers.TrialRecord]:
    records: list[importers.TrialRecord] = []
    for path in importers.iter_files([DEMO_DATA]):
        records.extend(importers.parse_file(path).records)
    return records


@pytest.fixture
def index_dir(app: Flask) -> Path:
    return Path(app.extensions["dcc"].settings.index_dir)


@pytest.fixture
def load_demo(
    demo_records: list[importers.TrialRecord], index_dir: Path
) -> Callable[..., services.ImportReport]:
    """Import the demo records (rolled back after the test) and rebuild the app's index."""

    def load(only: Callable[[importers.TrialRecord], bool] | None = None) -> services.ImportReport:
        report = services.ImportReport()
        records = [r for r in demo_records if only is None or only(r)]
        services.import_records(records, report=report)
        services.rebuild_index(index_dir=index_dir)
        return report

    return load


@pytest.fixture
def fiche() -> Callable[..., Any]:
    """``fiche(age=16)``: the Brest fiche with overrides, loaded as a core Fiche."""

    def make(**overrides: Any) -> Any:
        return load_fiche({**BREST_FICHE, **overrides})

    return make
