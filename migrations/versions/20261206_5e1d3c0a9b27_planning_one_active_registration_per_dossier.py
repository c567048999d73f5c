"""planning: a dossier is active at most once on a session (partial unique index)

Revision ID: 5e1d3c0a9b27
Revises: b0bf3b745b18
Create Date: 2026-12-06 03:50:00

The registration path checked for an active registration of the same dossier before its
insert; two identical requests at the same instant could both pass the check on PostgreSQL
once the check and the place-taking became one statement, and a deferral could move a dossier
onto a session where it was already active. The index makes the database hold the rule.
Upgrading a database that already holds such duplicates fails with the offending keys: keep
the oldest active registration of each and withdraw the others first.
"""

import sqlalchemy as sa
from alembic import op

revision = "5e1d3c0a9b27"
down_revision = "b0bf3b745b18"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('proposed', 'accepted')"


def upgrade() -> None:
    op.create_index(
        "uq_planning_registration_active_dossier",
        "planning_registration",
        ["session_id", "registering_rpps", "patient_ref"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_planning_registration_active_dossier", table_name="planning_registration")
