"""Integrity: inbox items wait after a transient failure (retry_at).

Revision ID: 2026_11_29_0100
Revises: 2026_11_29_0400

Members' keys made at member creation: existing members without keys get them from the worker
job ``profiles.member_keys`` (in batches, at start-up), not from this migration — RSA keys take
tens of milliseconds each, and a migration must stay quick.
"""

import sqlalchemy as sa
from alembic import op

import federation.db

revision = "2026_11_29_0100"
down_revision = "2026_11_29_0600"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fed_inbox_items") as batch:
        batch.add_column(
            sa.Column("retry_at", federation.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("fed_inbox_items") as batch:
        batch.drop_column("retry_at")
