"""onboarding: member invitations; members' register id (ref) and deactivation; API tokens

Revision ID: 2026_11_29_0700
Revises: 2026_11_29_0400
Create Date: 2026-11-29 23:00:00
"""
from alembic import op
import sqlalchemy as sa
import federation.db


revision = '2026_11_29_0700'
down_revision = "2026_11_29_0900"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_invitations',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_account_invitations_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_account_invitations'))
    )
    with op.batch_alter_table('account_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_invitations_state'), ['state'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=16), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_api_tokens_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', federation.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_members_node_ref', ['node', 'ref'])


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint('uq_members_node_ref', type_='unique')
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('ref')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_member_id'))

    op.drop_table('api_tokens')

    with op.batch_alter_table('account_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_invitations_state'))

    op.drop_table('account_invitations')
