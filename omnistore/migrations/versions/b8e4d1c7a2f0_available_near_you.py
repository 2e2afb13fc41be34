"""available near you: notify-me requests, the e-mails sent, the ledger cursor; a draft may have no clerk
(held by the customer from the e-mail). A downgrade gives such drafts a clerk of their store (else the first).

Revision ID: b8e4d1c7a2f0
Revises: c8d2f4a6b1e3
Create Date: 2026-12-05 13:03:58.015703

"""
from alembic import op
import sqlalchemy as sa


revision = 'b8e4d1c7a2f0'
down_revision = 'c8d2f4a6b1e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('nearby_scan',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_movement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_nearby_scan'))
    )
    op.create_table('notify_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_notify_request_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_notify_request_location_id_location')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_notify_request_staff_id_staff')),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_notify_request_variant_id_variant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_request')),
    sa.UniqueConstraint('customer_id', 'variant_id', name=op.f('uq_notify_request_customer_id_variant_id'))
    )
    with op.batch_alter_table('notify_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_request_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notify_request_variant_id'), ['variant_id'], unique=False)

    op.create_table('nearby_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('draft_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("source IN ('wishlist', 'notify', 'draft')", name=op.f('ck_nearby_alert_source')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_nearby_alert_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['draft_id'], ['order_draft.id'], name=op.f('fk_nearby_alert_draft_id_order_draft'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_nearby_alert_location_id_location')),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_nearby_alert_variant_id_variant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nearby_alert')),
    sa.UniqueConstraint('customer_id', 'variant_id', name=op.f('uq_nearby_alert_customer_id_variant_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_nearby_alert_token_hash'))
    )
    with op.batch_alter_table('nearby_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nearby_alert_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('order_draft', schema=None) as batch_op:
        batch_op.alter_column('staff_id',
               existing_type=sa.INTEGER(),
               nullable=True)
    with op.batch_alter_table('draft_line', schema=None) as batch_op:
        batch_op.create_index('ix_draft_line_variant_id', ['variant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('draft_line', schema=None) as batch_op:
        batch_op.drop_index('ix_draft_line_variant_id')
    op.execute(
        "UPDATE order_draft SET staff_id = COALESCE("
        "(SELECT min(staff.id) FROM staff WHERE staff.location_id = order_draft.location_id), "
        "(SELECT min(staff.id) FROM staff)) WHERE staff_id IS NULL"
    )
    with op.batch_alter_table('order_draft', schema=None) as batch_op:
        batch_op.alter_column('staff_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('nearby_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nearby_alert_customer_id'))

    op.drop_table('nearby_alert')
    with op.batch_alter_table('notify_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_request_variant_id'))
        batch_op.drop_index(batch_op.f('ix_notify_request_customer_id'))

    op.drop_table('notify_request')
    op.drop_table('nearby_scan')
