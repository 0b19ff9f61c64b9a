"""tickets.lookup: the facts the bot's transaction lookup read on chain, shown on the ticket

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 17:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('lookup', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('lookup')
