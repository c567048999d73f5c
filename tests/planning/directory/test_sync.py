"""Loading records into the tables: idempotent, incremental, never deleting."""

from __future__ import annotations

import io
import random
import threading
import time

import pytest
from sqlalchemy import func, select, text

from core.db import db
from core.errors import PreconditionFailed
from planning.directory import importers, sync
from planning.directory.models import (
    DirectoryImport,
    Organization,
    OrganizationToken,
    Practitioner,
    PractitionerActivity,
    PractitionerToken,
)
from planning.directory.synthetic import Site, national_lines, rpps_header
from tests.conftest import FIXTURES
from tests.planning.directory.conftest import assert_search_data_exact

DATA = FIXTURES / "directory"
ROWS = (DATA / "PS_LibreAcces_Personne_activite_small_2021.txt").read_text("utf-8").splitlines()


def load_rpps(lines: list[str], **options):
    layout, records = importers.read_rpps(io.BytesIO(("\n".join(lines) + "\n").encode()))
    return sync.import_practitioners(records, layout=layout, file_name="test", **options)


def load_finess(name: str, **options):
    layout, kinds, records = importers.read_finess(DATA / name)
    return sync.import_organizations(records, layout=layout, kinds=kinds, file_name=name, **options)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def practitioner(rpps=None, national_id=None) -> Practitioner:
    column, value = (Practitioner.rpps, rpps) if rpps else (Practitioner.national_id, national_id)
    return db.session.scalars(select(Practitioner).where(column == value)).one()


def test_first_import_then_same_file_changes_nothing():
    report = load_rpps(ROWS)
    assert report.as_dict() == {
        "kind": "rpps",
        "layout": "rpps-2021",
        "read": 22,
        "inserted": 22,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
        "rejected": 0,
    }
    assert count(Practitioner) == 22
    assert count(PractitionerActivity) == 22
    assert count(PractitionerToken) > 44
    before = {p.id: p.updated_at for p in db.session.scalars(select(Practitioner))}

    again = load_rpps(ROWS)
    assert (again.inserted, again.updated, again.unchanged, again.deactivated) == (0, 0, 22, 0)
    db.session.expire_all()
    assert {p.id: p.updated_at for p in db.session.scalars(select(Practitioner))} == before
    assert count(DirectoryImport) == 2
    assert_search_data_exact()


def test_newer_extraction_updates_and_deactivates_without_deleting():
    load_rpps(ROWS)
    renamed = ROWS[-1].replace("|BENHOUCHAME|Zakaria|", "|BENHOUCHAME-LEROY|Zakaria|")
    newer = [*ROWS[:1], *ROWS[2:-1], renamed]  # JOLY (first row) left the register
    report = load_rpps(newer)
    assert (report.inserted, report.updated, report.unchanged, report.deactivated) == (0, 1, 20, 1)

    gone = practitioner(national_id="0010001949")
    assert gone.active is False
    assert all(not a.active for a in gone.activities)
    assert count(PractitionerToken, PractitionerToken.practitioner_id == gone.id) > 0
    assert (
        count(
            PractitionerToken,
            PractitionerToken.practitioner_id == gone.id,
            PractitionerToken.active.is_(True),
        )
        == 0
    )

    physician = practitioner(rpps="10106476764")
    assert physician.last_name == "BENHOUCHAME-LEROY"
    tokens = set(
        db.session.scalars(
            select(PractitionerToken.token).where(PractitionerToken.practitioner_id == physician.id)
        )
    )
    assert tokens == {"BENHOUCHAME", "LEROY", "ZAKARIA"}

    assert_search_data_exact()

    back = load_rpps(ROWS)
    assert (back.updated, back.deactivated) == (2, 0)
    assert practitioner(national_id="0010001949").active is True
    assert_search_data_exact()


def test_changed_activity_is_deactivated_and_the_new_one_added():
    load_rpps(ROWS)
    moved = ROWS[-1].replace("|SM20|Gynécologie-obstétrique|", "|SM36|Oncologie médicale|")
    report = load_rpps([*ROWS[:-1], moved])
    assert report.updated == 1
    physician = practitioner(rpps="10106476764")
    states = {a.specialty_code: a.active for a in physician.activities}
    assert states == {"SM20": False, "SM36": True}
    assert count(PractitionerActivity) == 23
    assert_search_data_exact()


def test_non_contiguous_lines_are_merged():
    second = ROWS[1].replace("|71|Ostéopathe|", "|93|Psychologue|")
    report = load_rpps([ROWS[0], ROWS[1], ROWS[2], second])
    assert report.inserted == 2 and report.read == 3
    joly = practitioner(national_id="0010001949")
    assert sorted(a.profession_code for a in joly.activities) == ["71", "93"]
    assert_search_data_exact()


def test_small_batches_commit_as_they_go():
    report = load_rpps(ROWS, batch_size=5)
    assert report.inserted == 22


def test_rejected_lines_are_counted_and_reported():
    report = load_rpps([*ROWS[:3], "x|y", ROWS[5]])
    assert (report.read, report.inserted, report.rejected) == (4, 3, 1)
    assert report.rejections[0].line == 4


def _synthetic(professionals: int) -> list[str]:
    site = Site("290000017", "290000017", "CHRU BREST", "2 AV FOCH", "29200", "Brest", "29")
    rng = random.Random(7)
    return [rpps_header(), *national_lines(rng, professionals=professionals, sites=[site])]


def test_truncated_file_guard():
    lines = _synthetic(1000)
    assert load_rpps(lines).inserted == 1000
    truncated = lines[: len(lines) // 2]
    with pytest.raises(PreconditionFailed, match="refusing to deactivate more than 25%"):
        load_rpps(truncated)
    assert count(Practitioner, Practitioner.active.is_(False)) == 0
    report = load_rpps(truncated, max_deactivation_ratio=None)
    assert report.deactivated > 400
    assert_search_data_exact()


def test_search_data_stays_exact_through_incremental_imports():
    """Summaries and prefix counts after a first load, renames, moves, departures, returns
    and duplicates across batches equal a recomputation (small batches: the incremental
    path applies each batch's changes)."""
    _incremental_imports_keep_the_search_data_exact()


def _incremental_imports_keep_the_search_data_exact() -> None:
    lines = _synthetic(300)
    load_rpps(lines)
    assert_search_data_exact()
    rng = random.Random(11)
    header, body = lines[0], lines[1:]
    changed = []
    for line in body:
        fields = line.split("|")
        draw = rng.random()
        if draw < 0.1:
            continue  # left the register
        if draw < 0.2:
            fields[7] = rng.choice(["MARTIN-DUPONT", "Lé Goff", "DE LA FONTAINE", "ÉLODIE"])
        elif draw < 0.3:
            fields[8] = rng.choice(["Jean-Pierre", "Anaïs", "Zoé", "Marc"])
        changed.append("|".join(fields))
    changed.append(changed[0])  # met twice, non-contiguous: merged across batches
    report = load_rpps([header, *changed], batch_size=7, max_deactivation_ratio=None)
    assert report.deactivated > 0 and report.updated > 0
    assert_search_data_exact()
    report = load_rpps(lines, batch_size=13)  # everyone back, names restored
    assert report.deactivated == 0
    assert_search_data_exact()


def test_partial_file_keeps_what_it_lacks():
    load_rpps(ROWS)
    report = load_rpps(ROWS[:2], deactivate_missing=False)
    assert (report.unchanged, report.deactivated) == (1, 0)
    assert count(Practitioner, Practitioner.active.is_(True)) == 22


def test_finess_json_then_same_file():
    report = load_finess("finess-structures-echantillon-20260813.json.gz")
    assert (report.read, report.inserted, report.rejected) == (1783, 1783, 0)
    assert count(Organization, Organization.kind == "EJ") == 30
    assert count(OrganizationToken) > 1783
    again = load_finess("finess-structures-echantillon-20260813.json.gz")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1783)


def test_etalab_et_file_deactivates_only_establishments():
    load_finess("finess-structures-echantillon-20260813.json.gz")
    active_et = count(Organization, Organization.kind == "ET", Organization.active.is_(True))
    active_ej = count(Organization, Organization.kind == "EJ", Organization.active.is_(True))
    report = load_finess(
        "etalab-cs1100502-stock-20260512-0339_excerpt.csv", max_deactivation_ratio=None
    )
    assert (report.inserted, report.deactivated) == (14, active_et)
    assert count(Organization, Organization.kind == "EJ", Organization.active.is_(True)) == (
        active_ej
    )
    assert count(Organization, Organization.active.is_(True), Organization.kind == "ET") == 14


def test_source_switch_updates_rows():
    load_finess("etalab_stock_et_20201231_sample_dept01_DAMAGED-ACCENTS.csv")
    report = load_finess("etalab-cs1100502-stock-20260512-0339_excerpt.csv")
    assert report.updated == 1  # CH de Fleyriat is in both, described differently
    fleyriat = db.session.scalars(
        select(Organization).where(Organization.finess == "010000024")
    ).one()
    assert fleyriat.category_label == "Centre Hospitalier (C.H.)"


def test_a_failing_batch_leaves_nothing_half_written(monkeypatch):
    """Batches commit atomically: a failure keeps the batches before it, whole, and
    nothing of its own batch (no professional without activities or search tokens)."""
    _a_failing_batch_leaves_nothing_half_written(monkeypatch)


def _a_failing_batch_leaves_nothing_half_written(monkeypatch) -> None:
    original = sync._Writer.insert_tuples
    token_batches = []

    def failing(self, table, columns, rows):
        if table is sync.PRACTITIONER_TOKEN:
            token_batches.append(len(rows))
            if len(token_batches) == 2:  # after the people and activities of batch 2
                raise RuntimeError("disk full")
        return original(self, table, columns, rows)

    monkeypatch.setattr(sync._Writer, "insert_tuples", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        load_rpps(ROWS, batch_size=5)
    db.session.rollback()
    assert count(Practitioner) == 5
    assert count(PractitionerActivity) == 5
    assert count(PractitionerToken) == token_batches[0]
    orphans = select(Practitioner.id).where(
        ~select(PractitionerToken.practitioner_id)
        .where(PractitionerToken.practitioner_id == Practitioner.id)
        .exists()
    )
    assert db.session.execute(orphans).first() is None
    assert count(DirectoryImport) == 0

    monkeypatch.undo()
    report = load_rpps(ROWS, batch_size=5)
    assert (report.inserted, report.unchanged) == (17, 5)
    assert count(PractitionerToken) > 44
    assert_search_data_exact()  # the first load died before counting: counted now


def test_stored_rows_are_found_in_one_parameter():
    """The per-batch lookup of stored professionals (JSON on SQLite, array on PostgreSQL)."""
    load_rpps(ROWS)
    writer = sync._Writer(db.session())
    wanted = [practitioner(national_id="0010001949").national_id, "899999999999"]
    found = writer.select_by_keys(
        sync.PRACTITIONER, ["national_id", "active"], "national_id", wanted
    )
    assert [tuple(row) for row in found] == [("0010001949", True)]
    assert writer.select_by_keys(sync.PRACTITIONER, ["id"], "national_id", []) == []


# --- writes in a thread of their own (sync._BatchWrites) -------------------------------------
# With real connections (committed_db) and background writes (the default on PostgreSQL,
# asked for here on both engines) each batch is written while the next is prepared; the tests
# above, on the tests' one connection, write in line.


@pytest.fixture
def in_background(committed_db, monkeypatch):
    """Counts the batches written in the writes' thread."""
    written = []
    original = sync._BatchWrites._in_thread

    def counted(write):
        original(write)
        written.append(threading.current_thread().name)

    monkeypatch.setattr(sync._BatchWrites, "_in_thread", staticmethod(counted))
    asked = sync.import_practitioners
    monkeypatch.setattr(
        sync, "import_practitioners", lambda *a, **o: asked(*a, background_writes=True, **o)
    )
    return written


def test_background_writes_keep_the_search_data_exact(in_background):
    _incremental_imports_keep_the_search_data_exact()
    assert len(in_background) > 40 and in_background[0].startswith("directory-writes")


def test_a_professional_of_the_batch_in_flight_waits_for_it(in_background, monkeypatch):
    # one professional's lines in two consecutive batches: the second reads what the first
    # stored (as in line), instead of inserting him a second time; the first batch's write is
    # slowed so that, without the wait, the second batch would read before it
    counted = sync._BatchWrites._in_thread

    def slow(write):
        time.sleep(0.3)
        counted(write)

    monkeypatch.setattr(sync._BatchWrites, "_in_thread", staticmethod(slow))
    second = ROWS[1].replace("|71|Ostéopathe|", "|93|Psychologue|")
    report = load_rpps([ROWS[0], ROWS[1], ROWS[2], second, ROWS[3]], batch_size=2)
    assert (report.inserted, report.updated, report.read) == (3, 0, 4)
    joly = practitioner(national_id="0010001949")
    assert sorted(a.profession_code for a in joly.activities) == ["71", "93"]
    assert len(in_background) == 2
    assert_search_data_exact()


def test_a_failing_background_write_stops_the_import_and_keeps_the_batches_before(
    in_background, monkeypatch
):
    _a_failing_batch_leaves_nothing_half_written(monkeypatch)


def test_writes_go_to_a_thread_by_default_on_postgresql_only(committed_db, database_url):
    writes = sync._BatchWrites(db.session(), background=None)
    try:
        assert (writes._pool is not None) == database_url.startswith("postgresql")
    finally:
        writes.close()


@pytest.mark.postgresql_only
def test_a_first_load_leaves_postgresql_statistics_on_every_search_table(committed_db):
    # the search's statements are planned from them: the prefix counts, written after the
    # bulk load's own statistics, had none until autovacuum came (never, where it is off)
    tables = [
        "directory_practitioner",
        "directory_practitioner_activity",
        "directory_practitioner_token",
        "directory_practitioner_prefix",
    ]
    for table in tables:  # this database's earlier runs
        db.session.execute(
            text("SELECT pg_stat_reset_single_table_counters(CAST(:t AS regclass))"), {"t": table}
        )
    db.session.commit()
    load_rpps(ROWS)
    analyzed = dict(
        db.session.execute(
            text(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = ANY(:tables)"
            ),
            {"tables": tables},
        ).all()
    )
    assert analyzed == dict.fromkeys(tables, True)
