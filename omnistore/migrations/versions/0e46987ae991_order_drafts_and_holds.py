"""order drafts, their lines and the stock they hold (endless-aisle ordering)

Revision ID: 0e46987ae991
Revises: 9c4e2a7b1d30
Create Date: 2026-11-22 12:18:20.102459

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0e46987ae991'
down_revision = '9c4e2a7b1d30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('order_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('fulfilment', sa.String(length=8), nullable=False),
    sa.Column('pickup_location_id', sa.Integer(), nullable=True),
    sa.Column('delivery_address', sa.JSON(), nullable=False),
    sa.Column('payment_state', sa.String(length=16), nullable=False),
    sa.Column('holds_expire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("fulfilment IN ('pickup', 'delivery')", name=op.f('ck_order_draft_fulfilment')),
    sa.CheckConstraint("payment_state IN ('paid', 'pay_at_pickup')", name=op.f('ck_order_draft_payment_state')),
    sa.CheckConstraint("status IN ('open', 'placed', 'abandoned')", name=op.f('ck_order_draft_status')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_order_draft_customer_id_customer')),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_order_draft_location_id_location')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_draft_order_id_orders')),
    sa.ForeignKeyConstraint(['pickup_location_id'], ['location.id'], name=op.f('fk_order_draft_pickup_location_id_location')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_order_draft_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_draft')),
    sa.UniqueConstraint('token', name=op.f('uq_order_draft_token'))
    )
    with op.batch_alter_table('order_draft', schema=None) as batch_op:
        batch_op.create_index('ix_order_draft_location_status', ['location_id', 'status'], unique=False)

    op.create_table('draft_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_draft_hold_quantity')),
    sa.ForeignKeyConstraint(['draft_id'], ['order_draft.id'], name=op.f('fk_draft_hold_draft_id_order_draft'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_draft_hold_location_id_location')),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_draft_hold_variant_id_variant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_hold')),
    sa.UniqueConstraint('draft_id', 'variant_id', 'location_id', name=op.f('uq_draft_hold_draft_id_variant_id_location_id'))
    )
    with op.batch_alter_table('draft_hold', schema=None) as batch_op:
        batch_op.create_index('ix_draft_hold_expires_at', ['expires_at'], unique=False)

    op.create_table('draft_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_draft_line_quantity')),
    sa.ForeignKeyConstraint(['draft_id'], ['order_draft.id'], name=op.f('fk_draft_line_draft_id_order_draft'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_draft_line_variant_id_variant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_line')),
    sa.UniqueConstraint('draft_id', 'variant_id', name=op.f('uq_draft_line_draft_id_variant_id'))
    )
    with op.batch_alter_table('draft_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draft_line_draft_id'), ['draft_id'], unique=False)



def downgrade():
    with op.batch_alter_table('draft_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draft_line_draft_id'))

    op.drop_table('draft_line')
    with op.batch_alter_table('draft_hold', schema=None) as batch_op:
        batch_op.drop_index('ix_draft_hold_expires_at')

    op.drop_table('draft_hold')
    with op.batch_alter_table('order_draft', schema=None) as batch_op:
        batch_op.drop_index('ix_order_draft_location_status')

    op.drop_table('order_draft')
