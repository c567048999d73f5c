"""The Whoosh full-text index of referential versions (French analysis), derived from the DB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup

from core.search import IndexStore, folding_analyzer
from guidelines.applicability import iter_nodes

FRENCH = folding_analyzer("fr")
SCHEMA = Schema(
    id=ID(stored=True, unique=True),
    key=ID(stored=True),
    title=TEXT(analyzer=FRENCH, field_boost=3.0),
    body=TEXT(analyzer=FRENCH),
    localisation=TEXT(analyzer=FRENCH, field_boost=2.0),
)
FIELDS = ("title", "body", "localisation")
#: File beside the segments naming the database state the index was rebuilt from.
WATERMARK = "DB_WATERMARK"


def document(content: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed form of a version (``content``: id, key, title, summary, tree, ...)."""
    texts = [
        content.get("summary") or "",
        content.get("owner_org") or "",
        (content.get("organ_code") or "").replace("-", " "),
    ]
    tree = content.get("tree") or {}
    if tree:
        for _ancestors, node in iter_nodes(tree):
            texts += [node.get("title", ""), node.get("text", ""), node.get("rationale", "")]
            if node.get("treatment_type"):
                texts.append(str(node["treatment_type"]).replace("_", " "))
    localisation = " ".join(
        str(content.get(k) or "") for k in ("localisation_oncotree", "localisation_cim10")
    )
    return {
        "id": str(content["id"]),
        "key": content["key"],
        "title": content["title"],
        "body": "\n".join(t for t in texts if t),
        "localisation": f"{localisation} {content.get('localisation_text') or ''}",
    }


class GuidelineIndex:
    """Search and maintenance of the referential index in ``path``."""

    def __init__(self, path: Path) -> None:
        self.store = IndexStore(Path(path), SCHEMA)

    def search(self, text: str, *, limit: int = 100) -> list[int]:
        """Version ids best first; an index missing or damaged raises ``IndexUnavailable``."""
        parser = MultifieldParser(FIELDS, schema=SCHEMA, group=OrGroup.factory(0.9))
        query = parser.parse(text)
        with self.store.searcher() as searcher:
            return [int(hit["id"]) for hit in searcher.search(query, limit=limit)]

    def update(self, documents: Iterable[dict[str, Any]]) -> int:
        """Raises ``IndexUnavailable`` when the index is missing: only a rebuild restores it."""
        return self.store.update(documents)

    def rebuild(
        self, documents: Iterable[dict[str, Any]], *, watermark: str = "", **kwargs: Any
    ) -> int:
        """Rebuild and swap in; ``watermark`` records the database state the index reflects."""
        count = self.store.rebuild(documents, **kwargs)
        if watermark:
            # written after the swap: a concurrent rebuild in between only costs one more rebuild
            (self.store.path / WATERMARK).write_text(watermark, encoding="utf-8")
        return count

    def watermark(self) -> str:
        """The database state of the last full rebuild ("" when unknown)."""
        try:
            return (self.store.path / WATERMARK).read_text(encoding="utf-8").strip()
        except (OSError, ValueError):  # missing, or damaged (not UTF-8)
            return ""

    def check(self) -> tuple[bool, str]:
        return self.store.check()
