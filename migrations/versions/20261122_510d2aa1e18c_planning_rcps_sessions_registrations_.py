"""planning: rcps, sessions, registrations, notifications, webhooks

Revision ID: 510d2aa1e18c
Revises: 3302f526be6d
Create Date: 2026-11-22 01:01:06.154803

Review before committing: autogenerate misses renames and server defaults; every revision
must downgrade cleanly, and must stay compatible with the previous code (deploys migrate while
old workers still serve).
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "510d2aa1e18c"
down_revision = "3302f526be6d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_rpps", sa.String(length=11), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_notification")),
    )
    with op.batch_alter_table("planning_notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planning_notification_recipient", ["recipient_rpps", "id"], unique=False
        )

    op.create_table(
        "planning_rcp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind_code", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("host_finess", sa.String(length=9), nullable=False),
        sa.Column("three_c", sa.String(length=200), nullable=True),
        sa.Column("region", sa.String(length=3), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("coordinator_rpps", sa.String(length=11), nullable=False),
        sa.Column("substitute_rpps", sa.String(length=11), nullable=True),
        sa.Column("min_physicians", sa.Integer(), nullable=False),
        sa.Column("min_distinct_specialties", sa.Integer(), nullable=False),
        sa.Column("required_specialties", sa.JSON(), nullable=False),
        sa.Column("geriatrician_over_75", sa.Boolean(), nullable=False),
        sa.Column("place_finess", sa.String(length=9), nullable=True),
        sa.Column("room", sa.String(length=200), nullable=True),
        sa.Column("visio_url", sa.String(length=500), nullable=True),
        sa.Column("rrule", sa.String(length=300), nullable=True),
        sa.Column("recurrence_start", sa.Date(), nullable=True),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("exdates", sa.JSON(), nullable=False),
        sa.Column("deadline_hours", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("open_to_external", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_rcp")),
    )
    with op.batch_alter_table("planning_rcp", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planning_rcp_coordinator_rpps"), ["coordinator_rpps"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_planning_rcp_department"), ["department"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_planning_rcp_host_finess"), ["host_finess"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_planning_rcp_kind_code"), ["kind_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_planning_rcp_region"), ["region"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_planning_rcp_substitute_rpps"), ["substitute_rpps"], unique=False
        )

    op.create_table(
        "planning_webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_subject", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=3), nullable=True),
        sa.Column("finess", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_webhook")),
    )
    with op.batch_alter_table("planning_webhook", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planning_webhook_owner_subject"), ["owner_subject"], unique=False
        )

    op.create_table(
        "planning_rcp_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rcp_id", sa.Integer(), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("specialty_code", sa.String(length=20), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["rcp_id"],
            ["planning_rcp.id"],
            name=op.f("fk_planning_rcp_member_rcp_id_planning_rcp"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_rcp_member")),
        sa.UniqueConstraint("rcp_id", "rpps", name=op.f("uq_planning_rcp_member_rcp_id_rpps")),
    )
    with op.batch_alter_table("planning_rcp_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planning_rcp_member_rpps"), ["rpps"], unique=False)

    op.create_table(
        "planning_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rcp_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_date", sa.Date(), nullable=True),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("place_finess", sa.String(length=9), nullable=True),
        sa.Column("room", sa.String(length=200), nullable=True),
        sa.Column("visio_url", sa.String(length=500), nullable=True),
        sa.Column("registration_deadline", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("registered_count", sa.Integer(), nullable=False),
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
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_planning_session_ends_after_start")
        ),
        sa.CheckConstraint(
            "registered_count >= 0", name=op.f("ck_planning_session_registered_count_positive")
        ),
        sa.ForeignKeyConstraint(
            ["rcp_id"], ["planning_rcp.id"], name=op.f("fk_planning_session_rcp_id_planning_rcp")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_session")),
        sa.UniqueConstraint(
            "rcp_id", "occurrence_date", name=op.f("uq_planning_session_rcp_id_occurrence_date")
        ),
    )
    with op.batch_alter_table("planning_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planning_session_rcp_id"), ["rcp_id"], unique=False)
        batch_op.create_index(
            "ix_planning_session_rcp_starts", ["rcp_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_planning_session_starts_at"), ["starts_at"], unique=False
        )

    op.create_table(
        "planning_webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["planning_webhook.id"],
            name=op.f("fk_planning_webhook_delivery_webhook_id_planning_webhook"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_webhook_delivery")),
    )
    with op.batch_alter_table("planning_webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planning_webhook_delivery_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_planning_webhook_delivery_webhook_id"), ["webhook_id"], unique=False
        )

    op.create_table(
        "planning_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("registering_rpps", sa.String(length=11), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("patient_ref", sa.String(length=64), nullable=False),
        sa.Column("tumour_code", sa.String(length=10), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("wished_date", sa.Date(), nullable=True),
        sa.Column("patient_over_75", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("deferred_to_id", sa.Integer(), nullable=True),
        sa.Column("deferred_from_id", sa.Integer(), nullable=True),
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
            ["deferred_to_id"],
            ["planning_registration.id"],
            name=op.f("fk_planning_registration_deferred_to_id_planning_registration"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["planning_session.id"],
            name=op.f("fk_planning_registration_session_id_planning_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_registration")),
    )
    with op.batch_alter_table("planning_registration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planning_registration_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_planning_registration_registering_rpps"),
            ["registering_rpps"],
            unique=False,
        )
        batch_op.create_index(
            "ix_planning_registration_session_status", ["session_id", "status"], unique=False
        )

    op.create_table(
        "planning_session_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("specialty_code", sa.String(length=20), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("attendance", sa.String(length=20), nullable=True),
        sa.Column("replaced_by_rpps", sa.String(length=11), nullable=True),
        sa.Column("replaced_by_specialty", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["planning_session.id"],
            name=op.f("fk_planning_session_participant_session_id_planning_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_session_participant")),
        sa.UniqueConstraint(
            "session_id", "rpps", name=op.f("uq_planning_session_participant_session_id_rpps")
        ),
    )
    with op.batch_alter_table("planning_session_participant", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planning_session_participant_replaced_by",
            ["replaced_by_rpps"],
            unique=False,
            sqlite_where=sa.text("replaced_by_rpps IS NOT NULL"),
            postgresql_where=sa.text("replaced_by_rpps IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_planning_session_participant_rpps"), ["rpps"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_planning_session_participant_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "planning_registration_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor_subject", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("target_session_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["planning_registration.id"],
            name=op.f("fk_planning_registration_event_registration_id_planning_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_registration_event")),
    )
    with op.batch_alter_table("planning_registration_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_planning_registration_event_registration_id"),
            ["registration_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("planning_registration_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_registration_event_registration_id"))

    op.drop_table("planning_registration_event")
    with op.batch_alter_table("planning_session_participant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_session_participant_session_id"))
        batch_op.drop_index(batch_op.f("ix_planning_session_participant_rpps"))
        batch_op.drop_index(
            "ix_planning_session_participant_replaced_by",
            sqlite_where=sa.text("replaced_by_rpps IS NOT NULL"),
            postgresql_where=sa.text("replaced_by_rpps IS NOT NULL"),
        )

    op.drop_table("planning_session_participant")
    with op.batch_alter_table("planning_registration", schema=None) as batch_op:
        batch_op.drop_index("ix_planning_registration_session_status")
        batch_op.drop_index(batch_op.f("ix_planning_registration_registering_rpps"))
        batch_op.drop_index(batch_op.f("ix_planning_registration_client_id"))

    op.drop_table("planning_registration")
    with op.batch_alter_table("planning_webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_webhook_delivery_webhook_id"))
        batch_op.drop_index("ix_planning_webhook_delivery_due")

    op.drop_table("planning_webhook_delivery")
    with op.batch_alter_table("planning_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_session_starts_at"))
        batch_op.drop_index("ix_planning_session_rcp_starts")
        batch_op.drop_index(batch_op.f("ix_planning_session_rcp_id"))

    op.drop_table("planning_session")
    with op.batch_alter_table("planning_rcp_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_rcp_member_rpps"))

    op.drop_table("planning_rcp_member")
    with op.batch_alter_table("planning_webhook", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_webhook_owner_subject"))

    op.drop_table("planning_webhook")
    with op.batch_alter_table("planning_rcp", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_rcp_substitute_rpps"))
        batch_op.drop_index(batch_op.f("ix_planning_rcp_region"))
        batch_op.drop_index(batch_op.f("ix_planning_rcp_kind_code"))
        batch_op.drop_index(batch_op.f("ix_planning_rcp_host_finess"))
        batch_op.drop_index(batch_op.f("ix_planning_rcp_department"))
        batch_op.drop_index(batch_op.f("ix_planning_rcp_coordinator_rpps"))

    op.drop_table("planning_rcp")
    with op.batch_alter_table("planning_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_planning_notification_recipient")

    op.drop_table("planning_notification")
