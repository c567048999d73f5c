"""trials: trials and sites

Revision ID: 4efece388be7
Revises: a091135aa352
Create Date: 2026-11-22 00:26:13.866151

Review before committing: autogenerate misses renames and server defaults; every revision
must downgrade cleanly, and must stay compatible with the previous code (deploys migrate while
old workers still serve).
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "4efece388be7"
down_revision = "a091135aa352"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.String(length=40), nullable=False),
        sa.Column("nct_id", sa.String(length=11), nullable=True),
        sa.Column("eu_ct_id", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("brief_title", sa.Text(), nullable=False),
        sa.Column("official_title", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("overall_status", sa.String(length=40), nullable=False),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("study_type", sa.String(length=40), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("interventions", sa.JSON(), nullable=False),
        sa.Column("sponsor", sa.String(length=300), nullable=True),
        sa.Column("start_date", sa.String(length=20), nullable=True),
        sa.Column("completion_date", sa.String(length=20), nullable=True),
        sa.Column("sex", sa.String(length=6), nullable=False),
        sa.Column("min_age_years", sa.Float(), nullable=True),
        sa.Column("max_age_years", sa.Float(), nullable=True),
        sa.Column("healthy_volunteers", sa.Boolean(), nullable=True),
        sa.Column("inclusion_text", sa.Text(), nullable=True),
        sa.Column("exclusion_text", sa.Text(), nullable=True),
        sa.Column("oncotree_codes", sa.JSON(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("needs_review", sa.JSON(), nullable=False),
        sa.Column("ctml_arms", sa.JSON(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial")),
        sa.UniqueConstraint("registry_id", name=op.f("uq_trial_registry_id")),
    )
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_eu_ct_id"), ["eu_ct_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_trial_nct_id"), ["nct_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_trial_overall_status"), ["overall_status"], unique=False
        )

    op.create_table(
        "trial_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("facility", sa.String(length=300), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("finess", sa.String(length=9), nullable=True),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trial.id"],
            name=op.f("fk_trial_site_trial_id_trial"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_site")),
    )
    with op.batch_alter_table("trial_site", schema=None) as batch_op:
        batch_op.create_index("ix_trial_site_country_city", ["country", "city"], unique=False)
        batch_op.create_index(batch_op.f("ix_trial_site_trial_id"), ["trial_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trial_site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_site_trial_id"))
        batch_op.drop_index("ix_trial_site_country_city")

    op.drop_table("trial_site")
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_overall_status"))
        batch_op.drop_index(batch_op.f("ix_trial_nct_id"))
        batch_op.drop_index(batch_op.f("ix_trial_eu_ct_id"))

    op.drop_table("trial")
