"""order line sourcing reason as a code and parameters (rendered in the viewer's language)

Revision ID: c3d81f2a9e60
Revises: 3d8f1c6a2b57
Create Date: 2026-12-04 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3d81f2a9e60'
down_revision = '3d8f1c6a2b57'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_reason', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_column('source_reason')
