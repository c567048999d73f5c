"""Models and migrations agree, and every revision downgrades and upgrades again."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.script import ScriptDirectory

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
