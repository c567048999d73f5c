"""Directory: professionals (RPPS/ADELI) with activities, establishments (FINESS), name tokens.

Revision ID: 3302f526be6d
Revises: 0c4c098c54fe
Create Date: 2026-11-22 00:45:19.566665

Review before committing: autogenerate misses renames and server defaults; every revision
must downgrade cleanly, and must stay compatible with the previous code (deploys migrate while
old workers still serve).
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "3302f526be6d"
down_revision = "0c4c098c54fe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("layout", sa.String(length=40), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deactivated", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_import")),
    )
    op.create_table(
        "directory_organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finess", sa.String(length=9), nullable=False),
        sa.Column("kind", sa.String(length=2), nullable=False),
        sa.Column("finess_ej", sa.String(length=9), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("long_name", sa.String(length=300), nullable=True),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("category_code", sa.String(length=4), nullable=True),
        sa.Column("category_label", sa.String(length=200), nullable=True),
        sa.Column("siret", sa.String(length=14), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=10), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_organization")),
        sa.UniqueConstraint("finess", name=op.f("uq_directory_organization_finess")),
    )
    with op.batch_alter_table("directory_organization", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_organization_category_code"), ["category_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_organization_department"), ["department"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_organization_finess_ej"), ["finess_ej"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_directory_organization_lat"), ["lat"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_directory_organization_region"), ["region"], unique=False
        )

    op.create_table(
        "directory_practitioner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=12), nullable=False),
        sa.Column("id_type", sa.String(length=1), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=True),
        sa.Column("civility", sa.String(length=8), nullable=True),
        sa.Column("exercise_civility", sa.String(length=8), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_practitioner")),
        sa.UniqueConstraint("national_id", name=op.f("uq_directory_practitioner_national_id")),
        sa.UniqueConstraint("rpps", name=op.f("uq_directory_practitioner_rpps")),
    )
    with op.batch_alter_table("directory_practitioner", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_practitioner_name_key"), ["name_key"], unique=False
        )

    op.create_table(
        "directory_organization_token",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "token",
            sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["directory_organization.id"],
            name=op.f("fk_directory_organization_token_organization_id_directory_organization"),
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "token", name=op.f("pk_directory_organization_token")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("directory_organization_token", schema=None) as batch_op:
        batch_op.create_index(
            "ix_directory_organization_token_search",
            ["active", "token", "name_key", "organization_id"],
            unique=False,
        )

    op.create_table(
        "directory_practitioner_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("activity_key", sa.String(length=32), nullable=False),
        sa.Column("profession_code", sa.String(length=4), nullable=True),
        sa.Column("profession_label", sa.String(length=100), nullable=True),
        sa.Column("category_code", sa.String(length=4), nullable=True),
        sa.Column("specialty_type", sa.String(length=8), nullable=True),
        sa.Column("specialty_code", sa.String(length=12), nullable=True),
        sa.Column("specialty_label", sa.String(length=200), nullable=True),
        sa.Column("mode_exercice", sa.String(length=4), nullable=True),
        sa.Column("siret", sa.String(length=14), nullable=True),
        sa.Column("finess_site", sa.String(length=9), nullable=True),
        sa.Column("finess_ej", sa.String(length=9), nullable=True),
        sa.Column("structure_id", sa.String(length=20), nullable=True),
        sa.Column("structure_name", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=10), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=60), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("role_code", sa.String(length=8), nullable=True),
        sa.Column("genre_code", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["directory_practitioner.id"],
            name=op.f("fk_directory_practitioner_activity_practitioner_id_directory_practitioner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_practitioner_activity")),
    )
    with op.batch_alter_table("directory_practitioner_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_practitioner_activity_department"),
            ["department"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_directory_practitioner_activity_finess_site"),
            ["finess_site"],
            unique=False,
        )
        batch_op.create_index(
            "ix_directory_practitioner_activity_owner", ["practitioner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_practitioner_activity_specialty_code"),
            ["specialty_code"],
            unique=False,
        )

    op.create_table(
        "directory_practitioner_token",
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column(
            "token",
            sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["directory_practitioner.id"],
            name=op.f("fk_directory_practitioner_token_practitioner_id_directory_practitioner"),
        ),
        sa.PrimaryKeyConstraint(
            "practitioner_id", "token", name=op.f("pk_directory_practitioner_token")
        ),
    )
    with op.batch_alter_table("directory_practitioner_token", schema=None) as batch_op:
        batch_op.create_index(
            "ix_directory_practitioner_token_search",
            ["active", "token", "name_key", "practitioner_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("directory_practitioner_token", schema=None) as batch_op:
        batch_op.drop_index("ix_directory_practitioner_token_search")

    op.drop_table("directory_practitioner_token")
    with op.batch_alter_table("directory_practitioner_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_practitioner_activity_specialty_code"))
        batch_op.drop_index("ix_directory_practitioner_activity_owner")
        batch_op.drop_index(batch_op.f("ix_directory_practitioner_activity_finess_site"))
        batch_op.drop_index(batch_op.f("ix_directory_practitioner_activity_department"))

    op.drop_table("directory_practitioner_activity")
    with op.batch_alter_table("directory_organization_token", schema=None) as batch_op:
        batch_op.drop_index("ix_directory_organization_token_search")

    op.drop_table("directory_organization_token")
    with op.batch_alter_table("directory_practitioner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_practitioner_name_key"))

    op.drop_table("directory_practitioner")
    with op.batch_alter_table("directory_organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_organization_region"))
        batch_op.drop_index(batch_op.f("ix_directory_organization_lat"))
        batch_op.drop_index(batch_op.f("ix_directory_organization_finess_ej"))
        batch_op.drop_index(batch_op.f("ix_directory_organization_department"))
        batch_op.drop_index(batch_op.f("ix_directory_organization_category_code"))

    op.drop_table("directory_organization")
    op.drop_table("directory_import")
