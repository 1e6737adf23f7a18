"""collaboration: responses, invitations, messages, notifications, member consents, call options

Revision ID: 2026_11_29_0500
Revises: 2026_11_29_0400
Create Date: 2026-11-29 22:50:08.784444
"""
from alembic import op
import sqlalchemy as sa
import federation.db


revision = '2026_11_29_0500'
down_revision = '2026_11_29_0400'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('member_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_consents_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_consents')),
    sa.UniqueConstraint('member_id', 'host', name='uq_member_consents_host')
    )
    with op.batch_alter_table('member_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_consents_member_id'), ['member_id'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=512), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('inviter_id', sa.Integer(), nullable=False),
    sa.Column('invitee_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_invitations_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitee_id'], ['members.id'], name=op.f('fk_invitations_invitee_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inviter_id'], ['members.id'], name=op.f('fk_invitations_inviter_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_invitations_ap_id'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_invitee_id'), ['invitee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_inviter_id'), ['inviter_id'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=512), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('responder_id', sa.Integer(), nullable=True),
    sa.Column('responder_actor', sa.String(length=512), nullable=False),
    sa.Column('responder_name', sa.String(length=200), nullable=False),
    sa.Column('responder_url', sa.String(length=512), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('available_note', sa.String(length=500), nullable=False),
    sa.Column('rate', sa.String(length=200), nullable=False),
    sa.Column('links', sa.JSON(), nullable=False),
    sa.Column('team_contact', sa.String(length=500), nullable=False),
    sa.Column('source_url', sa.String(length=512), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('decision_message', sa.Text(), nullable=False),
    sa.Column('team', sa.JSON(), nullable=True),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_responses_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_responses_invitation_id_invitations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['responder_id'], ['members.id'], name=op.f('fk_responses_responder_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_responses_ap_id'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responses_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responses_responder_actor'), ['responder_actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_responses_responder_id'), ['responder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responses_state'), ['state'], unique=False)
        batch_op.create_index('uq_responses_live', ['call_id', 'responder_actor'], unique=True, sqlite_where=sa.text('live = 1'), postgresql_where=sa.text('live'))

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=512), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('sender_actor', sa.String(length=512), nullable=False),
    sa.Column('recipient_actor', sa.String(length=512), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('in_reply_to', sa.String(length=512), nullable=True),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_messages_invitation_id_invitations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_messages_response_id_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_messages_ap_id'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_recipient_actor'), ['recipient_actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_sender_actor'), ['sender_actor'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('created_at', federation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', federation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_notifications_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_notifications_invitation_id_invitations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_notifications_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_notifications_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_notifications_response_id_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_index('ix_notifications_member_read', ['member_id', 'read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_response_id'), ['response_id'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        # Server defaults fill existing calls; the models give new rows their values.
        batch_op.add_column(sa.Column('author_contact', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('allow_fediverse_responses', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('allow_fediverse_responses')
        batch_op.drop_column('author_contact')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_response_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_message_id'))
        batch_op.drop_index('ix_notifications_member_read')
        batch_op.drop_index(batch_op.f('ix_notifications_invitation_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_call_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_sender_actor'))
        batch_op.drop_index(batch_op.f('ix_messages_response_id'))
        batch_op.drop_index(batch_op.f('ix_messages_recipient_actor'))
        batch_op.drop_index(batch_op.f('ix_messages_invitation_id'))

    op.drop_table('messages')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('uq_responses_live', sqlite_where=sa.text('live = 1'), postgresql_where=sa.text('live'))
        batch_op.drop_index(batch_op.f('ix_responses_state'))
        batch_op.drop_index(batch_op.f('ix_responses_responder_id'))
        batch_op.drop_index(batch_op.f('ix_responses_responder_actor'))
        batch_op.drop_index(batch_op.f('ix_responses_call_id'))

    op.drop_table('responses')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_inviter_id'))
        batch_op.drop_index(batch_op.f('ix_invitations_invitee_id'))
        batch_op.drop_index(batch_op.f('ix_invitations_call_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('member_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_consents_member_id'))

    op.drop_table('member_consents')
