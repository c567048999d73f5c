"""Migration discipline check: upgrade, models == migrations, then down and up every revision.

Runs against ``DCC_DATABASE_URL`` when it names a test database, else a fresh SQLite file.
"""

from __future__ import annotations

import os
import sys
import tempfile

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.db import make_engine
from server.migrations_state import alembic_config


def reset_database(url: str) -> None:
    """Empty a PostgreSQL test database, creating it when missing (only names with 'test')."""
    if url.startswith("sqlite"):
        return
    engine = make_engine(url)
    name = engine.url.database or ""
    if "test" not in name:
        raise SystemExit(f"refusing to wipe {name!r}: not a test database")
    # A fresh machine has only the 'test' database: benchmarks name their own scratch ones.
    server = make_engine(
        engine.url.set(database="postgres").render_as_string(False)
    ).execution_options(isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def check(url: str) -> None:
    config = alembic_config(url)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    reset_database(url)
    command.upgrade(config, "head")
    command.check(config)
    print(f"models and migrations agree ({len(revisions)} revisions)")
    # walk_revisions goes from head to base: step down one at a time, up again, then on
    for revision in revisions:
        command.downgrade(config, "-1")
        command.upgrade(config, "+1")
        command.downgrade(config, "-1")
        print(f"  {revision.revision} ({revision.doc.splitlines()[0]}) downgrades and upgrades")
    command.upgrade(config, "head")
    command.check(config)
    print("every revision downgrades and upgrades again")


def main() -> None:
    url = os.environ.get("DCC_DATABASE_URL", "")
    if url:
        check(url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        check(f"sqlite:///{tmp}/dbcheck.sqlite3")


if __name__ == "__main__":
    sys.exit(main())
