"""purchase follow-ups: the e-mail after a purchase, its rating and comment, the store's call back

Revision ID: c8d2f4a6b1e3
Revises: b5e1c7a3d902
Create Date: 2026-12-05 13:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c8d2f4a6b1e3'
down_revision = 'b5e1c7a3d902'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'purchase_followup',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=True),
        sa.Column('rating', sa.SmallInteger(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('commented_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('callback', sa.Boolean(), nullable=False),
        sa.Column('called_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('called_by_id', sa.Integer(), nullable=True),
        sa.Column('call_note', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name=op.f('ck_purchase_followup_rating')),
        sa.ForeignKeyConstraint(['called_by_id'], ['staff.id'], name=op.f('fk_purchase_followup_called_by_id_staff')),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_purchase_followup_customer_id_customer'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_purchase_followup_location_id_location')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_purchase_followup_order_id_orders'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_followup')),
        sa.UniqueConstraint('order_id', name=op.f('uq_purchase_followup_order_id')),
        sa.UniqueConstraint('token', name=op.f('uq_purchase_followup_token')),
    )
    with op.batch_alter_table('purchase_followup', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_followup_callback', ['location_id', 'callback', 'called_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_followup_customer_id'), ['customer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('purchase_followup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_followup_customer_id'))
        batch_op.drop_index('ix_purchase_followup_callback')
    op.drop_table('purchase_followup')
