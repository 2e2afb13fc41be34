"""The synthetic seed network for benchmarks: exact sizes, a consistent ledger, re-runnable, apart from the demo."""

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from omnistore.catalog.codes import is_valid_ean13
from omnistore.catalog.models import Product, Variant
from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.models import Location, Staff
from omnistore_tools import demo, seed
from tests.helpers import assert_locations_are_ones_the_verb_accepts


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def sizes():
    return {
        model.__name__: count(model)
        for model in (Location, Product, Variant, StockLevel, StockMovement, Customer, Staff)
    }


def assert_ledger_explains_stock():
    mismatches = db.session.scalar(
        select(func.count())
        .select_from(StockLevel)
        .where(
            StockLevel.on_hand
            != select(func.coalesce(func.sum(StockMovement.on_hand_delta), 0))
            .where(
                StockMovement.variant_id == StockLevel.variant_id, StockMovement.location_id == StockLevel.location_id
            )
            .scalar_subquery()
        )
    )
    assert mismatches == 0


def test_seed_creates_exactly_the_grid_and_grows_on_rerun(app):
    labels = []

    class Bar:
        def __init__(self, label, total):
            labels.append((label, total))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            pass

    result = seed.seed_network(stores=3, products=50, customers=5, progress=Bar)
    assert (result.stores_created, result.variants_created, result.styles_created) == (3, 50, 10)
    assert result.stock_rows_created == result.stock_rows_total == 150
    assert sizes() == {
        "Location": 3,
        "Product": 10,
        "Variant": 50,
        "StockLevel": 150,
        "StockMovement": 150,
        "Customer": 5,
        "Staff": 3,
    }
    assert ("Stock levels", 150) in labels and ("Stock ledger", 150) in labels
    assert sorted(db.session.scalars(select(Location.code))) == ["S001", "S002", "S003"]
    assert all(is_valid_ean13(ean) for ean in db.session.scalars(select(Variant.ean)))
    assert count(StockLevel, StockLevel.on_hand == 0) > 0 and count(StockLevel, StockLevel.allocated != 0) == 0
    assert_ledger_explains_stock()
    assert_locations_are_ones_the_verb_accepts()

    again = seed.seed_network(stores=3, products=50, customers=5)
    assert (again.stores_created, again.variants_created, again.stock_rows_created, again.customers_created) == (
        0,
        0,
        0,
        0,
    )
    assert sizes()["StockLevel"] == 150

    grown = seed.seed_network(stores=4, products=53, customers=6)
    assert (grown.stores_created, grown.variants_created, grown.stock_rows_created) == (1, 3, 4 * 53 - 150)
    assert count(StockLevel) == count(StockMovement) == 4 * 53 and count(Product) == 11
    assert_ledger_explains_stock()

    smaller = seed.seed_network(stores=2, products=10)  # keeps what is there
    assert (smaller.stores_total, smaller.variants_total, smaller.stock_rows_created) == (4, 53, 0)


def schema_of(*tables):
    inspector = inspect(db.engine)
    return {
        table: (
            sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"], str(fk.get("options")))
                for fk in inspector.get_foreign_keys(table)
            ),
            sorted((uc["name"], tuple(uc["column_names"])) for uc in inspector.get_unique_constraints(table)),
            sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in inspector.get_indexes(table)),
        )
        for table in tables
    }


def test_big_load_path_leaves_the_schema_as_it_was(app, monkeypatch):
    """Forced on a small seed: on PostgreSQL the big-load path drops and re-creates keys and indexes."""
    monkeypatch.setattr(seed, "BULK_LOAD_ROWS", 1)
    before = schema_of("stock_level", "stock_movement")
    assert before["stock_level"][0] and before["stock_level"][1] and before["stock_movement"][2]
    seed.seed_network(stores=2, products=10, customers=0)
    db.session.remove()
    assert schema_of("stock_level", "stock_movement") == before
    assert count(StockLevel) == count(StockMovement) == 20
    assert_ledger_explains_stock()
    level = db.session.scalar(select(StockLevel).limit(1))
    db.session.add(StockLevel(variant_id=level.variant_id, location_id=level.location_id, on_hand=1))
    with pytest.raises(IntegrityError):  # the (variant, location) unique constraint is back in force
        db.session.commit()
    db.session.rollback()
    db.session.add(StockLevel(variant_id=level.variant_id + 10_000, location_id=level.location_id, on_hand=1))
    with pytest.raises(IntegrityError):  # and so is the foreign key
        db.session.commit()
    db.session.rollback()


def test_seed_lives_next_to_the_demo(app):
    demo.load_demo()
    before = sizes()
    result = seed.seed_network(stores=2, products=12, customers=3)
    after = sizes()
    assert result.stock_rows_created == 24
    assert after["StockLevel"] == before["StockLevel"] + 24 and after["Variant"] == before["Variant"] + 12
    assert after["Customer"] == before["Customer"] + 3 and after["Location"] == before["Location"] + 2
    assert not demo.load_demo().created
    assert_ledger_explains_stock()


def test_seed_refuses_holes_and_bad_sizes(app, make):
    with pytest.raises(ValidationFailed):
        seed.seed_network(stores=0, products=10)
    make.location("S002")  # not a seed store
    with pytest.raises(Conflict, match="S002"):
        seed.seed_network(stores=2, products=5)
    db.session.execute(Location.__table__.delete())
    db.session.commit()

    seed.seed_network(stores=2, products=5, customers=0)
    db.session.execute(
        StockLevel.__table__.delete().where(StockLevel.id == select(func.min(StockLevel.id)).scalar_subquery())
    )
    db.session.commit()
    with pytest.raises(Conflict, match="incomplete"):
        seed.seed_network(stores=3, products=5)


def test_flask_seed_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "--stores", "2", "--products", "10", "--customers", "0"])
    assert result.exit_code == 0, result.output
    assert "2 stores (+2)" in result.output and "20 stock rows (+20)" in result.output
    assert count(StockLevel) == 20
    help_text = " ".join(runner.invoke(args=["seed", "--help"]).output.split())
    assert "SKUs" in help_text and "5,000,000 stock rows" in help_text
    bad = runner.invoke(args=["seed", "--stores", "0", "--products", "10"])
    assert bad.exit_code == 2
