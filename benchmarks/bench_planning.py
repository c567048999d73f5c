"""Benchmark of RCP planning at national scale: views and registrations over HTTP.

A national year (by default 3,000 RCPs, 55,000 sessions, 1,000,000 registrations, with their
directory) is bulk-loaded into a scratch database, gunicorn serves it with 2 workers on a free
port, and this process loads it. Printed figures are ratios against the trivial endpoint
``GET /health/live`` of the same server in the same run:

- p50/p95 latency of a regional month view (``/planning/sessions?region=&from=&to=``) and of a
  practitioner's upcoming sessions (``?practitioner=&from=now``), one request at a time;
- registration throughput (``POST /planning/sessions/{id}/registrations``) with N concurrent
  clients, against /health/live with the same clients for the same time, in alternated short
  rounds (the ratio is the median of the rounds' ratios).

    .venv/bin/python benchmarks/bench_planning.py                       # SQLite, full scale
    .venv/bin/python benchmarks/bench_planning.py --scale 0.1           # a tenth
    .venv/bin/python benchmarks/bench_planning.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_planning_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from sqlalchemy import bindparam, insert, text

from core.auth import SigningKey, claims_for, mint_token
from core.db import make_engine
from core.terminology import geo
from planning import kinds
from planning.directory.models import (
    Organization,
    Practitioner,
    PractitionerActivity,
)
from planning.models import (
    Rcp,
    Registration,
    RegistrationEvent,
    Session,
    SessionParticipant,
)
from planning.recurrence import PARIS
from server.dbcheck import reset_database
from server.migrations_state import alembic_config

ISSUER = "http://bench.local"
SPECIALTIES = ["SM36", "SM01", "SM44", "SM45", "SM14", "SM18", "SM28", "SM24", "SM12", "SM41"]
BATCH = 20_000


# --- data ---------------------------------------------------------------------------------


def populate(url: str, *, rcps: int, sessions: int, registrations: int, seed: int = 1) -> dict:
    """Bulk-load a national year; returns what the load phase needs to know."""
    rng = random.Random(seed)
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    departments = [d for d in geo.DEPARTMENTS.values() if len(d.code) == 2]
    kind_codes = list(kinds.catalogue())
    n_orgs = max(10, rcps // 5)
    staff_per_org = 15
    orgs, practitioners, activities = [], [], []
    teams: dict[str, list[tuple[str, str]]] = {}
    pid = 0
    for i in range(n_orgs):
        dep = departments[i % len(departments)]
        finess = f"{dep.code}{i:07d}"
        orgs.append(
            {
                "id": i + 1, "finess": finess, "kind": "ET", "name": f"CH BENCH {i}",
                "name_key": f"ch bench {i}", "category_code": "101", "department": dep.code,
                "region": dep.region, "lat": dep.lat + rng.uniform(-0.2, 0.2),
                "lon": dep.lon + rng.uniform(-0.2, 0.2), "city": dep.prefecture,
                "active": True, "source": "etalab", "fingerprint": "bench",
            }
        )  # fmt: skip
        team = []
        for j in range(staff_per_org):
            pid += 1
            rpps = f"1{pid:010d}"
            specialty = SPECIALTIES[j % len(SPECIALTIES)]
            practitioners.append(
                {
                    "id": pid, "national_id": "8" + rpps, "id_type": "8", "rpps": rpps,
                    "last_name": f"NOM{pid}", "first_name": "Camille",
                    "name_key": f"nom{pid} camille", "active": True, "fingerprint": "bench",
                }
            )  # fmt: skip
            activities.append(
                {
                    "practitioner_id": pid, "activity_key": f"b{pid}", "profession_code": "10",
                    "specialty_code": specialty, "specialty_label": specialty,
                    "finess_site": finess, "department": dep.code, "region": dep.region,
                    "active": True,
                }
            )  # fmt: skip
            team.append((rpps, specialty))
        teams[finess] = team
    rcp_rows, member_region = [], {}
    first_day = (now - dt.timedelta(days=183)).date()
    for r in range(rcps):
        org = orgs[rng.randrange(n_orgs)]
        team = teams[org["finess"]]
        rcp_rows.append(
            {
                "id": r + 1, "title": f"RCP bench {r}", "kind_code": rng.choice(kind_codes),
                "level": "local", "host_finess": org["finess"], "three_c": "3C bench",
                "region": org["region"], "department": org["department"],
                "coordinator_rpps": team[0][0], "substitute_rpps": team[1][0],
                "min_physicians": 3, "min_distinct_specialties": 3,
                "required_specialties": ["SM01"], "geriatrician_over_75": False,
                "place_finess": org["finess"], "room": "Salle 1",
                "visio_url": "https://visio.example/x" if r % 3 else None,
                "rrule": "FREQ=WEEKLY;BYDAY=TU", "recurrence_start": first_day,
                "start_time": dt.time(14), "duration_minutes": 120, "exdates": [],
                "deadline_hours": 48, "capacity": 40, "open_to_external": True, "active": True,
                "created_at": now, "updated_at": now,
            }
        )  # fmt: skip
        member_region[r + 1] = (org["finess"], team)
    per_rcp = max(1, sessions // rcps)
    session_rows, participant_rows = [], []
    sid = 0
    for rcp in rcp_rows:
        finess, team = member_region[rcp["id"]]
        start_day = (now - dt.timedelta(days=183)).date()
        step = max(1, 365 // per_rcp)
        for k in range(per_rcp):
            sid += 1
            day = start_day + dt.timedelta(days=k * step + rng.randrange(step))
            starts = dt.datetime.combine(day, dt.time(14), tzinfo=PARIS).astimezone(dt.UTC)
            session_rows.append(
                {
                    "id": sid, "rcp_id": rcp["id"], "occurrence_date": day, "starts_at": starts,
                    "ends_at": starts + dt.timedelta(hours=2), "status": "scheduled",
                    "revision": 1, "edited": False, "place_finess": finess, "room": "Salle 1",
                    "visio_url": rcp["visio_url"],
                    "registration_deadline": starts - dt.timedelta(hours=48), "capacity": 40,
                    "registered_count": 0, "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            for index, (rpps, specialty) in enumerate(team[:6]):
                participant_rows.append(
                    {
                        "session_id": sid, "rpps": rpps, "specialty_code": specialty,
                        "role": "coordinator" if index == 0 else "member",
                    }
                )  # fmt: skip
    all_rpps = [p["rpps"] for p in practitioners]
    counts = [0] * (sid + 1)
    registration_rows, event_rows = [], []
    per_session = registrations / max(sid, 1)
    rid = 0
    with engine.begin() as conn:
        for table, rows in (
            (Organization.__table__, orgs),
            (Practitioner.__table__, practitioners),
            (PractitionerActivity.__table__, activities),
            (Rcp.__table__, rcp_rows),
            (Session.__table__, session_rows),
            (SessionParticipant.__table__, participant_rows),
        ):
            for start in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[start : start + BATCH])
        for session in session_rows:
            past = session["starts_at"] < now
            n = min(int(per_session) + (rng.random() < per_session % 1), 38)
            for _ in range(n):
                rid += 1
                status = (
                    rng.choices(["accepted", "refused", "deferred"], [90, 5, 5])[0]
                    if past
                    else rng.choices(["proposed", "accepted", "withdrawn"], [60, 35, 5])[0]
                )
                if status in ("proposed", "accepted"):
                    counts[session["id"]] += 1
                registration_rows.append(
                    {
                        "id": rid, "session_id": session["id"],
                        "registering_rpps": rng.choice(all_rpps), "client_id": None,
                        "patient_ref": f"BENCH-{rid:08d}", "tumour_code": "C50.9",
                        "question": "Traitement adjuvant ?", "phase": "initial",
                        "patient_over_75": False, "status": status,
                        "created_at": now, "updated_at": now,
                    }
                )  # fmt: skip
                event_rows.append(
                    {
                        "registration_id": rid, "at": now, "from_status": None,
                        "to_status": status, "actor_subject": "bench", "actor_role": "physician",
                    }
                )  # fmt: skip
            if len(registration_rows) >= BATCH:
                conn.execute(insert(Registration.__table__), registration_rows)
                conn.execute(insert(RegistrationEvent.__table__), event_rows)
                registration_rows, event_rows = [], []
        if registration_rows:
            conn.execute(insert(Registration.__table__), registration_rows)
            conn.execute(insert(RegistrationEvent.__table__), event_rows)
        conn.execute(
            Session.__table__.update().where(Session.__table__.c.id == bindparam("sid")),
            [{"sid": i, "registered_count": c} for i, c in enumerate(counts) if c],
        )
        if engine.dialect.name == "postgresql":
            # rows came with explicit ids: move the sequences past them
            for table in (
                "directory_organization",
                "directory_practitioner",
                "planning_rcp",
                "planning_session",
                "planning_registration",
            ):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                ))  # fmt: skip
            for table in (
                "planning_session",
                "planning_rcp",
                "planning_session_participant",
                "planning_registration",
                "directory_practitioner",
                "directory_organization",
                "directory_practitioner_activity",
            ):
                conn.execute(text(f"ANALYZE {table}"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    open_sessions = [
        s["id"]
        for s in session_rows
        if s["registration_deadline"] > now + dt.timedelta(hours=1)
        and counts[s["id"]] < s["capacity"] - 5
    ]
    regions = sorted({o["region"] for o in orgs})
    return {
        "regions": regions,
        "rpps": [p["rpps"] for p in participant_rows[:: max(1, len(participant_rows) // 2000)]],
        "open_sessions": open_sessions,
        "physicians": all_rpps,
        "rows": {
            "organizations": len(orgs), "practitioners": len(practitioners),
            "rcps": len(rcp_rows), "sessions": len(session_rows),
            "participants": len(participant_rows), "registrations": rid,
        },
    }  # fmt: skip


# --- server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    url: str, instance: Path, port: int, workers: int, threads: int = 1
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DCC_DATABASE_URL": url,
        "DCC_INSTANCE_DIR": str(instance),
        "DCC_ISSUER": ISSUER,
        "DCC_LOG_LEVEL": "WARNING",
        "DCC_ENV": "development",
        "DCC_THREADS": str(threads),  # > 1: gthread workers (server/gunicorn_conf.py)
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--max-requests", "0",  # no recycling mid-measure (production recycles every 10,000)
         "server.wsgi:app"],
        env=env, cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/health/live")[0] == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def request(
    port: int, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Connection": "close"}
    payload = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- measures -----------------------------------------------------------------------------


def latencies(port: int, make_path, count: int, token: str | None, max_s: float) -> dict:
    times, statuses = [], {}
    started = time.monotonic()
    for i in range(count):
        path = make_path(i)
        t0 = time.perf_counter()
        status, _ = request(port, "GET", path, token=token)
        times.append((time.perf_counter() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if time.monotonic() - started > max_s:
            break
    times.sort()
    return {
        "n": len(times),
        "p50": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "statuses": statuses,
    }


def cpu_seconds() -> dict[str, float]:
    """CPU time so far of this process (the clients), gunicorn and PostgreSQL processes."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"clients": 0.0, "gunicorn": 0.0, "postgresql": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(pid) == os.getpid():
            totals["clients"] += used
        elif b"gunicorn" in cmdline:
            totals["gunicorn"] += used
        elif stat.split(" (", 1)[1].startswith("postgres"):
            totals["postgresql"] += used
    return totals


def merged(measures: list[dict]) -> dict:
    """Several rounds of one throughput measure as one."""
    statuses: dict[int, int] = {}
    for m in measures:
        for status, count in m["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    n, elapsed = sum(m["n"] for m in measures), sum(m["elapsed"] for m in measures)
    cpu = {k: sum(m["cpu"][k] for m in measures) for k in measures[0]["cpu"]}
    return {"rps": n / elapsed, "n": n, "statuses": statuses, "elapsed": elapsed, "cpu": cpu}


def throughput(port: int, job, clients: int, seconds: float, max_requests: int) -> dict:
    done, statuses, lock = [0], {}, threading.Lock()
    cpu_before = cpu_seconds()
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        n = 0
        while time.monotonic() < stop and done[0] < max_requests:
            status = job(index, n)
            n += 1
            with lock:
                done[0] += 1
                statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = {k: v - cpu_before[k] for k, v in cpu_seconds().items()}
    return {"rps": done[0] / elapsed, "n": done[0], "statuses": statuses, "elapsed": elapsed,
            "cpu": cpu}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the three sizes")
    parser.add_argument("--rcps", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=55_000)
    parser.add_argument("--registrations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="per latency measure")
    parser.add_argument(
        "--seconds", type=float, default=30, help="per throughput measure, all rounds together"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternated throughput rounds")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=2,
        help="gunicorn workers (production default: 2 per core, server/gunicorn_conf.py)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (> 1: gthread workers)"
    )
    parser.add_argument("--workdir", default="/tmp/bench_planning")  # noqa: S108 - scratch
    parser.add_argument(
        "--reuse", action="store_true",
        help="measure the database a previous run of the same workdir loaded (no reload)",
    )  # fmt: skip
    args = parser.parse_args()

    workdir = Path(args.workdir)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    saved = workdir / "data.json"
    if args.reuse and saved.exists():
        data = json.loads(saved.read_text())
        command.upgrade(alembic_config(url), "head")  # the code measured may have migrations
        print(f"database: {url.split('@')[-1]}; reused: {data['rows']}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        sizes = {
            "rcps": max(10, int(args.rcps * args.scale)),
            "sessions": max(50, int(args.sessions * args.scale)),
            "registrations": max(100, int(args.registrations * args.scale)),
        }
        print(f"database: {url.split('@')[-1]}; target sizes: {sizes}")
        reset_database(url)
        command.upgrade(alembic_config(url), "head")
        t0 = time.perf_counter()
        data = populate(url, **sizes)
        print(f"loaded in {time.perf_counter() - t0:.0f} s: {data['rows']}")
        saved.write_text(json.dumps(data))
    if url.startswith("postgresql"):
        # What autovacuum does within minutes of a bulk load in production: planner statistics
        # and the visibility map (index-only scans) for the tables just filled.
        t0 = time.perf_counter()
        engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        print(f"VACUUM ANALYZE in {time.perf_counter() - t0:.0f} s")

    key = SigningKey.load_or_create(workdir / "signing-key.pem", create=True)

    def token(**claims: Any) -> str:
        return mint_token(key, issuer=ISSUER, audience="dcc-services", ttl=3600,
                          client_id="bench", extra=claims_for(**claims))  # fmt: skip

    admin = token(role="national_admin", subject="bench-admin")
    physician_tokens = [
        token(role="physician", rpps=rpps, subject=rpps)
        for rpps in random.sample(data["physicians"], 50)
    ]
    port = free_port()
    server = start_server(url, workdir, port, args.workers, args.threads)
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    months = [(now + dt.timedelta(days=30 * m)).replace(day=1) for m in range(-5, 6)]
    try:
        for _ in range(20):  # warm both workers
            request(port, "GET", "/health/live")
            request(port, "GET", f"/planning/sessions?region={data['regions'][0]}", token=admin)
        live = latencies(port, lambda i: "/health/live", args.requests, None, 60)

        def month_view(i: int) -> str:
            start = rng.choice(months)
            end = (start + dt.timedelta(days=32)).replace(day=1)
            region = rng.choice(data["regions"])
            return (f"/planning/sessions?region={region}&from={start.date()}T00:00:00Z"
                    f"&to={end.date()}T00:00:00Z&page_size=50")  # fmt: skip

        def upcoming(i: int) -> str:
            return (f"/planning/sessions?practitioner={rng.choice(data['rpps'])}"
                    f"&from={now.strftime('%Y-%m-%dT%H:%M:%SZ')}&page_size=20")  # fmt: skip

        regional = latencies(port, month_view, args.requests, admin, 120)
        practitioner = latencies(port, upcoming, args.requests, admin, 120)

        def live_job(index: int, n: int) -> int:
            return request(port, "GET", "/health/live")[0]

        run_tag = f"{int(time.time()) % 100_000:05d}"  # a rerun with --reuse repeats no pseudonym

        def register_job(index: int, n: int) -> int:
            session_id = rng.choice(data["open_sessions"])
            body = {"patient_ref": f"LOAD-{run_tag}-{index:02d}-{n:07d}", "tumour_code": "C18.7",
                    "question": "Chirurgie ?", "phase": "initial"}  # fmt: skip
            tok = physician_tokens[(index * 7 + n) % len(physician_tokens)]
            return request(port, "POST", f"/planning/sessions/{session_id}/registrations",
                           body, tok)[0]  # fmt: skip

        # Alternate short rounds of both measures: this machine's speed drifts by up to a
        # quarter within a minute, and one long measure of each would charge the drift to the
        # ratio. Each round's ratio is printed; the figure is their median.
        rounds = []
        for _ in range(args.rounds):
            live_round = throughput(port, live_job, args.clients, args.seconds / args.rounds,
                                    100_000)  # fmt: skip
            register_round = throughput(port, register_job, args.clients,
                                        args.seconds / args.rounds, 20_000)  # fmt: skip
            rounds.append((live_round, register_round))
        live_rps, register_rps = merged([r[0] for r in rounds]), merged([r[1] for r in rounds])
        ratios = sorted(r[1]["rps"] / r[0]["rps"] for r in rounds)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    def line(name: str, m: dict) -> str:
        return (f"{name:<34} p50 {m['p50']:7.1f} ms ({m['p50'] / live['p50']:5.1f}x)   "
                f"p95 {m['p95']:7.1f} ms ({m['p95'] / live['p95']:5.1f}x)   n={m['n']} "
                f"{m['statuses']}")  # fmt: skip

    print()
    print(f"baseline GET /health/live          p50 {live['p50']:7.1f} ms          "
          f"p95 {live['p95']:7.1f} ms          n={live['n']}")  # fmt: skip
    print(line("regional month view", regional))
    print(line("practitioner's upcoming sessions", practitioner))
    ratio = statistics.median(ratios)
    print(f"throughput with {args.clients} clients: /health/live {live_rps['rps']:.0f} req/s; "
          f"registrations {register_rps['rps']:.0f} req/s = {ratio:.0%} of baseline "
          f"(median of {len(ratios)} alternated rounds: "
          f"{', '.join(f'{r:.0%}' for r in ratios)}) {register_rps['statuses']}")  # fmt: skip
    for name, m in (("/health/live", live_rps), ("registrations", register_rps)):
        per_request = ", ".join(
            f"{k} {v / max(1, m['n']) * 1000:.2f} ms" for k, v in m["cpu"].items()
        )
        busy = sum(m["cpu"].values()) / m["elapsed"]
        print(f"  CPU per request, {name}: {per_request} (cores busy: {busy:.2f} of "
              f"{os.cpu_count()})")  # fmt: skip
    print(f"targets: views p95 < 50 ms -> regional {'OK' if regional['p95'] < 50 else 'MISSED'}, "
          f"practitioner {'OK' if practitioner['p95'] < 50 else 'MISSED'}; "
          f"registrations >= 30% -> {'OK' if ratio >= 0.3 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
