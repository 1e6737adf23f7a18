"""mail: the outgoing mail queue, members' per-kind mail opt-ins, spent single-use tokens

Revision ID: 2026_11_29_0400
Revises: 2026_11_23_0001
Create Date: 2026-11-29 19:28:42.871368
"""
from alembic import op
import sqlalchemy as sa
import federation.db


revision = '2026_11_29_0400'
down_revision = '2026_11_23_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('used_tokens',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('used_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_used_tokens'))
    )
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_code', sa.Integer(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stored_as', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_mail_messages_member_id_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages')),
    sa.UniqueConstraint('message_id', name=op.f('uq_mail_messages_message_id'))
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_created', ['created_at'], unique=False)
        batch_op.create_index('ix_mail_messages_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_messages_member_id'), ['member_id'], unique=False)

    op.create_table('mail_preferences',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_mail_preferences_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'kind', name=op.f('pk_mail_preferences'))
    )


def downgrade() -> None:
    op.drop_table('mail_preferences')
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_messages_member_id'))
        batch_op.drop_index('ix_mail_messages_due')
        batch_op.drop_index('ix_mail_messages_created')

    op.drop_table('mail_messages')
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_tokens_expires_at'))

    op.drop_table('used_tokens')
