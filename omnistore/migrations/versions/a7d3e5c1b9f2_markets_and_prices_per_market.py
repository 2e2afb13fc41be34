"""markets: every location belongs to one, a variant has a price per market, an order keeps its market

Revision ID: a7d3e5c1b9f2
Revises: d4e92a3b7f11
Create Date: 2026-12-05 09:30:00

Today's data moves into one default market without loss: its code is OMNISTORE_DEFAULT_MARKET (default DE), its
currency OMNISTORE_CURRENCY (default EUR), its delivery terms OMNISTORE_SHIPPING_FEE_MINOR and
OMNISTORE_FREE_SHIPPING_FROM_MINOR; every location and order joins it, and each variant's one price becomes its
price there. The downgrade puts the default market's price back on each variant (a variant sold only in other
markets gets its lowest price there, so no variant is left without one).
"""
import os
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


revision = 'a7d3e5c1b9f2'
down_revision = 'd4e92a3b7f11'
branch_labels = None
depends_on = None

# As they were when this migration was written (a migration does not follow later code).
_KNOWN = {
    'DE': ('Germany', 'de', 1900, r'[0-9]{5}'),
    'DK': ('Denmark', 'da', 2500, r'[0-9]{4}'),
    'AT': ('Austria', 'de', 2000, r'[0-9]{4}'),
}


def _default_market():
    code = (os.environ.get('OMNISTORE_DEFAULT_MARKET') or 'DE').strip().upper()
    name, locale, vat, postcode = _KNOWN.get(code, (code, 'en', 0, ''))
    return dict(
        code=code,
        name=name,
        currency=(os.environ.get('OMNISTORE_CURRENCY') or 'EUR').strip().upper(),
        locale=locale,
        vat_rate_bp=vat,
        shipping_fee_minor=int(os.environ.get('OMNISTORE_SHIPPING_FEE_MINOR') or 495),
        free_shipping_from_minor=int(os.environ.get('OMNISTORE_FREE_SHIPPING_FROM_MINOR') or 5000),
        postcode_pattern=postcode,
    )


def _add_market_column(table):
    # Plain ADD COLUMNs, no batch table copy: on SQLite a copy of location or orders fails once other rows point
    # at them with foreign keys on (see d4a7c2e9f1b3).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} ADD COLUMN market_code VARCHAR(2) '
                   f'CONSTRAINT fk_{table}_market_code_market REFERENCES market (code)')
    else:
        op.add_column(table, sa.Column('market_code', sa.String(length=2), nullable=True))
        op.create_foreign_key(op.f(f'fk_{table}_market_code_market'), table, 'market', ['market_code'], ['code'])


def upgrade():
    market = op.create_table(
        'market',
        sa.Column('code', sa.String(length=2), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('locale', sa.String(length=5), nullable=False),
        sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
        sa.Column('shipping_fee_minor', sa.Integer(), nullable=False),
        sa.Column('free_shipping_from_minor', sa.Integer(), nullable=False),
        sa.Column('postcode_pattern', sa.String(length=100), nullable=False),
        sa.CheckConstraint('vat_rate_bp BETWEEN 0 AND 10000', name=op.f('ck_market_vat_rate_bp')),
        sa.CheckConstraint('shipping_fee_minor >= 0', name=op.f('ck_market_shipping_fee_minor')),
        sa.CheckConstraint('free_shipping_from_minor >= 0', name=op.f('ck_market_free_shipping_from_minor')),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_market')),
    )
    default = _default_market()
    op.bulk_insert(market, [default])
    code = default['code']

    _add_market_column('location')
    op.create_index(op.f('ix_location_market_code'), 'location', ['market_code'], unique=False)
    op.execute(sa.text('UPDATE location SET market_code = :code').bindparams(code=code))
    _add_market_column('orders')
    op.execute(sa.text('UPDATE orders SET market_code = :code').bindparams(code=code))

    op.create_table(
        'variant_price',
        sa.Column('variant_id', sa.Integer(), nullable=False),
        sa.Column('market_code', sa.String(length=2), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_variant_price_amount_minor')),
        sa.ForeignKeyConstraint(['market_code'], ['market.code'], name=op.f('fk_variant_price_market_code_market')),
        sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_variant_price_variant_id_variant'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('variant_id', 'market_code', name=op.f('pk_variant_price')),
    )
    op.create_index(op.f('ix_variant_price_market_code'), 'variant_price', ['market_code'], unique=False)
    op.execute(sa.text(
        'INSERT INTO variant_price (variant_id, market_code, amount_minor, updated_at) '
        'SELECT id, :code, price_minor, updated_at FROM variant'
    ).bindparams(code=code))
    with _foreign_keys_deferred(), op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_variant_price_minor'), type_='check')
        batch_op.drop_column('price_minor')


@contextmanager
def _foreign_keys_deferred():
    """SQLite's batch mode copies the table and drops the old one while rows elsewhere (orders, order lines,
    stock levels) point at it: with foreign keys on, the drop fails. SQLite's own recipe for changing a table:
    foreign keys off for the copy, then every key checked once they are back on. The setting is ignored inside
    a transaction, so what this migration did so far is committed first (SQLite's DDL is not transactional in
    Alembic anyway)."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    raw = bind.connection.driver_connection
    was_on = bind.exec_driver_sql('PRAGMA foreign_keys').scalar()
    if raw.in_transaction:
        raw.commit()
    bind.exec_driver_sql('PRAGMA foreign_keys = OFF')
    yield
    if raw.in_transaction:
        raw.commit()
    if was_on:
        bind.exec_driver_sql('PRAGMA foreign_keys = ON')
    broken = bind.exec_driver_sql('PRAGMA foreign_key_check').all()
    if broken:
        raise RuntimeError(f'foreign keys broken by the table copy: {broken[:5]}')


def downgrade():
    with _foreign_keys_deferred(), op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_minor', sa.Integer(), nullable=True))
    op.execute(sa.text(
        'UPDATE variant SET price_minor = COALESCE('
        ' (SELECT amount_minor FROM variant_price WHERE variant_id = variant.id AND market_code = :code),'
        ' (SELECT MIN(amount_minor) FROM variant_price WHERE variant_id = variant.id), 0)'
    ).bindparams(code=_default_market()['code']))
    with _foreign_keys_deferred(), op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.alter_column('price_minor', existing_type=sa.Integer(), nullable=False)
        batch_op.create_check_constraint(op.f('ck_variant_price_minor'), 'price_minor >= 0')
    op.drop_index(op.f('ix_variant_price_market_code'), table_name='variant_price')
    op.drop_table('variant_price')
    with _triggers_kept('orders'), _foreign_keys_deferred(), op.batch_alter_table('orders', schema=None) as batch_op:
        if op.get_bind().dialect.name != 'sqlite':
            batch_op.drop_constraint(batch_op.f('fk_orders_market_code_market'), type_='foreignkey')
        batch_op.drop_column('market_code')
    op.drop_index(op.f('ix_location_market_code'), table_name='location')
    with _foreign_keys_deferred(), op.batch_alter_table('location', schema=None) as batch_op:
        if op.get_bind().dialect.name != 'sqlite':
            batch_op.drop_constraint(batch_op.f('fk_location_market_code_market'), type_='foreignkey')
        batch_op.drop_column('market_code')
    op.drop_table('market')


@contextmanager
def _triggers_kept(table):
    """SQLite's batch mode rebuilds the table, and its triggers (the review facts' upkeep) go with the old one:
    read them before, put back whichever is missing after (as d4a7c2e9f1b3 does)."""
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
