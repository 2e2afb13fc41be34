"""GDPR: which customer an outbox email is written to; idempotency keys kept only as a hash

Revision ID: e5a7c2d9f013
Revises: d4a7c2e9f1b3
Create Date: 2026-12-04 17:10:00

outbox_message.customer_id lets an erase find every email to the customer, whatever address it went to
(the upgrade fills it from the order number the email was about). orders.idempotency_key becomes the
SHA-256 (hex) of "<scope>:<key>": a client may put an email address in a key. The hashing is one-way, so
the downgrade leaves the hashes (a replay of an old key is then not recognised, nothing else changes).
"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = 'e5a7c2d9f013'
down_revision = 'd4a7c2e9f1b3'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_message_customer_id'), ['customer_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_customer_id_customer'), 'customer',
                                    ['customer_id'], ['id'], ondelete='SET NULL')
    bind = op.get_bind()
    outbox = sa.table('outbox_message', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                      sa.column('payload', sa.JSON), sa.column('customer_id', sa.Integer))
    orders = sa.table('orders', sa.column('id', sa.Integer), sa.column('number', sa.String),
                      sa.column('customer_id', sa.Integer), sa.column('idempotency_key', sa.String))
    after = 0
    while True:
        rows = bind.execute(sa.select(outbox.c.id, outbox.c.payload).where(outbox.c.kind == 'email',
                                                                          outbox.c.id > after)
                            .order_by(outbox.c.id).limit(BATCH)).all()
        if not rows:
            break
        after = rows[-1].id
        numbers = {row.id: (row.payload or {}).get('order_number') for row in rows
                   if isinstance(row.payload, dict)}
        customers = dict(bind.execute(sa.select(orders.c.number, orders.c.customer_id).where(
            orders.c.number.in_({n for n in numbers.values() if isinstance(n, str)}))).all())
        for message_id, number in numbers.items():
            if customers.get(number) is not None:
                bind.execute(outbox.update().where(outbox.c.id == message_id)
                             .values(customer_id=customers[number]))
    after = 0
    while True:
        rows = bind.execute(sa.select(orders.c.id, orders.c.idempotency_key).where(
            orders.c.idempotency_key.is_not(None), orders.c.id > after).order_by(orders.c.id).limit(BATCH)).all()
        if not rows:
            break
        after = rows[-1].id
        for row in rows:
            if ':' in row.idempotency_key:  # "<scope>:<key>" in clear; a hash has no colon
                bind.execute(orders.update().where(orders.c.id == row.id).values(
                    idempotency_key=hashlib.sha256(row.idempotency_key.encode()).hexdigest()))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_customer_id_customer'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_message_customer_id'))
        batch_op.drop_column('customer_id')
