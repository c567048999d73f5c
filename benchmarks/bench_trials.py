"""Trial search at scale: index build rate, fiche search latency, HTTP throughput.

A synthetic corpus (default 100,000 trials) is derived from the real records shipped in
``trials/demo_data`` (and the shared sample folder when present): each synthetic trial copies a
real one and perturbs its tumour type, genes and variants (criteria text included), age bounds,
status, phases and sites. Everything lives under a scratch directory (SQLite database, index).

    .venv/bin/python benchmarks/bench_trials.py --trials 100000
    .venv/bin/python benchmarks/bench_trials.py --trials 5000 --http-seconds 5   # quick

Figures are printed as rates, percentiles and a ratio against ``GET /health/live`` measured in
the same run on the same gunicorn server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHARED = REPO.parent.parent / "shared" / "data" / "trials"  # /work/shared when run in a worktree

GENES = {
    "EGFR": ["exon 19 deletion", "L858R", "T790M", "exon 20 insertion"],
    "ALK": ["fusion"],
    "ROS1": ["fusion"],
    "KRAS": ["G12C", "G12D", "G13D"],
    "BRAF": ["V600E", "V600K"],
    "ERBB2": ["amplification", "exon 20 insertion"],
    "MET": ["exon 14 skipping", "amplification"],
    "RET": ["fusion"],
    "PIK3CA": ["H1047R", "E545K"],
    "BRCA1": ["mutation"],
    "BRCA2": ["mutation"],
    "IDH1": ["R132H"],
    "FGFR2": ["fusion", "amplification"],
}
TUMOURS = [
    ("NSCLC", "Non-Small Cell Lung Cancer"),
    ("LUAD", "Lung Adenocarcinoma"),
    ("LUSC", "Lung Squamous Cell Carcinoma"),
    ("SCLC", "Small Cell Lung Cancer"),
    ("BRCA", "Invasive Breast Carcinoma"),
    ("BREAST", "Breast Cancer"),
    ("COADREAD", "Colorectal Adenocarcinoma"),
    ("MEL", "Melanoma"),
    ("PAAD", "Pancreatic Adenocarcinoma"),
    ("PRAD", "Prostate Adenocarcinoma"),
    ("HGSOC", "High-Grade Serous Ovarian Cancer"),
    ("GB", "Glioblastoma"),
    ("CCRCC", "Renal Clear Cell Carcinoma"),
    ("BLCA", "Bladder Urothelial Carcinoma"),
    ("STAD", "Stomach Adenocarcinoma"),
    ("HCC", "Hepatocellular Carcinoma"),
]
STATUSES = ["RECRUITING"] * 4 + ["NOT_YET_RECRUITING"] * 2 + ["COMPLETED", "ACTIVE_NOT_RECRUITING"]
PHASES = [["PHASE1"], ["PHASE2"], ["PHASE3"], ["PHASE1", "PHASE2"], ["PHASE2", "PHASE3"], ["NA"]]
#: A result page as an RCP screen shows it.
SEARCH = "/trials/search?page_size=20"

POSTAL_CODES = [
    "29200",
    "35000",
    "75013",
    "69008",
    "13005",
    "31059",
    "33000",
    "44093",
    "59037",
    "67000",
    "34295",
    "06189",
    "76031",
    "21079",
    "54511",
    "87042",
    "63003",
    "80054",
]


def _log(message: str) -> None:
    print(message, flush=True)


# --- corpus -------------------------------------------------------------------------------


def base_trials() -> list[dict[str, Any]]:
    """The real records as trial rows (criteria extracted once)."""
    from trials import importers, services
    from trials.cli import DEMO_DATA
    from trials.models import Trial

    paths = [DEMO_DATA]
    for extra in ("ctgov_legacy_xml", "bulk/trecpm2019_ctgov_xml"):
        if (SHARED / extra).is_dir():
            paths.append(SHARED / extra)
    rows = []
    for path in importers.iter_files(paths):
        for record in importers.parse_file(path).records:
            trial = Trial(registry_id=record.registry_id, oncotree_codes=[], ctml_arms=[])
            if record.source == "ctml":
                services._apply_ctml(trial, record, new=True)
            else:
                services._apply(trial, record)
            row = {c.name: getattr(trial, c.name) for c in Trial.__table__.columns}
            row["_sites"] = [
                {
                    "facility": s.facility,
                    "city": s.city,
                    "postal_code": s.postal_code,
                    "country": s.country,
                    "status": s.status,
                    "lat": s.lat,
                    "lon": s.lon,
                }
                for s in trial.sites[:6]
            ]
            rows.append(row)
    return rows


def _swap_gene(row: dict[str, Any], rng: random.Random) -> None:
    target = rng.choice(list(GENES))
    alteration = rng.choice(GENES[target])
    criteria = []
    for criterion in row["criteria"]:
        criterion = dict(criterion)
        if criterion["kind"] == "biomarker" and criterion.get("gene") not in (None, "PD-L1"):
            old = criterion["gene"]
            criterion["gene"] = target
            if criterion.get("alterations"):
                criterion["alterations"] = [alteration]
            criterion["evidence"] = criterion["evidence"].replace(old, target)
            for field in ("brief_title", "inclusion_text"):
                if row[field]:
                    row[field] = row[field].replace(old, target)
        criteria.append(criterion)
    row["criteria"] = criteria


def _swap_tumour(row: dict[str, Any], rng: random.Random) -> None:
    code, name = rng.choice(TUMOURS)
    old_names = list(row["conditions"])
    row["conditions"] = [name]
    row["oncotree_codes"] = [code]
    for criterion in row["criteria"]:
        if criterion["kind"] == "diagnosis" and criterion.get("include", True):
            criterion["codes"] = [code]
    for old in old_names:
        if old and len(old) > 3:
            row["brief_title"] = row["brief_title"].replace(old, name)


def synthetic_rows(count: int, seed: int = 7) -> tuple[list[dict], list[dict]]:
    from core.terminology import geo

    rng = random.Random(seed)
    bases = base_trials()
    _log(f"  {len(bases)} real records as bases")
    trials, sites = [], []
    for i in range(count):
        base = rng.choice(bases)
        row = {k: v for k, v in base.items() if k != "_sites"}
        row["criteria"] = [dict(c) for c in base["criteria"]]
        row["id"] = i + 1
        row["registry_id"] = f"NCT9{i:07d}"
        row["nct_id"] = row["registry_id"]
        row["eu_ct_id"] = None
        if rng.random() < 0.6:
            _swap_gene(row, rng)
        if rng.random() < 0.6:
            _swap_tumour(row, rng)
        row["min_age_years"] = rng.choice([18.0, 18.0, 18.0, None, 12.0, 20.0, 65.0])
        row["max_age_years"] = rng.choice([None, None, None, 75.0, 70.0, 80.0, 21.0])
        row["criteria"] = [
            c for c in row["criteria"] if c["kind"] != "age" or c["origin"] != "registry"
        ]
        if row["min_age_years"] is not None or row["max_age_years"] is not None:
            row["criteria"].insert(
                0,
                {
                    "kind": "age",
                    "include": True,
                    "min": row["min_age_years"],
                    "max": row["max_age_years"],
                    "origin": "registry",
                    "evidence": "synthetic bounds",
                },
            )
        row["overall_status"] = rng.choice(STATUSES)
        row["phases"] = rng.choice(PHASES)
        trials.append(row)
        kept = base["_sites"][: rng.randint(0, 3)]
        for site in kept:
            sites.append({**site, "trial_id": row["id"]})
        for _ in range(rng.randint(0, 3)):
            postal = rng.choice(POSTAL_CODES)
            lat, lon = geo.department_point(geo.department_of_postal_code(postal)) or (48.0, 2.0)
            sites.append(
                {
                    "trial_id": row["id"],
                    "facility": "Centre de lutte contre le cancer",
                    "city": None,
                    "postal_code": postal,
                    "country": "France",
                    "status": "RECRUITING",
                    "lat": lat + rng.uniform(-0.2, 0.2),
                    "lon": lon + rng.uniform(-0.2, 0.2),
                }
            )
    return trials, sites


def load_corpus(app: Any, count: int) -> None:
    from sqlalchemy import insert

    from core.db import db, utcnow
    from trials.models import Trial, TrialSite

    started = time.perf_counter()
    trials, sites = synthetic_rows(count)
    now = utcnow()
    with app.app_context():
        for start in range(0, len(trials), 2000):
            batch = [
                {**t, "created_at": now, "updated_at": now} for t in trials[start : start + 2000]
            ]
            db.session.execute(insert(Trial), batch)
        for start in range(0, len(sites), 5000):
            db.session.execute(insert(TrialSite), sites[start : start + 5000])
        db.session.commit()
    _log(
        f"  corpus: {len(trials)} trials, {len(sites)} sites "
        f"in {time.perf_counter() - started:.0f} s"
    )


# --- fiches -------------------------------------------------------------------------------


def fiches(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        code, _name = rng.choice(TUMOURS)
        fiche: dict[str, Any] = {
            "age": rng.randint(15, 88),
            "sex": rng.choice(["female", "male"]),
            "performance_status": rng.choice([0, 1, 1, 2, 3]),
            "diagnosis": {"oncotree_code": code},
        }
        if rng.random() < 0.8:
            gene = rng.choice(list(GENES))
            fiche["biomarkers"] = [{"name": gene, "alteration": rng.choice(GENES[gene])}]
        if rng.random() < 0.5:
            fiche["tnm"] = {"stage_group": rng.choice(["IIIB", "IV", "IVA", "IIA"])}
        if rng.random() < 0.6:
            fiche["residence"] = {"postal_code": rng.choice(POSTAL_CODES)}
            if rng.random() < 0.5:
                fiche["residence"]["max_distance_km"] = rng.choice([50, 100, 300])
        if rng.random() < 0.3:
            fiche["prior_lines"] = rng.randint(0, 3)
        out.append(fiche)
    return out


# --- measures -----------------------------------------------------------------------------


def measure_build(app: Any, index_dir: Path, procs: int) -> float:
    from trials import services

    with app.app_context():
        started, cpu = time.perf_counter(), _cpu()
        count = services.rebuild_index(index_dir=index_dir, procs=procs)
        elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    rate = count / elapsed
    _log(
        f"index build: {count} trials in {elapsed:.1f} s = {rate:.0f} trials/s wall "
        f"(procs={procs}; CPU {cpu:.1f} s = {count / cpu:.0f} trials per CPU-second; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    return rate


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the other benchmarks and tests
    sharing the machine inflate wall times, not these)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure_search(app: Any, token: str, bodies: list[dict]) -> list[float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for body in bodies[:10]:  # warm-up: caches, searcher
        client.post(SEARCH, json={"fiche": body}, headers=headers)
    durations, cpus, totals = [], [], []
    for body in bodies:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.post(SEARCH, json={"fiche": body}, headers=headers)
        durations.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        totals.append(response.get_json()["total"])
    durations.sort()
    cpus.sort()
    p50 = statistics.median(durations)
    p95 = durations[int(len(durations) * 0.95) - 1]
    _log(
        f"POST {SEARCH} in-process, {len(bodies)} fiches: p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms, max {durations[-1]:.1f} ms wall; CPU p50 "
        f"{statistics.median(cpus):.1f} ms, p95 {cpus[int(len(cpus) * 0.95) - 1]:.1f} ms "
        f"(median results {statistics.median(totals):.0f}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    live = []
    for _ in range(200):
        started = time.perf_counter()
        client.get("/health/live")
        live.append((time.perf_counter() - started) * 1000)
    _log(
        f"GET /health/live in-process: p50 {statistics.median(live):.2f} ms "
        f"(search p50 = {p50 / statistics.median(live):.0f}x)"
    )
    return durations


LOADER = r"""
import http.client, json, sys, threading, time
port, path, token = sys.argv[1], sys.argv[2], sys.argv[5]
seconds, threads = float(sys.argv[3]), int(sys.argv[4])
bodies = json.loads(sys.stdin.read())
count = [0] * threads
errors = [0] * threads
def run(n):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    end = time.perf_counter() + seconds
    i = n
    while time.perf_counter() < end:
        if path == "live":
            conn.request("GET", "/health/live")
        else:
            body = json.dumps({"fiche": bodies[i % len(bodies)]})
            conn.request("POST", "/trials/search?page_size=20", body=body, headers={
                "Authorization": "Bearer " + token, "Content-Type": "application/json"})
        response = conn.getresponse(); response.read()
        if response.status == 200: count[n] += 1
        else: errors[n] += 1
        i += threads
workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
started = time.perf_counter()
for w in workers: w.start()
for w in workers: w.join()
print(json.dumps({"rps": sum(count) / (time.perf_counter() - started), "errors": sum(errors)}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_http(env: dict[str, str], token: str, bodies: list[dict], seconds: float) -> None:
    port = _free_port()
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
            "server.wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        results = {}
        for path in ("live", "search", "live"):
            out = subprocess.run(
                [sys.executable, "-c", LOADER, str(port), path, str(seconds), "4", token],
                input=json.dumps(bodies),
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 120,
            )
            results.setdefault(path, []).append(json.loads(out.stdout))
        live = max(r["rps"] for r in results["live"])
        search = results["search"][0]
        _log(
            f"HTTP (gunicorn 2 workers, 4 client threads, {seconds:.0f} s each): "
            f"GET /health/live {live:.0f} req/s, POST /trials/search {search['rps']:.1f} req/s "
            f"(errors {search['errors']}) -> ratio {search['rps'] / live:.3f}"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _empty_database(url: str) -> None:
    """Drop every table of the benchmark's own database (never point it at a shared one)."""
    from sqlalchemy import create_engine, make_url, text

    if not (make_url(url).database or "").startswith("bench_"):
        raise SystemExit("--database-url must name a database called bench_<something>")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--fiches", type=int, default=200)
    parser.add_argument("--procs", type=int, default=1, help="index writer processes")
    parser.add_argument("--http-seconds", type=float, default=15)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_trials"))  # noqa: S108
    parser.add_argument(
        "--database-url",
        default=None,
        help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_trials (default: SQLite "
        "under --workdir); the database is emptied unless --reuse",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep an existing corpus (the index is rebuilt)"
    )
    parser.add_argument("--keep-index", action="store_true", help="with --reuse: keep the index")
    args = parser.parse_args()

    from alembic import command

    from core.auth import claims_for, mint_token
    from server.app import create_app
    from server.migrations_state import alembic_config

    workdir: Path = args.workdir
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "DCC_DATABASE_URL": database_url,
        "DCC_INSTANCE_DIR": str(workdir),
        "DCC_INDEX_DIR": str(workdir / "index"),
        "DCC_SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
        "DCC_LOG_LEVEL": "WARNING",
        "DCC_ENV": "development",
    }
    fresh = not (args.reuse and (workdir / "index").exists())
    if fresh:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        if args.database_url:
            _empty_database(database_url)
        command.upgrade(alembic_config(database_url), "head")
    app = create_app(
        env="development",
        database_url=database_url,
        instance_dir=workdir,
        signing_key_file=workdir / "signing-key.pem",
        index_dir=workdir / "index",
        log_level="WARNING",
    )
    engine_name = database_url.split(":", 1)[0]
    _log(f"bench_trials: {args.trials} synthetic trials under {workdir} ({engine_name})")
    if fresh:
        load_corpus(app, args.trials)
    if fresh or not args.keep_index:
        rate = measure_build(app, workdir / "index", args.procs)
        _log(f"  target >= 300 trials/s: {'met' if rate >= 300 else 'NOT met'}")
    platform = app.extensions["dcc"]
    token = mint_token(
        platform.signing_key,
        issuer=platform.settings.issuer,
        audience=platform.settings.audience,
        ttl=3600,
        client_id="bench",
        extra=claims_for(role="physician", subject="10001234567", rpps="10001234567"),
    )
    bodies = fiches(args.fiches)
    durations = measure_search(app, token, bodies)
    p95 = durations[int(len(durations) * 0.95) - 1]
    _log(f"  target p95 < 150 ms: {'met' if p95 < 150 else 'NOT met'}")
    if args.http_seconds > 0:
        measure_http(env, token, bodies, args.http_seconds)


if __name__ == "__main__":
    main()
