"""webhooks no longer carry the customer's status URL: strip it from webhook messages already queued or kept

Revision ID: f6b2d8e4a1c7
Revises: c3d81f2a9e60
Create Date: 2026-12-04 18:30:00

"""
import json

from alembic import op
import sqlalchemy as sa


revision = 'f6b2d8e4a1c7'
down_revision = 'c3d81f2a9e60'
branch_labels = None
depends_on = None

outbox = sa.table("outbox_message", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("payload", sa.JSON))


def upgrade():
    # A pending webhook would otherwise still send the QR credential to every endpoint on its next attempt.
    connection = op.get_bind()
    rows = connection.execute(sa.select(outbox.c.id, outbox.c.payload).where(outbox.c.kind == "webhook")).all()
    for message_id, payload in rows:
        if isinstance(payload, str):
            payload = json.loads(payload)
        order = payload.get("order") if isinstance(payload, dict) else None
        if isinstance(order, dict) and "status_url" in order:
            order.pop("status_url")
            connection.execute(sa.update(outbox).where(outbox.c.id == message_id).values(payload=payload))


def downgrade():
    pass  # a removed credential is not put back
