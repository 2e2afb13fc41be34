"""indexes for the manager's pickup review figures

Revision ID: 7c3e9a1f0b52
Revises: 5b1c0e7d2a41
Create Date: 2026-11-22 12:30:00

"""
from alembic import op


revision = '7c3e9a1f0b52'
down_revision = '5b1c0e7d2a41'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_orders_placed_at', 'orders', ['placed_at']),
    ('ix_orders_pickup_location_placed', 'orders', ['pickup_location_id', 'placed_at']),
    ('ix_orders_origin_location_placed', 'orders', ['origin_location_id', 'placed_at']),
    ('ix_orders_status_pickup_location', 'orders', ['status', 'pickup_location_id']),
    ('ix_pickup_ready_at', 'pickup', ['ready_at']),
    ('ix_pickup_collected_at', 'pickup', ['collected_at']),
    ('ix_pickup_checked_in_at', 'pickup', ['checked_in_at']),
    ('ix_order_event_kind_at', 'order_event', ['kind', 'created_at']),
    ('ix_audit_event_action_at', 'audit_event', ['action', 'created_at']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
