"""daily: calls.search_text, the folded text keyword search matches (profiles.search), and
an index for lists of the newest open calls

Revision ID: 2026_11_29_0900
Revises: 2026_11_29_0400
Create Date: 2026-11-29 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "2026_11_29_0900"
down_revision = "2026_11_29_0500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
        batch_op.create_index("ix_calls_status_created", ["status", "created_at"], unique=False)
    # Existing calls become searchable: fold them as the application does on every save.
    from profiles.search import searchable

    bind = op.get_bind()
    calls = sa.table(
        "calls",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("city", sa.String),
        sa.column("description", sa.Text),
        sa.column("search_text", sa.Text),
    )
    rows = bind.execute(sa.select(calls.c.id, calls.c.title, calls.c.city, calls.c.description))
    for row in rows.all():
        text = searchable(row.title, row.city, html=row.description)
        bind.execute(calls.update().where(calls.c.id == row.id).values(search_text=text))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_status_created")
        batch_op.drop_column("search_text")
