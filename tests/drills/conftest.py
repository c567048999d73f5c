"""Fault drills: real processes (the CLI, gunicorn) on scratch databases of their own.

A drill runs on SQLite files under the test's temporary directory, or, when DCC_DATABASE_URL
names PostgreSQL, on scratch databases next to it (``<test database>_drill_<n>``, wiped).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.live import CLI, REPO, free_port, gunicorn

_numbers = itertools.count(1)


@dataclass
class Stack:
    """One deployment: its environment (database, instance and index directories)."""

    root: Path
    url: str
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, timeout: float = 600, check: bool = True) -> Any:
        done = subprocess.run(
            [*CLI, *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"{args}: {done.stdout[-1500:]} {done.stderr[-3000:]}"
        return done

    def popen_cli(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                [*CLI, *args], env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )

    def scalar(self, sql: str) -> Any:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql))]
        finally:
            engine.dispose()

    def token(self, *args: str) -> str:
        return str(self.cli("token", *args).stdout.strip().splitlines()[-1])

    @contextlib.contextmanager
    def serve(self, *, workers: int = 2) -> Iterator[Server]:
        """gunicorn with the production settings (server/gunicorn_conf.py) on this stack."""
        port = free_port()
        log = self.root / f"gunicorn-{port}.log"
        options = ("-c", "python:server.gunicorn_conf", "--workers", str(workers))
        with gunicorn(port, self.env, log, options) as process:
            yield Server(f"http://127.0.0.1:{port}", process, log)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(  # noqa: S310 - a local server
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def scratch_url(tmp_path: Path) -> str:
    base = os.environ.get("DCC_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'drill.sqlite3'}"
    url = make_url(base)
    name = f"{url.database}_drill_{os.getpid()}_{next(_numbers)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_scratch(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """``make_stack(name)``: a migrated scratch deployment (no data)."""
    made: list[Stack] = []

    def make(name: str = "a", **settings: str) -> Stack:
        root = tmp_path / name
        root.mkdir()
        url = scratch_url(root)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
        env.update(
            {
                "DCC_ENV": "development",
                "DCC_DATABASE_URL": url,
                "DCC_INSTANCE_DIR": str(root),
                "DCC_INDEX_DIR": str(root / "index"),
                "DCC_PUBLIC_URL": "http://127.0.0.1:8000",
                "DCC_LOG_LEVEL": "WARNING",
                "DCC_LOG_FORMAT": "text",
                **settings,
            }
        )
        stack = Stack(root, url, env)
        stack.cli("db", "upgrade")
        made.append(stack)
        return stack

    yield make
    for stack in made:
        drop_scratch(stack.url)
