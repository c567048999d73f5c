"""The server boots from a clean directory the way `make serve` does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.live import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("DCC_DATABASE_URL", "").startswith("postgresql"),
        reason="boots a clean directory on SQLite whatever the database: once, in `make test`",
    ),
]


def test_clean_directory_upgrade_demo_serve(tmp_path):
    cli = shutil.which("dcc-services") or str(Path(sys.executable).parent / "dcc-services")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
    env.update({"DCC_INSTANCE_DIR": str(tmp_path / "instance"), "DCC_LOG_LEVEL": "WARNING"})
    for args in (["db", "upgrade"], ["demo"], ["demo"]):  # demo twice: it must be idempotent
        done = subprocess.run(
            [cli, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [cli, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        body, last_error = None, None
        deadline = time.monotonic() + 90  # a worker boots slowly on a loaded CI machine
        while body is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health/ready", timeout=5
                ) as response:
                    body = response.read()
            except OSError as error:
                last_error = error
                time.sleep(0.2)
        log_tail = (tmp_path / "serve.log").read_text()[-2000:]
        assert body is not None, f"{last_error!r}\n{log_tail}"
        assert b'"status":"ok"' in body.replace(b" ", b"")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=5) as r:
            assert b"swagger-ui" in r.read()
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
