"""NLU inbox: messages the bot failed on, and how far the tracker store has been read

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 20:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('nlu_inbox_items',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('event_key', sa.String(length=300), nullable=False),
                    sa.Column('conversation_id', sa.String(length=255), nullable=False),
                    sa.Column('channel', sa.String(length=64), nullable=False),
                    sa.Column('language', sa.String(length=2), nullable=False),
                    sa.Column('text', sa.Text(), nullable=False),
                    sa.Column('group_key', sa.String(length=255), nullable=False),
                    sa.Column('predicted_intent', sa.String(length=64), nullable=True),
                    sa.Column('confidence', sa.Float(), nullable=True),
                    sa.Column('entities', sa.Text(), nullable=True),
                    sa.Column('reason', sa.String(length=16), nullable=False),
                    sa.Column('suggested_intent', sa.String(length=64), nullable=True),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.Column('label_intent', sa.String(length=64), nullable=True),
                    sa.Column('label_entities', sa.Text(), nullable=True),
                    sa.Column('discard_reason', sa.String(length=16), nullable=True),
                    sa.Column('reviewer_id', sa.Integer(), nullable=True),
                    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['reviewer_id'], ['agents.id'], ),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('event_key'))
    op.create_index('ix_nlu_inbox_items_conversation_id', 'nlu_inbox_items', ['conversation_id'], unique=False)
    op.create_index('ix_nlu_inbox_items_group_key', 'nlu_inbox_items', ['group_key'], unique=False)
    op.create_index('ix_nlu_inbox_status_created', 'nlu_inbox_items', ['status', 'created_at'], unique=False)
    op.create_table('nlu_harvest_state',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('last_event_id', sa.Integer(), nullable=False),
                    sa.Column('harvested_at', sa.DateTime(), nullable=True),
                    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('nlu_harvest_state')
    op.drop_index('ix_nlu_inbox_status_created', table_name='nlu_inbox_items')
    op.drop_index('ix_nlu_inbox_items_group_key', table_name='nlu_inbox_items')
    op.drop_index('ix_nlu_inbox_items_conversation_id', table_name='nlu_inbox_items')
    op.drop_table('nlu_inbox_items')
