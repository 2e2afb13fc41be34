"""location sourcing rules and pickup hours

Revision ID: 5b1c0e7d2a41
Revises: 284622f47973
Create Date: 2026-11-22 10:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5b1c0e7d2a41'
down_revision = '284622f47973'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pickup_hours', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('sourcing_enabled', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('safety_stock', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('transfer_capacity', sa.Integer(), nullable=False, server_default='50'))
        batch_op.add_column(sa.Column('lead_time_days', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint(op.f('ck_location_safety_stock'), 'safety_stock >= 0')
        batch_op.create_check_constraint(op.f('ck_location_transfer_capacity'), 'transfer_capacity >= 0')
        batch_op.create_check_constraint(op.f('ck_location_lead_time_days'), 'lead_time_days BETWEEN 0 AND 60')


def downgrade():
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_location_lead_time_days'), type_='check')
        batch_op.drop_constraint(op.f('ck_location_transfer_capacity'), type_='check')
        batch_op.drop_constraint(op.f('ck_location_safety_stock'), type_='check')
        batch_op.drop_column('lead_time_days')
        batch_op.drop_column('transfer_capacity')
        batch_op.drop_column('safety_stock')
        batch_op.drop_column('sourcing_enabled')
        batch_op.drop_column('pickup_hours')
