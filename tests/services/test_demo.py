"""The demo network: complete, consistent with its ledger and its orders, idempotent, and usable.

The demo writes its history in bulk rather than through the verbs (it would take minutes), so these tests hold
it to every invariant the verbs keep, checked with the product's own functions and queries: the ledger explains
every level, the stock summaries are what the product's rebuild makes of the levels, the review facts are what
the product's backfill computes, every status moved only as the orders module allows and left its event, every
pickup-by moment is the product's, and every pickup code is one the desk's own parser and lookup accept.
"""

import importlib.util
import re
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from omnistore import PACKAGE, demo_logins
from omnistore.catalog.codes import is_valid_ean13
from omnistore.catalog.models import Product, Variant
from omnistore.core.audit import AuditEvent
from omnistore.core.errors import Conflict
from omnistore.core.extensions import db
from omnistore.core.statuses import DELIVERY_STATUSES, PICKUP_STATUSES
from omnistore.customers.models import Consent, Customer, CustomerNote
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderEvent, OrderLine, Pickup, Transfer
from omnistore.pickups import handover as pickup_handover
from omnistore.pickups import preparing
from omnistore.pickups.queue import queue_summary
from omnistore.reviews import dashboard
from omnistore.reviews import scope as review_scope
from omnistore.stock import summaries
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.models import Location, Staff
from omnistore_tools import demo
from tests.helpers import assert_locations_are_ones_the_verb_accepts

ALL_MODELS = (
    Location,
    Product,
    Variant,
    StockLevel,
    StockMovement,
    Customer,
    Consent,
    CustomerNote,
    Order,
    OrderLine,
    OrderEvent,
    Pickup,
    Transfer,
    Staff,
)


def row_counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in ALL_MODELS}


def scalar_list(query):
    return db.session.scalars(query).all()


def test_demo_network_is_complete_consistent_and_idempotent(app):
    result = demo.load_demo()
    assert result.created
    counts = row_counts()
    assert counts["Location"] == 14 and counts["Product"] >= 150 and counts["Variant"] >= 1000
    assert counts["Customer"] >= 200 and counts["Consent"] > 0 and counts["CustomerNote"] > 0
    assert counts["Staff"] == 1 + 2 * len(demo.STORE_CODES)

    # The network
    locations = {loc.code: loc for loc in scalar_list(select(Location))}
    stores = [loc for loc in locations.values() if loc.kind == "store"]
    assert len(stores) >= 12 and {"HAM", "CPH", "WH1"} <= set(locations)
    assert locations["WH1"].kind == "warehouse" and not locations["WH1"].pickup_enabled
    assert {loc.country for loc in stores} == {"DE", "DK"}
    assert {loc.timezone for loc in stores} == {"Europe/Berlin", "Europe/Copenhagen"}
    assert locations["HAM"].pickup_enabled and locations["CPH"].pickup_enabled
    for loc in locations.values():
        assert set(loc.opening_hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
        assert all(re.fullmatch(r"\d\d:\d\d", t) for spans in loc.opening_hours.values() for s in spans for t in s)
        assert loc.street and loc.postcode and loc.city and 0 <= loc.reminder_day < loc.hold_days

    # The catalogue: valid, unique EANs and SKUs; searchable with and without umlauts
    variants = db.session.execute(select(Variant.sku, Variant.ean)).all()
    assert all(is_valid_ean13(ean) for _sku, ean in variants)
    assert len({ean for _s, ean in variants}) == len({sku for sku, _e in variants}) == len(variants)
    # Markets: DE in euros, DK in kroner at Danish price points; every variant has a price in both.
    from omnistore.catalog.models import VariantPrice
    from omnistore.stores.models import Market

    assert {(m.code, m.currency) for m in db.session.scalars(select(Market))} == {("DE", "EUR"), ("DK", "DKK")}
    assert {loc.market_code for loc in locations.values() if loc.country == "DK"} == {"DK"}
    assert {loc.market_code for loc in locations.values() if loc.country == "DE"} == {"DE"}
    prices = db.session.execute(select(VariantPrice.market_code, VariantPrice.amount_minor)).all()
    assert len(prices) == 2 * len(variants) and all(amount > 0 for _m, amount in prices)
    assert all(amount % 5000 == 4995 for market, amount in prices if market == "DK")  # 249,95 kr., 1.899,95 kr.
    orders_by_market = dict(
        db.session.execute(select(Order.market_code, func.count()).group_by(Order.market_code)).all()
    )
    assert orders_by_market.get("DK") and orders_by_market.get("DE") and None not in orders_by_market
    assert db.session.scalar(select(func.count()).select_from(Product).where(Product.search_text.contains("mueller")))
    assert db.session.scalar(select(func.count()).select_from(Product).where(Product.search_text == "")) == 0

    # Stock: every level is explained by its ledger, and the ledger has nothing without a level
    ledger = {
        (v, loc): (on_hand, allocated)
        for v, loc, on_hand, allocated in db.session.execute(
            select(
                StockMovement.variant_id,
                StockMovement.location_id,
                func.sum(StockMovement.on_hand_delta),
                func.sum(StockMovement.allocated_delta),
            ).group_by(StockMovement.variant_id, StockMovement.location_id)
        )
    }
    levels = {
        (v, loc): (on_hand, allocated)
        for v, loc, on_hand, allocated in db.session.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.allocated)
        )
    }
    assert levels == ledger
    assert all(0 <= allocated <= on_hand for on_hand, allocated in levels.values())

    # Allocations agree with the open orders: placed → at the source, ready → at the pickup store
    expected = Counter()
    for status, source, pickup_at, variant_id, quantity in db.session.execute(
        select(
            Order.status,
            OrderLine.source_location_id,
            Order.pickup_location_id,
            OrderLine.variant_id,
            OrderLine.quantity,
        )
        .join(OrderLine.order)
        .where(Order.status.in_(("placed", "ready")))
    ):
        expected[(variant_id, source if status == "placed" else pickup_at)] += quantity
    assert {key: value[1] for key, value in levels.items() if value[1]} == dict(expected)

    # Sold out here, available elsewhere
    available = defaultdict(dict)
    for (variant_id, location_id), (on_hand, allocated) in levels.items():
        available[variant_id][location_id] = on_hand - allocated
    ham = locations["HAM"].id
    assert any(by_location.get(ham) == 0 and max(by_location.values()) > 0 for by_location in available.values())

    # The variant only Copenhagen has
    cph_only = db.session.scalar(select(Variant).where(Variant.sku == demo.CPH_ONLY_SKU))
    assert cph_only.product.name == "Fjord Parka" and cph_only.size == "XL"
    where = {code: available[cph_only.id].get(locations[code].id) for code in locations}
    assert where.pop("CPH") > 0 and where.pop("HAM") == 0 and set(where.values()) == {None}
    assert any(available[v.id].get(ham, 0) > 0 for v in cph_only.product.variants if v.colour == cph_only.colour)

    # Orders in every status, with what each status implies
    seen = set(db.session.execute(select(Order.fulfilment, Order.status).distinct()).all())
    assert seen == {("pickup", s) for s in PICKUP_STATUSES} | {("delivery", s) for s in DELIVERY_STATUSES}
    assert set(scalar_list(select(Order.channel).distinct())) == {"web", "store", "app", "phone"}
    orders = scalar_list(select(Order))
    assert all(re.fullmatch(r"OS-\d\d-\d{6}", order.number) for order in orders)
    assert all(order.total_minor == sum(li.quantity * li.unit_price_minor for li in order.lines) for order in orders)
    assert all(order.events and order.events[0].kind == "placed" for order in orders)
    codes = set()
    for order in orders:
        pickup = order.pickup
        if order.fulfilment == "delivery":
            assert pickup is None and order.delivery_address["city"]
            assert bool(order.tracking_reference) == (order.status in ("shipped", "delivered"))
            continue
        assert len(pickup.token) >= 32 and pickup_handover.parse_short_code(pickup.short_code) == pickup.short_code
        codes.add(pickup.short_code)
        assert (pickup.ready_at is not None) == (order.status in ("ready", "collected", "expired"))
        if pickup.ready_at:
            assert pickup.pickup_by > pickup.ready_at > order.placed_at
        assert (pickup.collected_at is not None) == (order.status == "collected")
        if order.status == "collected":
            assert pickup.ready_at < pickup.collected_at and pickup.collected_by_staff_id and pickup.verification
        if order.status == "in_transit":
            transfers = scalar_list(select(Transfer).where(Transfer.order_id == order.id))
            assert [t.status for t in transfers] == ["shipped"]
            assert transfers[0].destination_location_id == order.pickup_location_id
        if order.status == "ready":
            assert {line.status for line in order.lines} == {"picked"}
        if order.status in ("expired", "cancelled"):
            assert {line.status for line in order.lines} == {"released"}
    assert len(codes) == sum(order.fulfilment == "pickup" for order in orders)
    assert any(line.status == "refused" for order in orders for line in order.lines)

    # The pickup desk at HAM has something to show
    summary = queue_summary(locations["HAM"])
    assert summary.ready >= 3 and summary.checked_in >= 1 and summary.overdue >= 1
    assert summary.to_prepare >= 1 and summary.arriving >= 1 and summary.collected_today >= 1

    # Each pickup store's manager finds handovers in the last 30 days on the dashboard
    for store in (loc for loc in stores if loc.pickup_enabled):
        manager = db.session.scalar(select(Staff).where(Staff.location_id == store.id, Staff.role == "manager"))
        figures = dashboard.review(review_scope.scope_for(manager, period="30d"))
        assert figures.counts["collected"] >= 5 and sum(map(sum, figures.heat)) >= 5, store.code

    # Staff: a clerk and a manager at every store, one admin; and the customers named in the docstring
    staff = db.session.execute(select(Staff.role, Location.code).join(Staff.location)).all()
    assert Counter(role for role, _code in staff) == {"admin": 1, "clerk": len(stores), "manager": len(stores)}
    assert {code for role, code in staff if role == "clerk"} == {loc.code for loc in stores}
    assert db.session.scalar(select(Customer).where(Customer.search_name.contains("mueller"))).first_name == "Jürgen"
    phones = scalar_list(select(Customer.phone).where(Customer.phone.is_not(None)))
    assert all(re.fullmatch(r"\+(49|45)\d{8,12}", phone) for phone in phones)

    # Loading again changes nothing
    again = demo.load_demo()
    assert not again.created and row_counts() == counts
    assert "already loaded" in again.logins_text()


REVIEW_FACT_COLUMNS = (
    "order_id, pickup_location_id, status, placed_at, promised_at, ready_at, pickup_by, "
    "checked_in_at, collected_at, ended_at, ended_from"
)


def review_backfill_query():
    """The SELECT of the product's own backfill of the review facts (the migration that made the table)."""
    path = PACKAGE / "migrations" / "versions" / "7c3e9a1f0b52_review_indexes.py"
    spec = importlib.util.spec_from_file_location("review_indexes_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BACKFILL[module.BACKFILL.index("SELECT o.id") :].format(after=0)


def summary_rows():
    return set(db.session.execute(sql("SELECT variant_id, on_hand, allocated, versions, levels FROM variant_stock")))


def test_the_demo_keeps_every_invariant_the_verbs_keep(app):
    demo.load_demo()

    # The stock summaries are what the product's rebuild makes of the levels
    loaded = summary_rows()
    assert len(loaded) == db.session.scalar(select(func.count(func.distinct(StockLevel.variant_id))))
    summaries.rebuild_summaries()
    db.session.expire_all()
    assert summary_rows() == loaded

    # The review facts (kept by the database's triggers) are what the product's backfill computes
    facts = set(db.session.execute(sql(f"SELECT {REVIEW_FACT_COLUMNS} FROM review_fact")))
    backfilled = set(db.session.execute(sql(review_backfill_query())))
    assert len(facts) == db.session.scalar(select(func.count()).select_from(Order).where(Order.fulfilment == "pickup"))
    assert facts == backfilled

    all_orders = scalar_list(select(Order))
    for order in all_orders:
        # Every status change is one the orders module allows, recorded by an event; other events change nothing
        events = sorted(order.events, key=lambda e: (e.created_at, e.id))
        moves = [e for e in events if e.to_status]
        assert (moves[0].from_status, moves[0].to_status) == ("", "placed"), order.number
        for move in moves[1:]:
            allowed = orders.TRANSITIONS[order.fulfilment].get(move.from_status, ())
            assert move.to_status in allowed, (order.number, move.from_status, move.to_status)
        assert all(a.to_status == b.from_status for a, b in zip(moves, moves[1:], strict=False)), order.number
        assert moves[-1].to_status == order.status, order.number
        assert all(not e.from_status for e in events if not e.to_status), order.number
        assert order.status not in orders.FINAL_STATUSES or orders.ended_at(order) == moves[-1].created_at

        if order.pickup is None:
            continue
        # Every pickup code is one the desk's parser takes, as typed from the customer's screen
        code = order.pickup.short_code
        assert pickup_handover.parse_short_code(f"{code[:4]}-{code[4:]}".lower()) == code, order.number
        # The pickup-by moment is the product's (the end of the store's day, hold_days after ready), and an
        # order expired only after it
        if order.pickup.ready_at is not None:
            assert order.pickup.pickup_by == preparing.pickup_by_for(order.pickup_location, order.pickup.ready_at)
        if order.status == "expired":
            assert orders.ended_at(order) > order.pickup.pickup_by, order.number

    # Every location is one `location save` accepts as it stands
    assert_locations_are_ones_the_verb_accepts()

    # Ready orders are found at their desk by their QR token as well (the short codes: the test below)
    for order in (o for o in all_orders if o.fulfilment == "pickup" and o.status == "ready"):
        clerk = db.session.scalar(
            select(Staff).where(Staff.location_id == order.pickup_location_id, Staff.role == "clerk")
        )
        assert pickup_handover.find_for_handover(order.pickup.token, clerk).order.id == order.id


def test_every_ready_demo_pickup_is_found_at_its_desk_by_its_code(app):
    demo.load_demo()
    ready = scalar_list(select(Order).where(Order.fulfilment == "pickup", Order.status == "ready"))
    assert len(ready) >= 20
    for order in ready:
        clerk = db.session.scalar(
            select(Staff).where(Staff.location_id == order.pickup_location_id, Staff.role == "clerk")
        )
        # As typed from the customer's screen: grouped, lower case. Any refusal would raise (and count).
        typed = f"{order.pickup.short_code[:4]} {order.pickup.short_code[4:]}".lower()
        assert pickup_handover.find_for_handover(typed, clerk).order.id == order.id
    assert not scalar_list(select(AuditEvent).where(AuditEvent.action == pickup_handover.FAILED_CODE))


def test_demo_statuses_agree_with_their_events(app):
    demo.load_demo()
    for order in scalar_list(select(Order)):
        moves = [e for e in sorted(order.events, key=lambda e: (e.created_at, e.id)) if e.to_status]
        assert moves and moves[0].to_status == "placed", order.number
        assert moves[-1].to_status == order.status, order.number
        assert all(a.to_status == b.from_status for a, b in zip(moves, moves[1:], strict=False)), order.number
        if order.pickup is not None and order.pickup.collected_at is not None:
            assert moves[-1].created_at == order.pickup.collected_at, order.number


def test_flask_demo_prints_logins_and_the_logins_work(app, client):
    assert "flask --app app staff create" in demo_logins.demo_logins_hint()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    for text in (
        "http://127.0.0.1:5000",
        demo.DEMO_PASSWORD,
        demo.ADMIN_EMAIL,
        "clerk.ham@omnistore-demo.de",
        "manager.cph@omnistore-demo.de",
        demo.CPH_ONLY_SKU,
    ):
        assert text in result.output
    assert "clerk.ham@omnistore-demo.de" in demo_logins.demo_logins_hint()

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0 and "already loaded" in again.output

    response = client.login("clerk.ham@omnistore-demo.de", demo.DEMO_PASSWORD)
    assert response.status_code == 303
    assert "Hamburg" in client.get("/").get_data(as_text=True)


def test_demo_refuses_a_database_holding_part_of_it(app, make):
    make.location("HAM")
    with pytest.raises(Conflict, match="part of the demo"):
        demo.load_demo()
    assert db.session.scalar(select(func.count()).select_from(Location)) == 1
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 1 and "part of the demo" in result.output
