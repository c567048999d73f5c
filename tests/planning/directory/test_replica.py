"""The node's copy of the professionals' search tables (PostgreSQL): same answers, never stale."""

from __future__ import annotations

import dataclasses
import fcntl
import io
import random
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from core.config import Settings
from core.db import db
from planning.directory import cli, importers, replica, services, sync
from planning.directory.synthetic import Site, national_lines, rpps_header
from tests.conftest import FIXTURES

SAMPLE = (
    (FIXTURES / "directory" / "PS_LibreAcces_Personne_activite_small_2021.txt")
    .read_text("utf-8")
    .splitlines()
)
SITE = Site("290000017", "290000017", "CHRU BREST", "2 AV FOCH", "29200", "Brest", "29")


def load_rpps(lines: list[str], **options):
    layout, records = importers.read_rpps(io.BytesIO(("\n".join(lines) + "\n").encode()))
    return sync.import_practitioners(records, layout=layout, file_name="test", **options)


#: Searches of every kind the copy serves: one word, several, filters, inactive, deep pages.
SEARCHES = [
    {"name": "mar"},
    {"name": "ma", "page_size": 5, "page": 3},
    {"name": "benedicte"},
    {"name": "jean ma"},
    {"name": "xav bal"},
    {"name": "benh zak"},
    {"name": "le"},
    {"name": "ma", "department": "29"},
    {"name": "mar", "region": "53"},
    {"name": "ma", "specialty": "SM54"},
    {"name": "mar", "profession": "10"},
    {"name": "mar", "finess": "290000017"},
    {"name": "delacroix", "active": False},
    {"name": "cho", "active": False},
    {"name": "zzzz"},
]


@pytest.fixture
def directory(committed_db):
    """A committed directory: the real 2021 sample, of which a newer file lacks two people
    (inactive), and 400 generated professionals."""
    load_rpps(SAMPLE)
    load_rpps(SAMPLE[:-3])  # CHOLET, DELACROIX, BENHOUCHAME: inactive
    lines = national_lines(random.Random(5), professionals=400, sites=[SITE])
    load_rpps([rpps_header(), *lines], deactivate_missing=False)
    return committed_db


@pytest.fixture
def node(app, tmp_path, monkeypatch):
    """This process's copy, in ``tmp_path``, checked at every search; builds not started."""
    monkeypatch.setattr(replica, "CHECK_SECONDS", 0.0)
    copy = replica.Replica(tmp_path)
    spawned = []
    monkeypatch.setattr(copy, "_spawn_build", lambda engine: spawned.append(engine))
    monkeypatch.setitem(app.extensions, replica.EXTENSION, copy)
    copy.spawned = spawned
    yield copy
    copy.close()


def answers(searches=SEARCHES):
    found = []
    for criteria in searches:
        # as the JSON search calls it
        result = services.search_practitioner_summary_texts(
            read_only_request=True, **{"page_size": 20, **criteria}
        )
        found.append((result.items, result.total))
        db.session.remove()
    return found


def used_copy(node) -> bool:
    return node._usable and node._engine is not None


@pytest.mark.postgresql_only
def test_the_copy_answers_every_search_as_the_database(app, directory, node, monkeypatch):
    monkeypatch.delitem(app.extensions, replica.EXTENSION)
    from_database = answers()
    assert sum(1 for items, _total in from_database if items) >= 10  # real answers
    monkeypatch.setitem(app.extensions, replica.EXTENSION, node)

    report = replica.build(db.engine, node.directory)
    assert report.built and report.rows["directory_practitioner"] > 400
    assert answers() == from_database
    assert used_copy(node) and node.spawned == []


@pytest.mark.postgresql_only
def test_with_the_copy_a_search_does_not_reach_the_database(directory, node, client, token_for):
    replica.build(db.engine, node.directory)
    headers = {"Authorization": f"Bearer {token_for(role='physician', rpps='10001234567')}"}
    assert client.get("/directory/practitioners?name=ma", headers=headers).json["total"]
    node._checked = time.monotonic() + 3600  # the token was read: no check due
    checkouts = []

    def count(*_args):
        checkouts.append(1)

    db.session.remove()  # the app context outlives the requests here: so would its session
    event.listen(db.engine.pool, "checkout", count)
    try:
        for query in ("ma", "xav bal", "mar", "ma&department=29"):
            response = client.get(f"/directory/practitioners?name={query}", headers=headers)
            assert response.status_code == 200 and response.json["total"], query
            db.session.remove()
    finally:
        event.remove(db.engine.pool, "checkout", count)
    assert checkouts == []  # no connection taken from the database's pool
    assert used_copy(node)


@pytest.mark.postgresql_only
def test_searches_read_the_database_until_the_copy_of_the_latest_change_exists(
    app, directory, node, create_practitioner
):
    first = replica.build(db.engine, node.directory)
    assert answers([{"name": "zygomatique"}]) == [([], 0)]
    assert used_copy(node)

    # a directory change (an import, a new professional) replaces the change token
    create_practitioner(last_name="ZYGOMATIQUE", first_name="Ève")
    db.session.commit()
    ((items, total),) = answers([{"name": "zygomatique"}])
    assert total == 1 and "ZYGOMATIQUE" in items[0]  # the database's answer
    assert not used_copy(node)
    assert len(node.spawned) == 1  # a build was asked for

    second = replica.build(db.engine, node.directory)
    assert second.built and second.path != first.path
    ((items, total),) = answers([{"name": "zygomatique"}])
    assert total == 1 and "ZYGOMATIQUE" in items[0]
    assert used_copy(node) and node._path == second.path

    # the previous copy stays while processes may still search it; the one before goes
    assert first.path.exists()
    create_practitioner(last_name="ZYGOMATIQUE", first_name="Adam")
    db.session.commit()
    third = replica.build(db.engine, node.directory)
    assert third.path.exists() and second.path.exists() and not first.path.exists()
    ((items, total),) = answers([{"name": "zygomatique"}])
    assert total == 2 and node._path == third.path


@pytest.mark.postgresql_only
def test_an_import_sends_searches_back_to_the_database(directory, node):
    # its batches commit as they go without a word; the run it records at its end replaces
    # the token: until then the copy (as before the import) answers, then the database
    replica.build(db.engine, node.directory)
    before = answers()
    assert used_copy(node)
    lines = national_lines(random.Random(9), professionals=30, sites=[SITE])
    load_rpps([rpps_header(), *lines], deactivate_missing=False)
    db.session.remove()
    after = answers()
    assert not used_copy(node) and node.spawned  # a build asked for
    assert after != before  # the database's answers, with the 30 newcomers


@pytest.mark.postgresql_only
def test_a_failed_build_leaves_no_copy_behind(directory, tmp_path, monkeypatch):
    def fail(source, path):
        path.write_bytes(b"half a copy")
        raise RuntimeError("disk full")

    monkeypatch.setattr(replica, "_copy", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        replica.build(db.engine, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build.lock"]


@pytest.mark.postgresql_only
def test_one_build_at_a_time_per_node(directory, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / "build.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process building
        assert replica.build(db.engine, tmp_path).path is None
    assert replica.build(db.engine, tmp_path).built
    assert not replica.build(db.engine, tmp_path).built  # up to date: nothing to do


@pytest.mark.postgresql_only
def test_a_process_builds_the_missing_copy_in_the_background(app, directory, tmp_path):
    # the real thing: a child process builds it from the database while searches go on
    node = replica.Replica(tmp_path)
    app.extensions[replica.EXTENSION] = node
    try:
        db.read_only_request()
        assert node.engine() is None  # none yet: the database answers, a build starts
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("directory-*.sqlite3")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(tmp_path.glob("directory-*.sqlite3"))
        node._checked = -replica.CHECK_SECONDS  # as when the next check is due
        db.session.remove()
        db.read_only_request()
        assert node.engine() is not None
    finally:
        del app.extensions[replica.EXTENSION]
        node.close()
        db.session.remove()


def run_command(app, monkeypatch, directory, times=1):
    """``dcc-services directory replica``, ``times`` times, with its copies in ``directory``."""
    platform = app.extensions["dcc"]
    settings = dataclasses.replace(platform.settings, directory_replica_dir=directory)
    monkeypatch.setattr(platform, "settings", settings)
    with app.app_context():
        return [CliRunner().invoke(cli.directory, ["replica"]) for _ in range(times)]


@pytest.mark.postgresql_only
def test_the_command_builds_the_copy(app, directory, tmp_path, monkeypatch):
    built, again = run_command(app, monkeypatch, tmp_path, times=2)
    assert built.exit_code == 0, built.output
    assert "built in" in built.output and "directory_practitioner 4" in built.output
    assert again.exit_code == 0 and "up to date" in again.output


def test_on_sqlite_the_search_is_local_already(app, database_url, tmp_path, monkeypatch):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    (result,) = run_command(app, monkeypatch, tmp_path)
    assert result.exit_code != 0 and "the copy is for PostgreSQL" in result.output
    assert replica.Replica(tmp_path).engine() is None
    assert list(tmp_path.iterdir()) == []


def test_the_setting_turns_the_copy_off():
    assert Settings.from_env({}).directory_replica_dir == Path("instance").resolve() / (
        "directory-replica"
    )
    assert Settings.from_env({"DCC_DIRECTORY_REPLICA_DIR": "off"}).directory_replica_dir is None
