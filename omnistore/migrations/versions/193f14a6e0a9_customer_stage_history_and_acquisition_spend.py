"""customer stage history (the periodic job records each change of a customer's lifecycle stage) and the
acquisition spend a manager enters per store or network, channel, month and currency

Revision ID: 193f14a6e0a9
Revises: b3e8d1f4a6c2
Create Date: 2026-12-05 13:09:25.406757

"""
from alembic import op
import sqlalchemy as sa


revision = '193f14a6e0a9'
down_revision = 'b3e8d1f4a6c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('acquisition_spend',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('web', 'store', 'app', 'phone')", name=op.f('ck_acquisition_spend_channel')),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_acquisition_spend_amount_minor')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_acquisition_spend_currency')),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_acquisition_spend_location_id_location')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_acquisition_spend_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acquisition_spend'))
    )
    with op.batch_alter_table('acquisition_spend', schema=None) as batch_op:
        batch_op.create_index('uq_acquisition_spend_network', ['channel', 'month', 'currency'], unique=True, sqlite_where=sa.text('location_id IS NULL'), postgresql_where=sa.text('location_id IS NULL'))
        batch_op.create_index('uq_acquisition_spend_store', ['location_id', 'channel', 'month', 'currency'], unique=True, sqlite_where=sa.text('location_id IS NOT NULL'), postgresql_where=sa.text('location_id IS NOT NULL'))

    op.create_table('customer_stage_change',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=16), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("coalesce(from_stage, 'acquisition') IN ('acquisition', 'first_purchase', 'loyal', 'at_risk', 'lapsed')", name=op.f('ck_customer_stage_change_from_stage')),
    sa.CheckConstraint("stage IN ('acquisition', 'first_purchase', 'loyal', 'at_risk', 'lapsed')", name=op.f('ck_customer_stage_change_stage')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_stage_change_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_stage_change'))
    )
    with op.batch_alter_table('customer_stage_change', schema=None) as batch_op:
        batch_op.create_index('ix_customer_stage_change_customer', ['customer_id', 'id'], unique=False)
        batch_op.create_index('ix_customer_stage_change_since', ['since'], unique=False)



def downgrade():
    with op.batch_alter_table('customer_stage_change', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_stage_change_since')
        batch_op.drop_index('ix_customer_stage_change_customer')

    op.drop_table('customer_stage_change')
    with op.batch_alter_table('acquisition_spend', schema=None) as batch_op:
        batch_op.drop_index('uq_acquisition_spend_store', sqlite_where=sa.text('location_id IS NOT NULL'), postgresql_where=sa.text('location_id IS NOT NULL'))
        batch_op.drop_index('uq_acquisition_spend_network', sqlite_where=sa.text('location_id IS NULL'), postgresql_where=sa.text('location_id IS NULL'))

    op.drop_table('acquisition_spend')
