"""Transfers: an index on created_at, for counting today's transfers per source without a list of stores

Revision ID: f3c1a9e7b2d4
Revises: b8e4d1c7a2f0
Create Date: 2026-12-06 01:40:00

The sourcing engine counts each source's transfers of its local day on every proposal
(orders/transfer_capacity.py); it now asks for today's transfers grouped by source, which this index serves.
"""
from alembic import op


revision = 'f3c1a9e7b2d4'
down_revision = 'b8e4d1c7a2f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.create_index('ix_transfer_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.drop_index('ix_transfer_created_at')
