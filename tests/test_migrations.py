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
