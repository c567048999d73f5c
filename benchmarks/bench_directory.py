"""National directories at national scale: import speed and memory, name-search latency, HTTP.

    .venv/bin/python benchmarks/bench_directory.py [--professionals 1200000] [--workdir DIR]
        [--establishments 100000] [--database-url URL] [--searches 1000] [--seconds 10]
        [--no-replica]

1. Generates, under /tmp/bench-directory, a synthetic RPPS extraction in the exact 2026 format
   (``--professionals`` people, ~1.9 activity lines each: 2.3 M lines for 1.2 M people, French
   names with accents, hyphens and particles) and a FINESS etalab file of ``--establishments``
   establishments with Lambert-93 coordinates.
2. Imports both into a fresh database (scratch SQLite under /tmp unless ``--database-url``, which
   is wiped) with ``dcc-services directory import-*`` in a child process: rows/s and the
   child's peak RSS. On PostgreSQL, then builds the node's copy of the search tables
   (``dcc-services directory replica``, in ``WORKDIR/replica``), which the name search reads
   (``planning.directory.replica``), and prints its build time; ``--no-replica``: the search
   reads PostgreSQL itself.
3. In process: ``--searches`` random name prefixes (3 to 8 letters of a real name part of the
   file; a fifth of them with a second word) through
   ``services.search_practitioner_summary_texts`` (what the JSON search runs): p50/p95/max latency.
4. Over HTTP (gunicorn, 2 workers): throughput of the name search (random prefixes, page of
   20) as a ratio of ``GET /health/live`` of the same server in the same run, both measured by
   ``--clients`` client processes for ``--seconds`` and at most ``--max-requests`` each, in
   ``--rounds`` alternated rounds (the ratio is the median of the rounds' ratios).

Targets (issue 3): import >= 20,000 rows/s with peak RSS < 500 MB; search p95 < 20 ms;
HTTP search >= 50 % of the trivial endpoint's throughput.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planning.directory.normalize import fold  # noqa: E402
from planning.directory.projection import to_lambert93  # noqa: E402
from planning.directory.synthetic import (  # noqa: E402
    Site,
    etalab_lines,
    finess_number,
    national_lines,
    rpps_header,
)

SCRATCH = Path("/tmp/bench-directory")  # noqa: S108 - a scratch area, by design
TARGET_ROWS_PER_S = 20_000
TARGET_RSS_MB = 500
TARGET_P95_MS = 20
TARGET_HTTP_RATIO = 0.50
CITIES = [
    ("29200", "Brest", 48.39, -4.49),
    ("35000", "Rennes", 48.11, -1.68),
    ("44000", "Nantes", 47.22, -1.55),
    ("75013", "Paris", 48.83, 2.36),
    ("69003", "Lyon", 45.76, 4.85),
    ("13005", "Marseille", 43.29, 5.40),
    ("31000", "Toulouse", 43.60, 1.44),
    ("33000", "Bordeaux", 44.84, -0.58),
    ("59000", "Lille", 50.63, 3.06),
    ("67000", "Strasbourg", 48.58, 7.75),
    ("21000", "Dijon", 47.32, 5.04),
    ("06000", "Nice", 43.70, 7.27),
]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# --- generation -----------------------------------------------------------------------------


def establishments(count: int, rng: random.Random) -> list[dict[str, str]]:
    rows = []
    categories = [("355", "Centre Hospitalier (C.H.)"), ("101", "C.H.R."), ("131", "C.L.C.C.")]
    categories += [("365", "Etablissement de Soins Pluridisciplinaire"), ("124", "Centre de Santé")]
    for index in range(count):
        postal, city, lat, lon = rng.choice(CITIES)
        lat += rng.uniform(-0.6, 0.6)
        lon += rng.uniform(-0.8, 0.8)
        x, y = to_lambert93(lat, lon)
        category, label = rng.choice(categories)
        department = postal[:2]
        rows.append(
            {
                "finess": finess_number(department, index),
                "finess_ej": finess_number(department, index),
                "name": f"{label.split(' (')[0].upper()} {city.upper()} {index}",
                "long_name": f"{label.upper()} DE {city.upper()} SITE {index}",
                "street": f"{index % 300 + 1} RUE DE LA SANTE",
                "postal_code": postal,
                "city": city,
                "department": department,
                "category": category,
                "category_label": label,
                "x": f"{x:.1f}",
                "y": f"{y:.1f}",
            }
        )
    return rows


def generate(
    professionals: int, count_establishments: int, scratch: Path
) -> tuple[Path, Path, list[str], int]:
    """Write both files; returns their paths, name samples and the RPPS line count."""
    scratch.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    places = establishments(count_establishments, rng)
    finess_path = scratch / "etalab-cs1100507-stock-bench.csv"
    with finess_path.open("w", encoding="cp1252", errors="replace") as handle:
        for line in etalab_lines(places, "2026-05-12"):
            handle.write(line + "\n")
    sites = [
        Site(
            p["finess"],
            p["finess_ej"],
            p["name"],
            p["street"],
            p["postal_code"],
            p["city"],
            p["department"],
        )
        for p in places[:20_000]
    ]
    rpps_path = scratch / "PS_LibreAcces_Personne_activite_bench.txt"
    samples: list[str] = []
    lines = 0
    with rpps_path.open("w", encoding="utf-8") as handle:
        handle.write(rpps_header() + "\n")
        for line in national_lines(rng, professionals=professionals, sites=sites):
            handle.write(line + "\n")
            lines += 1
            if lines % 997 == 0 and len(samples) < 20_000:
                fields = line.split("|", 9)
                samples.append(f"{fields[7]}|{fields[8]}")
    return rpps_path, finess_path, samples, lines


def queries(samples: list[str], count: int, rng: random.Random) -> list[str]:
    """Prefixes of 3 to 8 letters of real name parts; a fifth with a second word."""
    out = []
    for _ in range(count):
        last, first = rng.choice(samples).split("|")
        words = fold(last).split() + fold(first).split()
        words = [w for w in words if len(w) >= 3] or words
        word = rng.choice(words)
        query = word[: rng.randint(3, max(3, min(8, len(word))))]
        if rng.random() < 0.2 and len(words) > 1:
            other = rng.choice([w for w in words if w != word] or words)
            query = f"{other[: rng.randint(2, max(2, min(6, len(other))))]} {query}"
        out.append(query.lower())
    return out


# --- import ---------------------------------------------------------------------------------


def fresh_database(url: str) -> None:
    env = {**os.environ, "DCC_DATABASE_URL": url}
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from server.dbcheck import reset_database; "
                "reset_database(sys.argv[1])",
                url,
            ],
            check=True,
            cwd=REPO,
            env=env,
        )
    subprocess.run(
        [str(REPO / ".venv/bin/dcc-services"), "db", "upgrade"],
        check=True,
        cwd=REPO,
        env=env,
        capture_output=True,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and of its descendants (the reader process), summed."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
            status = (entry / "status").read_text()
        except (OSError, IndexError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree)


def run_import(url: str, command: str, path: Path) -> tuple[float, float, str, float, float]:
    """Wall time, CPU time of the importing processes, their summary line, the peak of
    their summed resident memory in MB, and PostgreSQL's CPU time meanwhile (both sampled
    every 0.2 s: the import's backend exits with it)."""
    env = {**os.environ, "DCC_DATABASE_URL": url}
    cpu = _children_cpu()
    started = time.perf_counter()
    peak_kb = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [str(REPO / ".venv/bin/dcc-services"), "directory", command, str(path)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        postgres_before = _postgres_cpu_by_process()
        postgres_seen = dict(postgres_before)
        while process.poll() is None:
            peak_kb = max(peak_kb, _tree_rss_kb(process.pid))
            postgres_seen.update(_postgres_cpu_by_process())
            time.sleep(0.2)
        postgres_seen.update(_postgres_cpu_by_process())
        postgres = sum(cpu - postgres_before.get(pid, 0.0) for pid, cpu in postgres_seen.items())
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode:
        print(stdout[-2000:], stderr[-4000:])
        raise SystemExit(f"{command} failed")
    summary = [line for line in stdout.splitlines() if line.startswith(("rpps", "finess"))]
    return elapsed, _children_cpu() - cpu, summary[-1] if summary else "", peak_kb / 1024, postgres


# --- search ---------------------------------------------------------------------------------


def bench_search(url: str, prefixes: list[str]) -> tuple[list[float], list[float]]:
    os.environ["DCC_DATABASE_URL"] = url
    from planning.directory import services
    from server.app import create_app

    app = create_app(log_level="WARNING", log_format="text")
    timings, cpu = [], []
    with app.app_context():
        for query in prefixes[:50]:  # warm the caches
            services.search_practitioner_summary_texts(name=query, page_size=20)
        for query in prefixes:
            started, started_cpu = time.perf_counter(), time.process_time()
            services.search_practitioner_summary_texts(name=query, page_size=20)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    return timings, cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- HTTP -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(
    port: int,
    paths: list[str],
    headers: dict[str, str],
    seconds: float,
    max_requests: int,
    queue: multiprocessing.Queue,
) -> None:
    done = errors = 0
    rng = random.Random(os.getpid())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and done < max_requests:
        try:
            connection.request("GET", rng.choice(paths), headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if response.status == 200:
            done += 1
        else:
            errors += 1
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    queue.put((done, errors))


def throughput(
    port: int,
    paths: list[str],
    headers: dict[str, str],
    clients: int,
    seconds: float,
    max_requests: int,
) -> tuple[float, int]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_worker, args=(port, paths, headers, seconds, max_requests, queue)
        )
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return sum(r[0] for r in results) / elapsed, sum(r[1] for r in results)


def _server_cpu(master: int) -> float:
    """CPU seconds used so far by the gunicorn master and its live workers (Linux /proc)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == master or int(fields[1]) == master:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _postgres_cpu_by_process() -> dict[int, float]:
    """CPU seconds used so far by each of this machine's PostgreSQL processes (Linux /proc;
    none when they belong to a user whose /proc entries are hidden)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = (entry / "stat").read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if name.startswith("postgres"):
            values = fields.split()
            found[int(entry.name)] = (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL processes alive now."""
    return sum(_postgres_cpu_by_process().values())


class HttpFigures(NamedTuple):
    trivial: float  # requests per second
    search: float
    errors: int
    ratios: list[float]  # search / trivial, per round, ascending
    trivial_cpu: float  # server CPU seconds per request
    search_cpu: float
    postgres_cpu: float


def bench_http(
    url: str, prefixes: list[str], clients: int, seconds: float, max_requests: int, rounds: int
) -> HttpFigures:
    """Requests per second of /health/live and of the name search, the search's errors, the
    ratio of each round, the server's CPU time per request of each (less sensitive than
    rates to other load), and PostgreSQL's CPU time per search."""
    port = _free_port()
    env = {**os.environ, "DCC_DATABASE_URL": url, "DCC_LOG_LEVEL": "WARNING"}
    token = (
        subprocess.run(
            [
                str(REPO / ".venv/bin/dcc-services"),
                "token",
                "--role",
                "physician",
                "--rpps",
                "19800000051",
                "--ttl",
                "3600",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
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
            # No worker recycling during the measures: at 2,000 req/s each worker passes
            # its 10,000 requests within the trivial endpoint's run, which then pays a restart.
            "--max-requests",
            "0",
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
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        searches = [f"/directory/practitioners?name={quote(q)}&page_size=20" for q in prefixes]
        throughput(port, ["/health/live"], {}, clients, 1, 200)  # warm-up
        throughput(port, searches, headers, clients, 1, 200)
        # Alternated short rounds of both measures: this machine's speed drifts by up to a
        # quarter within a minute, and one long measure of each would charge the drift to
        # the ratio. The ratio is the median of the rounds' ratios.
        each = seconds / rounds
        trivial_n = search_n = trivial_cpu = search_cpu = postgres = 0.0
        errors, ratios = 0, []
        for _ in range(rounds):
            started = _server_cpu(server.pid)
            trivial, _ = throughput(port, ["/health/live"], {}, clients, each, max_requests)
            middle, postgres_before = _server_cpu(server.pid), _postgres_cpu()
            search, failed = throughput(port, searches, headers, clients, each, max_requests)
            ended = _server_cpu(server.pid)
            postgres += _postgres_cpu() - postgres_before
            # each phase ran ``each`` seconds (or stopped at ``max_requests`` a bit earlier)
            trivial_n, search_n = trivial_n + trivial * each, search_n + search * each
            trivial_cpu, search_cpu = trivial_cpu + middle - started, search_cpu + ended - middle
            errors += failed
            ratios.append(search / trivial)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return HttpFigures(
        trivial=trivial_n / seconds,
        search=search_n / seconds,
        errors=errors,
        ratios=sorted(ratios),
        trivial_cpu=trivial_cpu / max(trivial_n, 1),
        search_cpu=search_cpu / max(search_n, 1),
        postgres_cpu=postgres / max(search_n, 1),
    )


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--professionals", type=int, default=1_200_000)
    parser.add_argument("--establishments", type=int, default=100_000)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=SCRATCH,
        help="scratch directory: generated files and the default SQLite database",
    )
    parser.add_argument("--database-url", help="default: an SQLite file in --workdir")
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--seconds", type=float, default=20, help="per HTTP measure, all rounds together"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternated HTTP rounds")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument(
        "--reuse-files", action="store_true", help="reuse the generated files of a former run"
    )
    parser.add_argument(
        "--skip-import", action="store_true", help="search and HTTP only, on a loaded database"
    )
    parser.add_argument(
        "--no-replica",
        action="store_true",
        help="PostgreSQL: the name search reads the database, not the node's copy",
    )
    args = parser.parse_args()
    scratch = args.workdir
    url = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
    # the server and the in-process search (and the children they start) read it
    replica_on = url.startswith("postgresql") and not args.no_replica
    os.environ["DCC_DIRECTORY_REPLICA_DIR"] = str(scratch / "replica") if replica_on else "off"
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"directory benchmark on {engine}: {args.professionals} professionals, "
        f"{args.establishments} establishments"
    )

    started = time.perf_counter()
    saved = scratch / f"samples-{args.professionals}-{args.establishments}.txt"
    if args.reuse_files and saved.exists():
        rpps_path = scratch / "PS_LibreAcces_Personne_activite_bench.txt"
        finess_path = scratch / "etalab-cs1100507-stock-bench.csv"
        count, *samples = saved.read_text("utf-8").splitlines()
        lines = int(count)
    else:
        rpps_path, finess_path, samples, lines = generate(
            args.professionals, args.establishments, scratch
        )
        saved.write_text("\n".join([str(lines), *samples]), "utf-8")
    print(
        f"generated {lines} RPPS lines ({rpps_path.stat().st_size / 1e6:.0f} MB) and "
        f"{args.establishments} establishments in {time.perf_counter() - started:.0f} s"
    )

    if args.skip_import:
        print(f"import skipped (--skip-import): reusing the database already loaded at {url}")
    else:
        import_all(url, args, rpps_path, finess_path, lines)
    search_and_http(url, args, samples)


def import_all(
    url: str, args: argparse.Namespace, rpps_path: Path, finess_path: Path, lines: int
) -> None:
    fresh_database(url)
    load = os.getloadavg()[0]
    elapsed, cpu, summary, rss_mb, postgres = run_import(url, "import-rpps", rpps_path)
    rate = lines / elapsed
    print(
        f"import RPPS: {lines} lines in {elapsed:.0f} s = {rate:,.0f} rows/s, "
        f"peak RSS {rss_mb:.0f} MB (importer and reader processes together)   [{summary}]"
    )
    print(
        f"  importer and reader CPU {cpu:.0f} s = {lines / cpu:,.0f} rows per CPU-second"
        + (f", PostgreSQL CPU {postgres:.0f} s" if url.startswith("postgresql") else "")
        + f" (machine load average {load:.1f} on {os.cpu_count()} cores when it started)"
    )
    print(
        f"  target >= {TARGET_ROWS_PER_S:,} rows/s: {verdict(rate >= TARGET_ROWS_PER_S)}; "
        f"RSS < {TARGET_RSS_MB} MB: {verdict(rss_mb < TARGET_RSS_MB)}"
    )
    elapsed, _cpu, summary, _rss, _postgres = run_import(url, "import-finess", finess_path)
    print(
        f"import FINESS: {args.establishments} establishments in {elapsed:.1f} s = "
        f"{args.establishments / elapsed:,.0f} rows/s   [{summary}]"
    )
    elapsed, _cpu, summary, _rss, _postgres = run_import(url, "import-rpps", rpps_path)
    print(f"import RPPS again (unchanged file): {lines / elapsed:,.0f} rows/s   [{summary}]")


def build_replica(url: str, directory: Path) -> None:
    """PostgreSQL: this node's copy of the search tables, built before the searches."""
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    out = subprocess.run(
        [str(REPO / ".venv/bin/dcc-services"), "directory", "replica"],
        check=True,
        cwd=REPO,
        env={**os.environ, "DCC_DATABASE_URL": url, "DCC_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(
        f"node's copy of the search tables (DCC_DIRECTORY_REPLICA_DIR) built in "
        f"{time.perf_counter() - started:.0f} s   [{out.splitlines()[-1]}]"
    )


def search_and_http(url: str, args: argparse.Namespace, samples: list[str]) -> None:
    if os.environ["DCC_DIRECTORY_REPLICA_DIR"] != "off":
        build_replica(url, Path(os.environ["DCC_DIRECTORY_REPLICA_DIR"]))
    elif url.startswith("postgresql"):
        print("no node copy (--no-replica): the name search reads PostgreSQL")
    rng = random.Random(3)
    prefixes = queries(samples, args.searches, rng)
    timings, cpu = bench_search(url, prefixes)
    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    print(
        f"name search in process, {len(timings)} random prefixes: p50 {p50 * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )
    print(
        f"  CPU time of this process per search (SQLite, and the node's copy, run in it; "
        f"PostgreSQL's server does not count): p50 {statistics.median(cpu) * 1000:.1f} ms, "
        f"p95 {percentile(cpu, 0.95) * 1000:.1f} ms"
    )
    print(f"  target p95 < {TARGET_P95_MS} ms: {verdict(p95 * 1000 < TARGET_P95_MS)}")

    load = os.getloadavg()[0]
    m = bench_http(url, prefixes, args.clients, args.seconds, args.max_requests, args.rounds)
    ratio = statistics.median(m.ratios)
    print(
        f"HTTP (gunicorn 2 workers, {args.clients} clients, {args.seconds:.0f} s each in "
        f"{args.rounds} alternated rounds): /health/live {m.trivial:,.0f} req/s, name search "
        f"{m.search:,.0f} req/s; median ratio {ratio:.0%} of the trivial endpoint (rounds: "
        f"{', '.join(f'{r:.0%}' for r in m.ratios)})"
        + (f" ({m.errors} errors)" if m.errors else "")
    )
    print(
        "  server CPU per request (gunicorn master and workers): /health/live "
        f"{m.trivial_cpu * 1000:.2f} ms, name search {m.search_cpu * 1000:.2f} ms"
        + (f" + PostgreSQL {m.postgres_cpu * 1000:.2f} ms" if url.startswith("postgresql") else "")
        + f" (machine load average {load:.1f} on {os.cpu_count()} cores when it started)"
    )
    print(f"  target >= {TARGET_HTTP_RATIO:.0%}: {verdict(ratio >= TARGET_HTTP_RATIO)}")


if __name__ == "__main__":
    main()
