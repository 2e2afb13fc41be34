"""zones in a location (stock_level.zone, counts of a zone), a pick deadline per store, a waived delivery fee

Revision ID: b8e4f1c2d3a7
Revises: a7c31e5d9b20
Create Date: 2026-12-05 13:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b8e4f1c2d3a7'
down_revision = 'a7c31e5d9b20'
branch_labels = None
depends_on = None

OLD_SCOPES = "scope IN ('category', 'variants', 'tasks')"
NEW_SCOPES = "scope IN ('category', 'variants', 'tasks', 'zone')"


def _sqlite_scope_check(old, new):
    """SQLite cannot alter a CHECK constraint, and batch mode's copy of stock_count would drop the old table —
    whose count lines go with it (ON DELETE CASCADE). Widening or narrowing the allowed words changes no
    stored row and no index, so the table's definition is edited in place, as SQLite's documentation describes
    for such changes (writable_schema, with the schema version bumped so every connection reloads it)."""
    bind = op.get_bind()
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema=ON"))
    changed = bind.execute(
        sa.text("UPDATE sqlite_master SET sql = replace(sql, :old, :new) WHERE type = 'table' AND name = 'stock_count'"),
        {"old": old, "new": new},
    ).rowcount
    bind.execute(sa.text(f"PRAGMA schema_version={int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema=OFF"))
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'stock_count'")).scalar()
    if changed != 1 or new not in sql:
        raise RuntimeError(f"stock_count's scope check is not {old!r}: {sql}")


def _scope_check(old, new):
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_scope_check(old, new)
        return
    op.drop_constraint(op.f('ck_stock_count_scope'), 'stock_count', type_='check')
    op.create_check_constraint(op.f('ck_stock_count_scope'), 'stock_count', new)


def upgrade():
    # Plain ALTER TABLE … ADD COLUMN on both databases (no batch copy: location and orders are referenced).
    op.add_column('stock_level', sa.Column('zone', sa.String(length=40), server_default='', nullable=False))
    op.create_index('ix_stock_level_location_zone', 'stock_level', ['location_id', 'zone'], unique=False)
    op.add_column('stock_count', sa.Column('zone', sa.String(length=40), server_default='', nullable=False))
    _scope_check(OLD_SCOPES, NEW_SCOPES)
    op.add_column('location', sa.Column('pick_hours', sa.Float(), nullable=True))
    op.add_column('orders', sa.Column('shipping_fee_waived', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    # SQLite (3.35+) drops a column natively; none of these is in an index, a constraint or a trigger.
    op.drop_column('orders', 'shipping_fee_waived')
    op.drop_column('location', 'pick_hours')
    # A count of a zone becomes a count of a list of variants: the same lines, a scope the old schema knows.
    op.execute("UPDATE stock_count SET scope = 'variants' WHERE scope = 'zone'")
    _scope_check(NEW_SCOPES, OLD_SCOPES)
    op.drop_column('stock_count', 'zone')
    op.drop_index('ix_stock_level_location_zone', table_name='stock_level')
    op.drop_column('stock_level', 'zone')
