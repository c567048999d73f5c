"""Concurrent registrations never exceed a session's capacity, and the same dossier sent
several times at once is registered once (real commits, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from core.db import db
from planning import services
from planning.models import Registration, Session
from tests.planning.conftest import NATIONAL

CAPACITY = 3
CALLERS = 12


@pytest.mark.postgresql_only
def test_concurrent_registrations_stop_at_capacity(committed_db, app, world, rcp_data, token_for):
    rcp = services.create_rcp(principal=NATIONAL, data=rcp_data(capacity=CAPACITY))
    starts_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(microsecond=0)
    session = services.add_session(
        principal=NATIONAL, data={"rcp_id": rcp.id, "starts_at": starts_at}
    )
    db.session.commit()
    token = token_for(role="physician", rpps=world.physician.rpps)
    barrier = threading.Barrier(CALLERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def register(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/planning/sessions/{session.id}/registrations",
            json={
                "patient_ref": f"CONC-{index:04d}",
                "tumour_code": "C18",
                "question": "Chirurgie ?",
                "phase": "initial",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201] * CAPACITY + [409] * (CALLERS - CAPACITY)
    db.session.remove()
    count = db.session.scalar(
        select(func.count(Registration.id)).where(Registration.session_id == session.id)
    )
    stored = db.session.get(Session, session.id)
    assert count == CAPACITY and stored.registered_count == CAPACITY


@pytest.mark.postgresql_only
def test_the_same_dossier_sent_at_once_is_registered_once(
    committed_db, app, world, rcp_data, token_for
):
    rcp = services.create_rcp(principal=NATIONAL, data=rcp_data(capacity=CALLERS))
    starts_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(microsecond=0)
    session = services.add_session(
        principal=NATIONAL, data={"rcp_id": rcp.id, "starts_at": starts_at}
    )
    db.session.commit()
    token = token_for(role="physician", rpps=world.physician.rpps)
    barrier = threading.Barrier(CALLERS)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def register() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/planning/sessions/{session.id}/registrations",
            json={
                "patient_ref": "DOUBLE-CLICK",
                "tumour_code": "C18",
                "question": "Chirurgie ?",
                "phase": "initial",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        with lock:
            answers.append((response.status_code, response.get_json().get("code")))

    threads = [threading.Thread(target=register) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [(201, None)] + [(409, "duplicate")] * (CALLERS - 1)
    db.session.remove()
    count = db.session.scalar(
        select(func.count(Registration.id)).where(Registration.session_id == session.id)
    )
    stored = db.session.get(Session, session.id)
    assert count == 1 and stored.registered_count == 1
