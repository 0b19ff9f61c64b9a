"""Desk parity with a helpdesk: presence, auto-assignment, canned replies, attachments

agents: status (online/busy/offline), status_at, languages, last_assigned_at (round-robin);
tickets: assigned_at (assigned, not claimed yet), reopened (a user wrote again soon after a close),
csat_comment (one line with the rating);
canned_replies; attachments (files under var/, this table only points at them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=8), nullable=False, server_default='offline'))
        batch_op.add_column(sa.Column('status_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('languages', sa.String(length=32), nullable=False, server_default='zh,en'))
        batch_op.add_column(sa.Column('last_assigned_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reopened', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('csat_comment', sa.String(length=300), nullable=True))
    op.create_table('canned_replies',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('code', sa.String(length=32), nullable=False),
                    sa.Column('text_zh', sa.Text(), nullable=False),
                    sa.Column('text_en', sa.Text(), nullable=False),
                    sa.Column('visible_to', sa.String(length=16), nullable=False),
                    sa.Column('created_by_id', sa.Integer(), nullable=True),
                    sa.Column('updated_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['created_by_id'], ['agents.id'], ),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('code'))
    op.create_table('attachments',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('public_id', sa.String(length=32), nullable=False),
                    sa.Column('ticket_id', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('content_type', sa.String(length=64), nullable=False),
                    sa.Column('size', sa.Integer(), nullable=False),
                    sa.Column('sha256', sa.String(length=64), nullable=False),
                    sa.Column('path', sa.String(length=255), nullable=True),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.Column('deleted_at', sa.DateTime(), nullable=True),
                    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('public_id'))
    op.create_index('ix_attachments_ticket_id', 'attachments', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_attachments_ticket_id', table_name='attachments')
    op.drop_table('attachments')
    op.drop_table('canned_replies')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('csat_comment')
        batch_op.drop_column('reopened')
        batch_op.drop_column('assigned_at')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('last_assigned_at')
        batch_op.drop_column('languages')
        batch_op.drop_column('status_at')
        batch_op.drop_column('status')
