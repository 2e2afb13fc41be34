"""marketing sends: the consent gate's record of each marketing e-mail (caps, unsubscribe token, who sent it)

Revision ID: b5e1c7a3d902
Revises: a7c31e5d9b20
Create Date: 2026-12-05 13:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b5e1c7a3d902'
down_revision = 'a7c31e5d9b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'marketing_send',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=True),
        sa.Column('outbox_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_marketing_send_customer_id_customer'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_marketing_send_location_id_location')),
        sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_message.id'], name=op.f('fk_marketing_send_outbox_message_id_outbox_message'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_marketing_send_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_marketing_send')),
        sa.UniqueConstraint('token', name=op.f('uq_marketing_send_token')),
    )
    with op.batch_alter_table('marketing_send', schema=None) as batch_op:
        batch_op.create_index('ix_marketing_send_customer_kind_at', ['customer_id', 'kind', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_marketing_send_staff_id'), ['staff_id'], unique=False)


def downgrade():
    with op.batch_alter_table('marketing_send', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marketing_send_staff_id'))
        batch_op.drop_index('ix_marketing_send_customer_kind_at')
    op.drop_table('marketing_send')
