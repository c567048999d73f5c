"""Calendar feeds: generation time of a region-year feed and 304 revalidation throughput.

    .venv/bin/python benchmarks/bench_feeds.py [--sessions 5000] [--seconds 5] [--clients 4]

1. Pure generation (planning.ical, no database): 5,000 events cold (every VEVENT serialised by
   icalendar), warm (every chunk cached) and with 1 % of the sessions changed.
2. Over HTTP (gunicorn, 2 workers, scratch SQLite database under /tmp unless --database-url):
   a region feed of ``--sessions`` sessions over the coming year: the first request (cold: no
   stored VEVENT), then full generation p50/p95 (each request follows a planning change, so the
   feed is queried and assembled again), then the throughput of 304 revalidations
   (If-None-Match) as a ratio of ``GET /health/live`` measured the same way in the same run.
3. In process, on the same database (server stopped): full generation p50/p95 from scratch
   (no stored VEVENT), in a fresh worker (VEVENTs stored, none in memory), after a planning
   change, and with nothing changed.
Targets (issue 5): generation < 300 ms; 304 >= 70 %.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import http.client
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planning import ical  # noqa: E402

TARGET_GENERATION_S = 0.300
TARGET_304_RATIO = 0.70
KINDS = ["digestive", "sein", "thorax", "uro", "ORL"]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) > 1 else values[0]


def spread(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:6.0f} ms  p95 {p95(values) * 1000:6.0f} ms  "
        f"(n={len(values)}, min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
    )


# --- pure generation ------------------------------------------------------------------------


def synthetic_events(count: int, seed: int = 5) -> list[ical.FeedEvent]:
    rng = random.Random(seed)
    start_day = dt.date(2026, 1, 5)
    events = []
    for number in range(count):
        day = start_day + dt.timedelta(days=rng.randrange(365))
        start = dt.datetime.combine(day, dt.time(8 + rng.randrange(10), 30 * rng.randrange(2)))
        start = start.replace(tzinfo=ical.PARIS)
        events.append(
            ical.FeedEvent(
                uid=f"rcp-session-{number}@dcc.example",
                revision=1 + rng.randrange(3),
                status=ical.EventStatus.CANCELLED
                if number % 40 == 0
                else ical.EventStatus.SCHEDULED,
                start=start,
                end=start + dt.timedelta(hours=2),
                title=f"RCP {rng.choice(KINDS)} {number % 97}",
                last_modified=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=number),
                kind="Tumeurs digestives",
                place=ical.Place(
                    "CHU DE BREST SITE MORVAN", "Salle de staff", "2 AVENUE FOCH 29200 BREST"
                ),
                geo=(48.39, -4.486),
                coordinator="Dr Anne KERBRAT (oncologie option médicale)",
                substitute="Dr Anne TANGUY (radio-thérapie)",
                participants=tuple(f"Dr P{n} (spécialité {n})" for n in range(5)),
                videoconference_url="https://visio.example.org/rcp-digestif",
                registration_deadline=start - dt.timedelta(days=2),
                registered_dossiers=rng.randrange(15),
                url=f"https://dcc.example/planning/sessions/{number}",
                organizer=ical.Organizer("3C du Finistère", "kerbrat@example.org"),
                categories=("RCP", "Tumeurs digestives", "3C du Finistère"),
            )
        )
    events.sort(key=lambda e: (e.start, e.uid))
    return events


def bench_pure(count: int, repeat: int) -> None:
    info = ical.FeedInfo(name="RCP – région 53", uid="feed-bench@dcc.example")
    events = synthetic_events(count)
    cache = ical.EventCache()
    started = time.perf_counter()
    body = ical.build_calendar(info, events, cache=cache)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        fresh = synthetic_events(count)  # equal but distinct objects, as a new query gives
        started = time.perf_counter()
        ical.build_calendar(info, fresh, cache=cache)
        warm.append(time.perf_counter() - started)
    changed = []
    for round_ in range(repeat):
        fresh = synthetic_events(count)
        for index in range(round_, len(fresh), 100):  # 1 % changed
            fresh[index] = dataclasses.replace(
                fresh[index], revision=fresh[index].revision + 10 + round_
            )
        started = time.perf_counter()
        ical.build_calendar(info, fresh, cache=cache)
        changed.append(time.perf_counter() - started)
    p50, p50_changed = statistics.median(warm), statistics.median(changed)
    print(f"pure generation, {count} events, {len(body) / 1e6:.1f} MB")
    print(f"  cold (icalendar for every event)  {cold * 1000:8.0f} ms")
    print(
        f"  warm p50 (all chunks cached)      {p50 * 1000:8.1f} ms   ({cold / p50:.0f}x cold speed)"
    )
    print(f"  1 % changed p50                   {p50_changed * 1000:8.1f} ms")
    print(f"  target < {TARGET_GENERATION_S * 1000:.0f} ms: {verdict(p50 < TARGET_GENERATION_S)}")


# --- HTTP -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_url: str, sessions: int, *, reuse: bool = False) -> tuple[str, str]:
    """Directory, RCPs and their sessions for the coming year; returns (feed path, region)."""
    os.environ["DCC_DATABASE_URL"] = database_url
    from alembic import command

    from core.auth import Principal, Role
    from core.db import db
    from planning import kinds
    from planning import services as planning
    from planning.directory.models import Organization, Practitioner, PractitionerActivity
    from planning.directory.normalize import fold, name_key
    from planning.feeds import services as feeds
    from server.app import create_app
    from server.dbcheck import reset_database
    from server.migrations_state import alembic_config

    if not reuse:
        reset_database(database_url)
        command.upgrade(alembic_config(database_url), "head")
    app = create_app(log_level="WARNING", log_format="text")
    national = Principal("bench", Role.NATIONAL_ADMIN, "bench")
    rng = random.Random(53)
    region = "53"
    with app.app_context(), db.transaction():
        if reuse:
            return _subscribe(feeds, national, region), region
        finess = []
        for number in range(20):
            code = f"29{number:07d}"
            db.session.add(
                Organization(
                    finess=code,
                    kind="ET",
                    name=f"CH BENCH {number}",
                    name_key=fold(f"CH BENCH {number}"),
                    department="29",
                    region=region,
                    address=f"{number} RUE DE SIAM",
                    postal_code="29200",
                    city="BREST",
                    lat=48.39,
                    lon=-4.48,
                    active=True,
                    source="etalab",
                    fingerprint="bench",
                )
            )
            finess.append(code)
        specialties = [
            ("SM36", "Oncologie option médicale"),
            ("SM01", "Anatomie et cytologie pathologiques"),
            ("SM44", "Radio-diagnostic"),
            ("SM45", "Radio-thérapie"),
            ("SM24", "Gastro-entérologie"),
        ]
        people = []
        for number in range(150):
            rpps = f"1099{number:07d}"
            code, label = specialties[number % len(specialties)]
            person = Practitioner(
                national_id="8" + rpps,
                id_type="8",
                rpps=rpps,
                last_name=f"NOM{number}",
                first_name="Anne",
                name_key=name_key(f"NOM{number}", "Anne"),
                active=True,
                fingerprint="bench",
            )
            person.activities.append(
                PractitionerActivity(
                    activity_key=f"a{number}",
                    specialty_code=code,
                    specialty_label=label,
                    department="29",
                    region=region,
                    active=True,
                    email=f"nom{number}@example.org",
                )
            )
            db.session.add(person)
            people.append(rpps)
        db.session.flush()
        kind_codes = list(kinds.catalogue())[:20]
        per_rcp = 50
        today = dt.datetime.now(ical.PARIS).date()
        for number in range(max(1, sessions // per_rcp)):
            members = rng.sample(people[30:], 4)  # coordinators are people[:30]
            rcp = planning.create_rcp(
                principal=national,
                data={
                    "title": f"RCP bench {number}",
                    "kind_code": kind_codes[number % len(kind_codes)],
                    "level": "local",
                    "host_finess": finess[number % len(finess)],
                    "three_c": "3C bench",
                    "coordinator_rpps": people[number % 30],
                    "substitute_rpps": members[0],
                    "members": [{"rpps": r} for r in members],
                    "min_physicians": 3,
                    "min_distinct_specialties": 2,
                    "required_specialties": [],
                    "geriatrician_over_75": False,
                    "room": f"Salle {number}",
                    "visio_url": "https://visio.example.org/bench",
                    "rrule": f"FREQ=WEEKLY;BYDAY={['MO', 'TU', 'WE', 'TH', 'FR'][number % 5]}",
                    "recurrence_start": today,
                    "start_time": dt.time(8 + number % 10, 0),
                    "duration_minutes": 90,
                    "exdates": [],
                    "deadline_hours": 48,
                    "capacity": 12,
                    "open_to_external": True,
                },
            )
            planning.generate_sessions(
                principal=national,
                rcp_id=rcp.id,
                period_start=today,
                period_end=today + dt.timedelta(days=7 * per_rcp - 1),
            )
        path = _subscribe(feeds, national, region)
    return path, region


def _subscribe(feeds: Any, principal: Any, region: str) -> str:
    site = feeds.Site(public_url="http://127.0.0.1", contact_email="bench@example.org")
    created = feeds.create_feed(
        principal=principal, data={"scope": "region", "region": region}, site=site
    )
    return "/" + created.url.split("/", 3)[3]


def _worker(
    port: int,
    path: str,
    headers: dict[str, str],
    seconds: float,
    max_requests: int,
    expected: int,
    queue: multiprocessing.Queue,
) -> None:
    done, errors = 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and done < max_requests:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
        except OSError:  # a timeout or reset counts as an error, never hangs the run
            errors += 1
            continue
        if response.status == expected:
            done += 1
        else:
            errors += 1
    queue.put((done, errors))


def throughput(
    port: int,
    path: str,
    headers: dict[str, str],
    expected: int,
    clients: int,
    seconds: float,
    max_requests: int,
) -> float:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(
            target=_worker, args=(port, path, headers, seconds, max_requests, expected, queue)
        )
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    if errors:
        print(f"  ({errors} unexpected answers on {path})")
    return done / elapsed


def _get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def _both(port: int, path: str, headers: dict[str, str] | None = None) -> None:
    """Two requests at once: with two busy sync workers, each gets one."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: _get(port, path, headers), range(2)))


def touch_planning(database_url: str, app_holder: list) -> None:
    """An unrelated planning change (an RCP's capacity), so the next feed request renders again."""
    from core.db import db
    from planning.models import Rcp
    from server.app import create_app

    if not app_holder:
        app_holder.append(create_app(log_level="WARNING", log_format="text"))
    with app_holder[0].app_context(), db.transaction():
        rcp = db.session.get(Rcp, 1)
        rcp.capacity = 10 + (rcp.capacity + 1) % 5


def bench_http(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-feeds-"))
    reuse = args.workdir is not None and (workdir / "bench.sqlite3").is_file()
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.update(
        DCC_INSTANCE_DIR=str(workdir / "instance"),
        DCC_RATE_LIMIT_FEEDS="100000000/second",
        DCC_LOG_LEVEL="WARNING",
        DCC_DATABASE_URL=database_url,
    )
    started = time.perf_counter()
    path, _ = seed(database_url, args.sessions, reuse=reuse)
    print(
        f"{'reused' if reuse else 'seeded'} {args.sessions} sessions "
        f"in {time.perf_counter() - started:.0f} s "
        f"({database_url.split('://')[0]})"
    )
    port = _free_port()
    log = (workdir / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:server.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            # production recycles a worker every ~10,000 requests: in a throughput run that
            # lands in one run of the two it compares, a random ratio; booting is not measured
            "--max-requests",
            "0",
            "server.wsgi:app",
        ],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=log,
        stderr=log,
    )
    print(f"server log: {workdir / 'gunicorn.log'}")
    try:
        for _ in range(100):
            try:
                if _get(port, "/health/live")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        started = time.perf_counter()
        status, headers, body = _get(port, path)
        assert status == 200, (status, body[:500])
        print(
            f"first request (cold: icalendar serialises every event): "
            f"{time.perf_counter() - started:.1f} s"
        )
        events = body.count(b"BEGIN:VEVENT")
        print(f"region feed: {events} events, {len(body) / 1e6:.1f} MB")
        # every worker serialises its chunks once (cold), then feeds are assembled from them;
        # pairs of concurrent requests reach both sync workers
        for round_ in range(2):
            touch_planning(database_url, [])
            started = time.perf_counter()
            _both(port, path)
            if round_ == 0:
                print(
                    "first requests of both workers after a change, the other one fresh "
                    f"(stored VEVENTs, none in its memory): {time.perf_counter() - started:.2f} s"
                    " for the pair"
                )
        timings = []
        holder: list = []
        for _ in range(args.generations):
            touch_planning(database_url, holder)
            started = time.perf_counter()
            status, headers, body = _get(port, path)
            timings.append(time.perf_counter() - started)
            assert status == 200
        p50 = statistics.median(timings)
        print(f"full generation over HTTP (query + assembly + transfer): {spread(timings)}")
        print(
            f"  target < {TARGET_GENERATION_S * 1000:.0f} ms: {verdict(p50 < TARGET_GENERATION_S)}"
        )
        etag = headers["ETag"]
        # both workers render the current version once, then a discarded round
        for _ in range(2):
            _both(port, path, {"If-None-Match": etag})
        throughput(port, path, {"If-None-Match": etag}, 304, args.clients, 3.0, args.max_requests)
        lives, revalidations = [], []
        for _ in range(3):  # alternate, so that load from elsewhere hits both alike
            lives.append(
                throughput(
                    port, "/health/live", {}, 200, args.clients, args.seconds, args.max_requests
                )
            )
            revalidations.append(
                throughput(
                    port,
                    path,
                    {"If-None-Match": etag},
                    304,
                    args.clients,
                    args.seconds,
                    args.max_requests,
                )
            )
        baseline, revalidated = statistics.median(lives), statistics.median(revalidations)
        ratio = revalidated / baseline
        print(
            f"GET /health/live (baseline)  {baseline:8.0f} req/s  "
            f"(runs: {', '.join(f'{x:.0f}' for x in lives)})"
        )
        print(
            f"304 revalidation of the feed {revalidated:8.0f} req/s  = {ratio:.0%} of the baseline "
            f"(runs: {', '.join(f'{x:.0f}' for x in revalidations)})"
        )
        print(f"  target >= {TARGET_304_RATIO:.0%}: {verdict(ratio >= TARGET_304_RATIO)}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    bench_in_process(database_url, args.generations)


def bench_in_process(database_url: str, rounds: int) -> None:
    """Full generation in this process, with the server's settings (so its stored VEVENTs)."""
    from core.db import db
    from planning.feeds import chunks
    from planning.feeds import services as feeds
    from planning.feeds.models import FeedChunk
    from server.app import create_app

    app = create_app(log_level="WARNING", log_format="text")
    settings = app.extensions["dcc"].settings
    site = feeds.Site(public_url=settings.public_url, contact_email=settings.smtp_from)

    def render() -> float:
        with app.app_context():
            spec = feeds.feed_spec(scope="region", value="53")
            started = time.perf_counter()
            rendered = feeds.render_feed(spec=spec, memo=feeds.FeedMemo(), site=site)
            db.session.commit()
            assert rendered.body is not None
            return time.perf_counter() - started

    def forget(stored: bool) -> None:
        chunks.MEMORY.clear()
        ical.CACHE.clear()
        if stored:
            with app.app_context(), db.transaction():
                db.session.execute(FeedChunk.__table__.delete())

    print("full generation in process (query + assembly, no HTTP):")
    scratch = []
    for _ in range(3):
        forget(stored=True)
        scratch.append(render())
    print(f"  from scratch (icalendar for every event)  {spread(scratch)}")
    fresh = []
    for _ in range(rounds):
        forget(stored=False)
        fresh.append(render())
    print(f"  fresh worker (stored VEVENTs)             {spread(fresh)}")
    changed, holder = [], [app]
    for _ in range(rounds):
        touch_planning(database_url, holder)
        changed.append(render())
    print(f"  after a planning change (warm)            {spread(changed)}")
    unchanged = [render() for _ in range(rounds)]
    print(f"  nothing changed (warm)                    {spread(unchanged)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=15, help="pure generation rounds")
    parser.add_argument("--generations", type=int, default=15, help="HTTP full generations")
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per client and run")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--workdir", help="scratch directory; its SQLite database is reused")
    parser.add_argument("--database-url", help="scratch database (wiped!); default SQLite in /tmp")
    parser.add_argument("--pure-only", action="store_true", help="skip the HTTP part")
    args = parser.parse_args()
    bench_pure(args.sessions, args.repeat)
    if not args.pure_only:
        bench_http(args)


if __name__ == "__main__":
    main()
