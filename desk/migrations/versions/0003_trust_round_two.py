"""Trust round two: ticket flags, the lookup's facts, idempotency keys

tickets: secret_redacted (badge), client + flagged_flood (escalation floods), paged_at (on-call
pages), lookup (what the transaction lookup read on chain); request_keys: the idempotency keys
of escalations and relayed messages, so a repeated turn stores nothing twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_redacted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('client', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('flagged_flood', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('paged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('lookup', sa.Text(), nullable=True))
        batch_op.create_index('ix_tickets_client_created', ['client', 'created_at'], unique=False)
    op.create_table('request_keys',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('key', sa.String(length=64), nullable=False),
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('ticket_id', sa.Integer(), nullable=False),
                    sa.Column('created', sa.Boolean(), nullable=False, server_default=sa.false()),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('key'))


def downgrade() -> None:
    op.drop_table('request_keys')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_client_created')
        batch_op.drop_column('lookup')
        batch_op.drop_column('paged_at')
        batch_op.drop_column('flagged_flood')
        batch_op.drop_column('client')
        batch_op.drop_column('secret_redacted')
