"""Drill: a search index deleted or corrupted on a running node, then rebuilt by the CLI.

Real gunicorn workers (production settings) on a scratch database holding the demo trials and
referentials. While an index is missing or damaged, ``/health/ready`` answers 503 naming it
and every search answers 503 problem+json (never a 500, never silently empty); the
``reindex`` command restores the same answers without restarting the server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trials.cli import DEMO_DATA as TRIALS_DEMO

pytestmark = pytest.mark.slow

GUIDELINES_DEMO = Path(__file__).resolve().parents[2] / "guidelines" / "demo_data"
PROBLEM = "application/problem+json"
FICHE = {
    "age": 64,
    "sex": "female",
    "performance_status": 1,
    "diagnosis": {"text": "non-small cell lung cancer"},
    "biomarkers": [{"name": "EGFR", "alteration": "exon 19 deletion"}],
}
#: Enough calls to reach every worker (each keeps its own searcher).
CALLS = 6


def _break(path: Path, how: str) -> None:
    if how == "deleted":
        shutil.rmtree(path)
        return
    for file in path.iterdir():  # corrupted: every file overwritten with garbage, same size
        if file.is_file():
            file.write_bytes(b"\x9c\xff garbage " * (file.stat().st_size // 11 + 1))


@pytest.mark.parametrize("how", ["deleted", "corrupted"])
def test_index_lost_is_reported_refused_and_rebuilt(make_stack, how):
    stack = make_stack()
    stack.cli("trials", "import", str(TRIALS_DEMO))
    stack.cli("trials", "reindex")
    stack.cli("guidelines", "import", *map(str, sorted(GUIDELINES_DEMO.glob("*.json"))))
    bearer = {"Authorization": f"Bearer {stack.token('--role', 'national_admin')}"}
    json_bearer = {**bearer, "Content-Type": "application/json"}
    trial_search = ("POST", "/trials/search", json.dumps({"fiche": FICHE}).encode(), json_bearer)
    guideline_search = ("GET", "/guidelines/referentials?q=poumon", None, bearer)
    index_dir = stack.root / "index"

    def call(request):
        method, path, body, headers = request
        return server.request(method, path, body=body, headers=headers)

    with stack.serve(workers=2) as server:
        assert server.request("GET", "/health/ready")[0] == 200
        trials_before = json.loads(call(trial_search)[2])
        guidelines_before = json.loads(call(guideline_search)[2])
        assert trials_before["items"] and guidelines_before["items"]

        for name, search, command in (
            ("trials", trial_search, "trials"),
            ("guidelines", guideline_search, "guidelines"),
        ):
            _break(index_dir / name, how)
            for _ in range(CALLS):
                status, headers, body = call(search)
                assert status == 503, body[:500]
                assert headers["Content-Type"].startswith(PROBLEM)
                assert "reindex" in json.loads(body)["detail"]
            status, _headers, body = server.request("GET", "/health/ready")
            assert status == 503
            check = json.loads(body)["checks"][f"{name}_index"]
            assert check["ok"] is False and name in check["detail"], check

            stack.cli(command, "reindex")
            for _ in range(CALLS):
                status, _headers, body = call(search)
                assert status == 200, body[:500]
            assert server.request("GET", "/health/ready")[0] == 200

        assert json.loads(call(trial_search)[2]) == trials_before
        assert json.loads(call(guideline_search)[2]) == guidelines_before
    assert b"Traceback" not in server.log.read_bytes()
