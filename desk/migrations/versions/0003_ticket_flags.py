"""tickets: secret_redacted badge, client + flagged_flood (escalation floods), paged_at (on-call pages)

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
        batch_op.create_index('ix_tickets_client_created', ['client', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_client_created')
        batch_op.drop_column('paged_at')
        batch_op.drop_column('flagged_flood')
        batch_op.drop_column('client')
        batch_op.drop_column('secret_redacted')
