"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from omnistore.extensions import db
from omnistore.models._types import on_database


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": on_database(connection.dialect.name)})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_migrations_run_down_and_up_again(app):
    from flask_migrate import downgrade, upgrade

    downgrade(revision="base")
    assert "stock_level" not in sa.inspect(db.engine).get_table_names()
    upgrade()
    assert "stock_level" in sa.inspect(db.engine).get_table_names()


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
        db.session.execute(sa.insert(db.metadata.tables[table]).values(variant_id=variant.id, location_id=ham.id,
                                                                        version=1, updated_at=sa.func.now(), **values))
        db.session.commit()
    db.session.rollback()


def test_database_refuses_duplicates_and_bad_values(app, make):
    from omnistore.models import Order, StockLevel, Variant

    ham, variant = make.location("HAM"), make.variant()
    make.stock(variant, ham, 3)
    cases = [
        lambda: db.session.add(StockLevel(variant_id=variant.id, location_id=ham.id, on_hand=1)),  # same pair
        lambda: db.session.add(Variant(product_id=variant.product_id, sku="OTHER", ean=variant.ean, price_minor=1)),
        lambda: db.session.add(Variant(product_id=variant.product_id, sku="SHORT", ean="123", price_minor=1)),
        lambda: db.session.add(Variant(product_id=variant.product_id, sku="NEG", ean=make.ean(), price_minor=-5)),
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


def test_the_gdpr_migration_hashes_idempotency_keys_and_finds_each_emails_customer(app, make):
    import hashlib

    from flask_migrate import downgrade, upgrade

    from omnistore.models import Order
    from omnistore.services.ordering import hash_key

    ham, anna = make.location("HAM"), make.customer("Anna", "Berg", email="anna@example.de")
    order = make.order(ham, customer_id=anna.id, idempotency_key="api:1:order-for-anna@example.de")
    number = order.number
    db.session.close()
    downgrade(revision="b046dea4fa35")
    outbox = sa.table("outbox_message", sa.column("payload", sa.JSON), *(sa.column(name) for name in (
        "kind", "topic", "recipient", "subject", "body", "status", "attempts", "next_attempt_at", "last_error",
        "created_at")))
    with db.engine.begin() as connection:
        connection.execute(sa.insert(outbox).values(
            kind="email", topic="order.confirmation", recipient="anna@example.de", subject="", body="",
            payload={"order_number": number}, status="sent", attempts=1,
            next_attempt_at=sa.func.now(), last_error="", created_at=sa.func.now()))
    upgrade()
    key = db.session.scalar(sa.select(Order.idempotency_key).where(Order.number == number))
    assert key == hashlib.sha256(b"api:1:order-for-anna@example.de").hexdigest() == \
        hash_key("api:1:order-for-anna@example.de")
    assert db.session.execute(sa.text("SELECT customer_id FROM outbox_message")).scalar() == anna.id
