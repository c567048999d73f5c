"""The VEVENT chunk store: reused while current, and every input of an event shows up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import icalendar
import pytest
from sqlalchemy import select, update

from core.db import db
from planning import ical
from planning import services as planning
from planning.directory.models import DirectoryImport, Practitioner
from planning.feeds import chunks, services
from planning.feeds.models import FeedChunk
from planning.models import SessionParticipant
from tests.planning.conftest import NATIONAL, RENNES

SITE = services.Site(public_url="https://dcc.example", contact_email="dcc@dcc.example")
DOSSIER = {
    "patient_ref": "DXC-000123",
    "tumour_code": "C18.7",
    "question": "Chimiothérapie adjuvante ?",
    "phase": "initial",
}


@pytest.fixture
def feed(world, create_rcp, create_session):
    """An RCP with three sessions, the spec of its feed, and a renderer."""
    rcp = create_rcp(rrule=None)
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(
        hour=13, minute=0, second=0, microsecond=0
    )
    sessions = [
        create_session(rcp=rcp, starts_at=start + dt.timedelta(days=7 * n)) for n in range(3)
    ]
    spec = services.feed_spec(scope="rcp", value=str(rcp.id))

    def render() -> bytes:
        rendered = services.render_feed(spec=spec, memo=services.FeedMemo(), site=SITE)
        assert rendered.body is not None
        return rendered.body

    def stats() -> chunks.Chunks:
        filters = services.session_filters(spec, services.paris_today())
        return services.feed_chunks(filters, site=SITE)

    return rcp, sessions, render, stats


def _events(body: bytes) -> list[Any]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def _stored() -> dict[int, FeedChunk]:
    return {c.session_id: c for c in db.session.scalars(select(FeedChunk))}


def test_chunks_are_kept_in_the_database_and_reused_by_every_worker(feed):
    _, sessions, render, stats = feed
    cold = render()
    assert sorted(_stored()) == sorted(s.id for s in sessions)
    assert stats().from_memory == 3
    chunks.MEMORY.clear()  # another worker, or this one recycled
    ical.CACHE.clear()
    found = stats()
    assert (found.from_database, found.rendered, found.restamped) == (3, 0, 0)
    assert render() == cold
    # the same bytes as a render from scratch
    db.session.execute(FeedChunk.__table__.delete())
    chunks.MEMORY.clear()
    ical.CACHE.clear()
    assert render() == cold
    assert stats().from_memory == 3


def test_assembled_chunks_equal_the_calendar_icalendar_writes(feed):
    _, _, render, _ = feed
    body = render()
    # one VEVENT per chunk, CRLF everywhere, lines folded at 75 octets, one VTIMEZONE
    assert body.count(b"BEGIN:VEVENT") == 3 and body.count(b"BEGIN:VTIMEZONE") == 1
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert max(len(line) for line in body.split(b"\r\n")) <= 75
    assert icalendar.Calendar.from_ical(body).to_ical() == body


def _set(obj: Any, **values: Any) -> None:
    for name, value in values.items():
        setattr(obj, name, value)


def _change_rcp_title(world, rcp, sessions) -> str:
    _set(rcp, title="RCP hépato-biliaire")
    return "RCP hépato-biliaire"


def _change_rcp_substitute(world, rcp, sessions) -> str:
    _set(rcp, substitute_rpps=world.geriatrician.rpps)
    return "Suppléant : Dr Anne QUEMENER"


def _change_session_room(world, rcp, sessions) -> str:
    planning.update_session(
        principal=NATIONAL, session_id=sessions[0].id, data={"room": "Salle Laennec"}
    )
    return "Salle Laennec"


def _change_rcp_three_c(world, rcp, sessions) -> str:
    _set(rcp, three_c="3C Bretagne occidentale")
    return 'ORGANIZER;CN="3C Bretagne occidentale"'


def _change_session_place(world, rcp, sessions) -> str:
    planning.update_session(
        principal=NATIONAL, session_id=sessions[0].id, data={"place_finess": RENNES}
    )
    return "CHU DE RENNES PONTCHAILLOU"


def _change_establishment_name(world, rcp, sessions) -> str:
    _set(world.brest, name="CHU DE BREST HOPITAL MORVAN")
    return "CHU DE BREST HOPITAL MORVAN"


def _register_dossier(world, rcp, sessions) -> str:
    planning.register_dossier(principal=world.doctor(), session_id=sessions[0].id, data=DOSSIER)
    return "Dossiers inscrits : 1"


def _rename_participant(world, rcp, sessions) -> str:
    _set(world.pathologist, last_name="LE BIHAN")
    return "Dr Anne LE BIHAN"


def _relabel_specialty(world, rcp, sessions) -> str:
    _set(world.radiologist.activities[0], specialty_label="Imagerie médicale")
    return "imagerie médicale"


def _add_participant_quietly(world, rcp, sessions) -> str:
    # a writer that does not touch the session (no new revision): the stamp still sees it
    db.session.add(
        SessionParticipant(session_id=sessions[0].id, rpps=world.geriatrician.rpps, role="member")
    )
    return "Dr Anne QUEMENER"


def _import_directory_in_bulk(world, rcp, sessions) -> str:
    # as the directory import does: rows written past the ORM, the run recorded through it
    table = Practitioner.__table__
    db.session.execute(
        update(table).where(table.c.rpps == world.radiotherapist.rpps).values(last_name="GUEGUEN")
    )
    db.session.add(
        DirectoryImport(kind="rpps", file_name="extraction.csv", layout="test", read=1, updated=1)
    )
    db.session.flush()
    db.session.expire_all()  # as the next request's session: nothing loaded before
    return "Dr Anne GUEGUEN"


def _move_session(world, rcp, sessions) -> str:
    planning.update_session(
        principal=NATIONAL,
        session_id=sessions[0].id,
        data={"starts_at": sessions[0].starts_at + dt.timedelta(hours=2)},
    )
    start = (sessions[0].starts_at).astimezone(ical.PARIS)
    return f"DTSTART;TZID=Europe/Paris:{start:%Y%m%dT%H%M%S}"


CHANGES: list[Callable[..., str]] = [
    _change_rcp_title,
    _change_rcp_substitute,
    _change_session_room,
    _change_rcp_three_c,
    _change_session_place,
    _change_establishment_name,
    _register_dossier,
    _rename_participant,
    _relabel_specialty,
    _add_participant_quietly,
    _import_directory_in_bulk,
    _move_session,
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_every_input_of_an_event_shows_up_in_the_feed(feed, world, change):
    rcp, sessions, render, stats = feed
    before = render()
    assert stats().from_memory == 3  # warm: what follows proves invalidation, not a cold start
    expected = change(world, rcp, sessions)
    db.session.commit()
    after = render()
    unfolded = after.replace(b"\r\n ", b"").decode()
    plain = unfolded.replace("\\,", ",").replace("\\n", "\n")
    assert expected in plain and expected not in before.replace(b"\r\n ", b"").decode()
    # and exactly what a render from scratch gives
    db.session.execute(FeedChunk.__table__.delete())
    chunks.MEMORY.clear()
    ical.CACHE.clear()
    assert render() == after


def test_a_change_the_events_do_not_show_costs_no_icalendar(feed, monkeypatch):
    rcp, _, render, stats = feed
    before = render()
    rcp.capacity += 2  # moves the RCP's updated_at, so its events' last-modified instant
    rcp.updated_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)  # a later second
    db.session.commit()
    monkeypatch.setattr(ical, "vevent", lambda event: pytest.fail("serialised again"))
    found = stats()
    assert (found.restamped, found.rendered) == (3, 0)
    monkeypatch.undo()
    after = render()
    assert after != before
    stamp = rcp.updated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert [str(e["DTSTAMP"].to_ical().decode()) for e in _events(after)] == [stamp] * 3
    db.session.execute(FeedChunk.__table__.delete())
    chunks.MEMORY.clear()
    ical.CACHE.clear()
    assert render() == after


def test_a_stored_chunk_that_does_not_match_its_session_is_rendered_again(feed):
    _, sessions, render, stats = feed
    body = render()
    db.session.execute(
        update(FeedChunk)
        .where(FeedChunk.session_id == sessions[1].id)
        .values(stamp="stale", inputs="other", body="BEGIN:VEVENT\r\nEND:VEVENT\r\n")
    )
    chunks.MEMORY.clear()
    found = stats()
    assert (found.from_database, found.rendered) == (2, 1)
    assert render() == body


def test_a_session_leaving_the_scope_leaves_the_feed(feed):
    _, sessions, render, _ = feed
    render()
    planning.update_session(
        principal=NATIONAL,
        session_id=sessions[2].id,
        data={"starts_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=800)},
    )
    db.session.commit()
    assert len(_events(render())) == 2


def test_the_directory_token_moves_with_directory_changes_only(world, create_session):
    session = create_session()
    db.session.commit()
    token = services.directory_token()
    planning.register_dossier(principal=world.doctor(), session_id=session.id, data=DOSSIER)
    db.session.commit()
    assert services.directory_token() == token
    world.brest.city = "BREST CEDEX"
    db.session.commit()
    assert services.directory_token() != token


def test_another_worker_answers_a_revalidation_from_the_feed_state_row(
    client, auth_header, feed, monkeypatch, app
):
    rcp, _, _, _ = feed
    headers = auth_header(role="regional_admin", region="53")
    path = f"/planning/feeds/rcp/{rcp.id}.ics"
    first = client.get(path, headers=headers)
    assert first.status_code == 200
    app.extensions["planning_feeds"].memo.clear()  # a worker that has not rendered it
    monkeypatch.setattr(services, "_render", lambda *a, **k: pytest.fail("rendered"))
    etag = {"If-None-Match": first.headers["ETag"]}
    again = client.get(path, headers={**headers, **etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get(path, headers={**headers, **since}).status_code == 304
    monkeypatch.setattr(services, "recorded_validators", lambda *a: pytest.fail("read again"))
    assert client.get(path, headers={**headers, **etag}).status_code == 304  # kept in memory
    monkeypatch.undo()
    # a stale copy, no copy, or a change since: rendered
    stale = client.get(path, headers={**headers, "If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.data == first.data
    app.extensions["planning_feeds"].memo.clear()
    assert client.get(path, headers=headers).data == first.data
    rcp.title = "RCP renommée"
    db.session.commit()
    app.extensions["planning_feeds"].memo.clear()
    changed = client.get(path, headers={**headers, **etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
