"""Lookups in the national directories: professionals by RPPS, establishments by FINESS, search."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    intersect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from core.db import DriverStatement, db
from core.errors import InvalidInput, NotFound
from core.terminology.geo import departments_of_region, haversine_km, normalize_department
from planning.directory import replica
from planning.directory.models import (
    Organization,
    OrganizationToken,
    Practitioner,
    PractitionerActivity,
    PractitionerPrefix,
    PractitionerToken,
    Token,
)
from planning.directory.normalize import (
    MAX_NAME_KEY,
    finess_format_error,
    finess_warnings,
    prefix_upper_bound,
    rpps_format_error,
    rpps_warnings,
    tokens,
)
from planning.directory.summary import PrefixDeltas, name_mask, person_summary_json
from planning.directory.sync import apply_prefix_deltas

T = TypeVar("T")


def _check_rpps(rpps: str) -> str:
    rpps = (rpps or "").strip()
    error = rpps_format_error(rpps)
    if error:
        raise InvalidInput(
            f"malformed RPPS number {rpps!r}: {error}",
            errors=[{"location": "path", "field": "rpps", "pointer": "rpps", "detail": error}],
        )
    return rpps


def _check_finess(finess: str) -> str:
    finess = (finess or "").strip().upper()
    error = finess_format_error(finess)
    if error:
        raise InvalidInput(
            f"malformed FINESS number {finess!r}: {error}",
            errors=[{"location": "path", "field": "finess", "pointer": "finess", "detail": error}],
        )
    return finess


def get_practitioner(*, rpps: str) -> Practitioner | None:
    """The professional with this RPPS number (active or not), or None (also when malformed)."""
    rpps = (rpps or "").strip()
    if rpps_format_error(rpps):
        return None
    return db.session.scalars(select(Practitioner).where(Practitioner.rpps == rpps)).first()


def require_practitioner(*, rpps: str) -> Practitioner:
    """The professional with this RPPS number; 422 when malformed, 404 when unknown."""
    rpps = _check_rpps(rpps)
    practitioner = get_practitioner(rpps=rpps)
    if practitioner is None:
        raise NotFound(
            f"no professional with RPPS number {rpps} in the directory",
            warnings=rpps_warnings(rpps),
        )
    return practitioner


def require_practitioner_by_id(*, resource_id: str) -> Practitioner:
    """A professional by RPPS number (11 digits) or national id (IDNPS, 10 or 12 digits)."""
    resource_id = (resource_id or "").strip()
    if len(resource_id) == 11:
        return require_practitioner(rpps=resource_id)
    if len(resource_id) not in (10, 12) or not resource_id.isalnum():
        raise InvalidInput(
            f"malformed practitioner id {resource_id!r}: an RPPS number (11 digits) or a"
            " national identifier (IDNPS, 10 or 12 characters) is expected",
            errors=[{"location": "path", "field": "id", "pointer": "id", "detail": "malformed"}],
        )
    practitioner = db.session.scalars(
        select(Practitioner).where(Practitioner.national_id == resource_id)
    ).first()
    if practitioner is None:
        raise NotFound(f"no professional with national identifier {resource_id}")
    return practitioner


def get_organization(*, finess: str) -> Organization | None:
    """The establishment with this FINESS number (active or not), or None (also when malformed)."""
    finess = (finess or "").strip().upper()
    if finess_format_error(finess):
        return None
    return db.session.scalars(select(Organization).where(Organization.finess == finess)).first()


def require_organization(*, finess: str) -> Organization:
    """The establishment with this FINESS number; 422 when malformed, 404 when unknown."""
    finess = _check_finess(finess)
    organization = get_organization(finess=finess)
    if organization is None:
        raise NotFound(
            f"no establishment with FINESS number {finess} in the directory",
            warnings=finess_warnings(finess),
        )
    return organization


def add_organization(organization: Organization) -> Organization:
    """Store an establishment built outside the imports (demo data) with its search tokens."""
    _add_with_tokens(organization, OrganizationToken, "organization_id", organization.name)
    return organization


def add_practitioner(practitioner: Practitioner) -> Practitioner:
    """Store a professional built outside the imports (demo data) with his search data.

    His tokens, summary and prefix counts, as the imports write them; ``active`` unset
    means active (the column default).
    """
    active = practitioner.active is not False
    practitioner.summary = _summary_of(practitioner)
    words = tokens(practitioner.last_name, practitioner.first_name)
    _add_with_tokens(
        practitioner,
        PractitionerToken,
        "practitioner_id",
        practitioner.last_name,
        practitioner.first_name,
        name_mask=name_mask(words),
    )
    deltas = PrefixDeltas()
    deltas.add(words, active)
    apply_prefix_deltas(db.session(), deltas)
    return practitioner


def _summary_of(practitioner: Practitioner) -> str:
    """The summary of a professional from his row and activities (unset ``active``: True)."""
    return person_summary_json(
        practitioner,
        active=practitioner.active is not False,
        activities=[
            (a.profession_code, a.specialty_code, a.department)
            for a in practitioner.activities
            if a.active is not False
        ],
    )


def _add_with_tokens(
    owner: Any, token_model: Any, owner_column: str, *names: str | None, **columns: Any
) -> None:
    """Add ``owner`` and one search-token row per word of ``names`` (as the imports write),
    with ``columns`` the same on each."""
    db.session.add(owner)
    db.session.flush()
    db.session.add_all(
        token_model(
            **{owner_column: owner.id},
            token=token,
            name_key=owner.name_key,
            active=owner.active,
            **columns,
        )
        for token in tokens(*names)
    )


def practitioner_specialties(practitioner: Practitioner) -> set[str]:
    """The specialty codes (e.g. ``SM36``) of the professional's active activities."""
    return {
        activity.specialty_code
        for activity in practitioner.activities
        if activity.active and activity.specialty_code
    }


# --- search -----------------------------------------------------------------------------------

#: Deepest result reachable by paging; beyond it the caller must refine the search.
MAX_RESULT_WINDOW = 10_000

#: Matches counted exactly; ``TOTAL_CAP + 1`` means "more". A search-as-you-type box shows
#: "more than 1,000", and counting up to 10,000 was most of a frequent search's cost.
TOTAL_CAP = 1_000


@dataclass
class SearchResult(Generic[T]):
    """One page of a search and the number of matches over all pages.

    ``total`` is exact up to ``TOTAL_CAP``; ``TOTAL_CAP + 1`` means "more" (counting 100,000
    "MAR…" names exactly would cost more than the search itself). Pages still reach
    ``MAX_RESULT_WINDOW`` results.
    """

    items: list[T]
    total: int

    @property
    def total_is_exact(self) -> bool:
        return self.total <= TOTAL_CAP


def _capped_count(query: Any) -> int:
    return int(
        db.session.execute(
            select(func.count()).select_from(query.limit(TOTAL_CAP + 1).subquery())
        ).scalar_one()
    )


def _check_window(page: int, page_size: int) -> None:
    if (page - 1) * page_size >= MAX_RESULT_WINDOW:
        raise InvalidInput(
            f"results beyond the first {MAX_RESULT_WINDOW} are not served: refine the search",
            errors=[
                {
                    "location": "query",
                    "field": "page",
                    "pointer": "page",
                    "detail": f"page * page_size must stay within {MAX_RESULT_WINDOW}",
                }
            ],
        )


def _plan_for_these_values(connection: Any) -> None:
    """PostgreSQL: plan each search for its own prefix bounds, never with a generic plan.

    psycopg prepares a statement run five times; PostgreSQL then settles on a generic plan,
    blind to the prefix range, that measured 400-600 ms instead of 5-50 ms on two-word
    searches of the national directory. For the rest of this transaction only: it does
    nothing outside one (``db.read_only_request``), where the name search's statements run
    unprepared instead (``_fetch(custom_plan=True)``).
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def _token_range(column: Any, word: str) -> Any:
    return and_(column >= word, column < prefix_upper_bound(word))


def _most_selective(token_table: Any, words: list[str], active: bool) -> str:
    """The word whose prefix range holds the fewest index entries (counted up to 1,000)."""

    def entries(word: str) -> int:
        probe = (
            select(token_table.c.token)
            .where(token_table.c.active.is_(active), _token_range(token_table.c.token, word))
            .limit(1000)
            .subquery()
        )
        return int(db.session.execute(select(func.count()).select_from(probe)).scalar_one())

    return min(sorted(words, key=len, reverse=True), key=entries)


def _ranked_ids(
    token_table: Any,
    owner: Any,
    words: list[str],
    *,
    active: bool,
    conditions: list[Any],
    page: int,
    page_size: int,
) -> tuple[list[int], int]:
    """Owners whose name has a word starting with each of ``words``, one page, and the total.

    The most selective word drives an index range scan on ``(active, token, name_key, owner)``,
    which already yields the ranking: the word itself first (it is the smallest string of its
    range), then longer words, then by name. The owners matching all the words are an
    intersection of index range scans (an establishment's long name is not in its name key);
    the filters are checked per candidate. An owner whose several name words match the
    driver appears once, at its best.
    """
    _plan_for_these_values(db.session.connection())
    driver = _most_selective(token_table, words, active) if len(words) > 1 else words[0]
    where = [token_table.c.active.is_(active), _token_range(token_table.c.token, driver)]
    if len(words) > 1:
        # Owners matching every word: an intersection of covering-index range scans.
        ranges = []
        for word in words:
            alias = aliased(token_table)
            ranges.append(
                select(alias.c[owner.name]).where(
                    alias.c.active.is_(active), _token_range(alias.c.token, word)
                )
            )
        where.append(owner.in_(intersect(*ranges)))
    where.extend(conditions)
    total = _capped_count(select(owner).where(*where).distinct())
    wanted = page * page_size
    if total <= min((page - 1) * page_size, TOTAL_CAP):
        return [], total  # past the last match (a capped total says nothing about deep pages)
    limit = wanted + page_size
    while True:
        rows = list(
            db.session.scalars(
                select(owner)
                .where(*where)
                .order_by(token_table.c.token, token_table.c.name_key, owner)
                .limit(limit)
            )
        )
        ordered = list(dict.fromkeys(rows))
        if len(ordered) >= wanted or len(rows) < limit:
            break
        limit *= 4
    return ordered[(page - 1) * page_size : wanted], total


class PractitionerCriteria(TypedDict, total=False):
    """The criteria of a search of professionals (see ``practitioner_ids``)."""

    name: str | None
    specialty: str | None
    profession: str | None
    department: str | None
    region: str | None
    finess: str | None
    active: bool
    page: int
    page_size: int


def search_practitioners(**criteria: Unpack[PractitionerCriteria]) -> SearchResult[Practitioner]:
    """Professionals matching every given criterion, ranked by name match, one page."""
    ids, total = practitioner_ids(**criteria)
    return SearchResult(_load(Practitioner, ids), total)


def search_practitioner_summaries(
    **criteria: Unpack[PractitionerCriteria],
) -> SearchResult[dict[str, Any]]:
    """As ``search_practitioners``, each professional as the plain dict of its summary."""
    result = search_practitioner_summary_texts(**criteria)
    return SearchResult([json.loads(text) for text in result.items], result.total)


def search_practitioner_summary_texts(
    *, read_only_request: bool = False, **criteria: Unpack[PractitionerCriteria]
) -> SearchResult[str]:
    """As ``search_practitioners``, each professional as the JSON text of its summary.

    The JSON search answers with these, as stored: no ORM object, no encoding (a search
    answers many times more often than the directory changes). The first pages of a lone
    word without filters come with their summaries from the page's own statement.

    ``read_only_request``: the request only reads (the JSON search). Its statements then run
    outside a transaction on PostgreSQL (``db.read_only_request``), if they run there at
    all: the database is not even reached when the node's copy answers (``replica``).
    """
    name = criteria.get("name")
    active = criteria.get("active", True)
    page, page_size = criteria.get("page", 1), criteria.get("page_size", 50)
    words = tokens(name)
    digits = (name or "").strip()
    if not words or (digits.isdigit() and len(digits) in (10, 11, 12)):
        if read_only_request:
            db.read_only_request()
        ids, total = practitioner_ids(**criteria)
        return SearchResult(practitioner_summary_texts(ids), total)
    filters = ("specialty", "profession", "department", "region", "finess")
    # On PostgreSQL, the node's copy of the search tables when it is current (``replica``).
    with replica.search_connection(read_only_request=read_only_request) as connection:
        _map_sqlite_file(connection)
        if (
            len(words) == 1
            and not any(criteria.get(f) for f in filters)
            and page * page_size <= ONE_STATEMENT_PAGES
        ):
            _check_window(page, page_size)
            rows, total = _page_of_one_word(connection, True, words[0], active, page, page_size)
            if all(row[2] is not None for row in rows):
                return SearchResult([row[2] for row in rows], total)
            ids = [row[0] for row in rows]
        else:
            ids, total = practitioner_ids(**criteria, connection=connection)
        return SearchResult(practitioner_summary_texts(ids, connection=connection), total)


#: SQLite: the name search reads the database file through a memory map of this size (the
#: pages it reads are the operating system's cache, not copied by a read() each).
SQLITE_SEARCH_MMAP_BYTES = 2_000_000_000  # SQLite caps it at 2 GiB by default


def _map_sqlite_file(connection: Any) -> None:
    """SQLite: read through a memory map on the connections the name search runs on. A
    search reads about 60 pages, most of them outside SQLite's own small cache: on the
    national directory it went from 0.51-0.53 to 0.43-0.45 ms of CPU. Once per
    connection, and only those of the search: an import's connection, which reads its
    whole file, would count every page it maps in its resident memory."""
    if connection.dialect.name != "sqlite":
        return
    info = connection.connection.info  # the pooled connection's, across checkouts
    if not info.get("search_mmap"):
        dbapi = connection.connection.dbapi_connection
        dbapi.execute(f"PRAGMA mmap_size = {SQLITE_SEARCH_MMAP_BYTES}")
        info["search_mmap"] = True


@functools.lru_cache(maxsize=512)
def _on_cursor(statement: Any) -> DriverStatement:
    """``statement`` to run on the DBAPI cursor: the hot statements of the JSON search, where
    SQLAlchemy's execution machinery cost as much as SQLite's work on them (0.1 ms of 0.3 ms
    per search). One per statement object; bounded, since the name-search builder's own
    cache (128 shapes) rebuilds the statements it evicts."""
    return DriverStatement(statement)


def _fetch(
    connection: Any, statement: Any, params: dict[str, Any], *, custom_plan: bool = False
) -> list[Any]:
    """The rows of a read-only ``statement`` (lists bound as one parameter: ``_in_list``),
    run on the DBAPI cursor of the same connection and transaction. ``custom_plan``:
    PostgreSQL plans it for these values, never with a generic plan (see
    ``_plan_for_these_values``): the statement is not prepared, which costs no round trip.
    """
    return _on_cursor(statement).all(connection, params, prepare=not custom_plan)


def _in_list(column: Any, name: str, dialect_name: str, item_type: Any) -> Any:
    """``column`` is one of the list bound as the one parameter ``name``: an array on
    PostgreSQL, JSON on SQLite (see ``_list_value``). No IN list to render per length, and
    the statement runs on the DBAPI cursor (``_fetch``) like any other."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(item_type)))
    return column.in_(
        select(literal_column("value"))
        .select_from(func.json_each(bindparam(name)))
        .scalar_subquery()
    )


def _list_value(dialect_name: str, values: list[Any]) -> Any:
    """The value of an ``_in_list`` parameter."""
    return values if dialect_name == "postgresql" else json.dumps(values)


@functools.cache
def _summary_statement(dialect_name: str) -> Any:
    table = Practitioner.__table__
    return select(table.c.id, table.c.summary).where(
        _in_list(table.c.id, "ids", dialect_name, Integer)
    )


def practitioner_summary_texts(ids: list[int], *, connection: Any = None) -> list[str]:
    """The stored summaries (``PractitionerSummarySchema`` as JSON) of ``ids``, in order
    (read on ``connection``, by default the session's)."""
    if not ids:
        return []
    connection = connection or db.session.connection()
    statement = _summary_statement(connection.dialect.name)
    found: dict[int, str | None] = dict(
        _fetch(connection, statement, {"ids": _list_value(connection.dialect.name, ids)})
    )
    forgotten = [key for key, text in found.items() if text is None]
    if forgotten:
        # Written by a writer that does not know the summary: computed from the rows.
        for practitioner in _load(Practitioner, forgotten):
            found[practitioner.id] = _summary_of(practitioner)
    return [text for key in ids if (text := found.get(key)) is not None]


def practitioner_summaries(ids: list[int]) -> list[dict[str, Any]]:
    """The professionals ``ids``, in that order, as ``PractitionerSummarySchema`` dumps them."""
    return [json.loads(text) for text in practitioner_summary_texts(ids)]


@functools.cache
def _prefix_statement(dialect_name: str) -> Any:
    prefix = PractitionerPrefix.__table__
    return select(prefix.c.prefix, prefix.c.owners).where(
        prefix.c.active == bindparam("active"),
        _in_list(prefix.c.prefix, "words", dialect_name, Token),
    )


def _prefix_owners(connection: Any, words: list[str], active: bool) -> dict[str, int]:
    """How many professionals have a name word starting with each of ``words`` (exact)."""
    dialect = connection.dialect.name
    found = dict(
        _fetch(
            connection,
            _prefix_statement(dialect),
            {"active": active, "words": _list_value(dialect, words)},
        )
    )
    return {word: int(found.get(word, 0)) for word in words}


#: The activity columns the professional search filters on, by argument name.
_ACTIVITY_FILTERS = {
    "specialty": "specialty_code",
    "profession": "profession_code",
    "department": "department",
    "finess": "finess_site",
}


@functools.lru_cache(maxsize=128)
def _name_search_statements(
    others: int, filters: tuple[str, ...], dialect_name: str
) -> tuple[Any, Any, Any]:
    """The page, capped-count and exact-count statements of a name search, by shape.

    Built once per shape (number of extra words, filters given) with bound parameters only:
    SQLAlchemy then reuses the compiled SQL without recomputing the statement's cache key,
    which costs more than the query itself on a frequent search. The page is read first:
    when it holds the whole range of matches, it gives the total too (most several-word
    searches); else the capped count, and the exact count for the rare ranges whose first
    entries repeat owners too much to conclude.
    """
    token = PractitionerToken.__table__
    owner = token.c.practitioner_id
    ranked = (
        select(owner)
        .where(*_name_search_conditions(token, others, filters, dialect_name))
        .order_by(token.c.token, token.c.name_key, owner)
        .limit(bindparam("limit"))
    )
    # The total, streamed: distinct owners among the first ``raw_cap`` entries of the range,
    # and how many entries that was. PostgreSQL hashes a DISTINCT ... LIMIT over the whole
    # range (70,000 entries for "MOR"); a LIMIT below the DISTINCT stops at the cap.
    counted = aliased(token)
    head = (
        select(counted.c.practitioner_id)
        .where(*_name_search_conditions(counted, others, filters, dialect_name))
        .limit(bindparam("raw_cap"))
        .subquery()
    )
    capped = select(func.count(head.c.practitioner_id.distinct()), func.count())
    counted = aliased(token)
    exact = select(func.count()).select_from(
        select(counted.c.practitioner_id)
        .where(*_name_search_conditions(counted, others, filters, dialect_name))
        .distinct()
        .limit(bindparam("cap"))
        .subquery()
    )
    return ranked, capped, exact


def _name_search_conditions(
    token: Any, others: int, filters: tuple[str, ...], dialect_name: str
) -> list[Any]:
    activity = PractitionerActivity.__table__
    active = bindparam("active")
    where: list[Any] = [token.c.active == active, *_token_range_param(token.c.token, "")]
    if others:
        # An integer test on the index entry first: most entries lack a bit of the other
        # words and are never matched on the name key (a third of the cost per entry).
        mask = bindparam("mask", type_=BigInteger)
        where.append(token.c.name_mask.bitwise_and(mask) == mask)
    for index in range(others):
        where.append(_name_key_has_word_param(token, str(index)))
    if filters:
        criteria = [
            activity.c.practitioner_id == token.c.practitioner_id,
            activity.c.active == active,
        ]
        for name in filters:
            if name == "region":
                # Through the indexed departments of the region.
                criteria.append(_in_list(activity.c.department, "region", dialect_name, String()))
            else:
                criteria.append(activity.c[_ACTIVITY_FILTERS[name]] == bindparam(name))
        where.append(exists().where(*criteria))
    return where


def _token_range_param(column: Any, suffix: str) -> list[Any]:
    return [column >= bindparam(f"low{suffix}"), column < bindparam(f"high{suffix}")]


def _name_key_has_word_param(token: Any, suffix: str) -> Any:
    """A word of the name key starts with the word ``suffix`` (see ``_name_key_has_word``)."""
    alias = aliased(token)
    return or_(
        (literal(" ") + token.c.name_key).like(bindparam(f"like{suffix}")),
        and_(
            func.length(token.c.name_key) >= MAX_NAME_KEY,
            exists().where(
                alias.c.practitioner_id == token.c.practitioner_id,
                alias.c.active == token.c.active,
                *_token_range_param(alias.c.token, suffix),
            ),
        ),
    )


#: ``_ranked_page``'s total when the first entries repeat owners too much to conclude.
_COUNT_EXACTLY = -1


def _ranked_page(
    connection: Any, statement: Any, params: dict[str, Any], page: int, page_size: int
) -> tuple[list[int], int | None]:
    """The owners of one page from a ranked statement of index entries, and their total
    when the entries read tell it (else None).

    On PostgreSQL the first ``raw_cap`` entries at least are read: the page's, and those the
    total needs (counting them in a second statement, planned again, scanned them again).
    SQLite returns rows dearer than it counts them: the page's entries only. A professional
    appears twice in the driver's range only when two of his name words start with it: a
    few extra rows usually make up for it, else the limit grows.
    """
    wanted = page * page_size
    limit = wanted + 8
    if connection.dialect.name == "postgresql":
        limit = max(limit, params["raw_cap"])
    while True:
        rows = _fetch(connection, statement, {**params, "limit": limit}, custom_plan=True)
        ordered = list(dict.fromkeys(row[0] for row in rows))
        if len(rows) < limit:
            return ordered[(page - 1) * page_size : wanted], len(ordered)
        if len(ordered) >= wanted:
            page_ids = ordered[(page - 1) * page_size : wanted]
            if limit == params["raw_cap"]:
                # More owners than the cap: the total says so. Fewer (owners repeated in the
                # range): only an exact count tells.
                return page_ids, len(ordered) if len(ordered) > TOTAL_CAP else _COUNT_EXACTLY
            return page_ids, None
        limit *= 4


def _practitioners_by_name(
    words: list[str],
    filters: dict[str, Any],
    *,
    active: bool,
    page: int,
    page_size: int,
    connection: Any = None,
) -> tuple[list[int], int]:
    """One page of the professionals whose name has a word starting with each of ``words``.

    The most selective word drives a range scan of the covering index ``(active, token,
    name_key, owner)``, which yields the ranking (the word itself first, then longer words,
    then by name); the other words are checked on each entry's name key, the activity
    filters per candidate. A professional whose several name words match the driver
    appears once, at its best. The stored prefix counts give a lone word its total, and
    several words the rarest of them as the driver.
    """
    connection = connection or db.session.connection()
    if len(words) == 1 and not filters:
        rows, total = _page_of_one_word(connection, False, words[0], active, page, page_size)
        return [row[0] for row in rows], total
    owners = _prefix_owners(connection, words, active)
    driver = min(sorted(words, key=len, reverse=True), key=owners.__getitem__)
    if owners[driver] == 0:
        return [], 0  # no name has a word starting with it
    others = [word for word in words if word != driver]
    dialect = connection.dialect.name
    ranked, capped, exact = _name_search_statements(len(others), tuple(sorted(filters)), dialect)
    cap = TOTAL_CAP + 1
    params: dict[str, Any] = {
        "active": active,
        "low": driver,
        "high": prefix_upper_bound(driver),
        # Owners with two words in the driver's range are rare: a quarter more entries than
        # the cap almost always hold ``cap`` distinct owners when the range is that large.
        "raw_cap": cap + cap // 4,
        **filters,
    }
    if "region" in filters:
        params["region"] = _list_value(dialect, filters["region"])
    params["mask"] = name_mask(others)
    for index, word in enumerate(others):
        params[f"like{index}"] = f"% {word}%"
        params[f"low{index}"] = word
        params[f"high{index}"] = prefix_upper_bound(word)
    ids, matching = _ranked_page(connection, ranked, params, page, page_size)
    if matching is None:  # a deep page: the entries read for it do not tell the total
        ((owners_seen, entries),) = _fetch(connection, capped, params, custom_plan=True)
        if entries < params["raw_cap"] or owners_seen >= cap:
            matching = int(owners_seen)  # the whole range, or more than the cap
        else:
            matching = _COUNT_EXACTLY
    if matching == _COUNT_EXACTLY:
        return ids, int(_fetch(connection, exact, {**params, "cap": cap}, custom_plan=True)[0][0])
    return ids, min(matching, cap)


#: Pages of a one-word JSON search (``page * page_size``) read with their summaries in one
#: statement; deeper pages would read the summaries of every row before them.
ONE_STATEMENT_PAGES = 200


def _one_word_select(limit: int, *columns: Any) -> Any:
    """The first ``limit`` index entries of a prefix range, ranked, with their owner's count.

    The LIMIT is written in the statement, not bound: PostgreSQL costs a generic plan as if
    an unknown LIMIT kept a tenth of the range, so with a bound one it planned every
    execution again (0.3 ms of its 0.7 ms per search on the national directory) and never
    reused the plan; with a written one it settles on the generic plan, the same index range
    scan. One statement per limit (``_one_word_statement``): a few page shapes in practice.
    """
    token = PractitionerToken.__table__
    prefix = PractitionerPrefix.__table__
    owners = (
        select(prefix.c.owners)
        .where(prefix.c.active == bindparam("active"), prefix.c.prefix == bindparam("low"))
        .scalar_subquery()
    )
    return (
        select(token.c.practitioner_id, owners, *columns)
        .where(token.c.active == bindparam("active"), *_token_range_param(token.c.token, ""))
        .order_by(token.c.token, token.c.name_key, token.c.practitioner_id)
        .limit(literal_column(str(int(limit))))
    )


@functools.lru_cache(maxsize=64)
def _one_word_statement(limit: int, with_summaries: bool) -> Any:
    """``_one_word_select``, with each owner's stored summary when ``with_summaries``."""
    if not with_summaries:
        return _one_word_select(limit)
    practitioner = Practitioner.__table__
    token = PractitionerToken.__table__
    return _one_word_select(limit, practitioner.c.summary).join_from(
        token, practitioner, practitioner.c.id == token.c.practitioner_id
    )


def _page_of_one_word(
    connection: Any, with_summaries: bool, word: str, active: bool, page: int, page_size: int
) -> tuple[list[Any], int]:
    """The rows (owner first, then the count, then the summary when ``with_summaries``) of
    one page of the professionals with a name word starting with ``word``, and their
    number, stored: one range scan of the token index up to the page's end
    (``_one_word_select``).

    The generic plan PostgreSQL settles on for this statement is that range scan (the
    index yields the order asked for): no custom plan needed.
    """
    params = {"active": active, "low": word, "high": prefix_upper_bound(word)}
    wanted = page * page_size
    limit = wanted + 8
    while True:
        rows = _fetch(connection, _one_word_statement(limit, with_summaries), params)
        first: dict[int, Any] = {}
        for row in rows:
            first.setdefault(row[0], row)  # an owner at his best-ranked word
        ordered = list(first.values())
        if len(ordered) >= wanted or len(rows) < limit:
            break
        limit *= 4
    if not rows:
        return [], 0  # no name has a word starting with it (the statement has no offset)
    return ordered[(page - 1) * page_size : wanted], min(int(rows[0][1]), TOTAL_CAP + 1)


def practitioner_ids(
    *,
    name: str | None = None,
    specialty: str | None = None,
    profession: str | None = None,
    department: str | None = None,
    region: str | None = None,
    finess: str | None = None,
    active: bool = True,
    page: int = 1,
    page_size: int = 50,
    connection: Any = None,
) -> tuple[list[int], int]:
    """The ids of one page of professionals matching every given criterion, and the total.

    ``name``: every word must start a word of the professional's name, accents, case and
    hyphens ignored ("benedicte lebrun" finds "Bénédicte LEBRUN-CARPENTIER" and so does
    "carpentier"). An 11-digit (RPPS) or 12-digit (national id) ``name`` is looked up
    exactly. The activity criteria must hold for one same activity. ``connection``: where
    to run a name search (default: the session's).
    """
    _check_window(page, page_size)
    activity = PractitionerActivity.__table__
    criteria: list[Any] = [activity.c.active.is_(active)]
    for column, value in (
        (activity.c.specialty_code, specialty and specialty.strip().upper()),
        (activity.c.profession_code, profession and profession.strip()),
        (activity.c.department, normalize_department(department) or department),
        (activity.c.finess_site, finess and finess.strip().upper()),
    ):
        if value:
            criteria.append(column == value)
    if region:
        # Through the indexed departments of the region.
        criteria.append(activity.c.department.in_(departments_of_region(region) or [""]))
    words = tokens(name)
    digits = (name or "").strip()
    table = Practitioner.__table__
    if digits.isdigit() and len(digits) in (10, 11, 12):
        words = []
        identifier = table.c.rpps if len(digits) == 11 else table.c.national_id
        id_condition: list[Any] = [identifier == digits]
    else:
        id_condition = []

    if words:
        filters = {
            "specialty": specialty and specialty.strip().upper(),
            "profession": profession and profession.strip(),
            "department": normalize_department(department) or department,
            "finess": finess and finess.strip().upper(),
            "region": (departments_of_region(region) or [""]) if region else None,
        }
        ids, total = _practitioners_by_name(
            words,
            {key: value for key, value in filters.items() if value},
            active=active,
            page=page,
            page_size=page_size,
            connection=connection,
        )
    else:
        where = [table.c.active.is_(active), *id_condition]
        if len(criteria) > 1:
            where.append(table.c.id.in_(select(activity.c.practitioner_id).where(*criteria)))
        total = _capped_count(select(table.c.id).where(*where))
        ids = list(
            db.session.scalars(
                select(table.c.id)
                .where(*where)
                .order_by(table.c.name_key, table.c.id)
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        )
    return ids, total


def _load(model: Any, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    found = {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


@dataclass
class NearbyOrganization:
    """An establishment with its distance to the point searched around."""

    organization: Organization
    distance_km: float


def search_organizations(
    *,
    name: str | None = None,
    category: str | None = None,
    kind: str | None = None,
    department: str | None = None,
    region: str | None = None,
    postal_code: str | None = None,
    near: tuple[float, float] | None = None,
    radius_km: float = 20.0,
    active: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> SearchResult[Organization]:
    """Establishments matching every given criterion, one page.

    Ranked by name match when ``name`` is given, by distance when ``near`` is, else by name.
    """
    _check_window(page, page_size)
    table = Organization.__table__
    criteria: list[Any] = []
    for column, value in (
        (table.c.category_code, category),
        (table.c.kind, kind),
        (table.c.department, normalize_department(department) or department),
        (table.c.region, region),
    ):
        if value:
            criteria.append(column == value)
    if postal_code:
        criteria.append(table.c.postal_code.startswith(postal_code.strip(), autoescape=True))
    words = tokens(name)
    finess = (name or "").strip().upper()
    if near is not None:
        return _organizations_near(near, radius_km, words, criteria, active, page, page_size)
    if len(finess) == 9 and not finess_format_error(finess):
        criteria.append(table.c.finess == finess)
        words = []
    if words:
        token_table = OrganizationToken.__table__
        owner = token_table.c.organization_id
        conditions = []
        if criteria:
            conditions.append(exists().where(table.c.id == owner, *criteria))
        ids, total = _ranked_ids(
            token_table,
            owner,
            words,
            active=active,
            conditions=conditions,
            page=page,
            page_size=page_size,
        )
        return SearchResult(_load(Organization, ids), total)
    where = [table.c.active.is_(active), *criteria]
    total = _capped_count(select(table.c.id).where(*where))
    ids = list(
        db.session.scalars(
            select(table.c.id)
            .where(*where)
            .order_by(table.c.name_key, table.c.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    return SearchResult(_load(Organization, ids), total)


def _organizations_near(
    near: tuple[float, float],
    radius_km: float,
    words: list[str],
    criteria: list[Any],
    active: bool,
    page: int,
    page_size: int,
) -> SearchResult[Organization]:
    lat, lon = near
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(
            "near must be 'latitude,longitude' in degrees",
            errors=[
                {"location": "query", "field": "near", "pointer": "near", "detail": "out of range"}
            ],
        )
    table = Organization.__table__
    # A bounding box on the indexed latitude, then the exact great-circle distance.
    dlat = radius_km / 111.0
    dlon = radius_km / max(111.0 * math.cos(math.radians(lat)), 1e-6)
    where = [
        table.c.active.is_(active),
        table.c.lat.between(lat - dlat, lat + dlat),
        table.c.lon.between(lon - dlon, lon + dlon),
        *criteria,
    ]
    token_table = OrganizationToken.__table__
    for word in words:
        where.append(
            exists().where(
                token_table.c.organization_id == table.c.id, _token_range(token_table.c.token, word)
            )
        )
    candidates = db.session.execute(select(table.c.id, table.c.lat, table.c.lon).where(*where))
    ranked = sorted(
        (distance, row.id)
        for row in candidates
        if (distance := haversine_km(lat, lon, row.lat, row.lon)) <= radius_km
    )
    chosen = ranked[(page - 1) * page_size : page * page_size]
    distances = {key: distance for distance, key in chosen}
    organizations = _load(Organization, [key for _, key in chosen])
    for organization in organizations:
        organization.distance_km = round(distances[organization.id], 2)
    return SearchResult(organizations, len(ranked))
