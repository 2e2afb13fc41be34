"""returns sent on through stock transfers (a transfer with no order, its items), an exchange's credit set against
the new order's payment

Revision ID: b3e8d1f4a6c2
Revises: b3f9d2e6c481
Create Date: 2026-12-05 13:10:00

"""
from alembic import op
import sqlalchemy as sa

import omnistore.core.types


revision = 'b3e8d1f4a6c2'
down_revision = 'b3f9d2e6c481'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('reason', sa.String(length=200), server_default='', nullable=False))
    op.create_table('transfer_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_transfer_item_quantity')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfer.id'], name=op.f('fk_transfer_item_transfer_id_transfer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_transfer_item_variant_id_variant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_item'))
    )
    op.create_index(op.f('ix_transfer_item_transfer_id'), 'transfer_item', ['transfer_id'], unique=False)
    op.create_table('order_return_sending',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('return_line_id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', omnistore.core.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_return_sending_quantity')),
    sa.ForeignKeyConstraint(['return_line_id'], ['order_return_line.id'], name=op.f('fk_order_return_sending_return_line_id_order_return_line'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfer.id'], name=op.f('fk_order_return_sending_transfer_id_transfer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_order_return_sending_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_return_sending'))
    )
    op.create_index(op.f('ix_order_return_sending_return_line_id'), 'order_return_sending', ['return_line_id'], unique=False)
    op.create_index(op.f('ix_order_return_sending_transfer_id'), 'order_return_sending', ['transfer_id'], unique=False)
    with op.batch_alter_table('order_return_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_on_quantity', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_order_return_line_sent_on_quantity'), 'sent_on_quantity >= 0 AND sent_on_quantity <= quantity'
        )
    with op.batch_alter_table('order_return', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_applied_minor', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_order_return_credit_applied_minor'),
            'credit_applied_minor >= 0 AND credit_applied_minor <= refund_minor + shipping_refund_minor',
        )
    # orders carries the review triggers: a plain ADD COLUMN, never a rebuild.
    op.add_column('orders', sa.Column('credit_minor', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    op.drop_column('orders', 'credit_minor')
    with op.batch_alter_table('order_return', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_order_return_credit_applied_minor'), type_='check')
        batch_op.drop_column('credit_applied_minor')
    with op.batch_alter_table('order_return_line', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_order_return_line_sent_on_quantity'), type_='check')
        batch_op.drop_column('sent_on_quantity')
    op.drop_index(op.f('ix_order_return_sending_transfer_id'), table_name='order_return_sending')
    op.drop_index(op.f('ix_order_return_sending_return_line_id'), table_name='order_return_sending')
    op.drop_table('order_return_sending')
    op.drop_index(op.f('ix_transfer_item_transfer_id'), table_name='transfer_item')
    op.drop_table('transfer_item')
    # A transfer without an order cannot stay: its goods are booked at wherever they are now (the ledger
    # keeps on_hand = Σ movements), the transfer itself goes.
    op.execute('DELETE FROM transfer WHERE order_id IS NULL')
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.drop_column('reason')
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=False)
