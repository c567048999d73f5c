"""Concurrent registrations never exceed a session's capacity, and the same dossier sent
several times at once is registered once (real commits, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import db
from planning import services
from planning.models import Registration, Session
from tests.planning.conftest import NATIONAL

CAPACITY = 3
CALLERS = 12
DOSSIER = {"tumour_code": "C18", "question": "Chirurgie ?", "phase": "initial"}


def _session_of_capacity(rcp_data: Any, capacity: int) -> Session:
    rcp = services.create_rcp(principal=NATIONAL, data=rcp_data(capacity=capacity))
    starts_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(microsecond=0)
    session = services.add_session(
        principal=NATIONAL, data={"rcp_id": rcp.id, "starts_at": starts_at}
    )
    db.session.commit()
    return session


def _register_at_once(
    app: Any, token: str, session_id: int, refs: list[str]
) -> list[tuple[int, str | None]]:
    """POST one registration per pseudonym of ``refs``, all released at the same instant;
    the (status, problem code) of each answer, sorted."""
    barrier = threading.Barrier(len(refs))
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def register(ref: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/planning/sessions/{session_id}/registrations",
            json={**DOSSIER, "patient_ref": ref},
            headers={"Authorization": f"Bearer {token}"},
        )
        with lock:
            answers.append((response.status_code, (response.get_json() or {}).get("code")))

    threads = [threading.Thread(target=register, args=(ref,)) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(answers, key=lambda a: (a[0], a[1] or ""))


def _stored(session_id: int) -> tuple[int, int]:
    """Rows registered for the session, and its counter, as committed."""
    db.session.remove()
    count = db.session.scalar(
        select(func.count(Registration.id)).where(Registration.session_id == session_id)
    )
    return int(count or 0), db.session.get(Session, session_id).registered_count


@pytest.mark.postgresql_only
def test_concurrent_registrations_stop_at_capacity(committed_db, app, world, rcp_data, token_for):
    session = _session_of_capacity(rcp_data, CAPACITY)
    token = token_for(role="physician", rpps=world.physician.rpps)
    refs = [f"CONC-{index:04d}" for index in range(CALLERS)]
    answers = _register_at_once(app, token, session.id, refs)
    assert answers == [(201, None)] * CAPACITY + [(409, "session-full")] * (CALLERS - CAPACITY)
    assert _stored(session.id) == (CAPACITY, CAPACITY)


@pytest.mark.postgresql_only
def test_the_same_dossier_sent_at_once_is_registered_once(
    committed_db, app, world, rcp_data, token_for
):
    session = _session_of_capacity(rcp_data, CALLERS)
    token = token_for(role="physician", rpps=world.physician.rpps)
    answers = _register_at_once(app, token, session.id, ["DOUBLE-CLICK"] * CALLERS)
    assert answers == [(201, None)] + [(409, "duplicate")] * (CALLERS - 1)
    assert _stored(session.id) == (1, 1)
