"""Live gunicorn servers for the tests that cross a real socket (browser, drills, client)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The project's CLI, run with this interpreter whatever is on PATH.
CLI = [sys.executable, "-c", "from server.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(
    port: int,
    env: Mapping[str, str],
    log: Path,
    options: Sequence[str] = (),
    *,
    start_seconds: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn serving the app on 127.0.0.1:``port`` with ``options``; yields once it answers
    /health/live, stops it afterwards. A server that never answers fails with its log's end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"),
                *options,
                "server.wsgi:app",
            ],
            env=dict(env),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{port}/health/live"
                with urllib.request.urlopen(url, timeout=2):
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
