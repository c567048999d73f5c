"""Benchmark of guideline evaluation: N referentials of ~50 nodes, in-process and over HTTP.

Prints the p50/p95 latency of ``services.evaluate_fiche`` in-process, then the throughput of
``POST /guidelines/evaluate`` against ``GET /health/live`` on the same gunicorn server (2
workers), as a ratio. Everything lives in a scratch directory under /tmp (SQLite by default).

    .venv/bin/python benchmarks/bench_guidelines.py [--referentials 1000] [--nodes 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LOCALISATIONS = [
    ("NSCLC", "C33-C34"),
    ("BREAST", "C50"),
    ("COADREAD", "C18-C20"),
    ("PRAD", "C61"),
    ("BLCA", "C67"),
    ("PAAD", "C25"),
    ("STAD", "C16"),
    ("SKCM", "C43"),
    ("OV", "C56"),
    ("HNSC", "C00-C14"),
    ("CCRCC", "C64"),
    ("THPA", "C73"),
    ("GBM", "C71"),
    ("UCEC", "C54"),
    ("HCC", "C22"),
    ("SCLC", "C34"),
    ("ESCA", "C15"),
    ("CESC", "C53"),
    ("MNET", "C17"),
    ("SARCL", "C49"),
]
REGIONS = ["11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94"]
GENES = ["EGFR", "ALK", "ROS1", "BRAF", "KRAS", "NRAS", "ERBB2", "MET", "RET", "NTRK1"]
STAGES = [("I", "IA1", "IC"), ("II", "IIA", "IIC"), ("III", "IIIA", "IIIC"), ("IV", "IVA", "IVC")]


def _reco(rng: random.Random, node_id: str, criteria: dict[str, Any] | None) -> dict[str, Any]:
    node = {
        "id": node_id,
        "kind": "recommendation",
        "title": f"Recommandation {node_id}",
        "text": "Texte de démonstration.",
        "treatment_type": rng.choice(["chirurgie", "chimiotherapie", "therapie_ciblee"]),
        "intent": rng.choice(["curative", "palliative"]),
        "category": rng.choice(["standard", "option"]),
        "children": [],
    }
    if criteria:
        node["criteria"] = criteria
    return node


def synthetic_tree(rng: random.Random, code: str, nodes: int) -> dict[str, Any]:
    """Root, 4 stage situations, then biomarker decisions with 2-3 recommendations each."""
    counter = iter(range(1, 10_000))
    root: dict[str, Any] = {
        "id": "root",
        "kind": "situation",
        "title": f"Localisation {code}",
        "criteria": {"field": "diagnosis.oncotree_code", "op": "is_a", "value": code},
        "children": [],
    }
    total = 1
    stages = []
    for group, low, high in STAGES:
        stages.append(
            {
                "id": f"s{group}",
                "kind": "situation",
                "title": f"Stade {group}",
                "criteria": {"field": "tnm.stage_group", "op": "between", "value": [low, high]},
                "children": [],
            }
        )
    root["children"] = stages
    total += len(stages)
    while total < nodes:
        stage = stages[total % len(stages)]
        gene = rng.choice(GENES)
        decision = {
            "id": f"d{next(counter)}",
            "kind": "decision",
            "title": f"{gene} altéré",
            "criteria": {
                "all": [
                    {"field": f"biomarkers.{gene}.status", "op": "eq", "value": "positive"},
                    {"field": "performance_status", "op": "le", "value": rng.choice([1, 2])},
                ]
            },
            "children": [],
        }
        total += 1
        for _ in range(min(rng.choice([2, 3]), max(1, nodes - total))):
            criteria = rng.choice(
                [
                    None,
                    {"field": "age", "op": "ge", "value": rng.choice([18, 50, 70])},
                    {"field": "biomarkers.PD-L1.value", "op": "ge", "value": 50},
                    {
                        "any": [
                            {"field": "tnm.m", "op": "is_a", "value": "M1"},
                            {"field": "metastatic_sites", "op": "in", "value": ["liver"]},
                        ]
                    },
                ]
            )
            decision["children"].append(_reco(rng, f"r{next(counter)}", criteria))
            total += 1
        stage["children"].append(decision)
    return root


def populate(url: str, count: int, nodes: int, seed: int) -> None:
    from core.db import db
    from guidelines.models import Referential

    rng = random.Random(seed)
    with db.transaction() as session:
        for i in range(count):
            code, cim10 = LOCALISATIONS[i % len(LOCALISATIONS)]
            national = rng.random() < 0.25
            region = None if national else rng.choice(REGIONS)
            session.add(
                Referential(
                    key=f"bench-{i:05d}",
                    version="2025.1",
                    title=f"Référentiel {code} n°{i} (démo)",
                    localisation_oncotree=code,
                    localisation_cim10=cim10,
                    owner_level="national" if national else "regional",
                    owner_org="INCa (démo)" if national else f"DSRC {region} (démo)",
                    region=region,
                    regions=[region] if region else [],
                    status="active",
                    effective_from=dt.date(2020, 1, 1),
                    tree=synthetic_tree(rng, code, nodes),
                    created_by="bench",
                    approved_by="bench-validator",
                    approved_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                )
            )


def fiches(rng: random.Random, count: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        code = rng.choice(["LUAD", "LUSC", "IDC", "COAD", "READ", "PRAD", "SKCM", "PAAD"])
        group, low, high = rng.choice(STAGES)
        fiche = {
            "age": rng.randint(30, 85),
            "performance_status": rng.randint(0, 2),
            "diagnosis": {"oncotree_code": code},
            "tnm": {"stage_group": rng.choice([low, high]), "m": "M1" if group == "IV" else "M0"},
            "biomarkers": [
                {"name": g, "status": rng.choice(["positive", "negative"])}
                for g in rng.sample(GENES, rng.randint(0, 4))
            ]
            + [{"name": "PD-L1", "value": rng.choice([1, 30, 80]), "unit": "%"}],
        }
        out.append({"fiche": fiche, "region": rng.choice(REGIONS)})
    return out


def in_process(cases: list[dict[str, Any]]) -> dict[str, float]:
    from core.auth import Principal, Role
    from core.fiche import load_fiche
    from guidelines import services

    principal = Principal(subject="bench", role=Role.PHYSICIAN, issuer="bench", rpps="1")
    loaded = [(load_fiche(c["fiche"]), c["region"]) for c in cases]
    started = time.perf_counter()
    services.evaluate_fiche(principal=principal, fiche=loaded[0][0], region=loaded[0][1])
    cold = time.perf_counter() - started
    for fiche, region in loaded:  # warm the per-process tree cache, as a server would be
        services.evaluate_fiche(principal=principal, fiche=fiche, region=region)
    timings, recommendations = [], 0
    for fiche, region in loaded:
        started = time.perf_counter()
        result = services.evaluate_fiche(principal=principal, fiche=fiche, region=region)
        timings.append(time.perf_counter() - started)
        recommendations += sum(
            len(r["recommendations"]) for r in result["national"] + result["regional"]
        )
    timings.sort()
    return {
        "cold_ms": cold * 1000,
        "p50_ms": statistics.median(timings) * 1000,
        "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
        "max_ms": timings[-1] * 1000,
        "recommendations_per_call": recommendations / len(loaded),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(
    port: int,
    method: str,
    path: str,
    bodies: list[bytes],
    token: str,
    requests: int,
    seconds: float,
    threads: int,
    queue: Any,
) -> None:
    """Runs in a second process: bounded requests and time, keep-alive connections."""
    done, errors = [0], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = offset
        while time.monotonic() < deadline:
            with lock:
                if done[0] >= requests:
                    return
                done[0] += 1
            body = bodies[i % len(bodies)] if bodies else None
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                with lock:
                    errors[0] += 1
            i += threads

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    queue.put((done[0], errors[0], time.monotonic() - started))


def http_ratio(env: dict[str, str], cases: list[dict[str, Any]], token: str, args: Any) -> None:
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
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request(
                    "GET", "/health/live"
                )
                break
            except OSError:
                time.sleep(0.1)
        ctx = multiprocessing.get_context("spawn")
        bodies = [json.dumps(c).encode() for c in cases]
        results = {}
        for name, method, path, payload in (
            ("GET /health/live", "GET", "/health/live", []),
            ("POST /guidelines/evaluate", "POST", "/guidelines/evaluate", bodies),
        ):
            # a short warm-up fills each worker's tree cache
            queue = ctx.Queue()
            warm = ctx.Process(
                target=_load,
                args=(port, method, path, payload, token, len(payload) * 2 or 50, 20, 4, queue),
            )
            warm.start()
            queue.get()
            warm.join()
            queue = ctx.Queue()
            loader = ctx.Process(
                target=_load,
                args=(port, method, path, payload, token, args.requests, args.seconds, 4, queue),
            )
            loader.start()
            count, errors, elapsed = queue.get()
            loader.join()
            results[name] = (count / elapsed, errors, count)
        base = results["GET /health/live"][0]
        for name, (rate, errors, count) in results.items():
            print(
                f"  {name:28s} {rate:8.0f} req/s  ratio {rate / base:5.2f}  "
                f"({count} requests, {errors} errors)"
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referentials", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--fiches", type=int, default=300, help="fiches evaluated in-process")
    parser.add_argument("--requests", type=int, default=3000, help="HTTP requests per endpoint")
    parser.add_argument("--seconds", type=float, default=20, help="HTTP time bound per endpoint")
    parser.add_argument("--database-url", help="scratch database (default: SQLite in /tmp)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench_guidelines_"))
    url = args.database_url or f"sqlite:///{scratch / 'bench.sqlite3'}"
    env = os.environ | {
        "DCC_DATABASE_URL": url,
        "DCC_INSTANCE_DIR": str(scratch),
        "DCC_ENV": "development",
        "DCC_LOG_LEVEL": "WARNING",
        "DCC_LOG_FORMAT": "text",
        "DCC_DB_POOL_SIZE": "4",
    }
    os.environ.update(env)
    try:
        from alembic import command

        from core.auth import claims_for, mint_token
        from server.app import create_app
        from server.dbcheck import reset_database
        from server.migrations_state import alembic_config

        if args.database_url:
            reset_database(url)
        command.upgrade(alembic_config(url), "head")
        app = create_app()
        with app.app_context():
            started = time.perf_counter()
            populate(url, args.referentials, args.nodes, args.seed)
            print(
                f"{args.referentials} referentials of {args.nodes} nodes loaded in "
                f"{time.perf_counter() - started:.1f} s ({url.split('://')[0]})"
            )
            cases = fiches(random.Random(args.seed), args.fiches)
            figures = in_process(cases)
        print("in-process evaluate_fiche (warm tree cache):")
        print(
            f"  p50 {figures['p50_ms']:.2f} ms  p95 {figures['p95_ms']:.2f} ms  "
            f"max {figures['max_ms']:.2f} ms  first call (cold) {figures['cold_ms']:.1f} ms  "
            f"{figures['recommendations_per_call']:.1f} recommendations per call"
        )
        print(f"  target p95 < 20 ms: {'met' if figures['p95_ms'] < 20 else 'NOT met'}")
        platform = app.extensions["dcc"]
        token = mint_token(
            platform.signing_key,
            issuer=platform.settings.issuer,
            audience=platform.settings.audience,
            ttl=3600,
            client_id="bench",
            extra=claims_for(role="physician", subject="bench", rpps="1"),
        )
        print("HTTP, gunicorn 2 workers, 4 client threads in a second process:")
        http_ratio(env, cases, token, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
