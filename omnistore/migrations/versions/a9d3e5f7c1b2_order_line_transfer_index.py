"""Order lines: an index on transfer_id, for a transfer's lines

Revision ID: a9d3e5f7c1b2
Revises: f3c1a9e7b2d4
Create Date: 2026-12-06 04:30:00

A transfer's lines are read by transfer_id (an order page with a transfer, the transfer lists). Without an index
that read scanned every order line: with 4 million lines an order page with a transfer took 240 ms.
"""
from alembic import op


revision = 'a9d3e5f7c1b2'
down_revision = 'f3c1a9e7b2d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.create_index('ix_order_line_transfer_id', ['transfer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_index('ix_order_line_transfer_id')
