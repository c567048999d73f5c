"""planning feeds: subscriptions, validators, change token

Revision ID: a091135aa352
Revises: 510d2aa1e18c
Create Date: 2026-11-22 00:28:19.173883

Review before committing: autogenerate misses renames and server defaults; every revision
must downgrade cleanly, and must stay compatible with the previous code (deploys migrate while
old workers still serve).
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "a091135aa352"
down_revision = "510d2aa1e18c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_feed_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("last_modified", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_planning_feed_state")),
    )
    op.create_table(
        "planning_feed_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_subject", sa.String(length=200), nullable=False),
        sa.Column("owner_issuer", sa.String(length=300), nullable=False),
        sa.Column("owner_role", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("scope_value", sa.String(length=20), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            core.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            core.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_feed_subscription")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_planning_feed_subscription_token_hash")),
    )
    with op.batch_alter_table("planning_feed_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planning_feed_subscription_owner_subject"),
            ["owner_subject"],
            unique=False,
        )

    op.create_table(
        "planning_feed_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_feed_version")),
    )


def downgrade() -> None:
    op.drop_table("planning_feed_version")
    with op.batch_alter_table("planning_feed_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_feed_subscription_owner_subject"))

    op.drop_table("planning_feed_subscription")
    op.drop_table("planning_feed_state")
