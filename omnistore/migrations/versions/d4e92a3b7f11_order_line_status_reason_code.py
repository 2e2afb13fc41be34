"""order line status reason written by the system as a code and parameters

Revision ID: d4e92a3b7f11
Revises: f6b2d8e4a1c7
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd4e92a3b7f11'
down_revision = 'f6b2d8e4a1c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason_code', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_column('status_reason_code')
