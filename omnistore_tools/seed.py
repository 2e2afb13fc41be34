"""A large synthetic network for benchmarks: `flask --app app seed --stores N --products M [--customers K]`.

Sizes
- N stores, coded S001, S002, … (S1000 onwards past 999), spread over Germany, pickup desk on.
- M products counted as SKUs: M variants, grouped into styles of VARIANTS_PER_STYLE sizes (XS–XL).
- Every seed store stocks every seed variant: N × M StockLevel rows, each explained by one "import"
  StockMovement (on_hand_delta = on_hand, nothing allocated). `--stores 200 --products 25000` is the
  benchmark network: 25,000 variants in 5,000 styles and 5,000,000 stock rows.
- K customers (seed.customer.000001@seed.omnistore-demo.de …) and one clerk per seed store
  (clerk.s001@seed.omnistore-demo.de …, password the demo's, "omnistore-demo").

Re-running is safe and additive: seed rows are recognised by their codes (stores marked SEED_MARK in their
notes, SKUs SEED-…, styles SEED-P…, customer emails @seed.omnistore-demo.de); whatever exists is kept,
only what is missing is added, and nothing is ever deleted. So the network grows to the larger of what is
there and what was asked for, and every seed store keeps stocking every seed variant: running
`--stores 3 --products 50` and then `--stores 4 --products 60` gives 4 × 60 stock rows. A seed whose stock
is not a full stores × variants grid (rows deleted by hand) is refused with a clear message.

Nothing collides with the demo network: other location codes, SKUs, style codes, emails, and EANs from the
GS1 restricted-circulation range (29…), which no demo or real product uses.

Speed and memory: everything runs in one transaction; rows are generated lazily and written in chunks; on
PostgreSQL the stock levels and their ledger go in with COPY, the per-variant summary is set from them, and
VACUUM (ANALYZE) runs afterwards. For a big load (BULK_LOAD_ROWS or more stock rows) it follows PostgreSQL's
advice for populating a database: inside the same transaction it drops the foreign keys and secondary indexes
of stock_level and stock_movement, copies, and re-creates them from their own definitions (one set-based check
per foreign key and one sorted index build each, instead of a trigger and an index insert per row). Nothing
outside the transaction ever sees the tables without them, a failure rolls everything back, and the tables are
locked meanwhile: seed a benchmark database, not one in use.
"""

import contextlib
import itertools
import time
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import and_, func, insert, select, text
from werkzeug.security import generate_password_hash

from omnistore.catalog.codes import ean13_check_digit
from omnistore.catalog.models import Product, Variant, VariantPrice
from omnistore.catalog.search_text import search_forms, search_text_for
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.models import Customer
from omnistore.demo_logins import DEMO_PASSWORD
from omnistore.orders.pickup_codes import numbered_short_code
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stock.summaries import rebuild_summaries
from omnistore.stores.markets import ensure_market
from omnistore.stores.models import Location, Staff

SEED_MARK = "synthetic seed network"
SEED_MARKET = "DE"  # the seed network is a German one: euros
SEED_DOMAIN = "seed.omnistore-demo.de"
VARIANTS_PER_STYLE = 5
SIZES = ("XS", "S", "M", "L", "XL")
COLOURS = ("Black", "Navy", "Grey", "Olive", "Sand", "Bordeaux", "Stone", "Rust", "Forest", "Camel")
CATEGORIES = ("Jackets", "Knitwear", "Shirts", "T-shirts", "Dresses", "Jeans", "Sneakers", "Boots")
NOUNS = ("Parka", "Cardigan", "Oxford Shirt", "Tee", "Wrap Dress", "Slim Jeans", "Runner", "Chelsea Boot")
BRANDS = ("Seedwerk", "Benchmark & Co", "Lasttest", "Grünfeld", "Nordlast")
FIRST_NAMES = ("Anna", "Jürgen", "Søren", "Mette", "Lukas", "Özlem", "Freja", "Jonas", "Käthe", "Mads")
LAST_NAMES = ("Müller", "Jensen", "Schmidt", "Kjær", "Becker", "Sørensen", "Weiß", "Nielsen", "Krüger")
MAX_STORES = 9_999
MAX_VARIANTS = 9_999_999
MAX_CUSTOMERS = 9_999_999
MAX_ORDERS = 99_999_999
ORDER_PREFIX = "OS-SD-"  # seed order numbers: OS-SD-00000001
ORDER_CHANNELS = ("web", "store", "app", "phone", "web")
# More names than people share, so a name search narrows down as it would in a real customer base.
MORE_FIRST = (
    "Lena",
    "Paul",
    "Ida",
    "Felix",
    "Emma",
    "Noah",
    "Clara",
    "Oskar",
    "Sofie",
    "Emil",
    "Greta",
    "Karl",
    "Ella",
    "Magnus",
    "Lina",
    "Theo",
    "Ida-Marie",
    "Bjørn",
    "Frieda",
    "Anton",
)
MORE_LAST = (
    "Hansen",
    "Fischer",
    "Pedersen",
    "Wagner",
    "Andersen",
    "Hoffmann",
    "Larsen",
    "Schäfer",
    "Christensen",
    "Koch",
    "Rasmussen",
    "Bauer",
    "Jørgensen",
    "Richter",
    "Madsen",
    "Klein",
    "Kristensen",
    "Wolf",
    "Olsen",
    "Schröder",
    "Thomsen",
    "Neumann",
    "Poulsen",
    "Schwarz",
    "Møller",
    "Zimmermann",
)
_CHUNK = 20_000  # rows per INSERT batch (SQLite), per COPY write and per progress update
BULK_LOAD_ROWS = 200_000  # from this many new stock rows on, PostgreSQL loads without per-row checks


def store_code(number):
    return f"S{number:03d}"


def style_code(number):
    return f"SEED-P{number:06d}"


def variant_sku(number):
    return f"SEED-{number:07d}"


def variant_ean(number):
    body = f"29{number:010d}"
    return body + ean13_check_digit(body)


def customer_email(number):
    return f"seed.customer.{number:06d}@{SEED_DOMAIN}"


def on_hand_for(variant_number, store_number):
    """The stock of a seed variant at a seed store: 0–8, about one in nine sold out; cheap and repeatable."""
    return (variant_number * 7 + store_number * 13 + (variant_number * store_number) % 5) % 9


@dataclass
class SeedResult:
    stores_created: int
    stores_total: int
    styles_created: int
    variants_created: int
    variants_total: int
    stock_rows_created: int
    customers_created: int
    customers_total: int
    seconds: float
    orders_created: int = 0

    @property
    def stock_rows_total(self):
        return self.stores_total * self.variants_total

    def summary_text(self):
        return (
            f"Seed network: {self.stores_total:,} stores (+{self.stores_created:,}), "
            f"{self.variants_total:,} variants (+{self.variants_created:,}), "
            f"{self.stock_rows_total:,} stock rows (+{self.stock_rows_created:,}), "
            f"{self.customers_total:,} customers (+{self.customers_created:,}), "
            f"+{self.orders_created:,} orders in {self.seconds:.1f} s."
        )


@contextlib.contextmanager
def _no_progress(_label, _total):
    class _Bar:
        def update(self, _n):
            pass

    yield _Bar()


def seed_network(stores, products, customers=0, progress=None, orders=0) -> SeedResult:
    """Grow the seed network to at least `stores` stores, `products` variants and `customers` customers, and
    `orders` delivered orders of the seed customers (1–3 lines each, see ensure_orders).

    `progress(label, total)` may return a context manager with `update(n)` (e.g. click.progressbar).
    """
    errors = {}
    for name, value, low, high in (
        ("stores", stores, 1, MAX_STORES),
        ("products", products, 1, MAX_VARIANTS),
        ("customers", customers, 0, MAX_CUSTOMERS),
        ("orders", orders, 0, MAX_ORDERS),
    ):
        if not isinstance(value, int) or not low <= value <= high:
            errors[name] = f"Give a whole number from {low} to {high:,}."
    if errors:
        raise ValidationFailed("The seed sizes are out of range.", errors)
    progress = progress or _no_progress
    started = time.monotonic()
    with transaction() as session:
        seeder = _Seeder(session, progress)
        result = seeder.run(stores, products, customers)
        result.orders_created = seeder.ensure_orders(orders) if orders else 0
    if db.engine.dialect.name == "postgresql" and (
        result.stock_rows_created + result.customers_created + result.orders_created
    ):
        # VACUUM too: freshly copied rows are not yet marked all-visible, so no query could use index-only scans.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text(
                    "VACUUM (ANALYZE) location, product, variant, variant_stock, stock_level, "
                    "stock_movement, customer, staff, orders, order_line"
                )
            )
    result.seconds = time.monotonic() - started
    return result


@contextlib.contextmanager
def _bulk_load(connection, tables, progress):
    """Drop the foreign keys, unique constraints and plain indexes of `tables` (PostgreSQL), and re-create
    them from their own definitions when the block is done, inside the caller's transaction."""
    restore = []
    for table in tables:
        constraints = connection.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = CAST(:table AS regclass) AND contype IN ('f', 'u') ORDER BY contype DESC, conname"
            ),
            {"table": table},
        ).all()
        indexes = connection.execute(
            text(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid)"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid) ORDER BY c.relname"
            ),
            {"table": table},
        ).all()
        for name, definition in constraints:
            connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
            restore.append(definition)
    yield
    connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    with progress("Indexes, keys", len(restore)) as bar:
        # Unique constraints and indexes first (sorted builds), then the foreign keys (one check each).
        for statement in sorted(restore, key=lambda statement: "FOREIGN KEY" in statement):
            connection.execute(text(statement))
            bar.update(1)


class _Seeder:
    def __init__(self, session, progress):
        self.session = session
        self.progress = progress
        self.now = utcnow()
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def run(self, stores, products, customers):
        old_stores, new_stores = self.ensure_stores(stores)
        old_variants, new_variants, styles_created = self.ensure_variants(products)
        self.check_grid(old_stores, old_variants)
        stock_rows = self.add_stock(old_stores, new_stores, old_variants, new_variants)
        if stock_rows:
            rebuild_summaries()  # the levels went in without the stock verbs
        customers_created, customers_total = self.ensure_customers(customers)
        return SeedResult(
            stores_created=len(new_stores),
            stores_total=len(old_stores) + len(new_stores),
            styles_created=styles_created,
            variants_created=len(new_variants),
            variants_total=len(old_variants) + len(new_variants),
            stock_rows_created=stock_rows,
            customers_created=customers_created,
            customers_total=customers_total,
            seconds=0.0,
        )

    # -- helpers
    def insert_returning(self, table, rows):
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [row[0] for row in result]

    # -- stores and their clerks
    def ensure_stores(self, count):
        """([(number, id)] of seed stores that existed, [(number, id)] of those created now)."""
        wanted = {store_code(n): n for n in range(1, count + 1)}
        existing = self.session.execute(
            select(Location.code, Location.id, Location.notes).where(Location.notes == SEED_MARK)
        ).all()
        old = sorted((int(code[1:]), location_id) for code, location_id, _notes in existing)
        known = {code for code, _id, _notes in existing}
        taken = sorted(
            self.session.scalars(
                select(Location.code).where(
                    Location.code.in_([c for c in wanted if c not in known]), Location.notes != SEED_MARK
                )
            )
        )
        if taken:
            raise Conflict(f"Location codes {', '.join(taken[:5])} exist and are not part of the seed network.")
        missing = [n for code, n in wanted.items() if code not in known]
        if not missing:
            return old, []
        ensure_market(SEED_MARKET)
        rows = []
        for n in missing:
            # A grid over Germany (47.5–54.5 N, 6.5–14.5 E), so distances differ from store to store.
            rows.append(
                dict(
                    code=store_code(n),
                    name=f"Seed store {n:03d}",
                    kind="store",
                    street=f"Lastteststraße {n}",
                    postcode=f"{10000 + n * 37 % 89999:05d}",
                    city="Seedstadt",
                    country="DE",
                    market_code=SEED_MARKET,
                    phone="",
                    latitude=round(47.5 + (n * 0.6180339) % 1 * 7, 4),
                    longitude=round(6.5 + (n * 0.4142135) % 1 * 8, 4),
                    timezone="Europe/Berlin",
                    opening_hours={day: [["10:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
                    | {"sun": []},
                    pickup_enabled=True,
                    hold_days=7,
                    reminder_day=5,
                    active=True,
                    notes=SEED_MARK,
                )
            )
        ids = self.insert_returning(Location.__table__, rows)
        password_hash = generate_password_hash(DEMO_PASSWORD)
        self.session.execute(
            insert(Staff.__table__),
            [
                dict(
                    email=f"clerk.{store_code(n).lower()}@{SEED_DOMAIN}",
                    name=f"Seed clerk {n:03d}",
                    password_hash=password_hash,
                    role="clerk",
                    location_id=location_id,
                    locale="en",
                    active=True,
                    session_generation=1,
                    created_at=self.now,
                )
                for n, location_id in zip(missing, ids, strict=True)
            ],
        )
        return old, list(zip(missing, ids, strict=True))

    # -- styles and variants
    def ensure_variants(self, count):
        """([(number, id)] of seed variants that existed, [(number, id)] created now, styles created now)."""
        old = sorted(
            (int(sku[5:]), variant_id)
            for sku, variant_id in self.session.execute(
                select(Variant.sku, Variant.id).where(Variant.sku.like("SEED-%"))
            )
            if sku[5:].isdigit()
        )
        known = {n for n, _id in old}
        missing = [n for n in range(1, count + 1) if n not in known]
        if not missing:
            return old, [], 0
        styles = {
            int(code[6:]): product_id
            for code, product_id in self.session.execute(
                select(Product.style_code, Product.id).where(Product.style_code.like("SEED-P%"))
            )
            if code[6:].isdigit()
        }
        new_styles = sorted({(n - 1) // VARIANTS_PER_STYLE + 1 for n in missing} - set(styles))
        rows = []
        for s in new_styles:
            name = f"{NOUNS[s % len(NOUNS)]} {s:06d}"
            brand = BRANDS[s % len(BRANDS)]
            category = CATEGORIES[s % len(CATEGORIES)]
            style = dict(style_code=style_code(s), name=name, brand=brand, category=category)
            skus = range((s - 1) * VARIANTS_PER_STYLE + 1, min(s * VARIANTS_PER_STYLE, count) + 1)
            variants = [dict(sku=variant_sku(n), colour=COLOURS[s % len(COLOURS)]) for n in skus]
            rows.append(
                dict(
                    style,
                    description="Synthetic product for benchmarks.",
                    image_url="",
                    search_text=search_text_for(style, variants),
                    created_at=self.now,
                    updated_at=self.now,
                )
            )
        with self.progress("Styles", max(len(rows), 1)) as bar:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                ids = self.insert_returning(Product.__table__, chunk)
                styles.update(zip(new_styles[start : start + _CHUNK], ids, strict=True))
                bar.update(len(chunk))
        created = []
        with self.progress("Variants", len(missing)) as bar:
            for start in range(0, len(missing), _CHUNK):
                numbers = missing[start : start + _CHUNK]
                ids = self.insert_returning(
                    Variant.__table__,
                    [
                        dict(
                            product_id=styles[(n - 1) // VARIANTS_PER_STYLE + 1],
                            sku=variant_sku(n),
                            ean=variant_ean(n),
                            size=SIZES[(n - 1) % VARIANTS_PER_STYLE],
                            colour=COLOURS[((n - 1) // VARIANTS_PER_STYLE + 1) % len(COLOURS)],
                            created_at=self.now,
                            updated_at=self.now,
                        )
                        for n in numbers
                    ],
                )
                self.session.execute(
                    insert(VariantPrice.__table__),
                    [
                        dict(
                            variant_id=i,
                            market_code=SEED_MARKET,
                            amount_minor=1995 + ((n - 1) // VARIANTS_PER_STYLE) % 30 * 500,
                            updated_at=self.now,
                        )
                        for n, i in zip(numbers, ids, strict=True)
                    ],
                )
                created += zip(numbers, ids, strict=True)
                bar.update(len(numbers))
        return old, created, len(new_styles)

    # -- stock
    def check_grid(self, old_stores, old_variants):
        """The stock of the seed that exists must be a full grid, or adding to it would leave holes."""
        if not old_stores or not old_variants:
            return
        found = self.session.scalar(
            select(func.count())
            .select_from(StockLevel)
            .join(Location, Location.id == StockLevel.location_id)
            .join(Variant, Variant.id == StockLevel.variant_id)
            .where(Location.notes == SEED_MARK, Variant.sku.like("SEED-%"))
        )
        expected = len(old_stores) * len(old_variants)
        if found != expected:
            raise Conflict(
                f"The seed network is incomplete ({found:,} of {expected:,} stock rows); "
                "seed into a fresh database instead."
            )

    def add_stock(self, old_stores, new_stores, old_variants, new_variants):
        all_stores = old_stores + new_stores
        total = len(new_variants) * len(all_stores) + len(old_variants) * len(new_stores)
        if not total:
            return 0

        def cells():
            # Variant by variant: the (variant, location) indexes then fill in order.
            for variants, stores in ((old_variants, new_stores), (new_variants, all_stores)):
                for variant_number, variant_id in variants:
                    for store_number, location_id in stores:
                        yield variant_id, location_id, on_hand_for(variant_number, store_number)

        if self.postgres:
            self.copy_stock(cells, total)
        else:
            self.insert_stock(cells, total)
        return total

    def copy_stock(self, cells, total):
        at = self.now.isoformat()
        connection = self.session.connection()
        raw = connection.connection.driver_connection  # psycopg 3, inside our transaction
        bulk = (
            _bulk_load(connection, ("stock_level", "stock_movement"), self.progress)
            if total >= BULK_LOAD_ROWS
            else contextlib.nullcontext()
        )
        with bulk, raw.cursor() as cursor:
            # Integers and fixed words only: COPY's text format needs no escaping here.
            for label, statement, line in (
                (
                    "Stock levels",
                    "COPY stock_level (variant_id, location_id, on_hand, allocated, version, updated_at) FROM STDIN",
                    "{}\t{}\t{}\t0\t1\t" + at + "\n",
                ),
                (
                    "Stock ledger",
                    "COPY stock_movement (variant_id, location_id, kind, on_hand_delta, allocated_delta, reason,"
                    " reference, created_at) FROM STDIN",
                    "{}\t{}\timport\t{}\t0\tsynthetic seed\tseed\t" + at + "\n",
                ),
            ):
                generated = cells()
                with self.progress(label, total) as bar, cursor.copy(statement) as copy:
                    for chunk in iter(lambda generated=generated: list(islice(generated, _CHUNK)), []):
                        copy.write("".join([line.format(*cell) for cell in chunk]))
                        bar.update(len(chunk))

    def insert_stock(self, cells, total):
        def levels():
            for variant_id, location_id, on_hand in cells():
                yield dict(
                    variant_id=variant_id,
                    location_id=location_id,
                    on_hand=on_hand,
                    allocated=0,
                    version=1,
                    updated_at=self.now,
                )

        def movements():
            for variant_id, location_id, on_hand in cells():
                yield dict(
                    variant_id=variant_id,
                    location_id=location_id,
                    kind="import",
                    on_hand_delta=on_hand,
                    allocated_delta=0,
                    reason="synthetic seed",
                    reference="seed",
                    staff_id=None,
                    api_client_id=None,
                    created_at=self.now,
                )

        for label, model, rows in (
            ("Stock levels", StockLevel, levels()),
            ("Stock ledger", StockMovement, movements()),
        ):
            with self.progress(label, total) as bar:
                for chunk in iter(lambda rows=rows: list(islice(rows, _CHUNK)), []):
                    self.session.execute(insert(model.__table__), chunk)
                    bar.update(len(chunk))

    # -- customers
    def ensure_customers(self, count):
        existing = {
            email
            for (email,) in self.session.execute(select(Customer.email).where(Customer.email.like(f"%@{SEED_DOMAIN}")))
        }
        missing = [n for n in range(1, count + 1) if customer_email(n) not in existing]

        def rows():
            firsts, lasts = FIRST_NAMES + MORE_FIRST, LAST_NAMES + MORE_LAST
            for n in missing:
                first = firsts[n % len(firsts)]
                last = lasts[(n * 7 // len(firsts)) % len(lasts)]
                yield dict(
                    first_name=first,
                    last_name=last,
                    email=customer_email(n),
                    phone=f"+4915900{n:07d}",
                    loyalty_number=f"SEED{n:08d}",
                    loyalty_tier="basic",
                    loyalty_points=n % 1000,
                    preferred_location_id=None,
                    sizes={},
                    preferences={},
                    search_name=search_forms(f"{first} {last}"),
                    created_channel="web",
                    created_at=self.now,
                    erased_at=None,
                )

        if missing:
            with self.progress("Customers", len(missing)) as bar:
                generated = rows()
                if self.postgres:
                    self.copy_rows("customer", generated, bar)
                else:
                    for chunk in iter(lambda: list(islice(generated, _CHUNK)), []):
                        self.session.execute(insert(Customer.__table__), chunk)
                        bar.update(len(chunk))
        return len(missing), len(existing) + len(missing)

    def copy_rows(self, table, rows, bar):
        """COPY dict rows into `table` (PostgreSQL): dicts and lists as JSON, times as ISO, None as NULL."""
        import json

        raw = self.session.connection().connection.driver_connection
        first = next(rows, None)
        if first is None:
            return
        columns = list(first)

        def cell(value):
            if value is None:
                return None
            if isinstance(value, dict | list):
                return json.dumps(value)
            return value

        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            count = 0
            for row in itertools.chain([first], rows):
                copy.write_row([cell(row[name]) for name in columns])
                count += 1
                if count % _CHUNK == 0:
                    bar.update(_CHUNK)
            bar.update(count % _CHUNK)

    # -- orders of the seed customers (for the customer benchmarks)
    def ensure_orders(self, count):
        """Grow the seed orders (numbers OS-SD-…) to `count`: delivered web/store/app/phone orders of the seed
        customers, round-robin (so every customer has about count / customers orders), placed over the last two
        years, each with 1–3 lines of seed variants; the second and third line come from the neighbouring
        styles, so some styles are bought together. They move no stock (delivered long ago)."""
        from omnistore.orders.models import Order, OrderLine

        have = self.session.scalar(select(func.count()).select_from(Order).where(Order.number.like(f"{ORDER_PREFIX}%")))
        if have >= count:
            return 0
        customers = list(
            self.session.scalars(
                select(Customer.id).where(Customer.email.like(f"%@{SEED_DOMAIN}")).order_by(Customer.email)
            )
        )
        variants = self.session.execute(
            select(Variant.id, VariantPrice.amount_minor)
            .join(VariantPrice, and_(VariantPrice.variant_id == Variant.id, VariantPrice.market_code == SEED_MARKET))
            .where(Variant.sku.like("SEED-%"))
            .order_by(Variant.sku)
        ).all()
        stores = list(
            self.session.scalars(select(Location.id).where(Location.notes == SEED_MARK).order_by(Location.code))
        )
        if not customers or not variants or not stores:
            raise Conflict("Seed orders need seed customers, variants and stores: seed those first.")
        first_id = (self.session.scalar(select(func.max(Order.id))) or 0) + 1
        numbers = range(have + 1, count + 1)
        start = self.now

        def lines_of(n):
            base = (n * 7919) % len(variants)
            picks = [base]
            for extra in range(n % 3):  # 1, 2 or 3 lines
                picks.append((base + VARIANTS_PER_STYLE * (extra + 1) + extra) % len(variants))
            return [variants[i] for i in dict.fromkeys(picks)]

        def order_rows():
            from datetime import timedelta

            for offset, n in enumerate(numbers):
                lines = lines_of(n)
                yield dict(
                    id=first_id + offset,
                    number=f"{ORDER_PREFIX}{n:08d}",
                    channel=ORDER_CHANNELS[n % len(ORDER_CHANNELS)],
                    customer_id=customers[n % len(customers)],
                    fulfilment="delivery",
                    status="delivered",
                    payment_state="paid",
                    pickup_location_id=None,
                    origin_location_id=None,
                    delivery_address={},
                    tracking_reference="",
                    market_code=SEED_MARKET,
                    currency="EUR",
                    total_minor=sum(price for _id, price in lines),
                    idempotency_key=None,
                    placed_by_staff_id=None,
                    promised_at=None,
                    placed_at=start - timedelta(minutes=(n * 2654435761) % (730 * 24 * 60)),
                    updated_at=start,
                )

        def line_rows():
            for offset, n in enumerate(numbers):
                for variant_id, price in lines_of(n):
                    yield dict(
                        order_id=first_id + offset,
                        variant_id=variant_id,
                        quantity=1,
                        unit_price_minor=price,
                        source_location_id=stores[n % len(stores)],
                        transfer_id=None,
                        status="delivered",
                        status_reason="",
                    )

        total = len(numbers)
        connection = self.session.connection()
        if self.postgres:
            bulk = (
                _bulk_load(connection, ("orders", "order_line"), self.progress)
                if total >= BULK_LOAD_ROWS
                else contextlib.nullcontext()
            )
            with bulk:
                with self.progress("Orders", total) as bar:
                    self.copy_rows("orders", order_rows(), bar)
                with self.progress("Order lines", total * 2) as bar:
                    self.copy_rows("order_line", line_rows(), bar)
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))")
            )
        else:
            for label, model, rows in (("Orders", Order, order_rows()), ("Order lines", OrderLine, line_rows())):
                with self.progress(label, total) as bar:
                    for chunk in iter(lambda rows=rows: list(islice(rows, _CHUNK)), []):
                        self.session.execute(insert(model.__table__), chunk)
                        bar.update(len(chunk))
        return total


# --- pickup orders for the manager's review (`seed --pickup-orders N`, the bench's manager scenarios) ----------

SEED_ORDER_PREFIX = "SD-"  # seed order numbers SD-000000001 …; real ones start OS-
SEED_ADMIN_EMAIL = f"admin@{SEED_DOMAIN}"
ORDER_DAYS = 365  # seed orders are spread over the last year


def seed_order_number(n):
    return f"{SEED_ORDER_PREFIX}{n:09d}"


@dataclass
class SeedOrdersResult:
    created: int
    total: int
    seconds: float

    def summary_text(self):
        return f"Seed pickup orders: {self.total:,} (+{self.created:,}) in {self.seconds:.1f} s."


def seed_pickup_orders(count, progress=None, now=None) -> SeedOrdersResult:
    """Grow the seed orders to at least `count`: pickup orders (and some deliveries) at the seed stores over the
    last year, with their lines, pickups and history, one in seven an endless-aisle order from another store.
    Also adds the seed admin (admin@seed.omnistore-demo.de, the demo password) who reviews the network.
    Needs the seed network (stores and variants) first. PostgreSQL loads with COPY."""
    if not isinstance(count, int) or not 0 <= count <= 50_000_000:
        raise ValidationFailed("The seed sizes are out of range.", {"orders": "Give a whole number up to 50,000,000."})
    from omnistore.orders.models import Order

    progress = progress or _no_progress
    started = time.monotonic()
    with transaction() as session:
        stores = [
            row[0]
            for row in session.execute(select(Location.id).where(Location.notes == SEED_MARK).order_by(Location.code))
        ]
        variants = session.execute(
            select(Variant.id, VariantPrice.amount_minor)
            .join(VariantPrice, and_(VariantPrice.variant_id == Variant.id, VariantPrice.market_code == SEED_MARKET))
            .where(Variant.sku.like("SEED-%"))
            .order_by(Variant.id)
            .limit(1000)
        ).all()
        if len(stores) < 2 or not variants:
            raise Conflict("Seed the network first (at least 2 stores and 1 product).")
        if not session.scalar(select(Staff.id).where(Staff.email == SEED_ADMIN_EMAIL)):
            session.execute(
                insert(Staff.__table__),
                [
                    dict(
                        email=SEED_ADMIN_EMAIL,
                        name="Seed admin",
                        password_hash=generate_password_hash(DEMO_PASSWORD),
                        role="admin",
                        location_id=stores[0],
                        locale="en",
                        active=True,
                        session_generation=1,
                        created_at=utcnow(),
                    )
                ],
            )
        have = (
            session.scalar(select(func.count()).select_from(Order).where(Order.number.like(f"{SEED_ORDER_PREFIX}%")))
            or 0
        )
        missing = max(0, count - have)
        if missing:
            _OrderSeeder(session, progress, stores, variants, now or utcnow()).run(have + 1, have + missing)
    if missing and db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.execute(text("ANALYZE orders, order_line, pickup, order_event"))
            connection.commit()
    return SeedOrdersResult(missing, have + missing, time.monotonic() - started)


class _OrderSeeder:
    """Rows of seed orders n = first…last, generated from n alone (repeatable) and written in chunks."""

    TABLES = ("orders", "order_line", "pickup", "order_event")

    def __init__(self, session, progress, stores, variants, now):
        self.session, self.progress, self.stores, self.variants, self.now = session, progress, stores, variants, now
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def run(self, first, last):
        import random
        from datetime import timedelta

        from omnistore.orders.models import Order

        base_id = self.session.scalar(select(func.coalesce(func.max(Order.id), 0)))
        hour = timedelta(hours=1)
        buffers = {table: [] for table in self.TABLES}
        written = 0
        bulk = contextlib.nullcontext()
        if self.postgres and last - first + 1 >= BULK_LOAD_ROWS:
            self.session.execute(text("LOCK TABLE orders, order_line, pickup, order_event IN EXCLUSIVE MODE"))
            bulk = _bulk_load(self.session.connection(), self.TABLES, self.progress)
        with bulk, self.progress("Orders", last - first + 1) as bar:
            for n in range(first, last + 1):
                rng = random.Random(n * 7919)
                order_id = base_id + n - first + 1
                self.order_rows(n, order_id, rng, hour, buffers)
                if n % _CHUNK == 0 or n == last:
                    self.flush(buffers)
                    bar.update(n - first + 1 - written)
                    written = n - first + 1
        if self.postgres:
            for table in ("orders", "order_line", "pickup", "order_event"):
                self.session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )

    def order_rows(self, n, order_id, rng, hour, out):
        from datetime import timedelta

        now = self.now
        placed = now - timedelta(seconds=rng.random() * ORDER_DAYS * 86400)
        store = self.stores[rng.randrange(len(self.stores))]
        delivery = rng.random() < 0.08
        endless = not delivery and rng.random() < 1 / 7
        source = store
        if endless:
            source = self.stores[
                (self.stores.index(store) + 1 + rng.randrange(len(self.stores) - 1)) % len(self.stores)
            ]
        variant_id, price = self.variants[rng.randrange(len(self.variants))]
        quantity = 1 + (rng.random() < 0.2)
        lines = [(variant_id, quantity, price, source)]
        if endless and rng.random() < 0.5:
            other_id, other_price = self.variants[rng.randrange(len(self.variants))]
            lines.append((other_id, 1, other_price, store))
        events = [("placed", "", "placed", placed)]
        promised = placed + 48 * hour
        ready = collected = checked_in = pickup_by = None
        fate = rng.random()
        if delivery:
            status = "placed"
            shipped = placed + (2 + rng.random() * 30) * hour
            if shipped < now:
                status, events = "shipped", events + [("shipped", "placed", "shipped", shipped)]
                delivered = shipped + (24 + rng.random() * 48) * hour
                if delivered < now:
                    status, events = "delivered", events + [("delivered", "shipped", "delivered", delivered)]
        else:
            status = "placed"
            ready_after = (0.5 + rng.random() * 20) if source == store else (20 + rng.random() * 60)
            cancel_at = placed + (0.5 + rng.random() * 30) * hour
            if fate < 0.04 and cancel_at < now and cancel_at < placed + ready_after * hour:
                status, events = "cancelled", events + [("cancelled", "placed", "cancelled", cancel_at)]
            elif placed + ready_after * hour < now:
                ready = placed + ready_after * hour
                pickup_by = ready + 7 * 24 * hour
                status, events = "ready", events + [("ready", "placed", "ready", ready)]
                if fate < 0.07:
                    cancelled = ready + (1 + rng.random() * 72) * hour
                    if cancelled < now:
                        status, events = "cancelled", events + [("cancelled", "ready", "cancelled", cancelled)]
                elif fate < 0.15:
                    if pickup_by + hour < now:
                        status, events = "expired", events + [("expired", "ready", "expired", pickup_by + hour)]
                else:
                    at = ready + (0.2 + rng.random() ** 2 * 140) * hour
                    if at < now:
                        collected = at
                        if rng.random() < 0.4:
                            checked_in = at - timedelta(seconds=60 + rng.random() * 1200)
                            events.append(("checked_in", "", "", checked_in))
                        status, events = "collected", events + [("collected", "ready", "collected", at)]
        total = sum(q * p for _v, q, p, _s in lines)
        out["orders"].append(
            (
                order_id,
                seed_order_number(n),
                "store" if endless else "web",
                "delivery" if delivery else "pickup",
                status,
                "paid",
                None if delivery else store,
                store if endless else None,
                '{"country": "DE"}' if delivery else "{}",
                total,
                promised,
                placed,
                events[-1][3],
            )
        )
        for variant_id, q, p, line_source in lines:
            line_status = {
                "collected": "collected",
                "cancelled": "released",
                "expired": "released",
                "delivered": "delivered",
                "shipped": "shipped",
            }.get(status, "allocated")
            out["order_line"].append((order_id, variant_id, q, p, line_source, line_status))
        if not delivery:
            method = ("qr", "code_name", "id")[rng.randrange(3)] if collected else ""
            out["pickup"].append(
                (order_id, f"seed-{n:019d}", numbered_short_code(n), ready, pickup_by, checked_in, collected, method)
            )
        for kind, from_status, to_status, at in events:
            out["order_event"].append((order_id, kind, from_status, to_status, store if not delivery else None, at))

    COLUMNS = {
        "orders": (
            "id",
            "number",
            "channel",
            "fulfilment",
            "status",
            "payment_state",
            "pickup_location_id",
            "origin_location_id",
            "delivery_address",
            "total_minor",
            "promised_at",
            "placed_at",
            "updated_at",
        ),
        "order_line": ("order_id", "variant_id", "quantity", "unit_price_minor", "source_location_id", "status"),
        "pickup": (
            "order_id",
            "token",
            "short_code",
            "ready_at",
            "pickup_by",
            "checked_in_at",
            "collected_at",
            "verification",
        ),
        "order_event": ("order_id", "kind", "from_status", "to_status", "location_id", "created_at"),
    }
    DEFAULTS = {
        "orders": dict(tracking_reference="", market_code=SEED_MARKET, currency="EUR"),
        "order_line": dict(status_reason=""),
        "pickup": dict(shelf_location="", check_in_note=""),
        "order_event": dict(detail={}),
    }

    def flush(self, buffers):
        for table in self.TABLES:
            rows = buffers[table]
            if not rows:
                continue
            columns = self.COLUMNS[table]
            if self.postgres:
                extra = self.DEFAULTS[table]
                names = columns + tuple(extra)
                tail = "".join("\t" + ("{}" if isinstance(v, dict) else str(v)) for v in extra.values())
                raw = self.session.connection().connection.driver_connection
                with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    copy.write("".join("\t".join(_copy_value(v) for v in row) + tail + "\n" for row in rows))
            else:
                from omnistore.core.extensions import db as _db

                model_table = _db.metadata.tables[table]
                values = []
                for row in rows:
                    item = dict(zip(columns, row, strict=True)) | self.DEFAULTS[table]
                    if table == "orders":
                        import json

                        item["delivery_address"] = json.loads(item["delivery_address"])
                    values.append(item)
                self.session.execute(insert(model_table), values)
            rows.clear()


def _copy_value(value):
    if value is None:
        return "\\N"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
