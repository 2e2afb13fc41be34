"""returns: the return and its lines, the returned quantity of an order line, the return and write-off movements

Revision ID: a7c4e2f9b813
Revises: a7e3c1d05b92
Create Date: 2026-12-05 09:10:00

"""
from alembic import op
import sqlalchemy as sa

import omnistore.core.types


revision = 'a7c4e2f9b813'
down_revision = 'a7e3c1d05b92'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('receipt', 'adjustment', 'allocation', 'release', 'transfer_out', 'transfer_in', 'handover', 'import', 'count')"
NEW_KINDS = (
    "kind IN ('receipt', 'adjustment', 'allocation', 'release', 'transfer_out', 'transfer_in', 'handover', 'import', "
    "'count', 'return', 'write_off')"
)


def upgrade():
    op.create_table('order_return',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('refund_minor', sa.Integer(), nullable=False),
    sa.Column('shipping_refund_minor', sa.Integer(), nullable=False),
    sa.Column('refund_method', sa.String(length=8), nullable=False),
    sa.Column('refund_reference', sa.String(length=100), nullable=False),
    sa.Column('window_overridden_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('window_override_reason', sa.String(length=300), nullable=False),
    sa.Column('exchange_draft_id', sa.Integer(), nullable=True),
    sa.Column('received_by_staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', omnistore.core.types.UTCDateTime(), nullable=False),
    sa.Column('graded_at', omnistore.core.types.UTCDateTime(), nullable=True),
    sa.Column('refund_requested_at', omnistore.core.types.UTCDateTime(), nullable=True),
    sa.Column('refunded_at', omnistore.core.types.UTCDateTime(), nullable=True),
    sa.Column('refunded_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('refunded_by_api_client_id', sa.Integer(), nullable=True),
    sa.Column('refused_at', omnistore.core.types.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('received', 'graded', 'refund_pending', 'refunded', 'refused')", name=op.f('ck_order_return_status')),
    sa.CheckConstraint("reason IN ('does_not_fit', 'not_as_described', 'defective', 'wrong_item', 'changed_mind', 'other')", name=op.f('ck_order_return_reason')),
    sa.CheckConstraint("refund_method IN ('online', 'till', 'none')", name=op.f('ck_order_return_refund_method')),
    sa.CheckConstraint('refund_minor >= 0 AND shipping_refund_minor >= 0', name=op.f('ck_order_return_refund_minor')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_return_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['exchange_draft_id'], ['order_draft.id'], name=op.f('fk_order_return_exchange_draft_id_order_draft'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_order_return_location_id_location')),
    sa.ForeignKeyConstraint(['received_by_staff_id'], ['staff.id'], name=op.f('fk_order_return_received_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['refunded_by_staff_id'], ['staff.id'], name=op.f('fk_order_return_refunded_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['window_overridden_by_staff_id'], ['staff.id'], name=op.f('fk_order_return_window_overridden_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['refunded_by_api_client_id'], ['api_client.id'], name=op.f('fk_order_return_refunded_by_api_client_id_api_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_return'))
    )
    op.create_index(op.f('ix_order_return_order_id'), 'order_return', ['order_id'], unique=False)
    op.create_index('ix_order_return_location_created', 'order_return', ['location_id', 'created_at'], unique=False)
    op.create_index('ix_order_return_status', 'order_return', ['status'], unique=False)
    op.create_table('order_return_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('return_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=12), nullable=False),
    sa.Column('disposition', sa.String(length=12), nullable=False),
    sa.Column('refund_minor', sa.Integer(), nullable=False),
    sa.CheckConstraint("grade IN ('resell', 'damaged', 'defective', 'not_ours')", name=op.f('ck_order_return_line_grade')),
    sa.CheckConstraint("disposition IN ('restocked', 'written_off', 'refused')", name=op.f('ck_order_return_line_disposition')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_return_line_quantity')),
    sa.CheckConstraint('refund_minor >= 0', name=op.f('ck_order_return_line_refund_minor')),
    sa.ForeignKeyConstraint(['return_id'], ['order_return.id'], name=op.f('fk_order_return_line_return_id_order_return'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_line.id'], name=op.f('fk_order_return_line_order_line_id_order_line'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_order_return_line_variant_id_variant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_return_line'))
    )
    op.create_index(op.f('ix_order_return_line_return_id'), 'order_return_line', ['return_id'], unique=False)
    op.create_index(op.f('ix_order_return_line_order_line_id'), 'order_return_line', ['order_line_id'], unique=False)
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_quantity', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_order_line_returned_quantity'), 'returned_quantity >= 0 AND returned_quantity <= quantity'
        )
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_movement_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_movement_kind'), NEW_KINDS)


def downgrade():
    # Keep on_hand = Σ movements: a return was goods in, a write-off an adjustment out.
    op.execute("UPDATE stock_movement SET kind = 'receipt' WHERE kind = 'return'")
    op.execute("UPDATE stock_movement SET kind = 'adjustment' WHERE kind = 'write_off'")
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_movement_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_movement_kind'), OLD_KINDS)
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_order_line_returned_quantity'), type_='check')
        batch_op.drop_column('returned_quantity')
    op.drop_index(op.f('ix_order_return_line_order_line_id'), table_name='order_return_line')
    op.drop_index(op.f('ix_order_return_line_return_id'), table_name='order_return_line')
    op.drop_table('order_return_line')
    op.drop_index('ix_order_return_status', table_name='order_return')
    op.drop_index('ix_order_return_location_created', table_name='order_return')
    op.drop_index(op.f('ix_order_return_order_id'), table_name='order_return')
    op.drop_table('order_return')
