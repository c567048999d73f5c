"""The release-time fuzzing pass: tests/test_fuzz.py with many more examples per operation.

    .venv/bin/python benchmarks/fuzz_long.py [--examples 300] [--database-url URL]

CI runs the same schemathesis tests with 15 examples per operation and role (DCC_FUZZ_EXAMPLES),
which keeps it fast; before a release this runs them with ``--examples`` (on SQLite, or on the
PostgreSQL test database of ``--database-url``) and prints the time taken, the operations
exercised and any failure in full (pytest's report). Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=300, help="per operation and role")
    parser.add_argument("--database-url", default="", help="a PostgreSQL test database")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
    env["DCC_FUZZ_EXAMPLES"] = str(args.examples)
    if args.database_url:
        env["DCC_DATABASE_URL"] = args.database_url
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"fuzzing every operation, {args.examples} examples per operation and role, {engine}")
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_fuzz.py", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "(no output)"
    if run.returncode:
        print(run.stdout[-20_000:], run.stderr[-5_000:], sep="\n")
    counted = re.search(r"(\d+) passed", summary)
    operations = counted.group(1) if counted else 0
    print(f"{summary}  ({elapsed:.0f} s; {operations} operations, each with the roles in turn)")
    sys.exit(1 if run.returncode else 0)


if __name__ == "__main__":
    main()
