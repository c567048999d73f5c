"""Evaluate a referential's decision tree against a fiche: which recommendations apply, and why.

A tree node is a JSON object ``{"id", "kind": situation|decision|recommendation, "title",
"text", "rationale", "criteria", "children": [...]}``; recommendations add ``treatment_type``,
``intent``, ``category``, ``strength``, ``evidence_level`` and ``references``. A node applies
when its criteria and those of all its ancestors are met; when some are indeterminate (the
fiche lacks a field) its recommendations are returned as *indeterminate* with the missing
fields, never dropped as if they did not apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from guidelines import criteria
from guidelines.criteria import Outcome

NODE_KINDS = ("situation", "decision", "recommendation")
TREATMENT_TYPES = (
    "chirurgie",
    "radiotherapie",
    "curietherapie",
    "chimiotherapie",
    "therapie_ciblee",
    "hormonotherapie",
    "immunotherapie",
    "surveillance",
    "essai_clinique",
    "soins_de_support",
    "autre",
)
INTENTS = ("curative", "adjuvant", "neoadjuvant", "palliative", "surveillance")
CATEGORIES = ("standard", "option", "clinical_trial")
NODE_KEYS = {
    "id",
    "kind",
    "title",
    "text",
    "rationale",
    "criteria",
    "children",
    "treatment_type",
    "intent",
    "category",
    "strength",
    "evidence_level",
    "references",
}


class TreeError(ValueError):
    """An invalid decision tree; ``pointer`` is the JSON pointer of the faulty node."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer or "/"
        self.message = message


def validate_tree(root: Any, pointer: str = "/tree") -> None:
    """Raise ``TreeError`` naming the faulty node unless every node and criterion is valid."""
    seen: set[str] = set()
    _validate_node(root, pointer, seen)


def _validate_node(node: Any, pointer: str, seen: set[str]) -> None:
    if not isinstance(node, Mapping):
        raise TreeError(pointer, "a node must be an object")
    unknown = set(node) - NODE_KEYS
    if unknown:
        raise TreeError(pointer, f"unknown keys {sorted(unknown)}")
    node_id = node.get("id")
    if not isinstance(node_id, str) or not node_id:
        raise TreeError(f"{pointer}/id", "every node needs a non-empty string id")
    if node_id in seen:
        raise TreeError(f"{pointer}/id", f"duplicate node id {node_id!r}")
    seen.add(node_id)
    kind = node.get("kind")
    if kind not in NODE_KINDS:
        raise TreeError(f"{pointer}/kind", f"kind must be one of {', '.join(NODE_KINDS)}")
    if not isinstance(node.get("title"), str) or not node["title"].strip():
        raise TreeError(f"{pointer}/title", "every node needs a title")
    if node.get("criteria") is not None:
        try:
            criteria.validate(node["criteria"], f"{pointer}/criteria")
        except criteria.CriteriaError as error:
            raise TreeError(error.pointer, error.message) from error
    children = node.get("children", [])
    if not isinstance(children, list):
        raise TreeError(f"{pointer}/children", "children must be a list of nodes")
    if kind == "recommendation":
        if children:
            raise TreeError(f"{pointer}/children", "a recommendation is a leaf")
        for key, allowed in (
            ("treatment_type", TREATMENT_TYPES),
            ("intent", INTENTS),
            ("category", CATEGORIES),
        ):
            if node.get(key) not in allowed:
                raise TreeError(f"{pointer}/{key}", f"{key} must be one of {', '.join(allowed)}")
        refs = node.get("references", [])
        if not isinstance(refs, list) or not all(isinstance(r, Mapping) for r in refs):
            raise TreeError(f"{pointer}/references", "references is a list of objects")
    for index, child in enumerate(children):
        _validate_node(child, f"{pointer}/children/{index}", seen)


def iter_nodes(root: Mapping[str, Any]) -> Iterator[tuple[list[Mapping[str, Any]], Any]]:
    """Every node with its ancestors (root first), depth first."""
    stack: list[tuple[list[Mapping[str, Any]], Mapping[str, Any]]] = [([], root)]
    while stack:
        ancestors, node = stack.pop()
        yield ancestors, node
        for child in reversed(node.get("children", [])):
            stack.append(([*ancestors, node], child))


@dataclass
class Applicable:
    """A recommendation that applies (met) or may apply (indeterminate) to the fiche."""

    node: Mapping[str, Any]
    outcome: Outcome
    path: list[dict[str, str]]
    trace: list[dict[str, Any]]
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        node = self.node
        return {
            "node_id": node["id"],
            "title": node["title"],
            "text": node.get("text", ""),
            "rationale": node.get("rationale", ""),
            "treatment_type": node.get("treatment_type"),
            "intent": node.get("intent"),
            "category": node.get("category"),
            "strength": node.get("strength"),
            "evidence_level": node.get("evidence_level"),
            "references": list(node.get("references", [])),
            "outcome": self.outcome.value,
            "path": self.path,
            "trace": self.trace,
            "missing_fields": self.missing,
        }


@dataclass(frozen=True, slots=True)
class _Node:
    """A tree node with its criteria compiled and its path step built once."""

    node: Mapping[str, Any]
    criteria: criteria.Compiled | None
    step: dict[str, str]
    children: tuple[_Node, ...]


_COMPILED: dict[int, tuple[Mapping[str, Any], _Node]] = {}


def compile_tree(root: Mapping[str, Any], pointer: str = "/tree") -> _Node:
    """The evaluable form of a (valid) tree; compiled trees are kept while the tree lives."""
    entry = _COMPILED.get(id(root))
    if entry is not None and entry[0] is root:
        return entry[1]
    compiled = _compile(root, pointer)
    if len(_COMPILED) > 20_000:
        _COMPILED.clear()
    _COMPILED[id(root)] = (root, compiled)
    return compiled


def _compile(node: Mapping[str, Any], pointer: str) -> _Node:
    return _Node(
        node,
        criteria.compile_criterion(node.get("criteria"), f"{pointer}/criteria"),
        {"id": node["id"], "kind": node["kind"], "title": node["title"]},
        tuple(
            _compile(child, f"{pointer}/children/{i}")
            for i, child in enumerate(node.get("children", []))
        ),
    )


def applicable_recommendations(root: Mapping[str, Any], fiche: Any) -> list[Applicable]:
    """The recommendations met or indeterminate for ``fiche``, in tree order."""
    found: list[Applicable] = []
    _walk(compile_tree(root), criteria.bind(fiche), [], [], [], Outcome.MET, found)
    return found


def _walk(
    compiled: _Node,
    fiche: criteria.BoundFiche,
    path: list[dict[str, str]],
    trace: list[dict[str, Any]],
    missing: list[str],
    inherited: Outcome,
    found: list[Applicable],
) -> None:
    result = (
        criteria.run(compiled.criteria, fiche)
        if compiled.criteria is not None
        else criteria.Result(Outcome.MET)
    )
    if result.outcome is Outcome.NOT_MET:
        return
    node = compiled.node
    here = [*path, compiled.step]
    if result.trace:
        node_id = node["id"]
        trace = [*trace, *({"node_id": node_id, **leaf.as_dict()} for leaf in result.trace)]
    outcome = inherited
    if result.outcome is Outcome.INDETERMINATE:
        outcome = Outcome.INDETERMINATE
        missing = [*missing, *(m for m in result.missing if m not in missing)]
    if node["kind"] == "recommendation":
        found.append(Applicable(node, outcome, here, trace, missing))
        return
    for child in compiled.children:
        _walk(child, fiche, here, trace, missing, outcome, found)
