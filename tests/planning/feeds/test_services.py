"""Feed services: the change token, validators, the memo and subscription secrets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from core.auth import Principal, Role
from core.db import db
from core.errors import Forbidden, NotFound
from core.terminology import geo
from planning import services as planning
from planning.feeds import services
from planning.feeds.models import FeedState, FeedSubscription
from tests.planning.conftest import NATIONAL

SITE = services.Site(public_url="https://dcc.example", contact_email="dcc@dcc.example")
DOSSIER = {
    "patient_ref": "DXC-000123",
    "tumour_code": "C18.7",
    "question": "Chimiothérapie adjuvante ?",
    "phase": "initial",
}


def test_the_change_token_moves_with_planning_writes_only(world, create_session):
    session = create_session()
    db.session.commit()
    token = services.change_token()
    assert token
    # a registration changes the session's count through a bulk UPDATE (no flush of a Session)
    planning.register_dossier(principal=world.doctor(), session_id=session.id, data=dict(DOSSIER))
    db.session.commit()
    after_registration = services.change_token()
    assert after_registration != token
    # the feeds' own bookkeeping is not a planning change
    db.session.add(FeedState(key="k" * 64, etag="e", last_modified=dt.datetime.now(dt.UTC)))
    db.session.commit()
    assert services.change_token() == after_registration


def test_a_registration_changes_the_tokens_of_its_region_only(world, create_session):
    session = create_session()  # an RCP of Brest: Bretagne, region 53
    db.session.commit()
    before = {
        "all": services.change_token(),
        "53": services.change_token("53"),
        "84": services.change_token("84"),
        "planning": services.change_token(planning_only=True),
    }
    planning.register_dossier(principal=world.doctor(), session_id=session.id, data=dict(DOSSIER))
    db.session.commit()
    assert services.change_token() != before["all"]
    assert services.change_token("53") != before["53"]
    assert services.change_token("84") == before["84"]  # Auvergne-Rhône-Alpes: untouched
    assert services.change_token(planning_only=True) == before["planning"]
    # any other planning change moves every token
    create_session(starts_at=dt.datetime(2030, 1, 8, 13, tzinfo=dt.UTC))
    assert services.change_token("84") != before["84"]
    assert services.change_token(planning_only=True) != before["planning"]


def test_a_region_feed_is_not_rendered_again_for_another_region_s_registration(
    world, create_session, monkeypatch
):
    session = create_session()
    db.session.commit()
    memo = services.FeedMemo()
    calls: list[str] = []
    render = services._render
    monkeypatch.setattr(
        services, "_render", lambda spec, **k: calls.append(spec.value) or render(spec, **k)
    )
    bretagne = services.feed_spec(scope="region", value="53")
    rhone_alpes = services.feed_spec(scope="region", value="84")
    first = services.render_feed(spec=bretagne, memo=memo, site=SITE)
    services.render_feed(spec=rhone_alpes, memo=memo, site=SITE)
    planning.register_dossier(principal=world.doctor(), session_id=session.id, data=dict(DOSSIER))
    db.session.commit()
    services.render_feed(spec=rhone_alpes, memo=memo, site=SITE)
    assert calls == ["53", "84"]  # the other region's feed came from the memo
    second = services.render_feed(spec=bretagne, memo=memo, site=SITE)
    assert calls == ["53", "84", "53"] and second.etag != first.etag  # the count it shows


def test_region_rows_are_distinct_per_region_and_clear_of_the_planning_rows():
    from planning.feeds import changes

    codes = list(geo.REGIONS)
    rows = [changes.region_rows(code) for code in codes]
    assert all(r is not None for r in rows)
    flat = [row for r in rows for row in r]
    assert len(flat) == len(set(flat)) == changes.REGION_SPREAD * len(codes)
    assert min(flat) >= changes.REGION_ROW_BASE > max(changes.PLANNING_ROWS)
    assert changes.region_rows("2A") is None and changes.region_rows(None) is None
    assert changes.registration_row("2A") in changes.PLANNING_ROWS


def test_the_sql_region_row_is_the_row_python_draws(world):
    # PostgreSQL's registration statement computes its row from the region it reads
    from sqlalchemy import literal

    from planning.feeds import changes

    for code in [*geo.REGIONS, "2A", None, "123"]:
        for pick in (0, changes.REGION_SPREAD - 1):
            row = db.session.scalar(
                select(changes.region_row_sql(literal(code))),
                {"feed_pick": pick, "feed_fallback": changes.PLANNING_ROWS[-1]},
            )
            rows = changes.region_rows(code)
            assert row == (rows[pick] if rows else changes.PLANNING_ROWS[-1]), code


def test_every_change_draws_a_new_random_token(create_session):
    # random, not a counter: a change rolled back and redone never repeats a token seen before
    tokens = set()
    for day in (8, 15, 22):
        create_session(starts_at=dt.datetime(2030, 1, day, 13, tzinfo=dt.UTC))
        db.session.commit()
        tokens.add(services.change_token())
    assert len(tokens) == 3 and "" not in tokens


def test_last_modified_moves_forward_only_when_the_bytes_change():
    key = "a" * 64
    first = services._record_state(key, "etag-1")
    assert services._record_state(key, "etag-1") == first
    second = services._record_state(key, "etag-2")
    assert second > first
    assert db.session.get(FeedState, key).etag == "etag-2"
    assert services._record_state(key, "etag-1") > second  # content back: still forward


def test_the_memo_renders_once_per_change_token(world, create_rcp, create_session, monkeypatch):
    rcp = create_rcp(rrule=None)
    create_session(rcp=rcp)
    db.session.commit()
    spec = services.feed_spec(scope="rcp", value=str(rcp.id))
    memo = services.FeedMemo()
    calls = []
    render = services._render
    monkeypatch.setattr(services, "_render", lambda *a, **k: calls.append(1) or render(*a, **k))
    first = services.render_feed(spec=spec, memo=memo, site=SITE)
    assert services.render_feed(spec=spec, memo=memo, site=SITE) is first
    assert len(calls) == 1
    create_session(rcp=rcp, starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
    db.session.commit()
    second = services.render_feed(spec=spec, memo=memo, site=SITE)
    assert len(calls) == 2 and second.etag != first.etag


def test_the_memo_is_bounded_in_bytes():
    memo = services.FeedMemo(max_bytes=10)
    feed = services.RenderedFeed(
        body=b"123456", etag="e", last_modified=dt.datetime.now(dt.UTC), filename="f.ics"
    )
    day = dt.date(2026, 1, 1)
    memo.keep_feed(("a", "t", day), feed)
    memo.keep_feed(("b", "t", day), feed)
    assert memo.feed(("a", "t", day)) is None and memo.feed(("b", "t", day)) is feed


def test_the_spec_key_depends_on_everything_a_feed_shows():
    spec = services.FeedSpec(scope=services.Scope.REGION, value="53", filters=(), name="Bretagne")
    assert spec.key == dataclasses.replace(spec).key
    assert spec.key != dataclasses.replace(spec, name="Autre").key
    assert spec.key != dataclasses.replace(spec, value="52").key


def test_only_the_hash_of_a_feed_token_is_stored(world):
    created = services.create_feed(
        principal=world.doctor(), data={"scope": "region", "region": "53"}, site=SITE
    )
    token = created.url.removeprefix("https://dcc.example/feeds/").removesuffix(".ics")
    assert created.webcal_url == f"webcal://dcc.example/feeds/{token}.ics"
    stored = db.session.scalars(select(FeedSubscription)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored.__dict__)
    assert stored.name == "RCP – région 53"


def test_only_the_creator_or_a_national_admin_revokes(world):
    created = services.create_feed(
        principal=world.doctor(), data={"scope": "region", "region": "53"}, site=SITE
    )
    feed_id = created.subscription.id
    stranger = Principal("someone", Role.REGIONAL_ADMIN, "tests", region="53")
    with pytest.raises(Forbidden):
        services.revoke_feed(principal=stranger, feed_id=feed_id)
    assert services.revoke_feed(principal=NATIONAL, feed_id=feed_id).revoked_at is not None
    with pytest.raises(NotFound):
        services.revoke_feed(principal=NATIONAL, feed_id=feed_id + 1000)


def test_a_search_window_is_cut_by_the_rolling_window():
    spec = services.feed_spec(
        scope="search",
        filters={"from": dt.datetime(2000, 1, 1, tzinfo=dt.UTC), "kind": "MED-251"},
    )
    today = dt.date(2026, 11, 22)
    filters = services.session_filters(spec, today)
    assert filters.date_from == dt.datetime(2026, 10, 21, 22, tzinfo=dt.UTC)  # 22 Oct, CEST
    assert filters.kind == "MED-251"
    assert filters.date_to is not None and filters.date_to.date() == dt.date(2027, 11, 22)
