"""Mixed load test: gunicorn with the production settings on PostgreSQL, every module at once.

    flock /tmp/dcc-bench.lock .venv/bin/python benchmarks/bench_load.py \\
        [--scale 1] [--seconds 60] [--clients 8] [--database bench_proof] [--reuse]

1. Loads a scratch PostgreSQL database (``--database``, dropped and created again) with the
   module benchmarks' own generators, at ``--scale`` of their national sizes (1: the sizes of
   the module benchmarks, about 25 minutes of loading on 2 cores; ``--reuse`` skips it when a
   former run loaded the same database at the same scale, keeping its state in
   /tmp/dcc-load-DATABASE):
   planning (benchmarks/bench_planning.populate: RCPs, sessions, registrations and their
   directory rows), the RPPS directory (planning.directory.synthetic.national_lines, imported
   by ``dcc-services directory import-rpps``), trials (benchmarks/bench_trials.load_corpus)
   and guideline referentials (benchmarks/bench_guidelines.populate); then rebuilds both
   search indexes with the CLI.
2. Starts gunicorn with server/gunicorn_conf.py (2 x cores sync workers) and DCC_ENV=production
   (own key and secret, https public URL, pool and statement timeout of .env.example). The feed
   rate limit is raised: every client here shares one address, unlike calendar clients.
3. From one load-generator process (benchmarks/loadgen.py: ``--clients`` requests in flight on
   raw sockets, a new connection per request as calendar clients and RCP software do; a
   fraction of http.client's CPU per request, so that the cores go to the server): first
   ``GET /health/live`` alone for ``--base-seconds`` (the ratio's base), then for
   ``--seconds`` each mix of ``--mix`` (default: "national", then "even"; see MIXES):
   directory name search, regional month of sessions, one session, feed revalidation
   (If-None-Match -> 304), trial search for a fiche, guideline evaluation, registration of
   a dossier. "national" weighs them as a national peak hour does (about
   22 requests/s in all, estimated from the volumes); "even" weighs them about the same,
   which no real day does but which shows the heavy operations' capacity.
4. Prints, per mix, throughput, p50/p95/p99 per operation, errors (any status other than the
   expected one), and the throughput as a ratio of /health/live. Target (issue 9): >= 500
   requests/s overall on 2 cores with no error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
#: In the pseudonyms of the dossiers registered: a run on a reused database repeats the same
#: random choices, and the same dossier on the same session is a duplicate (409).
RUN = f"{int(time.time()) % 100_000:05d}"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_directory  # noqa: E402
import bench_guidelines  # noqa: E402
import bench_planning  # noqa: E402
import bench_trials  # noqa: E402
import loadgen  # noqa: E402
from loadgen import percentile  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.auth import SigningKey, claims_for, mint_token  # noqa: E402
from planning.directory.synthetic import Site, national_lines, rpps_header  # noqa: E402

CLI = [sys.executable, "-c", "from server.cli import main; main()"]
ISSUER = "https://dcc-load.example.fr"
TARGET_RPS = 500
#: Two mixes, operation -> weight. "even": every operation weighs about the same (what the
#: first version of this test ran). "national": the proportions of a national peak hour,
#: estimated from the volumes (requests per second nationally, which sum to about 22/s):
#: 1 M RCP dossiers a year over 250 working days, 15 % of a day in its busiest hour, is
#: 0.17 registrations/s; a guideline evaluation when the dossier is prepared and one at the
#: meeting, 0.33/s; a trial search per dossier, 0.17/s; about ten directory look-ups per
#: dossier (participants, correspondents, as one types), 1.7/s; about five session views,
#: half a month view, 0.8/s; and about 35,000 subscribed calendars (physicians who take part
#: in RCPs, 3C staff), which their calendar clients revalidate every 30 minutes, 19/s.
MIXES = {
    "even": {
        "directory search": 3,
        "sessions month": 2,
        "session": 2,
        "feed 304": 3,
        "trial search": 1,
        "guideline evaluation": 2,
        "registration": 1,
    },
    "national": {
        "directory search": 1.7,
        "sessions month": 0.4,
        "session": 0.4,
        "feed 304": 19.0,
        "trial search": 0.17,
        "guideline evaluation": 0.33,
        "registration": 0.17,
    },
}
EXPECTED = {"feed 304": 304, "registration": 201}
#: National sizes of the module benchmarks, multiplied by --scale.
NATIONAL = {
    "rcps": 3000,
    "sessions": 55_000,
    "registrations": 1_000_000,
    "professionals": 1_200_000,
    "trials": 100_000,
    "referentials": 1_000,
}
#: Decision-tree nodes per referential (benchmarks/bench_guidelines.py's default).
GUIDELINE_NODES = 50


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:6])} failed: {done.stdout[-800:]} {done.stderr[-2000:]}")
    return done.stdout


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    if not str(parsed.database).startswith("bench_"):
        raise SystemExit("the load test drops its database: give a bench_* name")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def load(url: str, env: dict[str, str], work: Path, sizes: dict[str, int]) -> dict[str, Any]:
    run(*CLI, "db", "upgrade", env=env)
    started = time.perf_counter()
    planning = bench_planning.populate(
        url, rcps=sizes["rcps"], sessions=sizes["sessions"], registrations=sizes["registrations"]
    )
    print(f"  planning: {planning['rows']} in {time.perf_counter() - started:.0f} s", flush=True)

    started = time.perf_counter()
    rng = random.Random(2026)
    places = bench_directory.establishments(200, rng)
    sites = [
        Site(p["finess"], p["finess_ej"], p["name"], p["street"], p["postal_code"], p["city"],
             p["department"])
        for p in places
    ]  # fmt: skip
    extraction = work / "PS_LibreAcces_Personne_activite_load.txt"
    samples: list[str] = []
    with extraction.open("w", encoding="utf-8") as handle:
        handle.write(rpps_header() + "\n")
        for n, line in enumerate(
            national_lines(rng, professionals=sizes["professionals"], sites=sites)
        ):
            handle.write(line + "\n")
            if n % 97 == 0:
                fields = line.split("|", 9)
                samples.append(f"{fields[7]}|{fields[8]}")
    run(*CLI, "directory", "import-rpps", "--keep-missing", str(extraction), env=env)
    print(
        f"  directory: {sizes['professionals']} professionals imported "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    started = time.perf_counter()
    from core.db import db
    from server.app import create_app

    app = create_app(
        env="development",
        database_url=url,
        instance_dir=work,
        index_dir=work / "index",
        signing_key_file=work / "signing-key.pem",
        log_level="WARNING",
    )
    bench_trials.load_corpus(app, sizes["trials"])
    with app.app_context():
        bench_guidelines.populate(url, sizes["referentials"], GUIDELINE_NODES, 5)
    db.session.remove()
    run(*CLI, "trials", "reindex", env=env)
    run(*CLI, "guidelines", "reindex", env=env)
    print(
        f"  trials {sizes['trials']} and referentials {sizes['referentials']} loaded and "
        f"indexed in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return {"planning": planning, "samples": samples}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = dict(headers or {})
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def request_for(op: str, plan: dict[str, Any], rng: random.Random, seed: int, serial: int):
    admin = plan["admin"]
    if op == "directory search":
        return (
            "GET",
            f"/directory/practitioners?name={quote(rng.choice(plan['queries']))}&page_size=20",
            None,
            admin,
        )
    if op == "sessions month":
        region = rng.choice(plan["regions"])
        start = rng.choice(plan["months"])
        end = (start + dt.timedelta(days=32)).replace(day=1)
        path = f"/planning/sessions?region={region}&from={start:%Y-%m-%d}&to={end:%Y-%m-%d}"
        return "GET", path, None, admin
    if op == "session":
        return "GET", f"/planning/sessions/{rng.choice(plan['sessions'])}", None, admin
    if op == "feed 304":
        path, etag = rng.choice(plan["feeds"])
        return "GET", path, None, {"If-None-Match": etag}
    if op == "trial search":
        return "POST", "/trials/search", {"fiche": rng.choice(plan["trial_fiches"])}, admin
    if op == "guideline evaluation":
        return "POST", "/guidelines/evaluate", rng.choice(plan["cases"]), admin
    session_id = rng.choice(plan["open_sessions"])
    body = {
        "patient_ref": f"LOAD-{RUN}-{seed:02d}-{serial:06d}",
        "tumour_code": "C18",
        "question": "Chirurgie première ?",
        "phase": "initial",
    }
    return (
        "POST",
        f"/planning/sessions/{session_id}/registrations",
        body,
        rng.choice(plan["physicians"]),
    )


def mix_requests(plan: dict[str, Any], mix: str, seed: int):
    """``next_request`` for loadgen: operations drawn by the mix's weights, and the
    ``on_answer`` hook that keeps each feed's latest ETag (registrations change feeds)."""
    rng = random.Random(seed)
    ops, weights = list(MIXES[mix]), list(MIXES[mix].values())
    etags = dict(plan["feeds"])
    changed = Counter()

    def next_request(client: int, serial: int) -> loadgen.Request:
        op = rng.choices(ops, weights)[0]
        if op == "feed 304":  # a calendar client sends the ETag it last received
            path = rng.choice(plan["feed_paths"])
            return loadgen.Request(
                op, loadgen.build("GET", path, {"If-None-Match": etags[path]}), path
            )
        method, path, body, headers = request_for(op, plan, rng, seed, serial)
        payload = json.dumps(body).encode() if body is not None else None
        if payload is not None:
            headers = {**headers, "Content-Type": "application/json"}
        return loadgen.Request(op, loadgen.build(method, path, headers, payload))

    def on_answer(request: loadgen.Request, status: str, headers: dict[str, str]) -> None:
        if request.op == "feed 304" and status == "200":
            etags[request.meta] = headers["etag"]
            changed["feeds"] += 1

    return next_request, on_answer, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--base-seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database", default="bench_proof")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the database a former run loaded"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="gunicorn workers (default: the production 2 per core)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads per worker (default: the production setting)",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="load the database and stop (measure later with --reuse, e.g. under a lock)",
    )
    parser.add_argument(
        "--mix",
        action="append",
        choices=list(MIXES),
        help="workload mix, one phase of --seconds each (default: national, then even)",
    )
    args = parser.parse_args()
    args.mix = args.mix or ["national", "even"]
    sizes = {k: max(10, int(v * args.scale)) for k, v in NATIONAL.items()}
    url = f"{args.pg}/{args.database}"
    print(f"mixed load test on PostgreSQL ({args.database}), scale {args.scale}: {sizes}")
    work = Path(tempfile.gettempdir()) / f"dcc-load-{args.database}"
    state = work / "loaded.json"
    reuse = args.reuse and state.exists() and json.loads(state.read_text())["sizes"] == sizes
    if not reuse:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(exist_ok=True)
    key_path = work / "signing-key.pem"
    key = SigningKey.load_or_create(key_path, create=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
    env.update(
        {
            "DCC_ENV": "production",
            "DCC_DATABASE_URL": url,
            "DCC_INSTANCE_DIR": str(work),
            "DCC_INDEX_DIR": str(work / "index"),
            "DCC_SIGNING_KEY_FILE": str(key_path),
            "DCC_SECRET_KEY": secrets.token_urlsafe(32),
            "DCC_PUBLIC_URL": ISSUER,
            "DCC_LOG_LEVEL": "WARNING",
            "DCC_DB_POOL_SIZE": "5",
            "DCC_DB_STATEMENT_TIMEOUT_MS": "5000",
            "DCC_RATE_LIMIT_FEEDS": "1000000/minute",
        }
    )
    if args.workers:
        env["DCC_WORKERS"] = str(args.workers)
    if args.threads:
        env["DCC_THREADS"] = str(args.threads)
    started = time.perf_counter()
    if reuse:
        data = json.loads(state.read_text())["data"]
        run(*CLI, "db", "upgrade", env=env)
        print(f"reusing the database loaded by a former run ({state})", flush=True)
    else:
        recreate_database(url)
        data = load(url, env, work, sizes)
        state.write_text(json.dumps({"sizes": sizes, "data": data}))
        print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    if args.load_only:
        return
    # What autovacuum does within minutes of a bulk load in production: planner statistics
    # and visibility maps; without them PostgreSQL plans on empty-table estimates.
    started = time.perf_counter()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s", flush=True)

    def token(**claims: Any) -> dict[str, str]:
        minted = mint_token(key, issuer=ISSUER, audience="dcc-services", ttl=7200,
                            client_id="load", extra=claims_for(**claims))  # fmt: skip
        return {"Authorization": f"Bearer {minted}"}

    rng = random.Random(1)
    planning = data["planning"]
    now = dt.datetime.now(dt.UTC)
    plan: dict[str, Any] = {
        "admin": token(role="national_admin", subject="load-admin"),
        "queries": bench_directory.queries(data["samples"], 500, rng),
        "regions": planning["regions"],
        "months": [(now + dt.timedelta(days=30 * m)).replace(day=1).date() for m in range(-3, 4)],
        "open_sessions": planning["open_sessions"],
        "physicians": [
            token(role="physician", rpps=r, subject=r)
            for r in rng.sample(planning["physicians"], 50)
        ],
        "trial_fiches": bench_trials.fiches(100),
        "cases": bench_guidelines.fiches(random.Random(3), 100),
    }
    port = free_port()
    log_path = work / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf",
             "--bind", f"127.0.0.1:{port}", "server.wsgi:app"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(300):
            try:
                if call(port, "GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"gunicorn not ready: {log_path.read_text()[-2000:]}")
        plan["sessions"] = rng.sample(
            planning["open_sessions"], min(500, len(planning["open_sessions"]))
        )
        plan["feeds"] = []
        for region in planning["regions"][:5]:
            feed = {"scope": "region", "region": region}
            status, _, body = call(port, "POST", "/planning/feeds", feed, plan["admin"])
            assert status == 201, body
            path = "/" + json.loads(body)["url"].split("/", 3)[3]
            status, headers, _ = call(port, "GET", path)
            assert status == 200, status
            plan["feeds"].append((path, headers["ETag"]))
        plan["feed_paths"] = [path for path, _ in plan["feeds"]]
        for _ in range(20):  # warm every worker
            call(port, "GET", "/health/live")
        print(f"uptime before: {run('uptime').strip()}", flush=True)
        live = loadgen.Request("/health/live", loadgen.build("GET", "/health/live"))
        results: dict[str, Any] = {
            "/health/live": loadgen.run_phase(
                port, lambda client, serial: live, concurrency=args.clients,
                seconds=args.base_seconds,
            )
        }  # fmt: skip
        changed: dict[str, int] = {}
        for seed, name in enumerate(args.mix):
            next_request, on_answer, counter = mix_requests(plan, name, seed)
            results[name] = loadgen.run_phase(
                port, next_request, concurrency=args.clients, seconds=args.seconds,
                on_answer=on_answer,
            )  # fmt: skip
            changed[name] = counter["feeds"]
        print(f"uptime after: {run('uptime').strip()}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(results, changed, args, log_path)


def report(
    results: dict[str, Any], changed: dict[str, int], args: argparse.Namespace, log_path: Path
) -> None:
    base = results["/health/live"]
    live = base.latencies["/health/live"]
    live_rps = len(live) / args.base_seconds
    print(
        f"\n/health/live alone: {live_rps:,.0f} req/s (p50 {percentile(live, 0.5) * 1000:.1f} ms, "
        f"statuses {dict(base.statuses['/health/live'])}); the load generator used "
        f"{base.cpu_seconds / args.base_seconds:.2f} of the 2 cores"
    )
    verdicts = []
    for name in args.mix:
        phase = results[name]
        total = phase.requests
        rps = total / args.seconds
        print(f"\n{name} mix: {total} requests in {args.seconds:.0f} s = {rps:,.0f} req/s "
              f"= {rps / live_rps:.0%} of /health/live, {args.clients} connections; the load "
              f"generator used {phase.cpu_seconds / args.seconds:.2f} cores")  # fmt: skip
        print(
            f"{'operation':22} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p99 ms':>7}"
        )
        errors: Counter[str] = Counter()
        for op in MIXES[name]:
            values = phase.latencies.get(op, [])
            print(
                f"{op:22} {len(values):8} {len(values) / args.seconds:7.1f} "
                f"{percentile(values, 0.5) * 1000:7.1f} {percentile(values, 0.95) * 1000:7.1f} "
                f"{percentile(values, 0.99) * 1000:7.1f}"
            )
            expected = {str(EXPECTED.get(op, 200))}
            if op == "feed 304":
                expected.add("200")  # a registration changed the feed: its new version
            for status, count in phase.statuses.get(op, {}).items():
                if status not in expected:
                    errors[f"{op}: {status}"] += count
        print(f"feed revalidations answered 200 with a new version (registrations changed it): "
              f"{changed[name]}")  # fmt: skip
        error_count = sum(errors.values())
        print(f"errors: {error_count} {dict(errors) if errors else ''}")
        ok = rps >= TARGET_RPS and not error_count
        verdicts.append(f"{name} mix {'MET' if ok else 'MISSED'}")
    print(f"\nserver log: {log_path.read_text(errors='replace').count('Traceback')} tracebacks")
    print(f"target >= {TARGET_RPS} req/s with no error: {', '.join(verdicts)}")


if __name__ == "__main__":
    main()
