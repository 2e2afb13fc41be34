"""The seed network the bench measures on: seeded when missing, reused when big enough, described."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click
from sqlalchemy import func, inspect, select, text

from omnistore.core.extensions import db

# --- the network ----------------------------------------------------------------------------------


@dataclass
class Network:
    kind: str
    version: str
    url: str
    stores: int
    variants: int
    stock_rows: int
    customers: int
    size_bytes: int | None
    seeded_seconds: float | None
    seed_summary: str = ""
    orders: int = 0

    def describe(self):
        size = ""
        if self.size_bytes:
            size = (
                f", {self.size_bytes / 2**30:.1f} GiB on disk"
                if self.size_bytes >= 2**30
                else f", {self.size_bytes / 2**20:.0f} MiB on disk"
            )
        kind = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(self.kind, self.kind)
        return (
            f"{kind} {self.version} ({self.url}): {self.stores:,} seed stores × {self.variants:,} seed variants, "
            f"{self.stock_rows:,} stock rows, {self.customers:,} seed customers, {self.orders:,} seed orders{size}"
        )


def _seed_counts():
    from omnistore.catalog.models import Variant
    from omnistore.customers.models import Customer
    from omnistore.stores.models import Location
    from omnistore_tools.seed import SEED_DOMAIN, SEED_MARK

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    from omnistore.orders.models import Order
    from omnistore_tools.seed import ORDER_PREFIX

    return (
        count(Location, Location.notes == SEED_MARK),
        count(Variant, Variant.sku.like("SEED-%")),
        count(Customer, Customer.email.like(f"%@{SEED_DOMAIN}")),
        count(Order, Order.number.like(f"{ORDER_PREFIX}%")),
    )


def ensure_network(stores, products, customers, echo, orders=0) -> Network:
    from omnistore_tools.seed import seed_network

    if not inspect(db.engine).has_table("stock_level"):
        raise click.ClickException("The database has no schema yet: run `flask --app app db upgrade` first.")
    have = _seed_counts()
    db.session.rollback()
    seeded_seconds, summary = None, ""
    if have[0] < stores or have[1] < products or have[2] < customers or have[3] < orders:
        echo(
            f"Seeding {stores:,} stores × {products:,} variants ({customers:,} customers, {orders:,} orders) "
            f"into a network of {have[0]:,} × {have[1]:,} …"
        )

        def progress(label, total):
            return click.progressbar(length=total, label=f"  {label:<13}", file=sys.stderr)

        result = seed_network(stores, products, customers, progress=progress, orders=orders)
        seeded_seconds, summary = result.seconds, result.summary_text()
        have = _seed_counts()
    engine = db.engine
    kind = engine.dialect.name
    if kind == "postgresql":
        version = db.session.scalar(text("SHOW server_version")).split()[0]
        size = db.session.scalar(text("SELECT pg_database_size(current_database())"))
    else:
        version = db.session.scalar(text("SELECT sqlite_version()")) if kind == "sqlite" else ""
        size = (
            db.session.scalar(text("PRAGMA page_count")) * db.session.scalar(text("PRAGMA page_size"))
            if kind == "sqlite"
            else None
        )
    from omnistore.stock.models import StockLevel

    stock_rows = db.session.scalar(select(func.count()).select_from(StockLevel))
    db.session.rollback()
    return Network(
        kind,
        version,
        engine.url.render_as_string(hide_password=True),
        have[0],
        have[1],
        stock_rows,
        have[2],
        size,
        seeded_seconds,
        summary,
        orders=have[3],
    )
