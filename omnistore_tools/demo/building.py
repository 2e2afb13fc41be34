"""Building the demo: the builder that writes the network, staff, catalogue and stock in bulk, and the stock
ledger it keeps in memory while it builds."""

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert
from werkzeug.security import generate_password_hash

from omnistore.catalog.codes import ean13_check_digit
from omnistore.catalog.models import Product, Variant, VariantPrice
from omnistore.catalog.search_text import search_text_for
from omnistore.core.types import utcnow
from omnistore.demo_logins import ADMIN_EMAIL, DEMO_PASSWORD, staff_email
from omnistore.stock import summaries
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.markets import ensure_market
from omnistore.stores.models import Location, Staff
from omnistore_tools.demo.customers import _Customers
from omnistore_tools.demo.data import (
    _BRANDS,
    _CATEGORIES,
    _COLOURS,
    _DE_FIRST,
    _DE_LAST,
    _DENIM,
    _DK_FIRST,
    _DK_LAST,
    _RANDOM_SEED,
    _STYLE_COUNT,
    _STYLE_WORDS,
    CPH_ONLY_SKU,
    SITES,
)
from omnistore_tools.demo.orders import _Orders


@dataclass
class _Variant:
    id: int
    sku: str
    prices: dict  # {market code: price}: euros in DE, kroner in DK
    style: int  # 1-based style number


def danish_price(euro_price):
    """A Danish shelf price for a style: kroner at Danish price points (249,95 kr., 1.899,95 kr.), as a Danish
    merchandiser sets them, not euros converted to the øre."""
    kroner = euro_price * 746 // 10000  # the level, from the exchange rate
    step = 50 if kroner < 500 else 100
    return (-(-kroner // step) * step) * 100 - 5


class _Ledger:
    """Stock levels kept in memory while the demo is built, with the movements that explain them."""

    def __init__(self):
        self.levels = {}  # (variant_id, location_id) -> [on_hand, allocated, movement count, last change]
        self.movements = []

    def available(self, variant_id, location_id):
        level = self.levels.get((variant_id, location_id))
        return level[0] - level[1] if level else 0

    def move(self, variant_id, location_id, kind, at, on_hand=0, allocated=0, reason="", order=None, staff_id=None):
        level = self.levels.setdefault((variant_id, location_id), [0, 0, 0, at])
        level[0] += on_hand
        level[1] += allocated
        level[2] += 1
        level[3] = max(level[3], at)
        if not 0 <= level[1] <= level[0]:
            raise AssertionError(f"demo builder broke stock of variant {variant_id} at {location_id}: {level}")
        self.movements.append(
            dict(
                variant_id=variant_id,
                location_id=location_id,
                kind=kind,
                on_hand_delta=on_hand,
                allocated_delta=allocated,
                reason=reason,
                reference=order if order is not None else "demo",
                staff_id=staff_id,
                api_client_id=None,
                created_at=at,
            )
        )

    def level_rows(self):
        return [
            dict(variant_id=v, location_id=loc, on_hand=oh, allocated=al, version=n, updated_at=at)
            for (v, loc), (oh, al, n, at) in self.levels.items()
        ]


class _Builder(_Customers, _Orders):
    """Builds the whole demo in one session: the network, staff, catalogue and stock here; the customers
    and the orders in its parts (`customers._Customers`, `orders._Orders`)."""

    def __init__(self, session):
        self.session = session
        self.rng = random.Random(_RANDOM_SEED)
        self.now = utcnow()
        self.ledger = _Ledger()
        self.orders, self.lines, self.transfers, self.pickups, self.events = [], [], [], [], []
        self.short_codes = set()

    # -- helpers
    # Core inserts on the table: one executemany per table (the ORM's bulk path splits the rows into many
    # statements by which values are None).
    def insert(self, model, rows):
        if rows:
            self.session.execute(insert(model.__table__), rows)

    def insert_many(self, model, rows):
        """Many plain rows (ints, strings, times): COPY on PostgreSQL, where executemany costs a round trip
        per row; an executemany elsewhere."""
        if not rows or self.session.get_bind().dialect.name != "postgresql":
            self.insert(model, rows)
            return
        columns = list(rows[0])
        raw = self.session.connection().connection.driver_connection  # psycopg 3, inside our transaction
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([row[name] for name in columns])

    def insert_returning(self, model, rows):
        table = model.__table__
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [row[0] for row in result]

    def build(self):
        self.build_locations()
        self.build_staff()
        self.build_catalogue()
        self.build_stock()
        self.build_customers()
        self.build_history()
        self.build_orders()
        self.flush_orders()
        self.insert_many(StockLevel, self.ledger.level_rows())
        self.insert_many(StockMovement, self.ledger.movements)
        summaries.rebuild_summaries()  # the levels went in without the stock verbs

    # -- network and people
    def build_locations(self):
        for country in dict.fromkeys(s.country for s in SITES):  # DE (EUR) and DK (DKK), with their terms
            ensure_market(country)
        rows = [
            dict(
                code=s.code,
                name=s.name,
                kind=s.kind,
                street=s.street,
                postcode=s.postcode,
                city=s.city,
                country=s.country,
                market_code=s.country,
                phone=s.phone,
                latitude=s.latitude,
                longitude=s.longitude,
                timezone=s.timezone,
                opening_hours=s.opening_hours,
                pickup_enabled=s.pickup,
                hold_days=s.hold_days,
                reminder_day=s.hold_days - 2,
                active=True,
                notes="demo network",
                # Stores keep their last unit for walk-in customers; the warehouse needs two days to ship.
                safety_stock=0 if s.kind == "warehouse" else 1,
                lead_time_days=2 if s.kind == "warehouse" else 0,
                transfer_capacity=500 if s.kind == "warehouse" else 20,
            )
            for s in SITES
        ]
        ids = self.insert_returning(Location, rows)
        self.site = {s.code: s for s in SITES}
        self.loc = {s.code: i for s, i in zip(SITES, ids, strict=True)}
        self.code_of = {i: c for c, i in self.loc.items()}
        self.market_of = {i: self.site[c].country for c, i in self.loc.items()}  # location id → market code
        self.currency = {
            market.code: market.currency for market in (ensure_market(c) for c in set(self.market_of.values()))
        }

    def person(self, country):
        first, last = (_DK_FIRST, _DK_LAST) if country == "DK" else (_DE_FIRST, _DE_LAST)
        return self.rng.choice(first), self.rng.choice(last)

    def build_staff(self):
        password_hash = generate_password_hash(DEMO_PASSWORD)  # scrypt once, shared by every demo login
        rows = [dict(email=ADMIN_EMAIL, name="Demo Admin", role="admin", location_id=self.loc["HAM"])]
        for site in SITES:
            if site.kind == "store":
                for role in ("clerk", "manager"):
                    rows.append(
                        dict(
                            email=staff_email(role, site.code),
                            name=" ".join(self.person(site.country)),
                            role=role,
                            location_id=self.loc[site.code],
                        )
                    )
        for row in rows:
            row.update(
                password_hash=password_hash,
                locale="en",
                active=True,
                session_generation=1,
                created_at=self.now - timedelta(days=400),
            )
        ids = self.insert_returning(Staff, rows)
        self.staff = {(row["role"], row["location_id"]): i for row, i in zip(rows, ids, strict=True)}

    def clerk(self, location_id):
        return self.staff.get(("clerk", location_id))

    # -- catalogue and stock
    def styles(self):
        """(brand, name, category, colours) per style; style 1 is the parka with the CPH-only size."""
        rng = self.rng
        categories = list(_CATEGORIES)
        weights = [_CATEGORIES[c][3] for c in categories]
        styles = [
            (_BRANDS[0], "Fjord Parka", "Jackets", [("Navy", "NAV"), ("Olive", "OLV")]),
            (_BRANDS[1], "Loden Jacket", "Jackets", [("Forest", "FOR"), ("Grey", "GRY")]),
        ]
        seen = {(b[0], n) for b, n, _c, _col in styles}
        while len(styles) < _STYLE_COUNT:
            category = rng.choices(categories, weights)[0]
            brand = rng.choice(_BRANDS)
            name = f"{rng.choice(_STYLE_WORDS)} {rng.choice(_CATEGORIES[category][1])}"
            if (brand[0], name) in seen:
                continue
            seen.add((brand[0], name))
            palette = _DENIM if category == "Jeans" else _COLOURS
            colours = rng.sample(palette, rng.choices((1, 2, 3), (3, 5, 2))[0])
            styles.append((brand, name, category, colours))
        return styles

    def build_catalogue(self):
        rng = self.rng
        styles = self.styles()
        products, variants, serial = [], [], dict.fromkeys((b[1] for b in _BRANDS), 0)
        for number, (brand, name, category, colours) in enumerate(styles, start=1):
            sizes, _nouns, (low, high), _w, blurb = _CATEGORIES[category]
            style_code = f"{brand[1]}-{number:03d}"
            price = 24995 if number == 1 else rng.randrange(low, high + 1, 1000)
            product = dict(
                style_code=style_code,
                name=name,
                brand=brand[0],
                category=category,
                description=f"{brand[0]} {name}. {blurb}",
                image_url="",
                created_at=self.now - timedelta(days=200),
                updated_at=self.now - timedelta(days=200),
            )
            products.append(product)
            first_variant = len(variants)
            for colour, colour_code in colours:
                for size in sizes:
                    serial[brand[1]] += 1
                    body = f"{brand[2]}{serial[brand[1]]:05d}"
                    size_code = "OS" if size == "One size" else size.replace("/", "-")
                    variants.append(
                        dict(
                            style=number,
                            sku=f"{style_code}-{colour_code}-{size_code}",
                            ean=body + ean13_check_digit(body),
                            size=size,
                            colour=colour,
                            prices={"DE": price, "DK": danish_price(price)},
                            created_at=self.now - timedelta(days=200),
                            updated_at=self.now - timedelta(days=200),
                        )
                    )
            product["search_text"] = search_text_for(
                dict(name=name, brand=brand[0], style_code=style_code, category=category), variants[first_variant:]
            )
        product_ids = self.insert_returning(Product, products)
        for row in variants:
            row["product_id"] = product_ids[row["style"] - 1]
        styles_of = [row.pop("style") for row in variants]
        prices_of = [row.pop("prices") for row in variants]
        variant_ids = self.insert_returning(Variant, variants)
        self.insert_many(
            VariantPrice,
            [
                dict(variant_id=i, market_code=code, amount_minor=amount, updated_at=self.now - timedelta(days=200))
                for i, prices in zip(variant_ids, prices_of, strict=True)
                for code, amount in prices.items()
            ],
        )
        self.variants = [
            _Variant(i, row["sku"], prices, style)
            for i, row, prices, style in zip(variant_ids, variants, prices_of, styles_of, strict=True)
        ]
        self.by_sku = {v.sku: v for v in self.variants}
        self.size_of = {i: row["size"] for i, row in zip(variant_ids, variants, strict=True)}
        self.category_of = {number: category for number, (_b, _n, category, _c) in enumerate(styles, start=1)}
        self.orderable = [v for v in self.variants if v.style != 1]  # orders leave the parka alone

    def build_stock(self):
        rng, ledger = self.rng, self.ledger
        opening = self.now - timedelta(days=120)
        parka = {  # style 1, Navy: explicit, so the CPH-only size and HAM's other sizes never change
            "NWD-001-NAV-XS": {"WH1": 4, "HAM": 1},
            "NWD-001-NAV-S": {"WH1": 6, "HAM": 2, "CPH": 1},
            "NWD-001-NAV-M": {"WH1": 8, "HAM": 3, "BER": 2, "CPH": 2},
            "NWD-001-NAV-L": {"WH1": 5, "HAM": 2, "MUC": 1},
            CPH_ONLY_SKU: {"CPH": 2, "HAM": 0},
            "NWD-001-NAV-XXL": {"WH1": 2},
        }
        for variant in self.variants:
            if variant.sku in parka:
                plan = parka[variant.sku]
            else:
                plan = {}
                for site in SITES:
                    if rng.random() >= site.stocking:
                        continue
                    if site.kind == "warehouse":
                        plan[site.code] = rng.randint(3, 40)
                    else:
                        plan[site.code] = 0 if rng.random() < 0.12 else rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8))
            for code, quantity in plan.items():
                location_id = self.loc[code]
                if code == "WH1":
                    ledger.move(
                        variant.id,
                        location_id,
                        "receipt",
                        opening,
                        on_hand=quantity,
                        reason="goods receipt from supplier",
                    )
                    continue
                received = quantity or rng.randint(1, 3)
                ledger.move(
                    variant.id, location_id, "import", opening, on_hand=received, reason="opening stock from ERP"
                )
                if quantity == 0:  # sold out here: the till sold what came in
                    ledger.move(
                        variant.id,
                        location_id,
                        "adjustment",
                        opening + timedelta(days=rng.randint(5, 60)),
                        on_hand=-received,
                        reason="sold at the till (POS sync)",
                    )
