"""A readable diff between two versions of a referential: metadata fields and tree nodes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guidelines.applicability import iter_nodes
from guidelines.criteria import describe

NODE_FIELDS = (
    "kind",
    "title",
    "text",
    "rationale",
    "criteria",
    "treatment_type",
    "intent",
    "category",
    "strength",
    "evidence_level",
    "references",
)


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Changes from ``old`` to ``new`` (exported contents), metadata first, then nodes.

    Nodes are matched by their ``id`` (stable across versions), so a moved node shows as
    moved rather than as removed and added.
    """
    changes: list[dict[str, Any]] = []
    for name in sorted(set(old) | set(new)):
        if name == "tree" or old.get(name) == new.get(name):
            continue
        changes.append(
            {"kind": "field", "where": name, "before": old.get(name), "after": new.get(name)}
        )
    old_nodes = _nodes(old.get("tree") or {})
    new_nodes = _nodes(new.get("tree") or {})
    for node_id, (path, node) in new_nodes.items():
        if node_id not in old_nodes:
            changes.append(
                {
                    "kind": "node_added",
                    "where": node_id,
                    "before": None,
                    "after": node["title"],
                    "path": path,
                }
            )
            continue
        old_path, old_node = old_nodes[node_id]
        if old_path[:-1] != path[:-1]:
            changes.append(
                {
                    "kind": "node_moved",
                    "where": node_id,
                    "before": " > ".join(old_path),
                    "after": " > ".join(path),
                    "path": path,
                }
            )
        for name in NODE_FIELDS:
            before, after = old_node.get(name), node.get(name)
            if before != after:
                if name == "criteria":
                    before, after = describe(before), describe(after)
                changes.append(
                    {
                        "kind": "node_changed",
                        "where": f"{node_id}.{name}",
                        "before": before,
                        "after": after,
                        "path": path,
                    }
                )
    for node_id, (path, node) in old_nodes.items():
        if node_id not in new_nodes:
            changes.append(
                {
                    "kind": "node_removed",
                    "where": node_id,
                    "before": node["title"],
                    "after": None,
                    "path": path,
                }
            )
    return changes


def _nodes(root: Mapping[str, Any]) -> dict[str, tuple[list[str], Mapping[str, Any]]]:
    if not root:
        return {}
    return {
        node["id"]: ([*(a["title"] for a in ancestors), node["title"]], node)
        for ancestors, node in iter_nodes(root)
    }


def render(changes: list[dict[str, Any]]) -> str:
    """One line per change, e.g. ``~ n12.criteria: a -> b``."""
    lines = []
    for change in changes:
        kind, where = change["kind"], change["where"]
        if kind == "node_added":
            lines.append(f"+ {' > '.join(change['path'])}")
        elif kind == "node_removed":
            lines.append(f"- {' > '.join(change['path'])}")
        elif kind == "node_moved":
            lines.append(f"~ {where} moved: {change['before']} -> {change['after']}")
        else:
            lines.append(f"~ {where}: {_short(change['before'])} -> {_short(change['after'])}")
    return "\n".join(lines)


def _short(value: Any, limit: int = 160) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
