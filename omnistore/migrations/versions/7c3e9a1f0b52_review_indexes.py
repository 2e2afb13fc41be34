"""manager's pickup review: the review_fact table kept by triggers, and indexes for the figures' lists

Revision ID: 7c3e9a1f0b52
Revises: 0e46987ae991
Create Date: 2026-11-22 12:30:00

review_fact holds one narrow row per pickup order with every moment the review figures are dated by
(placed, promised, ready, pickup-by, checked in, collected, expired/cancelled), so the dashboard aggregates
one table. Triggers on orders, pickup and order_event keep it current on PostgreSQL and SQLite alike; the
upgrade fills it from the orders there are. (On SQLite, a later batch_alter_table that rebuilds orders,
pickup or order_event drops their triggers: re-create them with create_triggers() in that migration.)
"""
from alembic import op
import sqlalchemy as sa


revision = '7c3e9a1f0b52'
down_revision = '0e46987ae991'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_orders_placed_at', 'orders', ['placed_at']),
    ('ix_orders_pickup_location_placed', 'orders', ['pickup_location_id', 'placed_at']),
    ('ix_orders_origin_location_placed', 'orders', ['origin_location_id', 'placed_at']),
    ('ix_orders_status_pickup_location', 'orders', ['status', 'pickup_location_id']),
    ('ix_pickup_ready_at', 'pickup', ['ready_at']),
    ('ix_pickup_collected_at', 'pickup', ['collected_at']),
    ('ix_pickup_checked_in_at', 'pickup', ['checked_in_at']),
    ('ix_order_event_kind_at', 'order_event', ['kind', 'created_at']),
    ('ix_audit_event_action_at', 'audit_event', ['action', 'created_at']),
)
FACT_INDEXES = (
    ('ix_review_fact_placed_at', ['placed_at']),
    ('ix_review_fact_ready_at', ['ready_at']),
    ('ix_review_fact_collected_at', ['collected_at']),
    ('ix_review_fact_checked_in_at', ['checked_in_at']),
    ('ix_review_fact_ended_at', ['ended_at']),
    ('ix_review_fact_status', ['status']),
    ('ix_review_fact_location', ['pickup_location_id']),
)

# The statements each trigger runs (NEW is the changed row), shared by both databases.
INSERT_FACT = (
    "INSERT {ignore}INTO review_fact (order_id, pickup_location_id, status, placed_at, promised_at, ended_from) "
    "VALUES (NEW.id, NEW.pickup_location_id, NEW.status, NEW.placed_at, NEW.promised_at, ''){conflict}"
)
UPDATE_FROM_ORDER = (
    "UPDATE review_fact SET status = NEW.status, pickup_location_id = NEW.pickup_location_id, "
    "placed_at = NEW.placed_at, promised_at = NEW.promised_at WHERE order_id = NEW.id"
)
UPDATE_FROM_PICKUP = (
    "UPDATE review_fact SET ready_at = NEW.ready_at, pickup_by = NEW.pickup_by, checked_in_at = NEW.checked_in_at, "
    "collected_at = NEW.collected_at WHERE order_id = NEW.order_id"
)
UPDATE_FROM_EVENT = (
    "UPDATE review_fact SET ended_at = NEW.created_at, ended_from = NEW.from_status WHERE order_id = NEW.order_id"
)
# (name, table, event, condition on NEW or None, statement)
TRIGGERS = (
    ('review_fact_order_insert', 'orders', 'INSERT', "NEW.fulfilment = 'pickup'", INSERT_FACT),
    ('review_fact_order_update', 'orders', 'UPDATE OF status, pickup_location_id, placed_at, promised_at', None,
     UPDATE_FROM_ORDER),
    ('review_fact_pickup_insert', 'pickup', 'INSERT', None, UPDATE_FROM_PICKUP),
    ('review_fact_pickup_update', 'pickup', 'UPDATE', None, UPDATE_FROM_PICKUP),
    ('review_fact_event_insert', 'order_event', 'INSERT', "NEW.kind IN ('expired', 'cancelled')", UPDATE_FROM_EVENT),
)
BACKFILL = (
    "INSERT INTO review_fact (order_id, pickup_location_id, status, placed_at, promised_at, ready_at, pickup_by, "
    "checked_in_at, collected_at, ended_at, ended_from) "
    "SELECT o.id, o.pickup_location_id, o.status, o.placed_at, o.promised_at, p.ready_at, p.pickup_by, "
    "p.checked_in_at, p.collected_at, e.created_at, coalesce(e.from_status, '') "
    "FROM orders o LEFT JOIN pickup p ON p.order_id = o.id "
    "LEFT JOIN (SELECT order_id, max(created_at) AS created_at, max(from_status) AS from_status FROM order_event "
    "WHERE kind IN ('expired', 'cancelled') GROUP BY order_id) e ON e.order_id = o.id "
    "WHERE o.fulfilment = 'pickup' AND o.id > {after}"
)


# PostgreSQL only: mark the hour of a timestamp more than an hour old that was set or changed after the fact,
# so cached closed days (review_day) that it falls in are computed again. Timestamps of "now" are not marked:
# only days closed more than two hours ago are cached.
MARK_FUNCTIONS = (
    ("review_mark", "ts timestamptz", "void",
     "BEGIN IF ts IS NOT NULL AND ts < now() - interval '1 hour' THEN "
     "INSERT INTO review_dirty (hour, marked_at) VALUES (date_trunc('hour', ts AT TIME ZONE 'UTC') "
     "AT TIME ZONE 'UTC', now()); END IF; END"),
)
MARK_TRIGGERS = (
    ('review_mark_order', 'orders', 'UPDATE',
     "DECLARE f review_fact%ROWTYPE; BEGIN "
     "IF (NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('cancelled', 'expired')) "
     "OR NEW.placed_at IS DISTINCT FROM OLD.placed_at OR NEW.promised_at IS DISTINCT FROM OLD.promised_at "
     "OR NEW.pickup_location_id IS DISTINCT FROM OLD.pickup_location_id "
     "OR NEW.origin_location_id IS DISTINCT FROM OLD.origin_location_id THEN "
     "PERFORM review_mark(OLD.placed_at); PERFORM review_mark(NEW.placed_at); "
     "SELECT * INTO f FROM review_fact WHERE order_id = NEW.id; "
     "IF FOUND THEN PERFORM review_mark(f.ready_at); PERFORM review_mark(f.checked_in_at); "
     "PERFORM review_mark(f.collected_at); PERFORM review_mark(f.ended_at); END IF; "
     "END IF; RETURN NULL; END"),
    ('review_mark_pickup', 'pickup', 'INSERT OR UPDATE',
     "BEGIN "
     "IF TG_OP = 'INSERT' THEN PERFORM review_mark(NEW.ready_at); PERFORM review_mark(NEW.checked_in_at); "
     "PERFORM review_mark(NEW.collected_at); RETURN NULL; END IF; "
     "IF NEW.ready_at IS DISTINCT FROM OLD.ready_at THEN PERFORM review_mark(OLD.ready_at); "
     "PERFORM review_mark(NEW.ready_at); END IF; "
     "IF NEW.checked_in_at IS DISTINCT FROM OLD.checked_in_at THEN PERFORM review_mark(OLD.checked_in_at); "
     "PERFORM review_mark(NEW.checked_in_at); END IF; "
     "IF NEW.collected_at IS DISTINCT FROM OLD.collected_at THEN PERFORM review_mark(OLD.collected_at); "
     "PERFORM review_mark(NEW.collected_at); END IF; "
     "RETURN NULL; END"),
    ('review_mark_event', 'order_event', 'INSERT',
     "BEGIN IF NEW.kind IN ('expired', 'cancelled') THEN PERFORM review_mark(NEW.created_at); END IF; "
     "RETURN NULL; END"),
    ('review_mark_line', 'order_line', 'INSERT OR UPDATE',
     "DECLARE placed timestamptz; collected timestamptz; BEGIN "
     "SELECT o.placed_at, p.collected_at INTO placed, collected FROM orders o "
     "LEFT JOIN pickup p ON p.order_id = o.id WHERE o.id = NEW.order_id; "
     "PERFORM review_mark(placed); PERFORM review_mark(collected); RETURN NULL; END"),
)


def create_mark_triggers():
    for name, arguments, returns, body in MARK_FUNCTIONS:
        op.execute(f"CREATE FUNCTION {name}({arguments}) RETURNS {returns} LANGUAGE plpgsql AS $$ {body} $$")
    for name, table, event, body in MARK_TRIGGERS:
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")


def drop_mark_triggers():
    for name, table, _event, _body in MARK_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for name, arguments, _returns, _body in MARK_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}({arguments})")


def create_triggers(bind):
    for name, table, event, condition, statement in TRIGGERS:
        if bind.dialect.name == 'postgresql':
            body = statement.format(ignore='', conflict=' ON CONFLICT (order_id) DO NOTHING')
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {body}; RETURN NULL; END $$")
            when = f" WHEN ({condition})" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
                       f"EXECUTE FUNCTION {name}()")
        else:
            body = statement.format(ignore='OR IGNORE ', conflict='')
            when = f" WHEN {condition}" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {body}; END")


def drop_triggers(bind):
    for name, table, _event, _condition, _statement in TRIGGERS:
        if bind.dialect.name == 'postgresql':
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.create_table(
        'review_fact',
        sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('pickup_location_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('promised_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('pickup_by', sa.DateTime(timezone=True), nullable=True),
        sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_from', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_review_fact_order_id_orders'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['pickup_location_id'], ['location.id'],
                                name=op.f('fk_review_fact_pickup_location_id_location')),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_review_fact')),
    )
    for name, columns in FACT_INDEXES:
        op.create_index(name, 'review_fact', columns, unique=False)
    op.create_table(
        'review_day',
        sa.Column('scope_key', sa.String(length=20), nullable=False),
        sa.Column('zone', sa.String(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('dirty_id', sa.BigInteger(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('scope_key', 'zone', 'day', name=op.f('pk_review_day')),
    )
    op.create_table(
        'review_dirty',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
        sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_dirty')),
    )
    bind = op.get_bind()
    op.execute(BACKFILL.format(after=0))
    create_triggers(bind)
    if bind.dialect.name == 'postgresql':
        create_mark_triggers()


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        drop_mark_triggers()
    op.drop_table('review_dirty')
    op.drop_table('review_day')
    drop_triggers(bind)
    for name, _columns in reversed(FACT_INDEXES):
        op.drop_index(name, table_name='review_fact')
    op.drop_table('review_fact')
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
