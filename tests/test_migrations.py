"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from omnistore.core.extensions import db
from omnistore.core.types import on_database


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": on_database(connection.dialect.name)}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_migrations_run_down_and_up_again(app):
    from flask_migrate import downgrade, upgrade

    downgrade(revision="base")
    assert "stock_level" not in sa.inspect(db.engine).get_table_names()
    upgrade()
    assert "stock_level" in sa.inspect(db.engine).get_table_names()


def test_a_partial_downgrade_and_upgrade_keep_the_database_triggers(app, make):
    """A downgrade that rebuilds a table (SQLite's batch mode) must not lose the triggers that keep the review
    facts: the next order would have none, and the manager's figures would miss it."""
    from flask_migrate import downgrade, upgrade

    def triggers():
        if db.engine.dialect.name == "sqlite":
            query = "SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = (
                "SELECT event_object_table || '.' || trigger_name || '.' || event_manipulation "
                "FROM information_schema.triggers"
            )
        with db.engine.connect() as connection:
            return sorted(connection.execute(sa.text(query)).scalars())

    before = triggers()
    assert any(name.startswith("orders.review_fact_order_insert") for name in before)
    downgrade(revision="b046dea4fa35")
    upgrade()
    assert triggers() == before
    order = make.order(make.location("HAM"))
    assert (
        db.session.execute(sa.text("SELECT count(*) FROM review_fact WHERE order_id = :id"), {"id": order.id}).scalar()
        == 1
    )


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("stock_level", {"on_hand": -1, "allocated": 0}),
        ("stock_level", {"on_hand": 2, "allocated": 3}),
        ("stock_level", {"on_hand": 2, "allocated": -1}),
    ],
)
def test_database_refuses_impossible_stock(app, make, table, values):
    ham, variant = make.location("HAM"), make.variant()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.insert(db.metadata.tables[table]).values(
                variant_id=variant.id, location_id=ham.id, version=1, updated_at=sa.func.now(), **values
            )
        )
        db.session.commit()
    db.session.rollback()


def test_database_refuses_duplicates_and_bad_values(app, make):
    from omnistore.catalog.models import Variant, VariantPrice
    from omnistore.orders.models import Order
    from omnistore.stock.models import StockLevel

    ham, variant = make.location("HAM"), make.variant()
    make.stock(variant, ham, 3)
    cases = [
        lambda: db.session.add(StockLevel(variant_id=variant.id, location_id=ham.id, on_hand=1)),  # same pair
        lambda: db.session.add(Variant(product_id=variant.product_id, sku="OTHER", ean=variant.ean)),
        lambda: db.session.add(Variant(product_id=variant.product_id, sku="SHORT", ean="123")),
        lambda: db.session.add(VariantPrice(variant_id=variant.id, market_code="DE", amount_minor=-5)),
        lambda: db.session.add(VariantPrice(variant_id=variant.id, market_code="DE", amount_minor=1)),  # twice
        lambda: db.session.add(VariantPrice(variant_id=variant.id, market_code="XX", amount_minor=1)),  # no market
        lambda: db.session.add(Order(channel="web", fulfilment="pickup", status="shipped", pickup_location_id=ham.id)),
        lambda: db.session.add(Order(channel="web", fulfilment="delivery", status="ready")),
        lambda: db.session.add(Order(channel="fax", fulfilment="delivery", status="placed")),
        lambda: db.session.add(Order(channel="web", fulfilment="pickup", status="placed")),  # no pickup location
    ]
    for add in cases:
        add()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_tokens_made_before_scopes_keep_the_web_channel_and_their_own_orders(app, make):
    """Existing integration tokens get the safe default scope: web orders, whole network, read-write, and the
    status URLs only of the orders they placed (found in the audit trail)."""
    from flask_migrate import downgrade, upgrade

    from omnistore.orders.models import Order
    from omnistore.stores.models import ApiClient

    ham = make.location("HAM")
    downgrade(revision="b046dea4fa35")
    with db.engine.begin() as connection:
        client_id = connection.execute(
            sa.text(
                "INSERT INTO api_client (name, token_hash, token_prefix, active, created_at) "
                "VALUES ('shop', 'h', 'os_x', :yes, CURRENT_TIMESTAMP) RETURNING id"
            ),
            {"yes": True},
        ).scalar_one()
        order_ids = [
            connection.execute(
                sa.text(
                    "INSERT INTO orders (number, channel, fulfilment, status, payment_state, pickup_location_id, "
                    "delivery_address, tracking_reference, currency, total_minor, placed_at, updated_at) VALUES "
                    f"('OS-26-00000{n}', 'web', 'pickup', 'placed', 'paid', :ham, '{{}}', '', 'EUR', 0, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"ham": ham.id},
            ).scalar_one()
            for n in (1, 2)
        ]
        connection.execute(
            sa.text(
                "INSERT INTO audit_event (action, entity_type, entity_id, api_client_id, ip_address, detail, "
                "created_at) "
                "VALUES ('order.placed', 'orders', :order, :client, '', '{}', CURRENT_TIMESTAMP)"
            ),
            {"order": str(order_ids[0]), "client": client_id},
        )
    upgrade()
    db.session.expire_all()
    client = db.session.get(ApiClient, client_id)
    assert (client.channels, client.stores, client.read_only, client.all_status_urls) == (["web"], None, False, False)
    assert [db.session.get(Order, order_id).placed_by_api_client_id for order_id in order_ids] == [client_id, None]


def test_the_gdpr_migration_hashes_idempotency_keys_and_finds_each_emails_customer(app, make):
    import hashlib

    from flask_migrate import downgrade, upgrade

    from omnistore.orders.models import Order
    from omnistore.orders.placing import hash_key

    ham, anna = make.location("HAM"), make.customer("Anna", "Berg", email="anna@example.de")
    order = make.order(ham, customer_id=anna.id, idempotency_key="api:1:order-for-anna@example.de")
    number = order.number
    db.session.close()
    downgrade(revision="b046dea4fa35")
    outbox = sa.table(
        "outbox_message",
        sa.column("payload", sa.JSON),
        *(
            sa.column(name)
            for name in (
                "kind",
                "topic",
                "recipient",
                "subject",
                "body",
                "status",
                "attempts",
                "next_attempt_at",
                "last_error",
                "created_at",
            )
        ),
    )
    with db.engine.begin() as connection:
        connection.execute(
            sa.insert(outbox).values(
                kind="email",
                topic="order.confirmation",
                recipient="anna@example.de",
                subject="",
                body="",
                payload={"order_number": number},
                status="sent",
                attempts=1,
                next_attempt_at=sa.func.now(),
                last_error="",
                created_at=sa.func.now(),
            )
        )
    upgrade()
    key = db.session.scalar(sa.select(Order.idempotency_key).where(Order.number == number))
    assert (
        key
        == hashlib.sha256(b"api:1:order-for-anna@example.de").hexdigest()
        == hash_key("api:1:order-for-anna@example.de")
    )
    assert db.session.execute(sa.text("SELECT customer_id FROM outbox_message")).scalar() == anna.id


def test_webhooks_already_queued_lose_the_status_url(app):
    from flask_migrate import downgrade, upgrade

    downgrade(revision="c3d81f2a9e60")
    outbox = sa.table(
        "outbox_message",
        sa.column("payload", sa.JSON),
        *(
            sa.column(name)
            for name in (
                "kind",
                "topic",
                "recipient",
                "subject",
                "body",
                "status",
                "attempts",
                "next_attempt_at",
                "last_error",
                "created_at",
            )
        ),
    )
    order = {"number": "OS-26-000001", "status": "ready", "status_url": "https://shop.example/o/secret-token"}
    with db.engine.begin() as connection:
        for status in ("pending", "sent"):
            connection.execute(
                sa.insert(outbox).values(
                    kind="webhook",
                    topic="order.ready",
                    recipient="https://erp.example/hooks",
                    subject="",
                    body="",
                    payload={"event": "order.ready", "order": order},
                    status=status,
                    attempts=0,
                    next_attempt_at=sa.func.now(),
                    last_error="",
                    created_at=sa.func.now(),
                )
            )
    upgrade()
    payloads = db.session.execute(sa.select(outbox.c.payload)).scalars().all()
    assert [payload["order"] for payload in payloads] == [{"number": "OS-26-000001", "status": "ready"}] * 2


def test_the_markets_migration_keeps_existing_orders_and_prices_down_and_up(app, make):
    """Down: each variant gets its default-market price back (a variant sold only elsewhere its lowest price),
    orders and lines stay. Up again: today's data moves into the default market without loss."""
    from flask_migrate import downgrade, upgrade

    ham = make.location("HAM")
    jacket = make.variant(prices={"DE": 24995, "DK": 189995}, sku="JKT")
    danish = make.variant(prices={"DK": 29995}, sku="DK-ONLY")
    order = make.order(ham, [(jacket, 2, ham)], currency="EUR")
    ids = (ham.id, jacket.id, danish.id, order.id)
    db.session.close()

    downgrade(revision="d4e92a3b7f11")
    tables = sa.inspect(db.engine).get_table_names()
    assert "market" not in tables and "variant_price" not in tables
    with db.engine.connect() as connection:
        prices = dict(connection.execute(sa.text("SELECT sku, price_minor FROM variant")).all())
        lines = connection.execute(sa.text("SELECT quantity, unit_price_minor FROM order_line")).all()
        orders = connection.execute(sa.text("SELECT id, currency, total_minor FROM orders")).all()
    assert prices == {"JKT": 24995, "DK-ONLY": 29995}
    assert lines == [(2, 24995)] and orders == [(ids[3], "EUR", 49990)]

    upgrade()
    with db.engine.connect() as connection:
        markets = connection.execute(sa.text("SELECT code, currency, vat_rate_bp FROM market")).all()
        location = connection.execute(sa.text("SELECT market_code FROM location WHERE id = :id"), {"id": ids[0]})
        placed = connection.execute(sa.text("SELECT market_code, currency, total_minor FROM orders")).all()
        moved = connection.execute(
            sa.text("SELECT variant_id, market_code, amount_minor FROM variant_price ORDER BY variant_id")
        ).all()
        lines = connection.execute(sa.text("SELECT quantity, unit_price_minor FROM order_line")).all()
    assert markets == [("DE", "EUR", 1900)]
    assert location.scalar() == "DE"
    assert placed == [("DE", "EUR", 49990)] and lines == [(2, 24995)]
    assert moved == [(ids[1], "DE", 24995), (ids[2], "DE", 29995)]


def test_the_zones_migration_keeps_counts_and_levels_down_and_up(app, make):
    """Down: a count of a zone becomes a count of a list of items with all its lines, the levels and the stores
    keep their figures. Up again: zones, per-store pick deadlines and waived fees are there, empty."""
    from flask_migrate import downgrade, upgrade

    from omnistore.stock import counts, ledger, zones

    cph = make.location("CPH")
    clerk = make.staff("clerk", cph)
    jacket = make.variant(sku="JKT")
    ledger.receive(ledger.StockChange(jacket.id, cph.id, 3, "delivery"), clerk)
    zones.set_zone(jacket.id, cph.id, "A3", clerk)
    count = counts.start_count(cph.id, counts.CountScope("zone", zone="A3"), clerk)
    counts.scan(count.id, "JKT", clerk, quantity=2)
    cph.pick_hours = 2.5
    db.session.commit()
    count_id = count.id
    db.session.close()

    downgrade(revision="a7c31e5d9b20")
    columns = {
        table: {c["name"] for c in sa.inspect(db.engine).get_columns(table)}
        for table in ("stock_level", "stock_count", "location", "orders")
    }
    assert "zone" not in columns["stock_level"] | columns["stock_count"]
    assert "pick_hours" not in columns["location"] and "shipping_fee_waived" not in columns["orders"]
    with db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT scope FROM stock_count")).scalars().all() == ["variants"]
        assert connection.execute(sa.text("SELECT counted FROM stock_count_line")).scalars().all() == [2]
        assert connection.execute(sa.text("SELECT on_hand FROM stock_level")).scalars().all() == [3]
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:  # the old scopes only
        connection.execute(sa.text("UPDATE stock_count SET scope = 'zone'"))

    upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT zone FROM stock_level")).scalars().all() == [""]
        assert connection.execute(sa.text("SELECT pick_hours FROM location")).scalars().all() == [None]
        assert connection.execute(sa.text("SELECT count(*) FROM stock_count_line")).scalar() == 1
    db.session.expire_all()
    zones.set_zone(jacket.id, cph.id, "A3", clerk)
    again = counts.start_count(cph.id, counts.CountScope("zone", zone="A3"), clerk)
    assert again.scope == "zone" and db.session.get(type(again), count_id).scope == "variants"


def test_the_market_rules_migration_turns_patterns_into_rules_and_back(app, make):
    """Down: each market's postcode rule becomes its pattern again (the window is dropped); up: each pattern
    becomes its rule again, a pattern no rule writes becomes no check, the window starts empty (the network's)."""
    from flask_migrate import downgrade, upgrade

    make.market("DE"), make.market("DK")
    ham = make.location("HAM")
    order = make.order(ham, [(make.variant(), 1, ham)])
    db.session.execute(sa.text("UPDATE market SET return_window_days = 45 WHERE code = 'DK'"))
    db.session.commit()
    order_id = order.id
    db.session.close()

    downgrade(revision="a7c31e5d9b20")
    columns = {column["name"] for column in sa.inspect(db.engine).get_columns("market")}
    assert "postcode_pattern" in columns and not {"postcode_rule", "return_window_days"} & columns
    with db.engine.begin() as connection:
        patterns = dict(connection.execute(sa.text("SELECT code, postcode_pattern FROM market")).all())
        assert patterns == {"DE": "[0-9]{5}", "DK": "[0-9]{4}"}
        connection.execute(
            sa.text(
                "INSERT INTO market (code, name, currency, locale, vat_rate_bp, shipping_fee_minor, "
                "free_shipping_from_minor, postcode_pattern) VALUES ('SE', 'Sverige', 'SEK', 'en', 2500, 0, 0, "
                "'[0-9]{3} ?[0-9]{2}')"
            )
        )

    upgrade()
    with db.engine.begin() as connection:
        rules = dict(connection.execute(sa.text("SELECT code, postcode_rule FROM market")).all())
        windows = set(connection.execute(sa.text("SELECT return_window_days FROM market")).scalars())
        kept = connection.execute(sa.text("SELECT market_code FROM orders WHERE id = :id"), {"id": order_id})
        assert rules == {"DE": "5-digits", "DK": "4-digits", "SE": ""} and windows == {None}
        assert kept.scalar() == "DE"
        with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
            connection.execute(sa.text("UPDATE market SET return_window_days = 0 WHERE code = 'DK'"))


def test_the_stage_history_and_spend_migration_goes_down_and_up(app, make):
    """Down drops the stage history and the acquisition spend (nothing else depends on them); up makes both,
    with one spend figure per store or network, channel, month and currency."""
    from flask_migrate import downgrade, upgrade

    db.session.close()
    downgrade(revision="a7c31e5d9b20")
    tables = sa.inspect(db.engine).get_table_names()
    assert "customer_stage_change" not in tables and "acquisition_spend" not in tables
    upgrade()
    ham = make.location("HAM")
    insert = sa.text(
        "INSERT INTO acquisition_spend (location_id, channel, month, currency, amount_minor, updated_at) "
        "VALUES (:loc, 'web', '2026-11-01', 'EUR', 100, '2026-12-01 00:00:00')"
    )
    with db.engine.begin() as connection:
        connection.execute(insert, {"loc": ham.id})
        connection.execute(insert, {"loc": None})
    for loc in (ham.id, None):
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(insert, {"loc": loc})


def test_the_nearby_migration_gives_a_customers_own_hold_a_clerk_on_the_way_down_and_up_again(app, make):
    """b8e4d1c7a2f0 lets a draft have no clerk (held by the customer from an "available near you" e-mail); a
    downgrade gives such drafts a clerk of their store, and the tables it added go and come back."""
    from flask_migrate import downgrade, upgrade

    from omnistore.core.types import utcnow
    from omnistore.orders import drafts
    from omnistore.orders.models import OrderDraft
    from omnistore.stock import ledger

    ham = make.location("HAM")
    clerk = make.staff("clerk", ham)
    jacket = make.variant()
    anna = make.customer("Anna", "Berg")
    ledger.receive(ledger.StockChange(jacket.id, ham.id, 1, "delivery"), clerk)
    held = drafts.hold_for_customer(anna.id, jacket.id, ham.id, until=utcnow(), reason="test")
    assert held.staff_id is None
    db.session.remove()
    downgrade(revision="b5e1c7a3d902")
    tables = sa.inspect(db.engine).get_table_names()
    assert "nearby_alert" not in tables and "notify_request" not in tables
    with db.engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT staff_id FROM order_draft")) == clerk.id
    upgrade()
    assert {"nearby_alert", "notify_request", "nearby_scan"} <= set(sa.inspect(db.engine).get_table_names())
    assert db.session.get(OrderDraft, held.id).staff_id == clerk.id
