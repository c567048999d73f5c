"""Trial operations: import registry files, keep the index in step, search with a fiche, read."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from whoosh.index import IndexError as WhooshIndexError

from core import audit
from core.auth import Principal
from core.db import db, utcnow
from core.errors import InvalidInput, NotFound
from core.fiche import Fiche
from core.search import IndexStore, IndexUnavailable
from core.terminology import geo
from trials import eligibility, extraction, importers, ranking
from trials import index as trial_index
from trials.models import Trial, TrialSite

log = logging.getLogger("dcc.trials")

DEFAULT_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING")
#: How many index candidates a fiche search evaluates (the rest score too low to matter).
CANDIDATES = 150
FRANCE = {"france", "fr"}


@dataclass
class ImportReport:
    files: int = 0
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    #: Registry ids whose index documents must be refreshed once the transaction committed.
    changed: list[str] = field(default_factory=list)


# --- import -------------------------------------------------------------------------------


def _site_point(site: importers.SiteRecord) -> tuple[float | None, float | None]:
    if site.lat is not None and site.lon is not None:
        return site.lat, site.lon
    if (site.country or "").strip().lower() in FRANCE:
        point = geo.department_point(geo.department_of_postal_code(site.postal_code))
        if point:
            return point
    return None, None


def _ctml_codes(arms: Iterable[dict[str, Any]]) -> list[str]:
    codes: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            clinical = node.get("clinical")
            if isinstance(clinical, dict):
                name = str(clinical.get("oncotree_primary_diagnosis") or "")
                if name and not name.startswith(("!", "_")):
                    for code in eligibility.ctml_diagnosis_codes(name):
                        if code not in codes:
                            codes.append(code)
            for key in ("and", "or"):
                if key in node:
                    walk(node[key])

    for arm in arms:
        walk(arm.get("match"))
    return codes


def _apply(trial: Trial, record: importers.TrialRecord) -> None:
    """Copy a registry record onto a trial and derive its structured criteria."""
    found = extraction.extract(record.criteria_text)
    registry = extraction.registry_criteria(
        sex=record.sex,
        min_age_years=record.min_age_years,
        max_age_years=record.max_age_years,
        conditions=record.conditions,
    )
    codes = next((c["codes"] for c in registry if c["kind"] == "diagnosis"), [])
    for name in (
        "nct_id",
        "eu_ct_id",
        "source",
        "brief_title",
        "official_title",
        "summary",
        "overall_status",
        "phases",
        "study_type",
        "conditions",
        "keywords",
        "interventions",
        "sponsor",
        "start_date",
        "completion_date",
        "sex",
        "min_age_years",
        "max_age_years",
        "healthy_volunteers",
    ):
        setattr(trial, name, getattr(record, name))
    trial.brief_title = trial.brief_title[:2000]
    trial.sponsor = (trial.sponsor or "")[:300] or None
    trial.inclusion_text = found.inclusion_text or None
    trial.exclusion_text = found.exclusion_text or None
    trial.criteria = registry + found.criteria
    trial.criteria += extraction.title_criteria(record.brief_title, trial.criteria)
    trial.needs_review = found.needs_review
    curated = [c for c in trial.oncotree_codes or [] if c not in codes] if trial.ctml_arms else []
    trial.oncotree_codes = codes + curated
    trial.sites = [
        TrialSite(
            facility=(s.facility or "")[:300] or None,
            city=(s.city or "")[:120] or None,
            postal_code=(s.postal_code or "")[:20] or None,
            country=(s.country or "")[:80] or None,
            status=s.status,
            lat=_site_point(s)[0],
            lon=_site_point(s)[1],
        )
        for s in record.sites
    ]


def _apply_ctml(trial: Trial, record: importers.TrialRecord, *, new: bool) -> None:
    """Curated CTML criteria; registry fields are kept when the registry record is known."""
    if new:
        _apply(trial, record)
        trial.criteria = [c for c in trial.criteria if c["kind"] != "diagnosis"]
        if record.min_age_years is not None:
            trial.criteria.append(
                {
                    "kind": "age",
                    "include": True,
                    "min": record.min_age_years,
                    "max": None,
                    "origin": "ctml",
                    "evidence": "CTML age: Adults",
                }
            )
    trial.ctml_arms = record.ctml_arms
    codes = _ctml_codes(record.ctml_arms)
    trial.oncotree_codes = list(dict.fromkeys([*(trial.oncotree_codes or []), *codes]))


def _fingerprint(trial: Trial) -> tuple[Any, ...]:
    return (
        trial.brief_title,
        trial.overall_status,
        tuple(trial.phases or []),
        trial.min_age_years,
        trial.max_age_years,
        trial.sex,
        trial.inclusion_text,
        trial.exclusion_text,
        tuple(trial.oncotree_codes or []),
        len(trial.sites),
        repr(trial.ctml_arms),
    )


def import_records(
    records: Iterable[importers.TrialRecord],
    *,
    report: ImportReport,
    principal: Principal | None = None,
) -> None:
    """Upsert records by registry id (CTML completes the registry record of the same NCT id)."""
    for record in records:
        trial = db.session.scalar(
            select(Trial)
            .where(Trial.registry_id == record.registry_id)
            .options(selectinload(Trial.sites))
        )
        new = trial is None
        if trial is None:
            trial = Trial(registry_id=record.registry_id, oncotree_codes=[], ctml_arms=[])
            db.session.add(trial)
        before = None if new else _fingerprint(trial)
        if record.source == "ctml":
            _apply_ctml(trial, record, new=new)
        else:
            _apply(trial, record)
        if new:
            report.loaded += 1
        elif _fingerprint(trial) != before:
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        # A change of sites alone updates no trial column: the index catch-up of the other
        # nodes goes by this instant.
        trial.updated_at = utcnow()
        report.changed.append(trial.registry_id)
    db.session.flush()
    if report.changed and principal is not None:
        audit.record(
            principal,
            "trials.import",
            "trial",
            "batch",
            changes={"loaded": report.loaded, "updated": report.updated},
        )


def import_files(
    *,
    paths: Sequence[Path],
    principal: Principal | None = None,
    progress: Callable[[Path], None] | None = None,
) -> ImportReport:
    """Detect and load ClinicalTrials.gov JSON/XML and CTML files; bad records are reported."""
    report = ImportReport()
    files = importers.iter_files(list(paths))
    if not files:
        raise InvalidInput("no trial file found", errors=[{"field": "paths", "detail": "empty"}])
    for path in files:
        parsed = importers.parse_file(path)
        report.files += 1
        report.rejected.extend({"where": w, "reason": r} for w, r in parsed.rejected)
        # CTML last within a file does not matter; across files the registry record wins fields.
        import_records(parsed.records, report=report, principal=principal)
        if progress is not None:
            progress(path)
    return report


# --- index --------------------------------------------------------------------------------


def index_store(index_dir: Path) -> IndexStore:
    return trial_index.store_at(index_dir)


def _trials_by(ids: Iterable[str]) -> list[Trial]:
    wanted = list(ids)
    out: list[Trial] = []
    for start in range(0, len(wanted), 500):
        out.extend(
            db.session.scalars(
                select(Trial)
                .where(Trial.registry_id.in_(wanted[start : start + 500]))
                .options(selectinload(Trial.sites))
            )
        )
    return out


def refresh_index(*, registry_ids: Sequence[str], index_dir: Path) -> int:
    """Re-index the given trials (call after the import transaction committed)."""
    if not registry_ids:
        return 0
    store = index_store(index_dir)
    if not store.exists():
        return rebuild_index(index_dir=index_dir)
    documents = [trial_index.document(t) for t in _trials_by(registry_ids)]
    return store.update(documents)


#: The columns an index document reads (``trial_index.document``).
_DOCUMENT_COLUMNS = (
    "id",
    "registry_id",
    "brief_title",
    "summary",
    "overall_status",
    "phases",
    "conditions",
    "keywords",
    "interventions",
    "oncotree_codes",
    "criteria",
    "ctml_arms",
)


def iter_documents(batch: int = 2000) -> Iterable[dict[str, Any]]:
    """Every trial's index document, read in batches of plain rows (no ORM objects: a rebuild
    reads the whole table, and identity-mapped objects cost more than the documents)."""
    columns = [Trial.__table__.c[name] for name in _DOCUMENT_COLUMNS]
    site_columns = (TrialSite.trial_id, TrialSite.country, TrialSite.lat, TrialSite.lon)
    last = 0
    while True:
        rows = db.session.execute(
            select(*columns).where(Trial.id > last).order_by(Trial.id).limit(batch)
        ).all()
        if not rows:
            return
        sites: dict[int, list[Any]] = {}
        for site in db.session.execute(
            select(*site_columns)
            .where(TrialSite.trial_id >= rows[0].id, TrialSite.trial_id <= rows[-1].id)
            .order_by(TrialSite.trial_id, TrialSite.id)
        ):
            sites.setdefault(site.trial_id, []).append(site)
        for row in rows:
            yield trial_index.document(_DocumentSource(row, sites.get(row.id, [])))
        last = rows[-1].id


class _DocumentSource:
    """A trial row and its sites, shaped like ``Trial`` for ``trial_index.document``."""

    def __init__(self, row: Any, sites: list[Any]) -> None:
        self.__dict__.update(row._mapping)
        self.sites = sites


def index_readiness(*, index_dir: Path) -> tuple[bool, str]:
    """For /health/ready: the index answers and is not empty while the database has trials."""
    ok, detail = index_store(index_dir).check()
    if ok and detail.startswith("0 "):
        trials = count_trials()
        db.session.rollback()
        if trials:
            return False, f"index empty while the database holds {trials} trials: reindex"
    return ok, detail


def ensure_index(*, index_dir: Path) -> None:
    """Create an empty index on a fresh installation (imports fill it incrementally)."""
    try:
        index_store(index_dir).create_empty()
    except OSError as error:
        log.warning("cannot create the trials index at %s: %s", index_dir, error.strerror)


def count_trials() -> int:
    return int(db.session.scalar(select(func.count(Trial.id))) or 0)


def rebuild_index(
    *, index_dir: Path, progress: Callable[[int], None] | None = None, procs: int = 1
) -> int:
    """Rebuild the whole index from the database and swap it in."""
    mark = _watermark()  # before reading: what changes during the build is caught up later
    return index_store(index_dir).rebuild(
        iter_documents(), progress=progress, procs=procs, meta={WATERMARK: json.dumps(mark)}
    )


# --- catch-up with the other nodes ----------------------------------------------------------
#
# Each node keeps its own index, and an import refreshes only the index of the node that served
# it. A search compares, at most every CATCH_UP_SECONDS, the database's watermark (number of
# trials, latest change) with the one stored with the index, and re-indexes what changed since.

WATERMARK = "watermark"
#: How often a node looks for the other nodes' writes.
CATCH_UP_SECONDS = 30.0
#: A write stamped before the last watermark may commit after it was read: re-index that much
#: before it too (trials are written by imports, rarely, so the overlap costs little).
CATCH_UP_OVERLAP = dt.timedelta(minutes=5)
#: More changes than this are left to ``reindex`` (a search must not rebuild the index).
CATCH_UP_MAX = 5000

_checked: dict[Path, float] = {}
_checked_lock = threading.Lock()


def _watermark() -> dict[str, Any]:
    # Two scalar subqueries: the count from the smallest index, the maximum from the
    # updated_at index (one aggregate query would scan the rows for both).
    count, latest = db.session.execute(
        select(
            select(func.count()).select_from(Trial).scalar_subquery(),
            select(func.max(Trial.updated_at)).scalar_subquery(),
        )
    ).one()
    return {"count": int(count or 0), "updated": latest.isoformat() if latest else None}


def _due(path: Path) -> bool:
    now = time.monotonic()
    with _checked_lock:
        if now - _checked.get(path, float("-inf")) < CATCH_UP_SECONDS:
            return False
        _checked[path] = now
        return True


def catch_up_index(*, index_dir: Path, force: bool = False) -> int:
    """Re-index the trials changed since the index's watermark (other nodes' imports); returns
    how many documents were written or deleted. Cheap when nothing changed: one aggregate query,
    at most every ``CATCH_UP_SECONDS`` per process unless ``force``."""
    store = index_store(index_dir)
    if not (force or _due(store.path)):
        return 0
    try:
        return _catch_up(store)
    except (IndexUnavailable, WhooshIndexError, OSError, ValueError, EOFError) as error:
        # a missing or damaged index: the search itself reports it
        log.warning("trials index catch-up skipped: %s", type(error).__name__)
        return 0


def _catch_up(store: IndexStore) -> int:
    if not store.exists():
        return 0
    current = _watermark()
    stored = store.meta(WATERMARK)
    if stored is not None and json.loads(stored) == current:
        return 0
    if stored is None and store.doc_count() == current["count"]:
        # An index written before watermarks existed, complete: adopt the current one.
        store.update([], meta={WATERMARK: json.dumps(current)})
        return 0
    previous = json.loads(stored) if stored is not None else {"count": 0, "updated": None}
    changed = select(Trial.registry_id)
    if previous["updated"]:
        since = dt.datetime.fromisoformat(previous["updated"]) - CATCH_UP_OVERLAP
        changed = changed.where(Trial.updated_at >= since)
    ids = list(db.session.scalars(changed.limit(CATCH_UP_MAX + 1)))
    if len(ids) > CATCH_UP_MAX:
        log.warning("trials index %d+ changes behind the database: reindex", CATCH_UP_MAX)
        return 0
    documents = [trial_index.document(t) for t in _trials_by(ids)]
    gone: list[str] = []
    with store.searcher() as searcher:
        indexed = searcher.doc_count() + sum(
            1 for d in documents if (searcher.document_number(id=d["id"]) is None)
        )
        if indexed != current["count"]:  # some trials were deleted
            known = set(db.session.scalars(select(Trial.registry_id)))
            gone = [i for i in searcher.lexicon("id") if i.decode() not in known]
    written = store.update(
        documents, delete_ids=[g.decode() for g in gone], meta={WATERMARK: json.dumps(current)}
    )
    log.info("trials index caught up: %d re-indexed, %d deleted", written, len(gone))
    return written + len(gone)


# --- search -------------------------------------------------------------------------------


@dataclass
class SearchHit:
    trial: Trial
    assessment: eligibility.Assessment
    score: float
    text_score: float
    sites: list[dict[str, Any]]

    @property
    def verdict(self) -> str:
        return self.assessment.verdict

    @property
    def criteria(self) -> list[eligibility.CriterionResult]:
        return self.assessment.criteria

    @property
    def reasons(self) -> list[str]:
        return [
            f"{c.label}: {c.fiche_value or 'unknown'} ({c.evidence[:200]})"
            for c in self.assessment.reasons
        ]


@dataclass
class _Candidate:
    pk: int
    text: float
    facts: dict[str, Any]
    assessment: eligibility.Assessment | None = None
    score: float = 0.0
    distance: float | None = None


def _candidates(
    store: IndexStore,
    fiche: Fiche,
    filters: trial_index.Filters,
    limit: int,
    *,
    include_ineligible: bool,
) -> list[_Candidate]:
    """The ``limit`` trials of the index that fit the fiche best, with their eligibility facts.

    The status / phase / country filters are exact. Without ``include_ineligible``, the trials
    whose age or sex criteria the fiche cannot meet are left out before the cut (they would be
    dropped as ineligible anyway), so the candidates are spent on trials the patient may enter.
    With it, they stay among the candidates, and are ranked after the others.
    """
    restrict = trial_index.filter_query(filters)
    terms = trial_index.fiche_terms(fiche)
    with store.searcher() as searcher:
        allowed = trial_index.docs_of(searcher, restrict) if restrict is not None else None
        excluded: frozenset[int] = frozenset()
        if not include_ineligible:
            excluded = trial_index.excluded_by_demographics(searcher, fiche.age, fiche.sex)
        if terms:
            top = trial_index.top_documents(
                searcher, terms, limit=limit, allowed=allowed, excluded=excluded
            )
        else:  # nothing to score on: any trial the filters allow, in index order
            results = searcher.search(
                trial_index.q.Every(),
                limit=limit,
                filter=set(allowed) if allowed is not None else None,  # Whoosh wants a set
                mask=set(excluded) or None,
            )
            top = [(hit.docnum, 1.0) for hit in results]
        best = max((score for _, score in top), default=0.0) or 1.0
        return [
            _Candidate(stored["pk"], score / best, stored["facts"])
            for docnum, score in top
            for stored in (trial_index.stored(searcher, docnum),)
        ]


def _load(pks: Sequence[int]) -> dict[int, Trial]:
    found: dict[int, Trial] = {}
    for start in range(0, len(pks), 500):
        statement = (
            select(Trial)
            .where(Trial.id.in_(pks[start : start + 500]))
            .options(selectinload(Trial.sites))
        )
        for trial in db.session.scalars(statement):
            found[trial.id] = trial
    return found


def _sites(
    trial: Trial, point: tuple[float, float] | None, max_km: float | None
) -> list[dict[str, Any]]:
    """The trial's sites, nearest first (only those within ``max_km`` when given)."""
    out: list[dict[str, Any]] = []
    for site in trial.sites:
        distance = None
        if point is not None and site.lat is not None and site.lon is not None:
            distance = round(geo.haversine_km(point[0], point[1], site.lat, site.lon), 1)
        if max_km is not None and (distance is None or distance > max_km):
            continue
        out.append(
            {
                "facility": site.facility,
                "city": site.city,
                "postal_code": site.postal_code,
                "country": site.country,
                "status": site.status,
                "finess": site.finess,
                "distance_km": distance,
            }
        )
    out.sort(key=lambda s: (s["distance_km"] is None, s["distance_km"] or 0.0))
    return out[:20]


def _nearest(points: Iterable[Sequence[float]], point: tuple[float, float]) -> float | None:
    distances = [geo.haversine_km(point[0], point[1], lat, lon) for lat, lon in points]
    return min(distances) if distances else None


def search_trials(
    *,
    fiche: Fiche,
    index_dir: Path,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    phases: Sequence[str] = (),
    country: str | None = None,
    max_distance_km: float | None = None,
    include_ineligible: bool = False,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[SearchHit], int]:
    """Trials for a fiche, best first, each with its per-criterion assessment.

    The index gives the candidates with their eligibility facts; they are assessed and ranked
    without touching the database, which is read only for the trials of the page returned.
    """
    catch_up_index(index_dir=index_dir)
    filters = trial_index.Filters(tuple(statuses), tuple(phases), country)
    limit = max(CANDIDATES, page * page_size)
    candidates = _candidates(
        index_store(index_dir), fiche, filters, limit, include_ineligible=include_ineligible
    )
    point = fiche.point()
    limit_km = max_distance_km
    if limit_km is None and fiche.residence is not None:
        limit_km = fiche.residence.max_distance_km
    if point is None:
        limit_km = None  # nowhere to measure from: the distance cannot filter
    kept: list[_Candidate] = []
    for candidate in candidates:
        if limit_km is not None and point is not None:
            candidate.distance = _nearest(candidate.facts["points"], point)
            if candidate.distance is None or candidate.distance > limit_km:
                continue
        candidate.assessment = eligibility.assess(
            fiche,
            eligibility.TrialCriteria(candidate.facts["criteria"], candidate.facts["arms"]),
        )
        if candidate.assessment.verdict == eligibility.INELIGIBLE and not include_ineligible:
            continue
        candidate.score = ranking.score(candidate.assessment, candidate.text)
        kept.append(candidate)
    kept.sort(key=lambda c: ranking.sort_key(c.assessment, c.score, f"{c.pk:012d}"))  # type: ignore[arg-type]
    total = len(kept)
    selected = kept[(page - 1) * page_size : page * page_size]
    trials = _load([c.pk for c in selected])
    hits: list[SearchHit] = []
    for candidate in selected:
        trial = trials.get(candidate.pk)
        if trial is None:
            continue  # deleted since the index was written
        # Assessed again on the full criteria: the same verdicts, now with their evidence.
        assessment = eligibility.assess(
            fiche, eligibility.TrialCriteria(trial.criteria or [], trial.ctml_arms or [])
        )
        hits.append(
            SearchHit(
                trial, assessment, candidate.score, candidate.text, _sites(trial, point, limit_km)
            )
        )
    return hits, total


def list_trials(
    *,
    index_dir: Path,
    text: str | None = None,
    statuses: Sequence[str] = (),
    phases: Sequence[str] = (),
    country: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[Trial], int]:
    """Free-text search (relevance order), or every trial by registry id without text."""
    catch_up_index(index_dir=index_dir)
    filters = trial_index.Filters(tuple(statuses), tuple(phases), country)
    query = trial_index.text_query(text) if text else trial_index.q.Every()
    store = index_store(index_dir)
    with store.searcher() as searcher:
        if text:
            results = searcher.search_page(
                query, page, pagelen=page_size, filter=trial_index.filter_query(filters)
            )
        else:
            results = searcher.search_page(
                query,
                page,
                pagelen=page_size,
                filter=trial_index.filter_query(filters),
                sortedby="id",
            )
        total = len(results)
        pks = [hit["pk"] for hit in results] if results.pagenum == page else []
    loaded = _load(pks)
    return [loaded[pk] for pk in pks if pk in loaded], total


def get_trial(*, trial_id: str) -> Trial:
    """A trial by NCT id, EU CT / EudraCT number, or registry id."""
    key = trial_id.strip().upper()
    trial = db.session.scalar(
        select(Trial)
        .where((Trial.registry_id == key) | (Trial.nct_id == key) | (Trial.eu_ct_id == key))
        .options(selectinload(Trial.sites))
        .limit(1)
    )
    if trial is None:
        raise NotFound(f"no trial {trial_id}")
    return trial


def assess_trial(*, trial_id: str, fiche: Fiche) -> eligibility.Assessment:
    trial = get_trial(trial_id=trial_id)
    return eligibility.assess(
        fiche, eligibility.TrialCriteria(trial.criteria or [], trial.ctml_arms or [])
    )
