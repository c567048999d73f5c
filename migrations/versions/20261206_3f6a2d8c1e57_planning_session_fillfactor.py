"""Planning: room in the pages of sessions for in-place updates; one redundant index dropped

Revision ID: 3f6a2d8c1e57
Revises: 7d1e5c2a9b40
Create Date: 2026-12-06 13:00:00

Every registration, withdrawal and decision updates its session's row (``registered_count``).
With full pages PostgreSQL writes the new row version elsewhere and adds an entry to each of
the table's indexes; with a fifth of each page left free it mostly writes it in the same page
without touching the indexes (a HOT update: on the national benchmark, from 25 % of the
updates to nearly all). The table is rewritten once so that the rows already there get that
room too, under an exclusive lock: sessions are tens of thousands of rows a year (0.2 s for
the 54,000 of the national benchmark year).

``ix_planning_session_rcp_id`` goes: the two indexes that lead with ``rcp_id`` serve every
query it served, the foreign key's checks included, and each index is one more write per
non-HOT update. SQLite has no fillfactor; it only loses the index.
"""

from alembic import op

revision = "3f6a2d8c1e57"
down_revision = "7d1e5c2a9b40"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_planning_session_rcp_id", table_name="planning_session")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE planning_session SET (fillfactor = 80)")
        # a rewrite that runs in the migration's transaction (VACUUM FULL cannot), without
        # leaving the table marked as clustered
        op.execute("CLUSTER planning_session USING pk_planning_session")
        op.execute("ALTER TABLE planning_session SET WITHOUT CLUSTER")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE planning_session RESET (fillfactor)")
    op.create_index("ix_planning_session_rcp_id", "planning_session", ["rcp_id"], unique=False)
