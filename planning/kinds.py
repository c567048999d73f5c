"""The catalogue of RCP kinds: CI-SIS organ/appareil value sets plus population RCPs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "rcp_kinds.json"


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    #: "tumour" (CI-SIS JDV_RCP_Organe / JDV_RCP_Appareil) or "population" (local codes).
    category: str
    code_system: str
    code_system_name: str
    value_sets: tuple[str, ...]


@cache
def catalogue() -> dict[str, Kind]:
    """Every known kind by code, in the order of the source value sets."""
    document = json.loads(DATA.read_text(encoding="utf-8"))
    return {
        item["code"]: Kind(
            code=item["code"],
            label=item["label"],
            category=item["category"],
            code_system=item["code_system"],
            code_system_name=item["code_system_name"],
            value_sets=tuple(item["value_sets"]),
        )
        for item in document["kinds"]
    }


def get(code: str) -> Kind | None:
    return catalogue().get(code)


def label_of(code: str) -> str:
    kind = get(code)
    return kind.label if kind else code
