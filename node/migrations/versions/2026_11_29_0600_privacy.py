"""privacy: server-side member sessions, scheduled account deletion, partner avatars kept locally (issue 10)

Revision ID: 2026_11_29_0600
Revises: 2026_11_29_0400
Create Date: 2026-11-29 23:20:00
"""
from alembic import op
import sqlalchemy as sa
import federation.db


revision = '2026_11_29_0600'
down_revision = "2026_11_29_0700"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('member_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_sessions_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_member_sessions_token_hash'))
    )
    with op.batch_alter_table('member_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_sessions_member_id'), ['member_id'], unique=False)
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deletion_due_at', federation.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('avatar_source', sa.String(length=512), nullable=True))
    # Partners' coop-level author stubs stored the name of an author their coop hides
    # (issue 10, leak 2): forget it. Remote avatar URLs are fetched into local copies again.
    op.execute(
        "UPDATE members SET name = '', summary = '' WHERE local = false AND visibility = 'coop'"
    )
    op.execute(
        "UPDATE members SET avatar_source = avatar "
        "WHERE local = false AND avatar LIKE 'http%'"
    )


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('avatar_source')
        batch_op.drop_column('deletion_due_at')
    with op.batch_alter_table('member_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_sessions_member_id'))
    op.drop_table('member_sessions')
