"""Directory lookups: by RPPS and FINESS number, with 422 and 404 rules."""

from __future__ import annotations

import collections
import random

import pytest
from sqlalchemy import exc, select, text, update

from core.db import db
from core.errors import InvalidInput, NotFound
from planning.directory import normalize, services, sync
from planning.directory.models import Practitioner
from planning.directory.schemas import PractitionerSummarySchema
from tests.planning.directory.conftest import assert_search_data_exact


def test_get_practitioner_by_rpps(create_practitioner):
    created = create_practitioner(rpps="10101010101")
    assert services.get_practitioner(rpps="10101010101") is created
    assert services.get_practitioner(rpps="10101010102") is None
    assert services.get_practitioner(rpps="abc") is None


def test_require_practitioner_rules(create_practitioner):
    create_practitioner(rpps="10101010101")
    assert services.require_practitioner(rpps="10101010101").rpps == "10101010101"
    with pytest.raises(NotFound):
        services.require_practitioner(rpps="10101010102")
    with pytest.raises(InvalidInput, match="11 digits"):
        services.require_practitioner(rpps="1010101010")
    with pytest.raises(InvalidInput, match="only digits"):
        services.require_practitioner(rpps="1010101010X")


def test_practitioner_specialties_are_the_active_ones(create_practitioner):
    practitioner = create_practitioner(
        activities=[
            {"specialty_code": "SM36"},
            {"specialty_code": "SM37"},
            {"specialty_code": "SM01", "active": False},
            {"specialty_code": None},
        ]
    )
    assert services.practitioner_specialties(practitioner) == {"SM36", "SM37"}


def test_organization_lookups(create_organization):
    created = create_organization(finess="290000017", name="CHRU DE BREST")
    assert services.get_organization(finess="290000017") is created
    assert services.require_organization(finess="290000017") is created
    assert services.get_organization(finess="29000001") is None
    with pytest.raises(NotFound):
        services.require_organization(finess="290000025")
    with pytest.raises(InvalidInput, match="9 characters"):
        services.require_organization(finess="29000001")
    with pytest.raises(InvalidInput, match="digits only"):
        services.require_organization(finess="29000001X")


def test_corsica_finess_accepted(create_organization):
    create_organization(finess="2A0000154", department="2A")
    assert services.require_organization(finess="2a0000154").department == "2A"


# --- search ---------------------------------------------------------------------------------


def names(result) -> list[str]:
    return [f"{p.first_name} {p.last_name}" for p in result.items]


@pytest.fixture
def people(create_practitioner):
    create_practitioner(last_name="LEBRUN-CARPENTIER", first_name="Anaïs")
    create_practitioner(
        last_name="Martin", first_name="Bénédicte", activities=[{"department": "35"}]
    )
    create_practitioner(last_name="MARTINEAU", first_name="Jean")
    create_practitioner(
        last_name="DE LA FONTAINE",
        first_name="Marie-Hélène",
        activities=[{"specialty_code": "SM37", "department": "75", "finess_site": "750000001"}],
    )
    create_practitioner(last_name="BENEDETTI", first_name="Paul", activities=[{"department": "01"}])
    create_practitioner(last_name="MARTIN", first_name="Zoé", active=False)


def test_search_is_accent_and_case_insensitive(people):
    assert names(services.search_practitioners(name="benedicte")) == ["Bénédicte Martin"]
    assert names(services.search_practitioners(name="BÉNÉ")) == [
        "Paul BENEDETTI",
        "Bénédicte Martin",
    ]


def test_every_part_of_a_compound_name_is_found(people):
    assert names(services.search_practitioners(name="carpentier")) == ["Anaïs LEBRUN-CARPENTIER"]
    assert names(services.search_practitioners(name="fontaine helene")) == [
        "Marie-Hélène DE LA FONTAINE"
    ]


def test_first_last_and_last_first(people):
    for query in ("benedicte martin", "martin benedicte", "mart ben"):
        assert names(services.search_practitioners(name=query)) == ["Bénédicte Martin"], query


def test_exact_word_ranks_before_longer_words(people):
    result = services.search_practitioners(name="martin")
    assert names(result) == ["Bénédicte Martin", "Jean MARTINEAU"]
    assert result.total == 2


def test_inactive_professionals_only_on_request(people):
    assert names(services.search_practitioners(name="martin zoe")) == []
    assert names(services.search_practitioners(name="martin zoe", active=False)) == ["Zoé MARTIN"]


def test_activity_filters(people):
    assert names(services.search_practitioners(specialty="sm37")) == ["Marie-Hélène DE LA FONTAINE"]
    assert names(services.search_practitioners(name="mar", region="53")) == [
        "Bénédicte Martin",
        "Jean MARTINEAU",
    ]
    assert names(services.search_practitioners(department="1")) == ["Paul BENEDETTI"]
    assert names(services.search_practitioners(finess="750000001")) == [
        "Marie-Hélène DE LA FONTAINE"
    ]
    assert services.search_practitioners(profession="21").total == 0


def test_search_by_number(people, create_practitioner):
    created = create_practitioner(rpps="10101010101", last_name="NUMERO")
    assert names(services.search_practitioners(name="10101010101")) == ["Jean NUMERO"]
    assert names(services.search_practitioners(name=created.national_id)) == ["Jean NUMERO"]


def test_paging_with_total(create_practitioner):
    for index in range(7):
        create_practitioner(last_name=f"DUPONT{chr(65 + index)}", first_name="Jean")
    create_practitioner(last_name="DUPONT", first_name="DUPONTEL")  # two words match: once
    first = services.search_practitioners(name="dupont", page=1, page_size=3)
    second = services.search_practitioners(name="dupont", page=2, page_size=3)
    third = services.search_practitioners(name="dupont", page=3, page_size=3)
    assert first.total == second.total == 8
    assert names(first) == ["DUPONTEL DUPONT", "Jean DUPONTA", "Jean DUPONTB"]
    assert names(second) == ["Jean DUPONTC", "Jean DUPONTD", "Jean DUPONTE"]
    assert names(third) == ["Jean DUPONTF", "Jean DUPONTG"]


def test_listing_without_name_is_by_name(people):
    result = services.search_practitioners(page_size=2)
    assert result.total == 5
    assert names(result) == ["Paul BENEDETTI", "Marie-Hélène DE LA FONTAINE"]


def test_paging_window_is_bounded():
    with pytest.raises(InvalidInput, match="refine the search"):
        services.search_practitioners(name="a", page=201, page_size=50)


@pytest.fixture
def places(create_organization):
    create_organization(
        finess="290000017", name="CHRU BREST", category_code="101", lat=48.3905, lon=-4.4860
    )
    create_organization(name="CH CORNOUAILLE QUIMPER", lat=47.9960, lon=-4.1020)
    create_organization(
        name="CENTRE EUGÈNE MARQUIS", category_code="131", department="35", lat=48.1189, lon=-1.6963
    )
    create_organization(name="CH FERMÉ", active=False, lat=48.39, lon=-4.48)


def org_names(result) -> list[str]:
    return [o.name for o in result.items]


def test_organization_search(places):
    assert org_names(services.search_organizations(name="eugene")) == ["CENTRE EUGÈNE MARQUIS"]
    assert org_names(services.search_organizations(name="290000017")) == ["CHRU BREST"]
    assert org_names(services.search_organizations(category="131")) == ["CENTRE EUGÈNE MARQUIS"]
    assert org_names(services.search_organizations(region="53", department="29")) == [
        "CH CORNOUAILLE QUIMPER",
        "CHRU BREST",
    ]
    assert org_names(services.search_organizations(name="ferme", active=False)) == ["CH FERMÉ"]


def test_organizations_near_a_point(places):
    result = services.search_organizations(near=(48.40, -4.49), radius_km=60)
    assert org_names(result) == ["CHRU BREST", "CH CORNOUAILLE QUIMPER"]
    assert result.items[0].distance_km < 2
    assert 40 < result.items[1].distance_km < 60
    assert org_names(services.search_organizations(near=(48.40, -4.49), radius_km=5)) == [
        "CHRU BREST"
    ]
    assert org_names(
        services.search_organizations(near=(48.40, -4.49), radius_km=300, name="marquis")
    ) == ["CENTRE EUGÈNE MARQUIS"]


def test_require_practitioner_by_id(create_practitioner):
    created = create_practitioner(rpps="10101010101")
    assert services.require_practitioner_by_id(resource_id="810101010101") is created
    assert services.require_practitioner_by_id(resource_id="10101010101") is created
    with pytest.raises(NotFound):
        services.require_practitioner_by_id(resource_id="810101010102")
    with pytest.raises(InvalidInput):
        services.require_practitioner_by_id(resource_id="8101")


def test_not_found_carries_the_luhn_warning():
    with pytest.raises(NotFound) as caught:
        services.require_practitioner(rpps="10101010102")
    assert "Luhn" in caught.value.extensions["warnings"][0]


def test_total_is_capped(create_practitioner, monkeypatch):
    monkeypatch.setattr(services, "TOTAL_CAP", 3)
    for index in range(5):
        create_practitioner(last_name=f"CAPPED{index}")
    result = services.search_practitioners(name="capped", page_size=2)
    assert (result.total, result.total_is_exact) == (4, False)
    assert services.search_practitioners(name="capped1").total_is_exact


def test_pages_go_past_a_capped_total(create_practitioner, create_organization, monkeypatch):
    # Only the count is capped: the pages beyond it still hold the matches.
    monkeypatch.setattr(services, "TOTAL_CAP", 3)
    for index in range(5):
        create_practitioner(last_name=f"DEEP{index}")
        create_organization(name=f"CH DEEP{index}")
    deep = services.search_practitioners(name="deep", page=3, page_size=2)
    assert (names(deep), deep.total) == (["Jean DEEP4"], 4)
    summaries = services.search_practitioner_summaries(name="deep", page=2, page_size=2)
    assert [s["last_name"] for s in summaries.items] == ["DEEP2", "DEEP3"]
    organizations = services.search_organizations(name="deep", page=3, page_size=2)
    assert (org_names(organizations), organizations.total) == (["CH DEEP4"], 4)
    assert services.search_organizations(name="deep", page=4, page_size=2).items == []
    plain = services.search_organizations(department="29", page=3, page_size=2)
    assert (len(plain.items), plain.total) == (1, 4)


# --- name search through the name key, and the plain summaries ---------------------------------


def test_other_words_must_start_a_name_word(people):
    # "ene" is inside "HELENE", "tin" inside "MARTIN": neither starts a word.
    assert names(services.search_practitioners(name="fontaine ene")) == []
    assert names(services.search_practitioners(name="ben tin")) == []
    assert names(services.search_practitioners(name="lebrun carp")) == ["Anaïs LEBRUN-CARPENTIER"]
    assert names(services.search_practitioners(name="carp lebrun anai")) == [
        "Anaïs LEBRUN-CARPENTIER"
    ]


def test_the_same_word_may_answer_two_prefixes(people):
    # As with one word per range: "martine" and "mart" may both be MARTINEAU.
    assert names(services.search_practitioners(name="martine mart")) == ["Jean MARTINEAU"]


def test_words_beyond_a_cut_name_key_are_still_found(create_practitioner):
    # Ligatures fold to two letters: 95 characters of last name make 183 of name key.
    long_last = "-".join(["ŒŒŒŒŒŒŒŒŒŒŒ"] * 8)
    create_practitioner(last_name=long_last, first_name="Ferdinand-Maximilien")
    created = services.search_practitioners(name="ferdinand").items[0]
    assert created.name_key.endswith(" FERDINAND MAXIMI")  # cut at MAX_NAME_KEY
    assert len(created.name_key) == normalize.MAX_NAME_KEY
    # The longer word drives (equal counts); "maximil" is checked beyond the cut key.
    assert names(services.search_practitioners(name="oeoeoeoeoe maximil")) == [
        f"Ferdinand-Maximilien {long_last}"
    ]
    assert names(services.search_practitioners(name="oeoeoeoeoe maximilienne")) == []


def test_name_search_with_filters_and_several_words(people):
    assert names(services.search_practitioners(name="mar ben", region="53")) == ["Bénédicte Martin"]
    assert names(services.search_practitioners(name="mar ben", region="11")) == []
    assert names(services.search_practitioners(name="fontaine mar", finess="750000001")) == [
        "Marie-Hélène DE LA FONTAINE"
    ]
    assert names(services.search_practitioners(name="mar", specialty="SM37", department="75")) == [
        "Marie-Hélène DE LA FONTAINE"
    ]


def test_summaries_are_what_the_schema_dumps(people, create_practitioner):
    create_practitioner(
        last_name="MARTINI",
        first_name="Luc",
        rpps="10101010102",  # fails the Luhn check: a warning
        activities=[
            {"specialty_code": "SM36", "department": "29"},
            {"specialty_code": "SM37", "department": "29", "profession_code": "60"},
            {"specialty_code": "SM01", "department": "75", "active": False},
        ],
    )
    create_practitioner(last_name="MARTINO", first_name="Léa", activities=[])
    for query, active in (("mar", True), ("mar", False), ("martini", True)):
        plain = services.search_practitioner_summaries(name=query, active=active)
        full = services.search_practitioners(name=query, active=active)
        assert plain.total == full.total
        assert plain.items == PractitionerSummarySchema(many=True).dump(full.items)
    assert plain.items[0]["warnings"] and plain.items[0]["specialties"] == ["SM36", "SM37"]


def test_total_stays_exact_when_the_first_entries_repeat_owners(create_practitioner, monkeypatch):
    # Cap 4, five entries read first: "DUPA" x3 then "DUPAA" x3 (the same three people)
    # hold only three owners in five entries, so the total is counted exactly.
    monkeypatch.setattr(services, "TOTAL_CAP", 3)
    for first in ("Anne", "Bruno", "Claire"):
        create_practitioner(last_name="DUPA-DUPAA", first_name=first)
    result = services.search_practitioners(name="dupa", page_size=2)
    assert (result.total, result.total_is_exact) == (3, True)
    assert names(services.search_practitioners(name="dupa", page=2, page_size=2)) == [
        "Claire DUPA-DUPAA"
    ]
    for index in range(3):
        create_practitioner(last_name=f"DUPA{index}")
    assert services.search_practitioners(name="dupa").total == 4  # 6 owners: more than 3


def test_added_professionals_keep_the_search_data_exact(people, create_practitioner):
    create_practitioner(last_name="MARTIN-MARTINEZ", first_name="Martine", active=False)
    create_practitioner(
        last_name="DUPONT", activities=[{"active": False}, {"specialty_code": "SM37"}]
    )
    assert_search_data_exact()


def test_prefix_counts_of_sorted_tokens():
    rng = random.Random(5)
    rows = sorted(
        ("".join(rng.choice("AB") for _ in range(rng.randint(1, 5))), rng.randint(1, 30))
        for _ in range(300)
    )
    owners = collections.defaultdict(set)
    for token, owner in rows:
        for end in range(1, len(token) + 1):
            owners[token[:end]].add(owner)
    counted = list(sync.prefix_owner_counts(rows))
    assert dict(counted) == {prefix: len(ids) for prefix, ids in owners.items()}
    assert len(counted) == len(owners)


def test_a_word_no_name_starts_with_finds_nothing(people):
    result = services.search_practitioners(name="zzz martin")
    assert (result.items, result.total) == ([], 0)


def test_name_masks_never_hide_a_match(create_practitioner):
    # Two pairs of letters hashed to the same bit still match; a lacking bit never does.
    create_practitioner(last_name="KOVAC", first_name="Ilse")
    assert names(services.search_practitioners(name="ilse kov")) == ["Ilse KOVAC"]
    assert names(services.search_practitioners(name="i kovac")) == ["Ilse KOVAC"]
    assert names(services.search_practitioners(name="ilse kx")) == []


def test_a_summary_left_unwritten_is_computed(people):
    stored = services.search_practitioner_summaries(name="martin").items
    db.session.execute(update(Practitioner).values(summary=None))
    assert services.search_practitioner_summaries(name="martin").items == stored


def test_one_word_pages_with_their_summaries_are_the_generic_ones(people, create_practitioner):
    for first in ("Anne", "Bruno", "Claire"):
        create_practitioner(last_name="DUPA-DUPAA", first_name=first)  # twice in "DUPA"
    for query in ("dupa", "mar", "b", "zzz"):
        for page, size in ((1, 2), (2, 2), (3, 2), (1, 50), (9, 1)):
            texts = services.search_practitioner_summary_texts(
                name=query, page=page, page_size=size
            )
            ids, total = services.practitioner_ids(name=query, page=page, page_size=size)
            assert (texts.items, texts.total) == (services.practitioner_summary_texts(ids), total)


def test_several_word_totals_read_with_the_page(create_practitioner, monkeypatch):
    # Cap 8 (TOTAL_CAP 7): the page's statement reads the first 10 entries of the driving
    # word's range, which tell the total when they hold more owners than the cap; when they
    # repeat owners, an exact count; a deep page goes past them and counts on its own.
    monkeypatch.setattr(services, "TOTAL_CAP", 7)
    for index in range(25):
        create_practitioner(last_name=f"ROSS{index:02d}", first_name="Marie")
    for first in ("Anne", "Bruno", "Claire", "Denis", "Emma"):
        create_practitioner(last_name="DUPA-DUPAA-DUPAAA", first_name=first)
    for first in ("Fanny", "Gilles"):
        create_practitioner(last_name="DUPAZ", first_name=first)

    many = services.search_practitioners(name="marie ross", page_size=1)
    assert (names(many), many.total, many.total_is_exact) == (["Marie ROSS00"], 8, False)
    deep = services.search_practitioners(name="marie ross", page=3, page_size=4)
    assert names(deep) == [f"Marie ROSS{index:02d}" for index in (8, 9, 10, 11)]
    assert (deep.total, deep.total_is_exact) == (8, False)
    few = services.search_practitioners(name="ross1 marie", page_size=1)
    assert (few.total, few.total_is_exact) == (8, False)  # ROSS10-19 drive: more than 7

    # A filter takes the same path: the first 10 entries of "DUPA" hold 5 owners (DUPA and
    # DUPAA of each): only an exact count finds the 7 (the two DUPAZ come after DUPAAA).
    dupa = services.search_practitioners(name="dupa", page_size=1, profession="10")
    assert (names(dupa), dupa.total, dupa.total_is_exact) == (
        ["Anne DUPA-DUPAA-DUPAAA"],
        7,
        True,
    )
    assert names(services.search_practitioners(name="dupa", page=7, page_size=1)) == [
        "Gilles DUPAZ"
    ]


@pytest.mark.postgresql_only
def test_a_search_statement_cut_by_the_statement_timeout_is_a_database_error(people):
    # the search's statements run on the DBAPI cursor: their errors still come out as
    # SQLAlchemy's (a timeout: OperationalError, which the API answers with 503, not 500)
    connection = db.session.connection()
    connection.execute(text("SET LOCAL statement_timeout = 1"))
    slow = select(text("1 FROM pg_sleep(0.2)"))
    with pytest.raises(exc.OperationalError, match="statement timeout"):
        services._fetch(connection, slow, {}, custom_plan=True)


@pytest.mark.postgresql_only
def test_postgresql_reuses_the_plan_of_a_one_word_search(create_practitioner):
    # Planning it again for each prefix cost PostgreSQL as much as running it, on the national
    # directory: with a bound LIMIT, the generic plan is costed as if a tenth of the range
    # were read, and never chosen. The LIMIT is written in the statement (page 1 of 20: 28
    # entries); on these few rows either would be reused, the benchmark's scale tells them
    # apart.
    for number in range(120):
        create_practitioner(last_name=f"NOM{number:03d}", first_name="Anne")
    words = ["nom0", "nom1", "nom11", "anne", "nom00", "nom01", "nom10", "nom05", "nom", "ann"] * 2
    for word in words:
        db.read_only_request()
        assert services.search_practitioner_summary_texts(name=word, page_size=20).items
    plans = db.session.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%directory_practitioner.summary%LIMIT 28'"
        )
    ).all()
    assert len(plans) == 1
    generic, custom = plans[0]
    # psycopg prepares it at its 6th run; PostgreSQL then tries 5 custom plans
    assert (generic, custom) == (len(words) - 10, 5)


def test_the_name_search_reads_sqlite_through_a_memory_map(create_practitioner, database_url):
    create_practitioner(last_name="MAPPEMONDE")
    assert services.search_practitioner_summary_texts(name="mappe").total == 1
    if database_url.startswith("sqlite"):
        dbapi = db.session.connection().connection.dbapi_connection
        (mapped,) = dbapi.execute("PRAGMA mmap_size").fetchone()
        assert mapped == services.SQLITE_SEARCH_MMAP_BYTES
