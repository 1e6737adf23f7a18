"""ops: snapshots of the operating figures (the admin dashboard's charts)

Revision ID: 2026_11_29_0800
Revises: 2026_11_29_0400
Create Date: 2026-11-29 23:20:00
"""

from alembic import op
import sqlalchemy as sa
import federation.db


revision = "2026_11_29_0800"
down_revision = "2026_11_29_0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", federation.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_snapshots")),
    )
    with op.batch_alter_table("ops_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ops_snapshots_taken_at"), ["taken_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ops_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ops_snapshots_taken_at"))
    op.drop_table("ops_snapshots")
