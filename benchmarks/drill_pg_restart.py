"""Fault drill: PostgreSQL restarted under load; requests fail fast with 503 and service recovers.

    flock /tmp/dcc-bench.lock .venv/bin/python benchmarks/drill_pg_restart.py
        [--seconds 30] [--restart-at 10] [--clients 8] [--port 5499]

1. Uses a PostgreSQL cluster of its own (``pg_createcluster <version> dcc_drill -p 5499``,
   created on first use, trust authentication on 127.0.0.1): restarting the shared cluster
   would break every other user of the machine. Database ``bench_drill`` (wiped).
2. Migrates it, loads the demo trials and referentials, and starts gunicorn with the production
   settings (server/gunicorn_conf.py: 2 x cores workers; DCC_ENV=production with its own key,
   secret and https URL; pool and statement timeout of .env.example).
3. ``--clients`` threads loop over a mixed read workload (trial search, sessions, referential
   search, organisations, readiness, liveness) for ``--seconds``; after ``--restart-at``
   seconds ``pg_ctlcluster <version> dcc_drill restart`` runs (fast shutdown: every pooled
   connection dies).
4. Prints, per phase (before, during, after the restart), requests, statuses and latencies, the
   longest request, the time the service took to answer 2xx again, and checks: no request over
   5 s, every failure a 503 problem+json (no 500, no reset connection), recovery on its own.
   Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from server.cli import main; main()"]
CLUSTER = "dcc_drill"
DATABASE = "bench_drill"
FAIL_FAST_S = 5.0
FICHE = {
    "age": 64,
    "sex": "female",
    "performance_status": 1,
    "diagnosis": {"text": "non-small cell lung cancer"},
    "biomarkers": [{"name": "EGFR", "alteration": "exon 19 deletion"}],
}
#: (name, method, path, body): database and index reads, and the health endpoints.
WORKLOAD = [
    ("trial search", "POST", "/trials/search", json.dumps({"fiche": FICHE}).encode()),
    ("sessions", "GET", "/planning/sessions?page_size=20", None),
    ("referentials", "GET", "/guidelines/referentials?q=poumon", None),
    ("organisations", "GET", "/directory/organizations?name=centre", None),
    ("ready", "GET", "/health/ready", None),
    ("live", "GET", "/health/live", None),
]


@dataclass
class Result:
    op: str
    started: float
    seconds: float
    status: int  # 0: no HTTP answer (connection refused, reset or timeout)
    problem: bool
    error: str = ""


def run(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if check and done.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    return done.stdout


def pg_version() -> str:
    for line in run("pg_lsclusters", "--no-header").splitlines():
        return line.split()[0]
    raise SystemExit("no PostgreSQL cluster on this machine")


def ensure_cluster(version: str, port: int) -> None:
    clusters = run("pg_lsclusters", "--no-header")
    if not any(line.split()[:2] == [version, CLUSTER] for line in clusters.splitlines()):
        run(
            "pg_createcluster", version, CLUSTER, "-p", str(port),
            "--", "--auth=trust", "--auth-local=trust",
        )  # fmt: skip
    if "online" not in run("pg_lsclusters", version, CLUSTER, "--no-header"):
        run("pg_ctlcluster", version, CLUSTER, "start")
    for _ in range(50):
        if "accepting" in run("pg_isready", "-h", "127.0.0.1", "-p", str(port), check=False):
            return
        time.sleep(0.2)
    raise SystemExit("the drill cluster does not accept connections")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Content-Type", "")
    finally:
        connection.close()


def client_loop(port: int, headers: dict[str, str], stop: float, out: list[Result], seed: int):
    turn = seed
    while time.monotonic() < stop:
        op, method, path, body = WORKLOAD[turn % len(WORKLOAD)]
        turn += 1
        started = time.monotonic()
        try:
            status, content_type = request(port, method, path, body, headers)
            result = Result(
                op, started, time.monotonic() - started, status, "problem+json" in content_type
            )
        except OSError as error:
            result = Result(op, started, time.monotonic() - started, 0, False, type(error).__name__)
        out.append(result)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--restart-at", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=5499, help="port of the drill cluster")
    args = parser.parse_args()
    version = pg_version()
    ensure_cluster(version, args.port)
    admin = ["psql", "-h", "127.0.0.1", "-p", str(args.port), "-U", "postgres", "-q", "-c"]
    run(*admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    run(*admin, f"CREATE DATABASE {DATABASE}")

    work = Path(tempfile.mkdtemp(prefix="dcc-drill-pg-"))
    key = work / "signing-key.pem"
    run("openssl", "genrsa", "-out", str(key), "2048")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
    env.update(
        {
            "DCC_ENV": "production",
            "DCC_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/{DATABASE}",
            "DCC_INSTANCE_DIR": str(work),
            "DCC_SIGNING_KEY_FILE": str(key),
            "DCC_SECRET_KEY": secrets.token_urlsafe(32),
            "DCC_PUBLIC_URL": "https://dcc.example.fr",
            "DCC_LOG_LEVEL": "WARNING",
            "DCC_DB_POOL_SIZE": "5",
            "DCC_DB_STATEMENT_TIMEOUT_MS": "5000",
        }
    )
    run(*CLI, "db", "upgrade", env=env)
    run(*CLI, "trials", "import", str(REPO / "trials" / "demo_data"), env=env)
    run(*CLI, "trials", "reindex", env=env)
    demo = sorted(str(p) for p in (REPO / "guidelines" / "demo_data").glob("*.json"))
    run(*CLI, "guidelines", "import", *demo, env=env)
    token = run(*CLI, "token", "--role", "national_admin", env=env).strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    port = free_port()
    log_path = work / "gunicorn.log"
    gunicorn_args = ["-c", "python:server.gunicorn_conf", "--bind", f"127.0.0.1:{port}"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *gunicorn_args, "server.wsgi:app"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(150):
            try:
                if request(port, "GET", "/health/ready", None, {})[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"gunicorn did not get ready: {log_path.read_text()[-2000:]}")
        print(f"uptime before: {run('uptime').strip()}")
        results: list[Result] = []
        start = time.monotonic()
        stop = start + args.seconds
        threads = [
            threading.Thread(target=client_loop, args=(port, headers, stop, results, n))
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.restart_at)
        restart_began = time.monotonic()
        run("pg_ctlcluster", version, CLUSTER, "restart")
        restart_ended = time.monotonic()
        for thread in threads:
            thread.join()
        print(f"uptime after: {run('uptime').strip()}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(results, start, restart_began, restart_ended, log_path)


def report(results: list[Result], start: float, began: float, ended: float, log_path: Path) -> None:
    print(
        f"\n{len(results)} requests; PostgreSQL restart from {began - start:.1f} s "
        f"to {ended - start:.1f} s ({ended - began:.1f} s)"
    )
    print("timeline (second: statuses; 0 = no HTTP answer):")
    for second in range(int(max(r.started for r in results) - start) + 1):
        rows = [r for r in results if second <= r.started - start < second + 1]
        statuses = Counter(r.status for r in rows)
        longest = max((r.seconds for r in rows), default=0)
        print(f"  {second:3d} s  {dict(sorted(statuses.items()))}  longest {longest:.2f} s")
    failures = [r for r in results if r.status != 200]
    last_failure = max((r.started + r.seconds for r in failures), default=None)
    run_end = max(r.started + r.seconds for r in results)
    after = [r for r in results if last_failure is None or r.started > last_failure]
    seconds = [r.seconds for r in results]
    print(
        f"latency over the run: p50 {percentile(seconds, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(seconds, 0.99) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms; "
        f"{len(failures)} failures ({len(failures) / len(results):.1%})"
    )
    # /health/ready answers its own JSON document (the failing checks), the API problem+json
    bad = [r for r in failures if not (r.status == 503 and (r.problem or r.op == "ready"))]
    slow = [r for r in results if r.seconds > FAIL_FAST_S]
    recovery = (
        "no request failed"
        if last_failure is None
        else f"last failure {last_failure - ended:+.1f} s after the restart command returned, "
        f"then {len(after)} requests all 200 for {run_end - last_failure:.1f} s"
    )
    checks = {
        f"no request over {FAIL_FAST_S:.0f} s (longest {max(seconds):.2f} s)": not slow,
        f"every failure is a 503 problem+json ({len(failures)} failures, {len(bad)} others)": (
            not bad
        ),
        f"recovered by itself ({recovery})": last_failure is None
        or (run_end - last_failure >= 3 and len(after) > 0),
    }
    for label, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    for r in bad[:10]:
        print(f"    {r.op}: status {r.status or r.error} after {r.seconds:.2f} s")
    by_op = Counter(r.op for r in failures)
    print(f"failures by operation: {dict(by_op)}")
    tracebacks = log_path.read_text(errors="replace").count("Traceback")
    print(f"server log: {tracebacks} tracebacks ({log_path})")
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
