"""The applicability criteria language: validation at write time and three-valued evaluation.

A criterion is a JSON object, either a group or a leaf:

- group: ``{"all": [...]}``, ``{"any": [...]}`` or ``{"none": [...]}`` (an empty group is met);
- leaf: ``{"field": <path>, "op": <operator>, "value": <value>}`` (``exists`` and ``missing``
  take no value, ``in``/``not_in`` a list, ``between`` a ``[low, high]`` pair, inclusive).

Field paths address the structured fiche (``core.fiche.Fiche``), dot-separated:

========================================  =======================================================
``age``, ``karnofsky``, ``prior_lines``    integers
``performance_status``                     ECOG/OMS 0-4 (given, or derived from Karnofsky)
``sex``                                    ``female`` | ``male``
``phase``                                  ``initial`` | ``relapse``
``menopausal_status``                      ``pre`` | ``post``
``brain_metastases``                       ``none`` | ``stable`` | ``active``
``diagnosis.oncotree_code``                OncoTree code (given, or derived from CIM-10/ICD-O-3);
                                           ``is_a`` walks down the OncoTree hierarchy
``diagnosis.cim10``                        CIM-10 code; ``is_a`` takes a code or a range
                                           (``"C18-C20"``, ``"C50"``)
``diagnosis.histology``                    ICD-O-3 morphology (``"8140/3"``); ``is_a`` takes a
                                           prefix (``"814"`` = adenocarcinoma family)
``tnm.prefix``                             ``c`` | ``p`` | ``yp``
``tnm.t`` / ``tnm.n`` / ``tnm.m``          ordered TNM categories: ``lt``...``between`` compare
                                           ranks, ``is_a`` means a sub-category (T2a is_a T2)
``tnm.stage_group``                        ordered stage (IVB > IIIC); ``is_a``: IVB is_a IV
``biomarkers.<NAME>.status``               ``positive`` | ``negative`` | ``wild_type``; the name
                                           is folded to its canonical symbol (HER2 -> ERBB2);
                                           a biomarker absent from the fiche, or a status
                                           ``unknown``, is a missing field
``biomarkers.<NAME>.alteration``           normalised alteration (``"exon 19 deletion"``, ...)
``biomarkers.<NAME>.value``                number (PD-L1 TPS in %, TMB ...)
``biomarkers.<NAME>.fusion_partner``       gene symbol
``metastatic_sites``                       list: ``eq``/``in`` mean "contains"/"contains one of"
``prior_treatments.type``                  list of the types of prior treatments
``prior_treatments.drugs``                 list of the drugs of prior treatments (lower case)
========================================  =======================================================

A value the fiche does not give makes a leaf *indeterminate* (except ``exists``/``missing``,
which are decided by absence itself); groups combine with Kleene's three-valued logic, so an
indeterminate leaf never silently becomes "not met".
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.fiche import METASTATIC_SITES, TREATMENT_TYPES
from core.terminology import cim10, genes, tnm
from core.terminology.oncotree import tree

GROUPS = ("all", "any", "none")
OPERATORS = ("eq", "in", "not_in", "lt", "le", "gt", "ge", "between", "exists", "missing", "is_a")
ORDER_OPS = ("lt", "le", "gt", "ge", "between")


class Outcome(enum.StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    INDETERMINATE = "indeterminate"


class CriteriaError(ValueError):
    """An invalid criterion; ``pointer`` is the JSON pointer of the faulty node."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer or "/"
        self.message = message


class Missing:
    """The fiche does not give this field."""

    _instance: Missing | None = None

    def __new__(cls) -> Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


# --- fields ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """What a field path holds and which operators make sense on it."""

    kind: str  # "number" | "enum" | "code" | "list"
    choices: tuple[str, ...] = ()
    hierarchy: str | None = None  # "oncotree" | "cim10" | "icdo3" | "t" | "n" | "m" | "stage"

    def operators(self) -> tuple[str, ...]:
        base = ("eq", "in", "not_in", "exists", "missing")
        if self.kind == "number":
            return (*base, *ORDER_OPS)
        if self.hierarchy in ("t", "n", "m", "stage"):
            return (*base, *ORDER_OPS, "is_a")
        if self.hierarchy:
            return (*base, "is_a")
        return base


FIELDS: dict[str, FieldSpec] = {
    "age": FieldSpec("number"),
    "karnofsky": FieldSpec("number"),
    "performance_status": FieldSpec("number"),
    "prior_lines": FieldSpec("number"),
    "sex": FieldSpec("enum", ("female", "male")),
    "phase": FieldSpec("enum", ("initial", "relapse")),
    "menopausal_status": FieldSpec("enum", ("pre", "post")),
    "brain_metastases": FieldSpec("enum", ("none", "stable", "active")),
    "diagnosis.oncotree_code": FieldSpec("code", hierarchy="oncotree"),
    "diagnosis.cim10": FieldSpec("code", hierarchy="cim10"),
    "diagnosis.histology": FieldSpec("code", hierarchy="icdo3"),
    "tnm.prefix": FieldSpec("enum", ("c", "p", "yp")),
    "tnm.t": FieldSpec("code", hierarchy="t"),
    "tnm.n": FieldSpec("code", hierarchy="n"),
    "tnm.m": FieldSpec("code", hierarchy="m"),
    "tnm.stage_group": FieldSpec("code", hierarchy="stage"),
    "metastatic_sites": FieldSpec("list", METASTATIC_SITES),
    "prior_treatments.type": FieldSpec("list", TREATMENT_TYPES),
    "prior_treatments.drugs": FieldSpec("list"),
}

BIOMARKER_FIELDS: dict[str, FieldSpec] = {
    "status": FieldSpec("enum", ("positive", "negative", "wild_type")),
    "alteration": FieldSpec("code"),
    "value": FieldSpec("number"),
    "fusion_partner": FieldSpec("code"),
}

_BIOMARKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,30}$")


@functools.lru_cache(maxsize=4096)
def field_spec(path: str) -> FieldSpec | None:
    """The spec of a field path, or None when the path addresses nothing in the fiche."""
    if path in FIELDS:
        return FIELDS[path]
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "biomarkers" and _BIOMARKER_NAME.match(parts[1]):
        return BIOMARKER_FIELDS.get(parts[2])
    return None


def canonical_biomarker(name: str) -> str:
    return genes.canonical_gene(name)


@functools.lru_cache(maxsize=4096)
def canonical_path(path: str) -> str:
    """The path with its biomarker name folded (``biomarkers.HER2.status`` -> ``ERBB2``)."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "biomarkers":
        return f"biomarkers.{canonical_biomarker(parts[1])}.{parts[2]}"
    return path


# --- resolving a path against a fiche ---------------------------------------------------------


class BoundFiche:
    """A fiche with its resolved paths memoised: one evaluation reads the same fields often."""

    __slots__ = ("_values", "fiche")

    def __init__(self, fiche: Any) -> None:
        self.fiche = fiche
        self._values: dict[str, Any] = {}

    def get(self, path: str) -> Any:
        try:
            return self._values[path]
        except KeyError:
            value = self._values[path] = resolve(self.fiche, path)
            return value


def bind(fiche: Any) -> BoundFiche:
    """Wrap a fiche for repeated evaluations (idempotent)."""
    return fiche if isinstance(fiche, BoundFiche) else BoundFiche(fiche)


def resolve(fiche: Any, path: str) -> Any:
    """The value a path designates in ``fiche`` (a ``core.fiche.Fiche``), or ``MISSING``."""
    if isinstance(fiche, BoundFiche):
        return fiche.get(path)
    parts = path.split(".")
    head = parts[0]
    if head == "performance_status":
        return _present(fiche.ecog())
    if head == "diagnosis":
        if fiche.diagnosis is None and parts[1] != "oncotree_code":
            return MISSING
        if parts[1] == "oncotree_code":
            return _present(fiche.oncotree_code())
        return _present(getattr(fiche.diagnosis, parts[1]))
    if head == "tnm":
        return MISSING if fiche.tnm is None else _present(getattr(fiche.tnm, parts[1]))
    if head == "biomarkers":
        marker = fiche.biomarker(parts[1])
        if marker is None or (parts[2] == "status" and marker.status == "unknown"):
            return MISSING
        return _present(getattr(marker, parts[2]))
    if head == "metastatic_sites":
        return list(fiche.metastatic_sites)
    if head == "prior_treatments":
        if parts[1] == "type":
            return [t.type for t in fiche.prior_treatments]
        return [d.lower() for t in fiche.prior_treatments for d in t.drugs]
    return _present(getattr(fiche, head))


def _present(value: Any) -> Any:
    return MISSING if value is None or value == "" else value


# --- terminology-aware comparisons -----------------------------------------------------------


_RANKERS: dict[str, Callable[[str], Any]] = {
    "t": tnm.t_rank,
    "n": tnm.n_rank,
    "m": tnm.m_rank,
    "stage": tnm.stage_rank,
}


@functools.lru_cache(maxsize=4096)
def _rank(hierarchy: str | None, value: Any) -> Any:
    if hierarchy is None:
        return value
    rank = _RANKERS[hierarchy](str(value))
    if rank is None:  # TX, NX, "unknown": nothing to order
        raise ValueError(f"{value!r} cannot be ordered as {hierarchy.upper()}")
    return rank


@functools.lru_cache(maxsize=8192)
def _is_a(hierarchy: str, value: Any, ancestor: str) -> bool | None:
    """Whether ``value`` is under ``ancestor``; None when the fiche is too coarse to tell
    (a fiche saying LUNG cannot tell whether the tumour is a LUAD, nor stage IV an IVB)."""
    if _is_under(hierarchy, str(value), ancestor):
        return True
    if hierarchy != "cim10" and _is_under(hierarchy, ancestor, str(value)):
        return None
    return False


def _is_under(hierarchy: str, value: str, ancestor: str) -> bool:
    if hierarchy == "oncotree":
        return tree().is_a(value.upper(), ancestor.upper())
    if hierarchy == "cim10":
        return cim10.in_range(value, ancestor)
    if hierarchy == "icdo3":
        return value.replace("/", "").startswith(ancestor.replace("/", ""))
    if hierarchy == "stage":
        return tnm.stage_is_a(value, ancestor)
    # T/N/M: "T2a" is_a "T2", "M1c" is_a "M1"
    return tnm.category_is_a(value, ancestor, hierarchy.upper())


def _valid_code(hierarchy: str | None, value: Any) -> str | None:
    """Why ``value`` is not a code of ``hierarchy`` (None when it is)."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if hierarchy == "oncotree":
        if tree().get(value.upper()) is None:
            return f"{value!r} is not an OncoTree code"
    elif hierarchy == "cim10":
        if not cim10.is_valid_range(value):
            return f"{value!r} is not a CIM-10 code or range (e.g. C34, C18-C20)"
    elif hierarchy in ("t", "n", "m", "stage"):
        try:
            _rank(hierarchy, value)
        except (ValueError, KeyError):
            return f"{value!r} is not a {hierarchy.upper()} category"
    return None


# --- validation ------------------------------------------------------------------------------


def validate(criterion: Any, pointer: str = "") -> None:
    """Raise ``CriteriaError`` (with the JSON pointer of the faulty node) unless valid."""
    if not isinstance(criterion, Mapping):
        raise CriteriaError(pointer, "a criterion must be an object (group or leaf)")
    groups = [g for g in GROUPS if g in criterion]
    if groups:
        if len(criterion) != 1:
            raise CriteriaError(pointer, "a group has exactly one key: all, any or none")
        children = criterion[groups[0]]
        if not isinstance(children, list):
            raise CriteriaError(f"{pointer}/{groups[0]}", "a group holds a list of criteria")
        for index, child in enumerate(children):
            validate(child, f"{pointer}/{groups[0]}/{index}")
        return
    _validate_leaf(criterion, pointer)


def _validate_leaf(leaf: Mapping[str, Any], pointer: str) -> None:
    unknown = set(leaf) - {"field", "op", "value"}
    if unknown:
        raise CriteriaError(pointer, f"unknown keys {sorted(unknown)} (expected field, op, value)")
    path = leaf.get("field")
    if not isinstance(path, str):
        raise CriteriaError(f"{pointer}/field", "field is required (a fiche path)")
    spec = field_spec(path)
    if spec is None:
        raise CriteriaError(f"{pointer}/field", f"{path!r} is not a fiche field path")
    op = leaf.get("op")
    if op not in OPERATORS:
        raise CriteriaError(f"{pointer}/op", f"op must be one of {', '.join(OPERATORS)}")
    if op not in spec.operators():
        raise CriteriaError(f"{pointer}/op", f"{op} does not apply to {path}")
    value_pointer = f"{pointer}/value"
    if op in ("exists", "missing"):
        if "value" in leaf:
            raise CriteriaError(value_pointer, f"{op} takes no value")
        return
    if "value" not in leaf:
        raise CriteriaError(value_pointer, f"{op} needs a value")
    value = leaf["value"]
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise CriteriaError(value_pointer, f"{op} takes a non-empty list")
        items = value
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise CriteriaError(value_pointer, "between takes a [low, high] pair")
        items = value
        low, high = (_rank(spec.hierarchy, v) for v in value) if _all_valid(spec, value) else (0, 0)
        if low > high:
            raise CriteriaError(value_pointer, "between: low is above high")
    elif op == "is_a":
        items = value if isinstance(value, list) else [value]
    else:
        items = [value]
    for index, item in enumerate(items):
        problem = _value_problem(spec, item)
        if problem:
            where = (
                value_pointer
                if len(items) == 1 and not isinstance(value, list)
                else (f"{value_pointer}/{index}")
            )
            raise CriteriaError(where, problem)


def _all_valid(spec: FieldSpec, values: Sequence[Any]) -> bool:
    return all(_value_problem(spec, v) is None for v in values)


def _value_problem(spec: FieldSpec, value: Any) -> str | None:
    if spec.kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if spec.choices:
        return None if value in spec.choices else f"must be one of {', '.join(spec.choices)}"
    if spec.hierarchy:
        return _valid_code(spec.hierarchy, value)
    return None if isinstance(value, str) and value else "must be a non-empty string"


# --- evaluation ------------------------------------------------------------------------------


@dataclass(slots=True)
class LeafResult:
    """One leaf's verdict, as shown in a trace."""

    pointer: str
    field: str
    op: str
    value: Any
    patient_value: Any
    outcome: Outcome

    def as_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.pointer,
            "field": self.field,
            "op": self.op,
            "value": self.value,
            "patient_value": None if self.patient_value is MISSING else self.patient_value,
            "outcome": self.outcome.value,
        }


@dataclass(slots=True)
class Result:
    """A criterion's outcome, the leaves that decided it and the fields the fiche lacked."""

    outcome: Outcome
    trace: list[LeafResult] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Leaf:
    """A compiled leaf: path folded, spec looked up, pointer built once."""

    pointer: str
    path: str
    op: str
    value: Any
    spec: FieldSpec | None


@dataclass(frozen=True, slots=True)
class Group:
    kind: str
    children: tuple[Leaf | Group, ...]


Compiled = Leaf | Group


def compile_criterion(criterion: Mapping[str, Any] | None, pointer: str = "") -> Compiled | None:
    """The evaluable form of a (valid) criterion; None when it is empty (always met)."""
    if not criterion:
        return None
    for kind in GROUPS:
        if kind in criterion:
            children = (
                compile_criterion(c, f"{pointer}/{kind}/{i}") for i, c in enumerate(criterion[kind])
            )
            return Group(kind, tuple(c for c in children if c is not None))
    path = canonical_path(criterion["field"])
    return Leaf(pointer, path, criterion["op"], criterion.get("value"), field_spec(path))


def evaluate(
    criterion: Mapping[str, Any] | Compiled | None, fiche: Any, pointer: str = ""
) -> Result:
    """Evaluate a (valid) criterion against a fiche with three-valued logic."""
    compiled = (
        criterion
        if isinstance(criterion, Leaf | Group) or criterion is None
        else compile_criterion(criterion, pointer)
    )
    if compiled is None:
        return Result(Outcome.MET)
    return run(compiled, bind(fiche))


_NEGATION = {
    Outcome.MET: Outcome.NOT_MET,
    Outcome.NOT_MET: Outcome.MET,
    Outcome.INDETERMINATE: Outcome.INDETERMINATE,
}


def run(compiled: Compiled, fiche: BoundFiche) -> Result:
    """Evaluate a compiled criterion against a bound fiche."""
    if isinstance(compiled, Leaf):
        return _evaluate_leaf(compiled, fiche)
    results = [run(c, fiche) for c in compiled.children]
    outcomes = {r.outcome for r in results}
    if compiled.kind == "all":
        if Outcome.NOT_MET in outcomes:
            outcome = Outcome.NOT_MET
        elif Outcome.INDETERMINATE in outcomes:
            outcome = Outcome.INDETERMINATE
        else:
            outcome = Outcome.MET
    else:  # any / none share the "is one of them met?" question
        if Outcome.MET in outcomes:
            found = Outcome.MET
        elif Outcome.INDETERMINATE in outcomes:
            found = Outcome.INDETERMINATE
        else:
            found = Outcome.NOT_MET
        outcome = found if compiled.kind == "any" else _NEGATION[found]
    trace = [leaf for r in results for leaf in r.trace]
    missing: list[str] = []
    if outcome is Outcome.INDETERMINATE:
        for r in results:
            if r.outcome is Outcome.INDETERMINATE:
                missing.extend(m for m in r.missing if m not in missing)
    return Result(outcome, trace, missing)


def _evaluate_leaf(leaf: Leaf, fiche: BoundFiche) -> Result:
    path, op, expected = leaf.path, leaf.op, leaf.value
    actual = fiche.get(path)
    if op in ("exists", "missing"):
        met = (actual is not MISSING and actual != []) == (op == "exists")
        outcome = Outcome.MET if met else Outcome.NOT_MET
        return Result(outcome, [LeafResult(leaf.pointer, path, op, None, actual, outcome)])
    if actual is MISSING:
        outcome = Outcome.INDETERMINATE
        return Result(
            outcome, [LeafResult(leaf.pointer, path, op, expected, actual, outcome)], [path]
        )
    assert leaf.spec is not None
    try:
        met = _compare(leaf.spec, op, actual, expected)
        if met is None:
            raise ValueError("too coarse")
    except (ValueError, KeyError):
        # the fiche holds a value the terminology cannot place: say so rather than guess
        outcome = Outcome.INDETERMINATE
        return Result(
            outcome, [LeafResult(leaf.pointer, path, op, expected, actual, outcome)], [path]
        )
    outcome = Outcome.MET if met else Outcome.NOT_MET
    return Result(outcome, [LeafResult(leaf.pointer, path, op, expected, actual, outcome)])


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(spec: FieldSpec, op: str, actual: Any, expected: Any) -> bool | None:
    if spec.kind == "list":
        held = {_norm(a) for a in actual}
        if op == "eq":
            return _norm(expected) in held
        if op == "in":
            return bool(held & {_norm(e) for e in expected})
        return not held & {_norm(e) for e in expected}  # not_in
    if op == "eq":
        return _equal(spec, actual, expected)
    if op == "in":
        return any(_equal(spec, actual, e) for e in expected)
    if op == "not_in":
        return not any(_equal(spec, actual, e) for e in expected)
    if op == "is_a":
        assert spec.hierarchy is not None
        ancestors = expected if isinstance(expected, list) else [expected]
        verdicts = [_is_a(spec.hierarchy, actual, a) for a in ancestors]
        if any(verdicts):
            return True
        return None if None in verdicts else False
    mine = _rank(spec.hierarchy, actual)
    if op == "between":
        return bool(
            _rank(spec.hierarchy, expected[0]) <= mine <= _rank(spec.hierarchy, expected[1])
        )
    theirs = _rank(spec.hierarchy, expected)
    return bool(
        {"lt": mine < theirs, "le": mine <= theirs, "gt": mine > theirs, "ge": mine >= theirs}[op]
    )


def _equal(spec: FieldSpec, actual: Any, expected: Any) -> bool:
    if spec.hierarchy in ("t", "n", "m", "stage"):
        return bool(_rank(spec.hierarchy, actual) == _rank(spec.hierarchy, expected))
    if spec.hierarchy == "cim10":
        return str(actual).upper().replace(".", "") == str(expected).upper().replace(".", "")
    return bool(_norm(actual) == _norm(expected))


def fields_used(criterion: Mapping[str, Any] | None) -> list[str]:
    """Every field path a criterion reads (its data requirements), in order of appearance."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, Mapping):
            return
        for group in GROUPS:
            if group in node:
                for child in node[group]:
                    walk(child)
                return
        path = canonical_path(node["field"])
        if path not in found:
            found.append(path)

    walk(criterion)
    return found


def describe(criterion: Mapping[str, Any] | None) -> str:
    """A human-readable rendering (used in diffs, cards and FHIR textEquivalent)."""
    if not criterion:
        return "toujours"
    for group in GROUPS:
        if group in criterion:
            parts = [describe(c) for c in criterion[group]]
            joiner = {"all": " ET ", "any": " OU ", "none": " OU "}[group]
            text = joiner.join(f"({p})" if " " in p and len(parts) > 1 else p for p in parts)
            return f"AUCUN DE ({text})" if group == "none" else text
    op = criterion["op"]
    if op in ("exists", "missing"):
        return f"{criterion['field']} {op}"
    return f"{criterion['field']} {op} {criterion.get('value')}"
