"""Labels of national codes: professions (TRE_G15), specialties (TRE_R38), FINESS categories.

The CSV files next to this module are transcriptions of the ANS terminology server and of the
DREES category lists (provenance in ``nomenclatures/SOURCES.md``).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

_DIR = Path(__file__).resolve().parent / "nomenclatures"

#: Profession codes the extraction carries under "usage de titre", absent from TRE_G15.
_EXTRA_PROFESSIONS = {"71": "Ostéopathe", "72": "Psychothérapeute", "73": "Chiropracteur"}

MODES_EXERCICE = {"L": "Libéral", "S": "Salarié", "B": "Bénévole"}


def _read(name: str) -> dict[str, str]:
    with (_DIR / name).open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        return {row["code"]: row["libelle"] for row in csv.DictReader(lines, delimiter=";")}


@functools.cache
def professions() -> dict[str, str]:
    """Profession code -> label (``10`` -> ``Médecin``)."""
    return {**_EXTRA_PROFESSIONS, **_read("TRE_G15_ProfessionSante.csv")}


@functools.cache
def specialties() -> dict[str, str]:
    """Specialty (savoir-faire) code -> label without the ``(SM)`` suffix."""
    return {
        code: label.rsplit(" (", 1)[0] if label.endswith(")") else label
        for code, label in _read("TRE_R38_SpecialiteOrdinale.csv").items()
    }


@functools.cache
def categories() -> dict[str, str]:
    """FINESS category code -> label; the TRE_R66 (NOS) label wins over the DREES one."""
    return {
        **_read("finess_categories_drees_2021.csv"),
        **_read("TRE_R66_CategorieEtablissement_sanitaire_SAE.csv"),
    }


def profession_label(code: str | None) -> str | None:
    return professions().get(code) if code else None


def specialty_label(code: str | None) -> str | None:
    return specialties().get(code) if code else None


def category_label(code: str | None) -> str | None:
    return categories().get(code) if code else None
