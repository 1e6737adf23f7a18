"""matching: members' and calls' phrases, occupation -> skill relations, language rules

Revision ID: 2026_11_29_0300
Revises: 2026_11_29_0400
Create Date: 2026-11-29 23:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '2026_11_29_0300'
down_revision = "2026_11_29_0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('concept_relations',
    sa.Column('occupation_iri', sa.String(length=255), nullable=False),
    sa.Column('skill_iri', sa.String(length=255), nullable=False),
    sa.Column('essential', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['occupation_iri'], ['concepts.iri'], name=op.f('fk_concept_relations_occupation_iri_concepts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('occupation_iri', 'skill_iri', name=op.f('pk_concept_relations'))
    )
    op.create_table('member_phrases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=255), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('concept_iri', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_phrases_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_phrases'))
    )
    with op.batch_alter_table('member_phrases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_phrases_member_id'), ['member_id'], unique=False)

    op.create_table('call_phrases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('text', sa.String(length=255), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('concept_iri', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_phrases_call_id_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_phrases'))
    )
    with op.batch_alter_table('call_phrases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_phrases_call_id'), ['call_id'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_pairs', sa.String(length=255), nullable=False, server_default=''))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages_all', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('language_pairs', sa.String(length=64), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('language_pairs')
        batch_op.drop_column('languages_all')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('language_pairs')
    with op.batch_alter_table('call_phrases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_phrases_call_id'))
    op.drop_table('call_phrases')
    with op.batch_alter_table('member_phrases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_phrases_member_id'))
    op.drop_table('member_phrases')
    op.drop_table('concept_relations')
