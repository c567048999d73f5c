"""Drill: registrations race for the last places of sessions, on gunicorn and PostgreSQL.

Committed sessions of capacity 4; 16 client threads per session post registrations at once
(different physicians and patients) to a gunicorn with four worker processes (production
settings) on the test database. Never more than the capacity is registered; every loser gets
409 problem+json ``session-full``; the counters agree with the rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import db
from planning import services
from planning.models import Registration, Session
from tests.drills.conftest import Stack
from tests.planning import conftest as planning_fixtures

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]

world = planning_fixtures.world
rcp_data = planning_fixtures.rcp_data
create_organization = planning_fixtures.create_organization
create_practitioner = planning_fixtures.create_practitioner

CAPACITY = 4
SESSIONS = 3
CALLERS = 16


def test_registrations_at_capacity_never_overbook(
    committed_db, app, world, rcp_data, token_for, tmp_path: Path
):
    rcp = services.create_rcp(
        principal=planning_fixtures.NATIONAL, data=rcp_data(capacity=CAPACITY)
    )
    first = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(microsecond=0)
    sessions = [
        services.add_session(
            principal=planning_fixtures.NATIONAL,
            data={"rcp_id": rcp.id, "starts_at": first + dt.timedelta(days=7 * n)},
        )
        for n in range(SESSIONS)
    ]
    db.session.commit()
    session_ids = [s.id for s in sessions]
    doctors = [world.physician, world.local_physician, world.pathologist, world.radiologist]
    bearers = [
        {
            "Authorization": f"Bearer {token_for(role='physician', rpps=d.rpps)}",
            "Content-Type": "application/json",
        }
        for d in doctors
    ]
    settings = app.extensions["dcc"].settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
    env.update(
        {
            "DCC_DATABASE_URL": os.environ["DCC_DATABASE_URL"],
            "DCC_INSTANCE_DIR": str(tmp_path),
            "DCC_SIGNING_KEY_FILE": str(settings.signing_key_file),
            "DCC_ISSUER": settings.issuer,
            "DCC_AUDIENCE": settings.audience,
            "DCC_LOG_LEVEL": "WARNING",
        }
    )
    stack = Stack(tmp_path, os.environ["DCC_DATABASE_URL"], env)
    results: list[tuple[int, int, str, bytes]] = []
    lock = threading.Lock()

    with stack.serve(workers=4) as server:
        barrier = threading.Barrier(CALLERS * SESSIONS)

        def register(session_id: int, index: int) -> None:
            body = json.dumps(
                {
                    "patient_ref": f"RACE-{session_id}-{index:03d}",
                    "tumour_code": "C18",
                    "question": "Chirurgie ?",
                    "phase": "initial",
                }
            ).encode()
            barrier.wait()
            status, headers, payload = server.request(
                "POST",
                f"/planning/sessions/{session_id}/registrations",
                body=body,
                headers=bearers[index % len(bearers)],
                timeout=30,
            )
            with lock:
                results.append((session_id, status, headers.get("Content-Type", ""), payload))

        threads = [
            threading.Thread(target=register, args=(sid, i))
            for sid in session_ids
            for i in range(CALLERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(results) == CALLERS * SESSIONS
    for session_id in session_ids:
        statuses = sorted(r[1] for r in results if r[0] == session_id)
        assert statuses == [201] * CAPACITY + [409] * (CALLERS - CAPACITY), statuses
    for _sid, status, content_type, payload in results:
        if status == 409:
            assert content_type.startswith("application/problem+json")
            assert json.loads(payload)["code"] == "session-full"
    db.session.remove()
    for session_id in session_ids:
        count = db.session.scalar(
            select(func.count(Registration.id)).where(Registration.session_id == session_id)
        )
        assert count == CAPACITY
        assert db.session.get(Session, session_id).registered_count == CAPACITY
    assert b"Traceback" not in server.log.read_bytes()
