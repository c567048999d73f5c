"""planning.ical: feeds checked by ical.js, the strict ``ical`` parser and recurring-ical-events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import icalendar
import pytest
import recurring_ical_events

from planning.ical import (
    CANCELLED_PREFIX,
    PARIS,
    EventCache,
    EventStatus,
    FeedEvent,
    FeedInfo,
    Organizer,
    Place,
    assemble,
    build_calendar,
    event_years,
    inputs_key,
    single_event,
    vevent,
    vtimezone,
    with_last_modified,
)
from tests.planning.icalcheck import parse_with_ical, parse_with_icaljs

UTC = dt.UTC
CHANGED = dt.datetime(2026, 1, 10, 9, 30, tzinfo=UTC)

#: Local (Europe/Paris) start times around the 2026 and 2027 DST changes
#: (29 March and 25 October 2026, 28 March and 31 October 2027).
DST_STARTS = [
    dt.datetime(2026, 3, 27, 14, 0),
    dt.datetime(2026, 3, 30, 8, 0),
    dt.datetime(2026, 3, 31, 18, 30),
    dt.datetime(2026, 10, 23, 14, 0),
    dt.datetime(2026, 10, 26, 12, 30),
    dt.datetime(2026, 10, 30, 17, 0),
    dt.datetime(2027, 3, 29, 14, 0),
    dt.datetime(2027, 10, 29, 14, 0),
]


def make_event(number: int = 1, **overrides) -> FeedEvent:
    start = overrides.pop("start", dt.datetime(2026, 3, 30, 14, 0, tzinfo=PARIS))
    values = {
        "uid": f"rcp-session-{number}@dcc.example",
        "revision": 1,
        "status": EventStatus.SCHEDULED,
        "start": start,
        "end": start + dt.timedelta(hours=2),
        "title": "RCP Sein – CHU de Brest",
        "last_modified": CHANGED,
        "kind": "hybride",
        "place": Place("CHU de Brest – Hôpital Morvan", "Salle Laennec", "2 av. Foch, 29200 Brest"),
        "geo": (48.3904, -4.4861),
        "coordinator": "Dr Anne Kerouac (oncologie médicale)",
        "substitute": "Dr Yann Le Gall (radiothérapie)",
        "participants": ("Dr B (radiologie)", "Dr C (anatomopathologie)"),
        "videoconference_url": "https://visio.example/rcp/sein-brest",
        "registration_deadline": start - dt.timedelta(days=2),
        "registered_dossiers": 7,
        "url": f"https://dcc.example/planning/sessions/{number}",
        "organizer": Organizer("3C Finistère", "3c@chu-brest.example"),
        "categories": ("RCP", "Sein"),
    }
    values.update(overrides)
    return FeedEvent(**values)


INFO = FeedInfo(name="RCP Sein – CHU de Brest", uid="feed-rcp-12@dcc.example")


def lines(body: bytes) -> list[str]:
    """Unfolded content lines."""
    return body.decode().replace("\r\n ", "").split("\r\n")


# --- calendar properties --------------------------------------------------------------------


def test_calendar_properties_are_written_as_rfc_5545_and_7986_want():
    body = build_calendar(
        dataclasses.replace(INFO, refresh_interval=dt.timedelta(hours=4)), [make_event()]
    )
    content = lines(body)
    assert content[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", content[2]]
    assert content[2].startswith("PRODID:")
    for line in (
        "NAME:RCP Sein – CHU de Brest",
        "X-WR-CALNAME:RCP Sein – CHU de Brest",
        "X-WR-TIMEZONE:Europe/Paris",
        "REFRESH-INTERVAL;VALUE=DURATION:PT4H",
        "X-PUBLISHED-TTL:PT4H",
        "UID:feed-rcp-12@dcc.example",
        "CALSCALE:GREGORIAN",
    ):
        assert line in content
    assert content[-2:] == ["END:VCALENDAR", ""]

    parsed = parse_with_icaljs(body)
    assert parsed["refresh_interval"] == {"type": "duration", "seconds": 4 * 3600}
    assert parsed["x_published_ttl"] == "PT4H"
    assert parsed["name"] == parsed["x_wr_calname"] == "RCP Sein – CHU de Brest"
    strict = parse_with_ical(body)
    assert strict.refresh_interval == dt.timedelta(hours=4)
    assert strict.name == ["RCP Sein – CHU de Brest"]


def test_a_timedelta_ttl_given_to_icalendar_is_what_we_avoid():
    # The pitfall this module works around: icalendar writes str(timedelta) for an X- property.
    calendar = icalendar.Calendar()
    calendar.add("X-PUBLISHED-TTL", dt.timedelta(hours=1))
    assert b"X-PUBLISHED-TTL:1:00:00" in calendar.to_ical()
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in build_calendar(INFO, [make_event()])


def test_the_same_sessions_give_the_same_bytes():
    events = [make_event(n, start=dt.datetime(2026, 5, n, 14, tzinfo=PARIS)) for n in (1, 2, 3)]
    first = build_calendar(INFO, events, cache=EventCache())
    assert build_calendar(INFO, events, cache=EventCache()) == first
    assert build_calendar(INFO, events) == first  # the process-wide cache gives the same bytes


# --- events ---------------------------------------------------------------------------------


def test_an_event_carries_every_property_a_client_needs():
    event = make_event()
    body = build_calendar(INFO, [event])
    (parsed,) = parse_with_icaljs(body)["events"]
    assert parsed["uid"] == "rcp-session-1@dcc.example"
    assert parsed["sequence"] == 1
    assert parsed["status"] == "CONFIRMED"
    assert parsed["summary"] == "RCP Sein – CHU de Brest"
    assert parsed["location"] == (
        "CHU de Brest – Hôpital Morvan – Salle Laennec, 2 av. Foch, 29200 Brest"
    )
    assert parsed["geo"] == [48.3904, -4.4861]
    assert parsed["dtstamp"] == parsed["last_modified"] == "2026-01-10T09:30:00Z"
    assert parsed["url"] == "https://dcc.example/planning/sessions/1"
    assert parsed["organizer"] == "mailto:3c@chu-brest.example"
    assert parsed["categories"] == ["RCP", "Sein"]
    assert parsed["conference"] == "https://visio.example/rcp/sein-brest"
    assert parsed["description"].split("\n") == [
        "Type : hybride",
        "Coordonnateur : Dr Anne Kerouac (oncologie médicale)",
        "Suppléant : Dr Yann Le Gall (radiothérapie)",
        "Participants : Dr B (radiologie), Dr C (anatomopathologie)",
        "Visioconférence : https://visio.example/rcp/sein-brest",
        "Date limite d'inscription : 28/03/2026 14:00",
        "Dossiers inscrits : 7",
        "https://dcc.example/planning/sessions/1",
    ]
    assert 'ORGANIZER;CN="3C Finistère":mailto:3c@chu-brest.example' in lines(body)

    (strict,) = parse_with_ical(body).events
    assert strict.uid == parsed["uid"]
    assert strict.geo is not None and (strict.geo.lat, strict.geo.lng) == (48.3904, -4.4861)
    assert strict.organizer is not None and strict.organizer.common_name == "3C Finistère"
    assert strict.dtstamp == strict.last_modified == CHANGED


def test_a_minimal_event_has_no_empty_properties():
    event = FeedEvent(
        uid="rcp-session-9@dcc.example",
        revision=0,
        status=EventStatus.SCHEDULED,
        start=dt.datetime(2026, 6, 2, 12, tzinfo=UTC),
        end=dt.datetime(2026, 6, 2, 13, tzinfo=UTC),
        title="RCP digestive",
        last_modified=CHANGED,
    )
    content = lines(build_calendar(INFO, [event]))
    for name in ("GEO", "ORGANIZER", "CONFERENCE", "LOCATION", "URL", "CATEGORIES", "DESCR"):
        assert not any(line.startswith(name) for line in content), name
    (parsed,) = parse_with_icaljs(build_calendar(INFO, [event]))["events"]
    assert parsed["start"] == {
        "local": "2026-06-02T14:00:00",
        "zone": "Europe/Paris",
        "utc": "2026-06-02T12:00:00Z",
    }


@pytest.mark.parametrize("local", DST_STARTS, ids=lambda d: d.strftime("%Y-%m-%d_%H%M"))
@pytest.mark.parametrize("given_in", ["paris", "utc"])
def test_local_times_survive_the_dst_changes_in_every_parser(local, given_in):
    planned = local.replace(tzinfo=PARIS)
    start = planned if given_in == "paris" else planned.astimezone(UTC)
    event = make_event(start=start, end=start + dt.timedelta(minutes=90))
    body = build_calendar(INFO, [event])

    (parsed,) = parse_with_icaljs(body)["events"]
    assert parsed["start"]["zone"] == "Europe/Paris"
    assert parsed["start"]["local"] == planned.strftime("%Y-%m-%dT%H:%M:%S")
    # ical.js computes the instant from our VTIMEZONE only: it must be the planned instant.
    assert parsed["start"]["utc"] == planned.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = planned + dt.timedelta(minutes=90)
    assert parsed["end"]["utc"] == end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    (strict,) = parse_with_ical(body).events
    assert strict.dtstart == planned
    assert strict.dtstart.astimezone(PARIS).replace(tzinfo=None) == local
    assert strict.dtend - strict.dtstart == dt.timedelta(minutes=90)


def test_a_year_of_sessions_across_both_dst_changes_expands_to_the_planned_times():
    events = [
        make_event(n, start=local.replace(tzinfo=PARIS)) for n, local in enumerate(DST_STARTS)
    ]
    body = build_calendar(INFO, events)
    calendar = icalendar.Calendar.from_ical(body)
    occurrences = recurring_ical_events.of(calendar).between(
        dt.date(2026, 1, 1), dt.date(2028, 1, 1)
    )
    starts = sorted(o["DTSTART"].dt.astimezone(PARIS).replace(tzinfo=None) for o in occurrences)
    assert starts == sorted(DST_STARTS)
    js_starts = [e["start"]["local"] for e in parse_with_icaljs(body)["events"]]
    assert js_starts == [d.strftime("%Y-%m-%dT%H:%M:%S") for d in DST_STARTS]


def test_a_moved_session_keeps_its_uid_and_raises_its_sequence():
    before = make_event(4)
    moved_start = dt.datetime(2026, 4, 2, 9, 0, tzinfo=PARIS)
    after = dataclasses.replace(
        before,
        revision=2,
        start=moved_start,
        end=moved_start + dt.timedelta(hours=1),
        last_modified=CHANGED + dt.timedelta(days=3),
    )
    cache = EventCache()
    (old,) = parse_with_icaljs(build_calendar(INFO, [before], cache=cache))["events"]
    (new,) = parse_with_icaljs(build_calendar(INFO, [after], cache=cache))["events"]
    assert new["uid"] == old["uid"]
    assert new["sequence"] > old["sequence"]
    assert new["start"]["local"] == "2026-04-02T09:00:00"
    assert new["last_modified"] > old["last_modified"]
    (strict,) = parse_with_ical(build_calendar(INFO, [after], cache=cache)).events
    assert strict.sequence == 2


def test_a_cancelled_session_stays_in_the_feed_marked_cancelled():
    events = [make_event(1), make_event(2, status=EventStatus.CANCELLED, revision=3)]
    body = build_calendar(INFO, events)
    parsed = {e["uid"]: e for e in parse_with_icaljs(body)["events"]}
    cancelled = parsed["rcp-session-2@dcc.example"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["summary"] == CANCELLED_PREFIX + "RCP Sein – CHU de Brest"
    assert cancelled["description"].startswith("Séance annulée.")
    assert parsed["rcp-session-1@dcc.example"]["status"] == "CONFIRMED"
    statuses = {e.uid: e.status.value for e in parse_with_ical(body).events}
    assert statuses == {
        "rcp-session-1@dcc.example": "CONFIRMED",
        "rcp-session-2@dcc.example": "CANCELLED",
    }
    assert b"STATUS:CANCELED" not in body  # the American spelling is invalid iCalendar


# --- time zone ------------------------------------------------------------------------------


def test_every_tzid_has_its_vtimezone_limited_to_the_feed_years():
    events = [make_event(1, start=dt.datetime(2026, 3, 30, 14, tzinfo=PARIS))]
    body = build_calendar(INFO, events)
    text = body.decode()
    assert set(re.findall(r"TZID=([^:;]+)", text)) == {"Europe/Paris"}
    assert text.count("BEGIN:VTIMEZONE") == 1
    assert "TZID:Europe/Paris" in text
    onsets = re.findall(r"\r\nDTSTART:(\d{8}T\d{6})\r\n", text)
    assert onsets == ["20260101T000000", "20260329T020000", "20261025T030000"]
    assert parse_with_icaljs(body)["timezones"] == {"Europe/Paris": 3}


def test_vtimezone_onsets_are_the_local_times_before_each_change():
    # RFC 5545 §3.6.5: 02:00 CET in March (clocks jump to 03:00), 03:00 CEST in October.
    text = vtimezone(2027, 2028).decode()
    assert re.findall(r"DTSTART:(\d{8}T\d{6})", text) == [
        "20270101T000000",
        "20270328T020000",
        "20271031T030000",
        "20280326T020000",
        "20281029T030000",
    ]
    assert "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200" in text


def test_an_empty_feed_is_still_a_valid_calendar():
    info = dataclasses.replace(INFO, window=(dt.date(2026, 11, 1), dt.date(2027, 11, 1)))
    body = build_calendar(info, [])
    assert "BEGIN:VTIMEZONE" in body.decode()
    assert parse_with_icaljs(body)["events"] == []
    assert parse_with_ical(body).events == []
    assert "DTSTART:20271031T030000" in lines(body)  # the window's years


def test_a_single_session_file():
    body = single_event(make_event(5))
    parsed = parse_with_icaljs(body)
    assert parsed["name"] == "RCP Sein – CHU de Brest"
    assert [e["uid"] for e in parsed["events"]] == ["rcp-session-5@dcc.example"]
    assert b"UID:single-rcp-session-5@dcc.example" in body


# --- cache and input checks -----------------------------------------------------------------


def test_unchanged_events_come_from_the_cache_and_changed_ones_do_not():
    cache = EventCache()
    events = [make_event(n) for n in range(1, 6)]
    first = build_calendar(INFO, events, cache=cache)
    assert (cache.hits, cache.misses) == (0, 5)
    changed = [*events[:4], dataclasses.replace(events[4], registered_dossiers=8)]
    second = build_calendar(INFO, changed, cache=cache)
    assert (cache.hits, cache.misses) == (4, 6)
    assert second != first
    assert second == build_calendar(INFO, changed, cache=EventCache())
    assert any("Dossiers inscrits : 8" in line for line in lines(second))


def test_the_cache_is_bounded():
    cache = EventCache(maxsize=3)
    build_calendar(INFO, [make_event(n) for n in range(1, 6)], cache=cache)
    assert len(cache) == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start": dt.datetime(2026, 3, 30, 14)}, "timezone-aware"),
        ({"last_modified": dt.datetime(2026, 1, 1)}, "timezone-aware"),
        ({"end": dt.datetime(2026, 3, 30, 11, tzinfo=PARIS)}, "ends before it starts"),
        ({"revision": -1}, "negative"),
    ],
)
def test_events_refuse_incoherent_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_event(**overrides)


def test_a_feed_refuses_duplicate_uids():
    with pytest.raises(ValueError, match="same UID"):
        build_calendar(INFO, [make_event(1), make_event(1, revision=2)])


def test_calendar_names_from_search_filters_stay_on_one_line():
    info = FeedInfo(name="RCP\nthoracique\r\x0b2026", uid="feed-x@example")
    text = build_calendar(info, []).decode()
    assert "NAME:RCP thoracique 2026\r\n" in text


# --- chunks ---------------------------------------------------------------------------------


def test_a_feed_assembled_from_chunks_is_the_feed_icalendar_writes():
    events = [
        make_event(n, start=local.replace(tzinfo=PARIS)) for n, local in enumerate(DST_STARTS)
    ]
    chunks = [vevent(e).to_ical() for e in events]
    years = (min(event_years(e)[0] for e in events), max(event_years(e)[1] for e in events))
    whole = build_calendar(INFO, events, cache=EventCache())
    assert assemble(INFO, chunks, years=years) == whole
    assert assemble(INFO, [c.decode() for c in chunks], years=years) == whole
    assert assemble(INFO, [], years=None) == build_calendar(INFO, [], cache=EventCache())


@pytest.mark.parametrize(
    "before",
    [
        dt.datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # the night of a DST change
        dt.datetime(2026, 1, 10, 10, 30, tzinfo=PARIS),  # the same instant as CHANGED
    ],
)
def test_a_new_last_modified_rewrites_two_lines_as_icalendar_would(before):
    event = make_event(3)
    earlier = dataclasses.replace(event, last_modified=before)
    rewritten = with_last_modified(vevent(earlier).to_ical().decode(), event)
    assert rewritten == vevent(event).to_ical().decode()
    assert "DTSTAMP:20260110T093000Z\r\n" in rewritten
    assert "LAST-MODIFIED:20260110T093000Z\r\n" in rewritten


def test_the_inputs_key_covers_every_field_but_the_last_modified_instant():
    event = make_event(4)
    assert inputs_key(event) == inputs_key(dataclasses.replace(event))
    assert inputs_key(event) == inputs_key(
        dataclasses.replace(event, last_modified=CHANGED + dt.timedelta(days=3))
    )
    changes = {
        "revision": 2,
        "status": EventStatus.CANCELLED,
        "title": "RCP Sein – CHU de Brest (Morvan)",
        "place": Place("CHU de Brest – Hôpital Morvan", "Salle 2", "2 av. Foch, 29200 Brest"),
        "coordinator": "Dr Anne Kerouac-Le Bihan (oncologie médicale)",
        "participants": ("Dr B (radiologie)",),
        "registered_dossiers": 8,
        "organizer": Organizer("3C Finistère Nord", "3c@chu-brest.example"),
        "created": CHANGED,
    }
    for name, value in changes.items():
        assert inputs_key(dataclasses.replace(event, **{name: value})) != inputs_key(event), name
