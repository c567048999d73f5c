"""The RPPS reader process of a parallel import: same records, errors that stop the import."""

from __future__ import annotations

import io
import marshal

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from core.db import db
from planning.directory.cli import directory
from planning.directory.importers import PractitionerRecord, read_rpps
from planning.directory.reader import (
    _FRAME,
    BackgroundRecords,
    ReaderFailed,
    _flat,
    rpps_records_in_background,
)
from tests.conftest import FIXTURES

RPPS_2021 = FIXTURES / "directory" / "PS_LibreAcces_Personne_activite_small_2021.txt"


def _inline(path):
    with path.open("rb") as handle:
        return list(read_rpps(handle)[1])


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_the_reader_sends_the_records_in_file_order(chunk):
    expected = _inline(RPPS_2021)
    with rpps_records_in_background(RPPS_2021, chunk=chunk) as background:
        received = list(background)
        assert background.position == RPPS_2021.stat().st_size
    assert [r.national_id for r in received] == [r.national_id for r in expected]
    # derived by the reader but for the summary, left to the importer
    assert all(r.computed is not None and r.computed.summary is None for r in received)
    assert [r.derived() for r in received] == [r.derived() for r in expected]
    assert received == expected


def test_derived_data_crosses_the_pipe_when_there_is_some():
    records = _inline(RPPS_2021)[:2]
    records[0].derived()
    sent = io.BytesIO()
    frame = marshal.dumps(("records", 1, [_flat(r) for r in records]))
    sent.write(_FRAME.pack(len(frame)) + frame)
    frame = marshal.dumps(("end",))
    sent.write(_FRAME.pack(len(frame)) + frame)
    sent.seek(0)
    first, second = BackgroundRecords(sent)
    assert first.computed == records[0].computed and second.computed is None
    assert first == records[0] and second == records[1]


def test_rejected_lines_come_through_with_their_numbers(tmp_path):
    lines = RPPS_2021.read_text("utf-8").splitlines()
    lines.insert(3, "8|not|enough|fields")
    path = tmp_path / "PS_LibreAcces_Personne_activite_bad.txt"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with rpps_records_in_background(path, chunk=2) as background:
        received = list(background)
    rejected = [r for r in received if not isinstance(r, PractitionerRecord)]
    assert [(r.line, r.reason) for r in rejected] == [(4, "expected 52 fields, found 4")]


def test_a_reader_that_fails_stops_the_import_with_its_reason(tmp_path):
    with (
        pytest.raises(ReaderFailed, match="IsADirectoryError"),
        rpps_records_in_background(tmp_path) as background,
    ):
        list(background)


def test_a_reader_that_dies_midway_is_not_taken_for_the_end_of_the_file():
    records = _inline(RPPS_2021)
    frame = marshal.dumps(("records", 1234, [_flat(r) for r in records[:3]]))
    for cut in (0, 2, 10):  # no end marker; the next frame's header or body cut short
        stream = io.BytesIO(_FRAME.pack(len(frame)) + frame + _FRAME.pack(len(frame))[:cut])
        if cut == 10:
            stream = io.BytesIO(_FRAME.pack(len(frame)) + frame + _FRAME.pack(99) + b"x" * 6)
        received = iter(BackgroundRecords(stream))
        assert [next(received) for _ in range(3)] == records[:3]
        with pytest.raises(ReaderFailed, match="before the end of the file"):
            next(received)


def test_an_import_that_stops_early_stops_its_reader_quietly(capfd):
    with rpps_records_in_background(RPPS_2021, chunk=1) as background:
        next(iter(background))
        process = background.process
    assert process is not None and process.poll() == 0
    assert "Traceback" not in capfd.readouterr().err  # the importer reports, not the reader


def _rows():
    return {
        table: db.session.execute(text(sql)).all()
        for table, sql in {
            "practitioners": "SELECT national_id, name_key, active, fingerprint, summary "
            "FROM directory_practitioner ORDER BY national_id",
            "activities": "SELECT p.national_id, a.activity_key, a.department, a.active "
            "FROM directory_practitioner_activity a JOIN directory_practitioner p "
            "ON p.id = a.practitioner_id ORDER BY 1, 2",
            "tokens": "SELECT p.national_id, t.token, t.name_key, t.name_mask "
            "FROM directory_practitioner_token t JOIN directory_practitioner p "
            "ON p.id = t.practitioner_id ORDER BY 1, 2",
            "prefixes": "SELECT prefix, active, owners FROM directory_practitioner_prefix "
            "ORDER BY 1, 2",
        }.items()
    }


def _import(app, *options):
    with app.app_context():
        result = CliRunner().invoke(directory, ["import-rpps", *options, str(RPPS_2021)])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_parallel_import_writes_what_a_serial_one_writes(app):
    serial = _import(app, "--no-parallel")
    expected = _rows()
    assert "inserted 22" in serial and len(expected["practitioners"]) == 22
    for table in ("directory_practitioner_token", "directory_practitioner_prefix"):
        db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
    db.session.execute(text("DELETE FROM directory_practitioner_activity"))
    db.session.execute(text("DELETE FROM directory_practitioner"))
    db.session.commit()

    parallel = _import(app, "--parallel")
    assert "inserted 22" in parallel
    assert _rows() == expected
    again = _import(app, "--parallel")
    assert "inserted 0, updated 0, unchanged 22" in again
