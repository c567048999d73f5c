"""Models and migrations agree, and every revision downgrades and upgrades again."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.db import make_engine
from server.dbcheck import check
from server.migrations_state import MIGRATIONS_DIR, alembic_config


def test_revision_files_are_date_prefixed_and_reversible():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "several heads: merge or re-chain the revisions"
    for revision in script.walk_revisions():
        name = os.path.basename(revision.path)
        assert name[:8].isdigit() and name[8] == "_", f"{name} is not date-prefixed"
        source = (MIGRATIONS_DIR / "versions" / name).read_text()
        assert "def downgrade() -> None:\n    pass" not in source, f"{name} cannot downgrade"


def test_upgrade_check_downgrade_roundtrip(tmp_path):
    # always on a private SQLite file: the session database stays untouched
    check(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}")


@pytest.mark.postgresql_only
def test_session_database_is_at_head(database_url):
    config = alembic_config(database_url)
    command.check(config)


@pytest.mark.postgresql_only
def test_sessions_leave_room_in_their_pages_for_in_place_updates(database_url):
    # every registration updates its session's row: fillfactor 80 keeps those updates HOT
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            options = connection.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'planning_session'")
            ).scalar_one()
            indexes = connection.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'planning_session'")
            ).scalars()
            assert options == ["fillfactor=80"]
            assert "ix_planning_session_rcp_id" not in set(indexes)
    finally:
        engine.dispose()
