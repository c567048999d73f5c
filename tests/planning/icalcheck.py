"""Independent parsers the feed tests run on generated iCalendar: Mozilla ical.js and ``ical``.

ical.js is the parser of Thunderbird; it resolves TZIDs only through the VTIMEZONEs the document
carries, so it checks our VTIMEZONE. ``ical`` (allenporter) is strict and pydantic-validated.
``make js-deps`` (a prerequisite of ``make test``) installs ical.js from tests/js/package-lock.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ical.calendar import Calendar as StrictCalendar
from ical.calendar_stream import IcsCalendarStream

JS_DIR = Path(__file__).resolve().parent.parent / "js"
SCRIPT = JS_DIR / "parse-ics.mjs"


def parse_with_icaljs(body: bytes) -> dict[str, Any]:
    """What ical.js makes of ``body``: calendar properties and events (see parse-ics.mjs)."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "ical.js").is_dir():
        pytest.fail("ical.js is not installed: run `make js-deps` (needs node and npm)")
    result = subprocess.run(
        [node, str(SCRIPT)], input=body, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def parse_with_ical(body: bytes) -> StrictCalendar:
    """The strict ``ical`` package's calendar (raises on anything it finds invalid)."""
    return IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
