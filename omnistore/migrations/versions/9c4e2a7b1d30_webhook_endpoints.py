"""webhook endpoints, and which endpoint an outbox webhook is for

Revision ID: 9c4e2a7b1d30
Revises: 187e45ff2139
Create Date: 2026-11-22 12:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9c4e2a7b1d30'
down_revision = '187e45ff2139'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhook_endpoint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoint')),
        sa.UniqueConstraint('name', name=op.f('uq_webhook_endpoint_name')),
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_endpoint_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_webhook_endpoint_id_webhook_endpoint'),
                                    'webhook_endpoint', ['webhook_endpoint_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_webhook_endpoint_id_webhook_endpoint'),
                                 type_='foreignkey')
        batch_op.drop_column('webhook_endpoint_id')
    op.drop_table('webhook_endpoint')
