"""The bench's scenarios: what a request is, which requests each scenario sends, and the sample they are made from."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, url_for
from sqlalchemy import func, select

from omnistore.core.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SEED_CLERK_STORE = 1  # the bench signs in as the clerk of S001
POOL_MAX = 512  # distinct requests per scenario (replayed round-robin)
SAMPLE_VARIANTS = 500  # variants sampled from the catalogue for queries, EANs, pages and panels
HOST = "127.0.0.1"
USER_AGENT = "omnistore-bench"  # every request through gunicorn, the sign-in included
DEFAULT_STORES = 200
DEFAULT_PRODUCTS = 25_000
THROUGHPUT_SHARE = 1 / 3  # "each endpoint's throughput at least one third of a trivial Flask route's"


# --- requests and scenarios ---------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    """One request of a scenario: relative URL, extra headers, and a body for the later POST scenarios."""

    path: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class Scenario:
    name: str
    endpoint: str  # the Flask endpoint it exercises; the scenario is skipped while the app lacks it
    make: Callable[[Workload, random.Random], Req]
    expect: int = 200
    auth: str | None = "staff"  # None (no cookie), "staff" (the seed clerk's session), "admin" (the seed admin's,
    # made by seed_pickup_orders) or "api" (bearer token)
    p95_ms: float | None = None  # target for the p95 server time (the figure, on PostgreSQL)
    min_share: float | None = THROUGHPUT_SHARE  # target: throughput ≥ this share of the trivial route's
    baseline: bool = False  # the trivial route the others are compared with
    default: bool = True  # in the default selection
    volatile: bool = False  # its requests go stale with time: made right before each run, re-run once if stale
    about: str = ""
    pickup_orders: bool = False  # needs seed pickup orders (seed.seed_pickup_orders), up to --pickup-orders


def _search_text(w, rng):
    return w.get("stock.index", htmx=True, q=rng.choice(w.queries))


def _search_typo(w, rng):
    return w.get("stock.index", htmx=True, q=rng.choice(w.typos))


def _scan(w, rng):
    return w.get("stock.scan", code=rng.choice(w.variants).ean)


def _product(w, rng):
    v = rng.choice(w.variants)
    return w.get("stock.product", v.product_id, variant=v.id)


def _panel(w, rng):
    return w.get("stock.panel", rng.choice(w.variants).id, htmx=True)


def _customer_search(w, rng):
    return w.get("customers.index", htmx=True, q=rng.choice(w.customer_sample().queries))


def _customer_profile(w, rng):
    return w.get("customers.profile", rng.choice(w.customer_sample().ids))


def _customer_recommendations(w, rng):
    return w.get("customers.recommendations", rng.choice(w.customer_sample().ids), htmx=True)


def _idle_refresh(w, rng):
    v = rng.choice(w.variants)
    return w.get("stock.panel", v.id, htmx=True, v=w.fingerprint(v.id))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "trivial",
        "healthz",
        lambda w, rng: w.get("healthz"),
        auth=None,
        min_share=None,
        baseline=True,
        about="GET /healthz: no database, no session (the baseline)",
    ),
    Scenario(
        "signed-in-floor",
        "healthz",
        lambda w, rng: w.get("healthz"),
        min_share=None,
        about="GET /healthz with the clerk's session: what any signed-in request costs (user, session cookie)",
    ),
    Scenario(
        "search-text",
        "stock.index",
        _search_text,
        p95_ms=30,
        about="htmx results partial for catalogue words (noun, brand, colour, style number, SKU)",
    ),
    Scenario(
        "search-typo",
        "stock.index",
        _search_typo,
        p95_ms=30,
        about="htmx results partial for a misspelt word (the typo-tolerant fallback)",
    ),
    Scenario("search-ean", "stock.scan", _scan, p95_ms=30, about="a scanned EAN: its product page, in one round trip"),
    Scenario("product", "stock.product", _product, about="product page with the size × colour matrix"),
    Scenario("panel", "stock.panel", _panel, p95_ms=30, about="network panel partial (every location)"),
    Scenario(
        "idle-refresh",
        "stock.panel",
        _idle_refresh,
        expect=204,
        p95_ms=3,
        volatile=True,
        about="panel refresh with the current fingerprint: 204",
    ),
    Scenario(
        "customer-search",
        "customers.index",
        _customer_search,
        p95_ms=30,
        min_share=None,
        about="htmx customer results for a name part, a transcribed name, an email, a phone number or a loyalty number",
    ),
    Scenario(
        "customer-profile",
        "customers.profile",
        _customer_profile,
        p95_ms=50,
        min_share=None,
        about="a customer's profile page (figures, open orders, timeline; the view is logged)",
    ),
    Scenario(
        "customer-recs",
        "customers.recommendations",
        _customer_recommendations,
        min_share=None,
        about="the profile's recommendations partial (bought together by other customers), loaded after it",
    ),
    # Not in the default run; name them with --scenario.
    Scenario(
        "orders-list",
        "orders.index",
        lambda w, rng: w.get("orders.index"),
        min_share=None,
        default=False,
        about="this store's orders page",
    ),
    Scenario(
        "api-search",
        "api.search_products",
        lambda w, rng: w.get("api.search_products", q=rng.choice(w.queries)),
        auth="api",
        min_share=None,
        default=False,
        about="GET /api/v1/products?q=… with a bearer token",
    ),
    Scenario(
        "manager-network",
        "manager.index",
        lambda w, rng: w.get("manager.index", store="network", period="30d"),
        auth="admin",
        p95_ms=300,
        min_share=None,
        default=False,
        pickup_orders=True,
        about="the admin's network dashboard for 30 days with the store league (--pickup-orders)",
    ),
    Scenario(
        "manager-store",
        "manager.index",
        lambda w, rng: w.get("manager.index", store="S001", period="30d"),
        auth="admin",
        min_share=None,
        default=False,
        pickup_orders=True,
        about="one store's dashboard for 30 days (S001)",
    ),
    Scenario(
        "api-order",
        "api.create_order",
        lambda w, rng: _api_order(w, rng),
        expect=201,
        auth="api",
        min_share=None,
        default=False,
        about="POST /api/v1/orders: a web pickup order placed (see also `bench-ordering`)",
    ),
)
SCENARIO_NAMES = [s.name for s in SCENARIOS]


# --- the sample the requests are made from --------------------------------------------------------


@dataclass(frozen=True)
class SampleVariant:
    id: int
    product_id: int
    sku: str
    ean: str


class Workload:
    """Sample data from the seeded catalogue and a URL builder; scenario factories read from it."""

    def __init__(self, app: Flask, variants, queries, typos):
        self.app = app
        self.variants: list[SampleVariant] = variants
        self.queries: list[str] = queries
        self.typos: list[str] = typos
        self.fingerprints: dict[int, str] = {}  # cleared before each pool is made

    def customer_sample(self):
        """Seed customers to search for and open (made once): ids, and queries of every kind a clerk types."""
        if getattr(self, "_customers", None) is None:
            self._customers = _sample_customers(random.Random(f"customers:{len(self.variants)}"))
        return self._customers

    def fingerprint(self, variant_id):
        """The network panel's current fingerprint of the variant, from the service the panel uses."""
        if variant_id not in self.fingerprints:
            from omnistore.stock.network_panel import fingerprint

            self.fingerprints[variant_id] = fingerprint(variant_id)
        return self.fingerprints[variant_id]

    def get(self, endpoint, *path_args, htmx=False, **query):
        """A GET of `endpoint`; positional values fill the rule's variables in order, keywords go in the query."""
        rule = next(iter(self.app.url_map.iter_rules(endpoint)))
        names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule.rule)
        values = dict(zip(names, path_args, strict=True))
        path = url_for(endpoint, **values, **query)
        headers = (("HX-Request", "true"),) if htmx else ()
        return Req(path, headers=headers)


def _sample_workload(app, rng, products):
    from omnistore.catalog.models import Product, Variant
    from omnistore_tools.seed import variant_sku

    numbers = rng.sample(range(1, products + 1), min(SAMPLE_VARIANTS, products))
    rows = db.session.execute(
        select(
            Variant.id,
            Variant.product_id,
            Variant.sku,
            Variant.ean,
            Variant.colour,
            Product.name,
            Product.brand,
            Product.category,
        )
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.sku.in_([variant_sku(n) for n in numbers]))
    ).all()
    rows.sort(key=lambda row: row.sku)
    if not rows:
        raise click.ClickException("The seed network has no variants; seeding failed?")
    rng.shuffle(rows)
    variants = [SampleVariant(row.id, row.product_id, row.sku, row.ean) for row in rows]

    queries, typos = [], []
    for row in rows:
        noun, _, number = row.name.rpartition(" ")
        noun = noun or row.name
        transcribed = row.brand.lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
        queries.append(
            rng.choice(
                [
                    noun.lower(),  # "parka": an eighth of the catalogue matches
                    f"{row.brand} {noun}",  # "Grünfeld Parka"
                    f"{transcribed} {noun.lower()}",  # "gruenfeld parka"
                    f"{row.colour} {noun}".lower(),  # "navy parka"
                    row.name,  # "Parka 000123"
                    number,  # "000123"
                    row.sku,  # "SEED-0000617"
                    row.category.lower(),  # "jackets"
                ]
            )
        )
        word = max(noun.split(), key=len).lower()
        if len(word) >= 4:
            cut = rng.randrange(1, len(word) - 1)
            typos.append(word[:cut] + word[cut + 1 :])  # "cardgan", "prka"
    typos = typos or ["jaket"]
    db.session.rollback()
    return Workload(app, variants, queries, typos)


@dataclass(frozen=True)
class CustomerSample:
    ids: list
    queries: list


def _sample_customers(rng, size=200):
    from omnistore.customers.models import Customer
    from omnistore_tools.seed import SEED_DOMAIN, customer_email

    count = (
        db.session.scalar(select(func.count()).select_from(Customer).where(Customer.email.like(f"%@{SEED_DOMAIN}")))
        or 0
    )
    if not count:
        raise click.ClickException("The customer scenarios need seed customers: run with --customers 1 or more.")
    numbers = rng.sample(range(1, count + 1), min(size, count))
    rows = db.session.execute(
        select(
            Customer.id,
            Customer.first_name,
            Customer.last_name,
            Customer.email,
            Customer.phone,
            Customer.loyalty_number,
        ).where(Customer.email.in_([customer_email(n) for n in numbers]))
    ).all()
    rows.sort(key=lambda row: row.id)
    queries = []
    transcribe = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "oe", "æ": "ae", "å": "aa"})
    for row in rows:
        phone = row.phone or ""
        national = ("0" + phone[3:]) if phone.startswith("+49") else phone
        queries.append(
            rng.choice(
                [
                    row.last_name.lower().translate(transcribe),  # "mueller": thousands match, the first 20 are shown
                    f"{row.first_name[:3]} {row.last_name[:4]}",  # "Jür Müll"
                    f"{row.first_name} {row.last_name}",
                    row.email,
                    f"{national[:4]} {national[4:]}" if national else row.email,  # "0159 000123456"
                    row.loyalty_number or row.email,
                ]
            )
        )
    db.session.rollback()
    return CustomerSample([row.id for row in rows], queries)


def _seed_store_ids(limit=None):
    from omnistore.stores.models import Location
    from omnistore_tools.seed import SEED_MARK

    query = select(Location.id).where(Location.notes == SEED_MARK, Location.pickup_enabled.is_(True))
    return list(db.session.scalars(query.order_by(Location.id).limit(limit)))


def _seed_customer_ids(limit=1000):
    from omnistore.customers.models import Customer
    from omnistore_tools.seed import SEED_DOMAIN

    return list(
        db.session.scalars(
            select(Customer.id).where(Customer.email.like(f"%@{SEED_DOMAIN}")).order_by(Customer.id).limit(limit)
        )
    )


def _api_order(w, rng):
    """POST /api/v1/orders: a pickup web order of 1–2 sampled SKUs at a random seed store (no key: each is new)."""
    from omnistore_tools.seed import SEED_DOMAIN

    if not hasattr(w, "store_codes"):
        from omnistore.stores.models import Location
        from omnistore_tools.seed import SEED_MARK

        w.store_codes = list(
            db.session.scalars(select(Location.code).where(Location.notes == SEED_MARK).order_by(Location.code))
        )
    if not hasattr(w, "orderable"):  # sampled SKUs with plenty in the network, so replays stay placeable
        from omnistore.stock.models import StockLevel

        ids = {v.id for v in w.variants}
        plenty = set(
            db.session.scalars(
                select(StockLevel.variant_id)
                .where(StockLevel.variant_id.in_(ids))
                .group_by(StockLevel.variant_id)
                .having(func.sum(StockLevel.on_hand - StockLevel.allocated) >= 10)
            )
        )
        w.orderable = [v for v in w.variants if v.id in plenty] or w.variants
    lines = [{"sku": v.sku, "quantity": 1} for v in rng.sample(w.orderable, rng.choice((1, 1, 2)))]
    body = {
        "customer": {"email": f"bench.{rng.randrange(10**6):06d}@{SEED_DOMAIN}", "last_name": "Bench"},
        "lines": lines,
        "fulfilment": "pickup",
        "pickup_location": rng.choice(w.store_codes),
        "payment_state": "pay_at_pickup",
    }
    return Req(
        url_for("api.create_order"),
        method="POST",
        headers=(("Content-Type", "application/json"),),
        body=json.dumps(body).encode(),
    )
