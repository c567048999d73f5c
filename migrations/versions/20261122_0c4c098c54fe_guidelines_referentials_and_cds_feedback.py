"""Guidelines: referential versions with their decision trees, and CDS Hooks feedback.

Revision ID: 0c4c098c54fe
Revises: c4c5211d3175
Create Date: 2026-11-22 00:22:55.207253

Review before committing: autogenerate misses renames and server defaults; every revision
must downgrade cleanly, and must stay compatible with the previous code (deploys migrate while
old workers still serve).
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0c4c098c54fe"
down_revision = "c4c5211d3175"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guideline_cds_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=120), nullable=False),
        sa.Column("card_uuid", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("override_reason", sa.JSON(), nullable=True),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("outcome_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_cds_feedback")),
    )
    with op.batch_alter_table("guideline_cds_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guideline_cds_feedback_card_uuid"), ["card_uuid"], unique=False
        )

    op.create_table(
        "guideline_referential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("localisation_oncotree", sa.String(length=20), nullable=True),
        sa.Column("localisation_cim10", sa.String(length=40), nullable=True),
        sa.Column("organ_code", sa.String(length=40), nullable=True),
        sa.Column("owner_level", sa.String(length=20), nullable=False),
        sa.Column("owner_org", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("next_review_due", sa.Date(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("derived_from", sa.String(length=120), nullable=True),
        sa.Column("source_url", sa.String(length=500), nullable=True),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("validators", sa.JSON(), nullable=False),
        sa.Column("changelog", sa.Text(), nullable=False),
        sa.Column("tree", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.String(length=200), nullable=True),
        sa.Column("retired_at", core.db.UTCDateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["guideline_referential.id"],
            name=op.f("fk_guideline_referential_supersedes_id_guideline_referential"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_referential")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_guideline_referential_key_version")),
    )
    with op.batch_alter_table("guideline_referential", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guideline_referential_key"), ["key"], unique=False)
        batch_op.create_index(
            "ix_guideline_referential_lookup", ["status", "localisation_oncotree"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guideline_referential_region"), ["region"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("guideline_referential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_referential_region"))
        batch_op.drop_index("ix_guideline_referential_lookup")
        batch_op.drop_index(batch_op.f("ix_guideline_referential_key"))

    op.drop_table("guideline_referential")
    with op.batch_alter_table("guideline_cds_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_cds_feedback_card_uuid"))

    op.drop_table("guideline_cds_feedback")
