"""planning feeds: event chunks, validator versions

Revision ID: c95cf2c3ab7b
Revises: 4efece388be7
Create Date: 2026-11-22 03:13:45.779434

Review before committing: autogenerate misses renames and server defaults; every revision
must downgrade cleanly, and must stay compatible with the previous code (deploys migrate while
old workers still serve).
"""

import sqlalchemy as sa
from alembic import op

revision = "c95cf2c3ab7b"
down_revision = "4efece388be7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_feed_chunk",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.Text(), nullable=False),
        sa.Column("inputs", sa.String(length=32), nullable=False),
        sa.Column("first_year", sa.Integer(), nullable=False),
        sa.Column("last_year", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["planning_session.id"],
            name=op.f("fk_planning_feed_chunk_session_id_planning_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_planning_feed_chunk")),
    )
    with op.batch_alter_table("planning_feed_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planning_feed_state", schema=None) as batch_op:
        batch_op.drop_column("version")

    op.drop_table("planning_feed_chunk")
