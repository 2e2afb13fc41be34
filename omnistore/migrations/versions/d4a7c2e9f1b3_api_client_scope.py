"""API client scope (channels, stores, read-only, status URLs) and which client placed an order

Revision ID: d4a7c2e9f1b3
Revises: b046dea4fa35
Create Date: 2026-12-04 17:10:00

Tokens made before scopes existed keep the web channel, the whole network, read-write, and the status
URLs of the orders they placed themselves (found in the audit trail): counter orders are out of their reach.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


revision = 'd4a7c2e9f1b3'
down_revision = 'b046dea4fa35'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs, no batch table copy: on SQLite a copy of api_client or orders fails once other rows
    # point at them (audit events, order lines) with foreign keys on.
    op.add_column('api_client', sa.Column('channels', sa.JSON(), nullable=False, server_default=sa.text("'[\"web\"]'")))
    op.add_column('api_client', sa.Column('stores', sa.JSON(), nullable=True))
    op.add_column('api_client', sa.Column('read_only', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('api_client', sa.Column('all_status_urls', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE orders ADD COLUMN placed_by_api_client_id INTEGER '
                   'CONSTRAINT fk_orders_placed_by_api_client_id_api_client '
                   'REFERENCES api_client (id)')
    else:
        op.add_column('orders', sa.Column('placed_by_api_client_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_orders_placed_by_api_client_id_api_client'), 'orders', 'api_client',
                              ['placed_by_api_client_id'], ['id'])
    op.execute(
        "UPDATE orders SET placed_by_api_client_id = ("
        " SELECT MIN(audit_event.api_client_id) FROM audit_event"
        " WHERE audit_event.action = 'order.placed' AND audit_event.entity_type = 'orders'"
        " AND audit_event.entity_id = CAST(orders.id AS VARCHAR(64)))"
    )


@contextmanager
def triggers_kept(table):
    """SQLite's batch mode rebuilds the table, and its triggers (the review facts' upkeep) go with the old one:
    read them before, put back whichever is missing after."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    query = sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table")
    triggers = dict(bind.execute(query, {"table": table}).all())
    yield
    present = set(dict(bind.execute(query, {"table": table}).all()))
    for name, sql in triggers.items():
        if name not in present:
            op.execute(sql)


def downgrade():
    with triggers_kept('orders'), op.batch_alter_table('orders', schema=None) as batch_op:
        if op.get_bind().dialect.name != 'sqlite':  # SQLite's copy of the table leaves the column's key out
            batch_op.drop_constraint(batch_op.f('fk_orders_placed_by_api_client_id_api_client'), type_='foreignkey')
        batch_op.drop_column('placed_by_api_client_id')
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.drop_column('all_status_urls')
        batch_op.drop_column('read_only')
        batch_op.drop_column('stores')
        batch_op.drop_column('channels')
