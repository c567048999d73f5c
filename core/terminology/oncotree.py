"""OncoTree (MSK, CC BY 4.0): the tumour-type hierarchy, with CIM-10 and ICD-O-3 entry points."""

from __future__ import annotations

import csv
import functools
import unicodedata
from dataclasses import dataclass
from importlib import resources

from core.terminology import cim10

ROOT = "TISSUE"


@dataclass(frozen=True)
class Node:
    code: str
    name: str
    main_type: str
    tissue: str
    parent: str
    level: int


#: CIM-10 topography blocks -> the OncoTree node that covers them (most specific first).
CIM10_TO_ONCOTREE: tuple[tuple[str, str], ...] = (
    ("C00-C14", "HEAD_NECK"),
    ("C15", "STOMACH"),  # OncoTree groups oesophagus and stomach
    ("C16", "STOMACH"),
    ("C17", "BOWEL"),
    ("C18-C20", "COADREAD"),
    ("C21", "BOWEL"),
    ("C22", "LIVER"),
    ("C23-C24", "BILIARY_TRACT"),
    ("C25", "PANCREAS"),
    ("C30-C32", "HEAD_NECK"),
    ("C33-C34", "LUNG"),
    ("C37", "THYMUS"),
    ("C38.4", "PLEURA"),
    ("C40-C41", "BONE"),
    ("C43", "MEL"),
    ("C44", "SKIN"),
    ("C45", "PLEURA"),
    ("C47", "PNS"),
    ("C48", "PERITONEUM"),
    ("C49", "SOFT_TISSUE"),
    ("C50", "BREAST"),
    ("C51-C52", "VULVA"),
    ("C53", "CERVIX"),
    ("C54-C55", "UTERUS"),
    ("C56-C57", "OVARY"),
    ("C60", "PENIS"),
    ("C61", "PROSTATE"),
    ("C62", "TESTIS"),
    ("C64-C65", "KIDNEY"),
    ("C66-C68", "BLADDER"),
    ("C69", "EYE"),
    ("C70-C72", "BRAIN"),
    ("C73", "THYROID"),
    ("C74", "ADRENAL_GLAND"),
    ("C81-C88", "LYMPH"),
    ("C90", "LYMPH"),
    ("C91", "LYMPH"),
    ("C92-C94", "MYELOID"),
)


def fold(text: str) -> str:
    """Lower-case, accents removed, punctuation to spaces: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join("".join(c if c.isalnum() else " " for c in bare).split())


class OncoTree:
    """The loaded tree; build once with ``tree()``."""

    def __init__(self, nodes: list[Node], icdo3: list[tuple[str, str, list[str]]]) -> None:
        self.nodes = {n.code: n for n in nodes}
        self.children: dict[str, list[str]] = {}
        for node in nodes:
            self.children.setdefault(node.parent, []).append(node.code)
        self._by_name: dict[str, Node] = {}
        self._by_main_type: dict[str, Node] = {}
        for node in nodes:
            self._by_name.setdefault(fold(node.name), node)
            self._by_name.setdefault(fold(node.code), node)
            # a main type names its shallowest node (NSCLC for "Non-Small Cell Lung Cancer")
            current = self._by_main_type.get(fold(node.main_type))
            if current is None or node.level < current.level:
                self._by_main_type[fold(node.main_type)] = node
        self._icdo3 = [(h, s, [c for c in codes if c in self.nodes]) for h, s, codes in icdo3]

    def get(self, code: str | None) -> Node | None:
        return self.nodes.get(code.strip().upper()) if code else None

    def ancestors(self, code: str) -> list[str]:
        """From the parent up to the tissue level (the root is not listed)."""
        out = []
        node = self.get(code)
        while node is not None and node.parent != ROOT:
            out.append(node.parent)
            node = self.nodes.get(node.parent)
        return out

    def is_a(self, code: str | None, ancestor: str) -> bool:
        """Whether ``code`` is ``ancestor`` or lies below it (LUAD is_a NSCLC is_a LUNG)."""
        node = self.get(code)
        if node is None:
            return False
        target = ancestor.strip().upper()
        return node.code == target or target in self.ancestors(node.code)

    def descendants(self, code: str) -> set[str]:
        out: set[str] = set()
        stack = list(self.children.get(code.strip().upper(), []))
        while stack:
            current = stack.pop()
            out.add(current)
            stack.extend(self.children.get(current, []))
        return out

    def find(self, text: str) -> list[Node]:
        """The node whose name or code equals ``text`` (accents and case ignored), else the
        shallowest node of that main type, else the nodes whose name has every word of it."""
        key = fold(text)
        if key in self._by_name:
            return [self._by_name[key]]
        if key in self._by_main_type:
            return [self._by_main_type[key]]
        words = key.split()
        if not words:
            return []
        return [n for n in self.nodes.values() if all(w in fold(n.name).split() for w in words)]

    def from_cim10(self, code: str | None) -> str | None:
        normalized = cim10.normalize(code)
        if normalized is None:
            return None
        for spec, oncotree_code in CIM10_TO_ONCOTREE:
            if cim10.in_range(normalized, spec):
                return oncotree_code
        return None

    def from_icdo3(self, histology: str | None, site: str | None = None) -> list[str]:
        """Candidate OncoTree codes of an ICD-O-3 morphology (and topography, when given)."""
        if not histology:
            return []
        histology = histology.strip()
        site_code = cim10.normalize(site) if site else None
        rows = [(cim10.normalize(s) or "", codes) for h, s, codes in self._icdo3 if h == histology]
        if site_code:
            # the crosswalk mostly lists ".9" sites: fall back to the same 3-character block
            exact = [codes for s, codes in rows if s == site_code]
            rows_codes = exact or [codes for s, codes in rows if s[:3] == site_code[:3]]
        else:
            rows_codes = [codes for _, codes in rows]
        out: list[str] = []
        for codes in rows_codes:
            out.extend(c for c in codes if c not in out)
        return out


@functools.cache
def tree() -> OncoTree:
    data = resources.files("core.terminology") / "data"
    with (data / "oncotree_2025_10_03.tsv").open(encoding="utf-8") as handle:
        nodes = [
            Node(
                row["code"],
                row["name"],
                row["main_type"],
                row["tissue"],
                row["parent"],
                int(row["level"]),
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]
    with (data / "oncotree_icdo3_map_2018_06_15.tsv").open(encoding="utf-8") as handle:
        icdo3 = [
            (
                row["ICD_O_3_HISTCODE"],
                row["ICD_O_3_SITECODE"],
                [c.strip() for c in row["ONCOTREE_CODE_LIST"].split(",") if c.strip()],
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]
    return OncoTree(nodes, icdo3)
