"""Drill: a directory import killed with SIGKILL halfway, then run again.

A synthetic national RPPS extraction (the generator of ``planning.directory.synthetic``, as in
benchmarks/bench_directory.py) is imported by ``dcc-services directory import-rpps`` in a child
process, killed with SIGKILL once about a third of the professionals are committed, and
imported again. The result must equal, row for row, a clean import of the same file into
another database: no duplicate, nothing missing.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from planning.directory.synthetic import Site, national_lines, rpps_header

pytestmark = pytest.mark.slow

PROFESSIONALS = int(os.environ.get("DCC_DRILL_PROFESSIONALS", "40000"))
SITES = [
    Site(
        "290000017",
        "290000009",
        "CHU DE BREST SITE MORVAN",
        "2 AVENUE FOCH",
        "29200",
        "BREST",
        "29",
    ),
    Site(
        "350005179",
        "350000741",
        "CHU DE RENNES",
        "2 RUE HENRI LE GUILLOUX",
        "35000",
        "RENNES",
        "35",
    ),
    Site(
        "750100018",
        "750712184",
        "HOPITAL SAINT-LOUIS",
        "1 AVENUE CLAUDE VELLEFAUX",
        "75010",
        "PARIS",
        "75",
    ),
]
QUERIES = {
    "practitioners": "SELECT rpps, national_id, name_key, active, fingerprint "
    "FROM directory_practitioner ORDER BY rpps",
    "activities": "SELECT p.rpps, a.activity_key, a.active, a.finess_site "
    "FROM directory_practitioner_activity a JOIN directory_practitioner p "
    "ON p.id = a.practitioner_id ORDER BY p.rpps, a.activity_key",
    "tokens": "SELECT p.rpps, t.token, t.active FROM directory_practitioner_token t "
    "JOIN directory_practitioner p ON p.id = t.practitioner_id ORDER BY p.rpps, t.token",
}


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def _snapshot(stack):
    return {name: stack.rows(sql) for name, sql in QUERIES.items()}


def test_import_killed_halfway_then_rerun_equals_a_clean_import(make_stack, tmp_path):
    extraction = tmp_path / "PS_LibreAcces_Personne_activite_drill.txt"
    with extraction.open("w", encoding="utf-8") as handle:
        handle.write(rpps_header() + "\n")
        for line in national_lines(random.Random(9), professionals=PROFESSIONALS, sites=SITES):
            handle.write(line + "\n")

    killed = make_stack("killed")
    # The killed import reads with a second process (the clean one does not): the rerun
    # must equal a serial import, and the reader must not outlive its importer.
    process = killed.popen_cli(
        "directory", "import-rpps", "--parallel", str(extraction), log=tmp_path / "k.log"
    )
    committed = 0
    while process.poll() is None and committed < PROFESSIONALS // 3:
        time.sleep(0.1)
        committed = killed.scalar("SELECT count(*) FROM directory_practitioner")
    assert process.poll() is None, "the import ended before it could be killed: raise the scale"
    readers = _children(process.pid)
    assert readers, "no reader process"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while readers and time.monotonic() < deadline:
        time.sleep(0.1)
        readers = [pid for pid in readers if Path(f"/proc/{pid}").exists()]
    assert not readers, "the reader process outlived the killed import"
    halfway = killed.scalar("SELECT count(*) FROM directory_practitioner")
    assert 0 < halfway < PROFESSIONALS
    killed.cli("directory", "import-rpps", str(extraction))

    clean = make_stack("clean")
    clean.cli("directory", "import-rpps", str(extraction))

    after_kill, expected = _snapshot(killed), _snapshot(clean)
    assert len(expected["practitioners"]) == PROFESSIONALS
    for name, rows in expected.items():
        assert len(after_kill[name]) == len(rows), name
        assert len(set(after_kill[name])) == len(after_kill[name]), f"duplicate {name}"
        assert after_kill[name] == rows, name
    print(f"killed with {halfway}/{PROFESSIONALS} professionals committed; rerun: identical")
