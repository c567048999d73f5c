"""Referential governance (versions, workflow, permissions), evaluation and CDS Hooks."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, defer

from core import audit
from core.auth import Principal, Role
from core.db import db, utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.terminology import cim10
from core.terminology.oncotree import tree
from guidelines import applicability, cdshooks, diff, fhir
from guidelines import index as search_index
from guidelines.criteria import MISSING, Outcome, bind, resolve
from guidelines.index import GuidelineIndex
from guidelines.models import CdsFeedback, OwnerLevel, Referential, Status, citation

log = logging.getLogger("dcc.guidelines")

ENGINE_VERSION = "1"
EXPORT_FORMAT = "dcc-guidelines-referential/1"

#: Fields of a version that editing may change and that an export carries.
CONTENT_FIELDS = (
    "key",
    "version",
    "title",
    "summary",
    "localisation_oncotree",
    "localisation_cim10",
    "organ_code",
    "owner_level",
    "owner_org",
    "region",
    "regions",
    "effective_from",
    "effective_to",
    "next_review_due",
    "derived_from",
    "source_url",
    "authors",
    "validators",
    "changelog",
    "tree",
)
LIFECYCLE_FIELDS = (
    "status",
    "supersedes_id",
    "created_by",
    "submitted_by",
    "submitted_at",
    "approved_by",
    "approved_at",
    "retired_by",
    "retired_at",
)
ADMINS = (Role.NATIONAL_ADMIN, Role.REGIONAL_ADMIN)


# --- permissions ----------------------------------------------------------------------------


def _require_writer(principal: Principal, *, owner_level: str, region: str | None) -> None:
    """National admins write everything; regional admins only their own region's referentials."""
    if principal.role is Role.NATIONAL_ADMIN:
        return
    if principal.role is not Role.REGIONAL_ADMIN:
        raise Forbidden(f"role {principal.role.value} may not write referentials")
    if owner_level == OwnerLevel.NATIONAL:
        raise Forbidden("only national administrators write national referentials")
    if region is None or region != principal.region:
        raise Forbidden(
            f"regional administrator of region {principal.region} may not write a referential "
            f"of region {region or 'unknown'}"
        )


def _may_read(principal: Principal, referential: Referential) -> bool:
    if referential.status in (Status.ACTIVE, Status.RETIRED):
        return True
    if principal.role is Role.NATIONAL_ADMIN:
        return True
    return principal.role is Role.REGIONAL_ADMIN and referential.region == principal.region


MAX_ID = 2**31 - 1


def _load(referential_id: int) -> Referential:
    # a path id beyond the column's range cannot exist (and would overflow the driver)
    referential = db.session.get(Referential, referential_id) if referential_id <= MAX_ID else None
    if referential is None:
        raise NotFound(f"no referential version {referential_id}")
    return referential


def get_referential(*, principal: Principal, referential_id: int) -> Referential:
    """One version; drafts and versions in review are visible to their administrators only."""
    referential = _load(referential_id)
    if not _may_read(principal, referential):
        raise NotFound(f"no referential version {referential_id}")
    return referential


# --- index maintenance ----------------------------------------------------------------------


def index_document(referential: Referential) -> dict[str, Any]:
    """The full-text document of a version."""
    content = {name: getattr(referential, name) for name in CONTENT_FIELDS}
    node = (
        tree().get(referential.localisation_oncotree) if referential.localisation_oncotree else None
    )
    content |= {
        "id": referential.id,
        "localisation_text": f"{node.name} {node.main_type or ''}" if node else "",
    }
    return search_index.document(content)


def database_watermark() -> str:
    """A cheap summary of the referential table that changes with every write.

    Each node rebuilds its own index from the database; comparing this with the index's
    watermark lets a node catch up with writes that another node served (or with referentials
    present before the node started), without any message between nodes.
    """
    count, last_change, last_id = db.session.execute(
        select(
            func.count(Referential.id), func.max(Referential.updated_at), func.max(Referential.id)
        )
    ).one()
    stamp = last_change.isoformat() if last_change is not None else "-"
    return f"{count}:{stamp}:{last_id or 0}"


def rebuild_index(index: GuidelineIndex, *, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the index from the database and record the state it reflects."""
    watermark = database_watermark()
    documents = (index_document(r) for r in db.session.scalars(select(Referential)))
    return index.rebuild(documents, watermark=watermark, progress=progress)


def catch_up_index(index: GuidelineIndex) -> bool:
    """Rebuild the index when the database changed since its last rebuild; True if rebuilt.

    Referentials are curated by hand (hundreds of versions, a few writes a day): a full
    rebuild on the first search after a change costs milliseconds and can never drift.
    """
    if not index.store.exists() or index.watermark() == database_watermark():
        return False  # a lost index stays lost (503) until `guidelines reindex`
    index.store.open().close()  # a damaged one too: IndexUnavailable, not a quiet rebuild
    count = rebuild_index(index)
    log.info("guidelines index caught up with the database (%d versions)", count)
    return True


def _reindex_after_commit(index: GuidelineIndex | None, referential: Referential) -> None:
    """The index follows the database: documents are written once the transaction committed."""
    if index is None:
        return
    session = db.session()
    if not session.info.get("guidelines_listening"):
        session.info["guidelines_listening"] = True
        event.listen(session, "after_commit", _write_pending)
        event.listen(session, "after_rollback", _forget_pending)
    session.info["guidelines_index"] = index
    session.info.setdefault("guidelines_reindex", {})[str(referential.id)] = index_document(
        referential
    )


def _write_pending(session: Session) -> None:
    documents = session.info.pop("guidelines_reindex", None)
    index: GuidelineIndex | None = session.info.get("guidelines_index")
    if not documents or index is None:
        return
    try:
        index.update(documents.values())
    except Exception:  # the change is committed; the index is rebuildable
        log.exception("guidelines index update failed; run: dcc-services guidelines reindex")


def _forget_pending(session: Session) -> None:
    session.info.pop("guidelines_reindex", None)


# --- writing ----------------------------------------------------------------------------------


def _check_content(data: Mapping[str, Any]) -> None:
    try:
        applicability.validate_tree(data["tree"])
    except applicability.TreeError as error:
        raise InvalidInput(
            f"invalid decision tree at {error.pointer}: {error.message}",
            errors=[
                {
                    "location": "json",
                    "field": error.pointer.lstrip("/").replace("/", "."),
                    "pointer": "#" + error.pointer,
                    "detail": error.message,
                }
            ],
        ) from error
    level = data["owner_level"]
    if level == OwnerLevel.NATIONAL and (data.get("region") or data.get("regions")):
        raise InvalidInput("a national referential has no region", errors=[_err("region")])
    if level != OwnerLevel.NATIONAL and not data.get("region"):
        raise InvalidInput(f"a {level} referential needs its region", errors=[_err("region")])
    start, end = data.get("effective_from"), data.get("effective_to")
    if start and end and end <= start:
        raise InvalidInput("effective_to must follow effective_from", errors=[_err("effective_to")])


def _err(field: str, detail: str = "invalid") -> dict[str, Any]:
    return {"location": "json", "field": field, "pointer": f"#/{field}", "detail": detail}


def create_referential(
    *, principal: Principal, data: Mapping[str, Any], index: GuidelineIndex | None = None
) -> Referential:
    """Create a draft version (a new referential, or a new version of an existing one)."""
    _require_writer(principal, owner_level=data["owner_level"], region=data.get("region"))
    _check_content(data)
    same_key = db.session.scalars(select(Referential).where(Referential.key == data["key"])).all()
    if any(r.version == data["version"] for r in same_key):
        raise Conflict(f"referential {data['key']} already has a version {data['version']}")
    supersedes = None
    if same_key:
        owner = same_key[0]
        _require_writer(principal, owner_level=owner.owner_level, region=owner.region)
        if (owner.owner_level, owner.region) != (data["owner_level"], data.get("region")):
            raise Conflict(f"referential {data['key']} belongs to another owner")
        if any(r.status in (Status.DRAFT, Status.IN_REVIEW) for r in same_key):
            raise Conflict(f"referential {data['key']} already has a version in preparation")
        supersedes = _latest_active(same_key)
    values = {k: data.get(k) for k in CONTENT_FIELDS}
    values["regions"] = sorted(set(values.get("regions") or []) | _own_region(values))
    referential = Referential(
        **values,
        status=Status.DRAFT.value,
        created_by=principal.subject,
        supersedes_id=supersedes.id if supersedes else None,
    )
    db.session.add(referential)
    db.session.flush()
    audit.record(
        principal,
        "guidelines.referential.create",
        "guideline_referential",
        referential.id,
        region=referential.region,
        changes={"key": referential.key, "version": referential.version},
    )
    _reindex_after_commit(index, referential)
    return referential


def _own_region(values: Mapping[str, Any]) -> set[str]:
    return {values["region"]} if values.get("region") else set()


def _latest_active(versions: Sequence[Referential]) -> Referential | None:
    active = [r for r in versions if r.status == Status.ACTIVE]
    return max(active, key=lambda r: r.id) if active else None


def update_draft(
    *,
    principal: Principal,
    referential_id: int,
    changes: Mapping[str, Any],
    index: GuidelineIndex | None = None,
) -> Referential:
    """Edit a draft; versions in review, active or retired are immutable (409)."""
    referential = _load(referential_id)
    _require_writer(principal, owner_level=referential.owner_level, region=referential.region)
    if referential.status != Status.DRAFT:
        raise Conflict(
            f"version {referential.version} of {referential.key} is {referential.status} and "
            f"cannot change: start a new draft (POST /guidelines/referentials/"
            f"{referential.id}/drafts)"
        )
    merged = {k: getattr(referential, k) for k in CONTENT_FIELDS} | dict(changes)
    merged["key"] = referential.key
    _require_writer(principal, owner_level=merged["owner_level"], region=merged.get("region"))
    _check_content(merged)
    if merged["version"] != referential.version and db.session.scalar(
        select(Referential.id).where(
            Referential.key == referential.key, Referential.version == merged["version"]
        )
    ):
        raise Conflict(f"referential {referential.key} already has a version {merged['version']}")
    before = {k: getattr(referential, k) for k in CONTENT_FIELDS if k != "tree"}
    merged["regions"] = sorted(set(merged.get("regions") or []) | _own_region(merged))
    for key, value in merged.items():
        setattr(referential, key, value)
    db.session.flush()
    after = {k: getattr(referential, k) for k in CONTENT_FIELDS if k != "tree"}
    audit.record(
        principal,
        "guidelines.referential.update",
        "guideline_referential",
        referential.id,
        region=referential.region,
        changes=audit.diff(before, after) | ({"tree": "changed"} if "tree" in changes else {}),
    )
    _reindex_after_commit(index, referential)
    return referential


def start_draft(
    *,
    principal: Principal,
    referential_id: int,
    version: str,
    changelog: str = "",
    index: GuidelineIndex | None = None,
) -> Referential:
    """A new draft version copied from ``referential_id``, superseding it once approved."""
    source = _load(referential_id)
    data = {k: getattr(source, k) for k in CONTENT_FIELDS}
    data.update(version=version, changelog=changelog, effective_from=None, effective_to=None)
    return create_referential(principal=principal, data=data, index=index)


def _transition(principal: Principal, referential: Referential, action: str, before: str) -> None:
    audit.record(
        principal,
        f"guidelines.referential.{action}",
        "guideline_referential",
        referential.id,
        region=referential.region,
        changes={"status": [before, referential.status]},
    )


def submit_referential(*, principal: Principal, referential_id: int) -> Referential:
    """Draft -> in review."""
    referential = _load(referential_id)
    _require_writer(principal, owner_level=referential.owner_level, region=referential.region)
    if referential.status != Status.DRAFT:
        raise Conflict(f"only a draft can be submitted (this version is {referential.status})")
    referential.status = Status.IN_REVIEW.value
    referential.submitted_by, referential.submitted_at = principal.subject, utcnow()
    db.session.flush()
    _transition(principal, referential, "submit", Status.DRAFT)
    return referential


def approve_referential(*, principal: Principal, referential_id: int) -> Referential:
    """In review -> active, by someone other than the author; the previous version retires."""
    referential = _load(referential_id)
    _require_writer(principal, owner_level=referential.owner_level, region=referential.region)
    if referential.status != Status.IN_REVIEW:
        raise Conflict(f"only a version in review can be approved (this is {referential.status})")
    if principal.subject == referential.created_by:
        raise Forbidden("a version must be approved by someone other than its author")
    now = utcnow()
    today = now.date()
    referential.status = Status.ACTIVE.value
    referential.approved_by, referential.approved_at = principal.subject, now
    if referential.effective_from is None:
        referential.effective_from = today
    previous = db.session.scalars(
        select(Referential).where(
            Referential.key == referential.key,
            Referential.status == Status.ACTIVE,
            Referential.id != referential.id,
        )
    ).all()
    for old in previous:
        old.status = Status.RETIRED.value
        old.retired_by, old.retired_at = principal.subject, now
        if old.effective_to is None or old.effective_to > referential.effective_from:
            old.effective_to = referential.effective_from
        _transition(principal, old, "retire", Status.ACTIVE)
    db.session.flush()
    _transition(principal, referential, "approve", Status.IN_REVIEW)
    return referential


def retire_referential(*, principal: Principal, referential_id: int) -> Referential:
    """Active -> retired (it stays readable and replayable for its effective period)."""
    referential = _load(referential_id)
    _require_writer(principal, owner_level=referential.owner_level, region=referential.region)
    if referential.status != Status.ACTIVE:
        raise Conflict(f"only an active version can be retired (this is {referential.status})")
    now = utcnow()
    referential.status = Status.RETIRED.value
    referential.retired_by, referential.retired_at = principal.subject, now
    if referential.effective_to is None or referential.effective_to > now.date():
        referential.effective_to = now.date()
    db.session.flush()
    _transition(principal, referential, "retire", Status.ACTIVE)
    return referential


# --- reading, search, versions ----------------------------------------------------------------


def list_referentials(
    *,
    principal: Principal,
    index: GuidelineIndex | None = None,
    q: str | None = None,
    localisation: str | None = None,
    region: str | None = None,
    status: str | None = None,
    key: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Referential], int]:
    """Filtered (and, with ``q``, full-text) list of the versions the caller may read."""
    conditions: list[Any] = []
    if principal.role is Role.REGIONAL_ADMIN:
        conditions.append(
            or_(
                Referential.status.in_([Status.ACTIVE, Status.RETIRED]),
                Referential.region == principal.region,
            )
        )
    elif principal.role is not Role.NATIONAL_ADMIN:
        conditions.append(Referential.status.in_([Status.ACTIVE, Status.RETIRED]))
    if status:
        conditions.append(Referential.status == status)
    if key:
        conditions.append(Referential.key == key)
    if region:
        conditions.append(
            or_(Referential.owner_level == OwnerLevel.NATIONAL, Referential.region == region)
        )
    if localisation:
        conditions.append(Referential.localisation_oncotree.in_(_related_codes(localisation)))
    order: list[Any] = [Referential.key, Referential.id.desc()]
    if q:
        if index is None:
            raise InvalidInput("full-text search is not available", errors=[_err("q")])
        catch_up_index(index)
        ranked = index.search(q, limit=1000)
        conditions.append(Referential.id.in_(ranked or [-1]))
    total = db.session.scalar(select(func.count()).select_from(Referential).where(*conditions))
    query = select(Referential).options(defer(Referential.tree)).where(*conditions)
    if q:
        rows = list(db.session.scalars(query))
        rank = {rid: i for i, rid in enumerate(ranked)}
        rows.sort(key=lambda r: rank.get(r.id, len(rank)))
        return rows[(page - 1) * page_size : page * page_size], int(total or 0)
    rows = list(
        db.session.scalars(query.order_by(*order).limit(page_size).offset((page - 1) * page_size))
    )
    return rows, int(total or 0)


def list_versions(*, principal: Principal, referential_id: int) -> list[Referential]:
    """Every version of the referential ``referential_id`` belongs to, newest first."""
    referential = get_referential(principal=principal, referential_id=referential_id)
    versions = db.session.scalars(
        select(Referential)
        .options(defer(Referential.tree))
        .where(Referential.key == referential.key)
        .order_by(Referential.id.desc())
    )
    return [r for r in versions if _may_read(principal, r)]


def _related_codes(code: str) -> list[str]:
    """The code, its ancestors and descendants: a referential on LUNG answers NSCLC and LUAD."""
    code = code.upper()
    onco = tree()
    if onco.get(code) is None:
        return [code]
    return sorted({code, *onco.ancestors(code), *onco.descendants(code)})


def diff_versions(
    *, principal: Principal, referential_id: int, against: int | None = None
) -> dict[str, Any]:
    """A readable diff from ``against`` (default: the superseded version) to this version."""
    new = get_referential(principal=principal, referential_id=referential_id)
    old_id = against if against is not None else new.supersedes_id
    if old_id is None:
        raise InvalidInput(
            "this version supersedes none: name one with against", errors=[_err("against")]
        )
    old = get_referential(principal=principal, referential_id=old_id)
    if old.key != new.key:
        raise InvalidInput(
            "both versions must be of the same referential", errors=[_err("against")]
        )
    changes = diff.compare(_content(old), _content(new))
    return {"from_id": old.id, "to_id": new.id, "changes": changes, "text": diff.render(changes)}


def _content(referential: Referential) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = getattr(referential, name)
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def export_referential(*, principal: Principal, referential_id: int) -> dict[str, Any]:
    """One version as a self-contained JSON document (``import_referential`` reads it back)."""
    referential = get_referential(principal=principal, referential_id=referential_id)
    lifecycle: dict[str, Any] = {}
    for name in LIFECYCLE_FIELDS:
        value = getattr(referential, name)
        lifecycle[name] = value.isoformat() if isinstance(value, dt.date) else value
    lifecycle["citation"] = referential.citation
    return {"format": EXPORT_FORMAT, "referential": _content(referential), "lifecycle": lifecycle}


def import_referential(
    *, principal: Principal, document: Mapping[str, Any], index: GuidelineIndex | None = None
) -> Referential:
    """Create a draft from an exported document (its lifecycle is not imported)."""
    return create_referential(principal=principal, data=document["referential"], index=index)


def plan_definitions(*, principal: Principal, referential_id: int) -> dict[str, Any]:
    """The version as a FHIR R4 Bundle of CPG-on-FHIR PlanDefinitions."""
    return fhir.bundle(export_referential(principal=principal, referential_id=referential_id))


# --- evaluation -------------------------------------------------------------------------------

_TREES: dict[tuple[int, Any], dict[str, Any]] = {}
_TREES_LOCK = threading.Lock()

#: What evaluation reads of a version (the tree is fetched apart, once per process).
_CANDIDATE_COLUMNS = (
    Referential.id,
    Referential.key,
    Referential.version,
    Referential.title,
    Referential.owner_level,
    Referential.owner_org,
    Referential.region,
    Referential.regions,
    Referential.status,
    Referential.source_url,
    Referential.localisation_oncotree,
    Referential.localisation_cim10,
    Referential.effective_from,
    Referential.approved_at,
    Referential.updated_at,
)


def _tree_of(referential_id: int, updated_at: Any) -> dict[str, Any]:
    """Trees of submitted versions never change: keep them parsed per process (keyed by the
    last change too, so that a reused id never serves a stale tree)."""
    key = (referential_id, updated_at)
    cached = _TREES.get(key)
    if cached is None:
        cached = db.session.scalar(select(Referential.tree).where(Referential.id == referential_id))
        assert cached is not None
        with _TREES_LOCK:
            if len(_TREES) > 20_000:
                _TREES.clear()
            _TREES[key] = cached
    return cached


def applicable_versions(*, fiche: Any, region: str | None, as_of: dt.date) -> list[Any]:
    """The versions in force on ``as_of`` for the fiche's localisation (or undecidable)."""
    conditions: list[Any] = [
        Referential.status.in_([Status.ACTIVE, Status.RETIRED]),
        Referential.effective_from <= as_of,
        or_(Referential.effective_to.is_(None), Referential.effective_to > as_of),
    ]
    code = resolve(fiche, "diagnosis.oncotree_code")
    if code is not MISSING:
        conditions.append(
            or_(
                Referential.localisation_oncotree.is_(None),
                Referential.localisation_oncotree.in_(_related_codes(str(code))),
            )
        )
    if region:
        conditions.append(
            or_(
                Referential.owner_level != OwnerLevel.REGIONAL,
                Referential.region == region,
            )
        )
    else:
        conditions.append(Referential.owner_level == OwnerLevel.NATIONAL)
    query = select(*_CANDIDATE_COLUMNS).where(*conditions).order_by(Referential.key, Referential.id)
    return [
        row
        for row in db.session.execute(query)
        if row.owner_level == OwnerLevel.NATIONAL
        or row.region == region
        or region in (row.regions or [])
    ]


def evaluate_fiche(
    *, principal: Principal, fiche: Any, region: str | None = None, as_of: dt.date | None = None
) -> dict[str, Any]:
    """National and regional applicable recommendations, side by side, never merged."""
    as_of = as_of or utcnow().date()
    bound = bind(fiche)
    national: list[dict[str, Any]] = []
    regional: list[dict[str, Any]] = []
    for candidate in applicable_versions(fiche=bound, region=region, as_of=as_of):
        evaluated = evaluate_referential(candidate, bound)
        if evaluated is None:
            continue
        (national if candidate.owner_level == OwnerLevel.NATIONAL else regional).append(evaluated)
    return {
        "as_of": as_of,
        "region": region,
        "engine_version": ENGINE_VERSION,
        "national": national,
        "regional": regional,
    }


def evaluate_referential(referential: Any, fiche: Any) -> dict[str, Any] | None:
    """One version (a row of ``applicable_versions``) against a fiche; None when its
    localisation does not cover the tumour."""
    where = _localisation(referential, fiche)
    if where["outcome"] == Outcome.NOT_MET:
        return None
    found = applicability.applicable_recommendations(
        _tree_of(referential.id, referential.updated_at), fiche
    )
    recommendations = []
    for item in found:
        body = item.as_dict()
        if where["outcome"] == Outcome.INDETERMINATE:
            body["outcome"] = Outcome.INDETERMINATE.value
            body["missing_fields"] = [*where["missing_fields"], *body["missing_fields"]]
        recommendations.append(body)
    return {
        "id": referential.id,
        "key": referential.key,
        "version": referential.version,
        "title": referential.title,
        "owner_level": referential.owner_level,
        "owner_org": referential.owner_org,
        "region": referential.region,
        "status": referential.status,
        "citation": citation(
            title=referential.title,
            version=referential.version,
            owner_org=referential.owner_org,
            date=referential.effective_from or _date(referential.approved_at),
        ),
        "source_url": referential.source_url,
        "localisation": {k: str(v) for k, v in where.items() if k != "missing_fields"}
        | {"missing_fields": where["missing_fields"]},
        "recommendations": recommendations,
    }


def _date(instant: dt.datetime | None) -> dt.date | None:
    return instant.date() if instant else None


def _localisation(referential: Any, fiche: Any) -> dict[str, Any]:
    code = resolve(fiche, "diagnosis.oncotree_code")
    if referential.localisation_oncotree and code is not MISSING:
        mine, theirs = str(code).upper(), referential.localisation_oncotree.upper()
        if tree().is_a(mine, theirs):
            return {"outcome": Outcome.MET, "missing_fields": []}
        if not tree().is_a(theirs, mine):
            return {"outcome": Outcome.NOT_MET, "missing_fields": []}
        # the fiche says LUNG, the referential is about NSCLC: a finer diagnosis is missing
        return {"outcome": Outcome.INDETERMINATE, "missing_fields": ["diagnosis.oncotree_code"]}
    site = resolve(fiche, "diagnosis.cim10")
    if referential.localisation_cim10 and site is not MISSING:
        met = cim10.in_range(str(site), referential.localisation_cim10)
        return {"outcome": Outcome.MET if met else Outcome.NOT_MET, "missing_fields": []}
    if not (referential.localisation_oncotree or referential.localisation_cim10):
        return {"outcome": Outcome.MET, "missing_fields": []}
    return {"outcome": Outcome.INDETERMINATE, "missing_fields": ["diagnosis.oncotree_code"]}


# --- CDS Hooks --------------------------------------------------------------------------------


def cds_call(
    *, principal: Principal, service_id: str, request: Mapping[str, Any]
) -> dict[str, Any]:
    """Answer a CDS Hooks call: one card per applicable recommendation."""
    service = cdshooks.service(service_id)
    if service is None:
        raise NotFound(f"no CDS service {service_id}")
    context = request["context"]
    evaluation = evaluate_fiche(
        principal=principal,
        fiche=context["fiche"],
        region=context.get("region"),
        as_of=context.get("as_of"),
    )
    return {"cards": cdshooks.cards(evaluation, hook_instance=request["hookInstance"])}


def record_cds_feedback(
    *, principal: Principal, service_id: str, items: list[Mapping[str, Any]]
) -> int:
    """Store accepted / overridden outcomes of cards (CDS Hooks feedback)."""
    if cdshooks.service(service_id) is None:
        raise NotFound(f"no CDS service {service_id}")
    for item in items:
        db.session.add(
            CdsFeedback(
                service_id=service_id,
                card_uuid=item["card"],
                outcome=item["outcome"],
                override_reason=item.get("overrideReason"),
                accepted_suggestions=[
                    str(s.get("id")) for s in item.get("acceptedSuggestions") or []
                ],
                outcome_at=item.get("outcomeTimestamp"),
                reported_by=principal.subject,
            )
        )
    db.session.flush()
    return len(items)
