"""Markets: one price per market in every channel, orders that keep their market, currency and prices, amounts
never summed across currencies, money written for the language and the amount's currency."""

import dataclasses

import pytest
from sqlalchemy import select

from omnistore.catalog.feed import upsert_products
from omnistore.catalog.models import VariantPrice
from omnistore.catalog.prices import price_in, prices_of
from omnistore.clienteling import history
from omnistore.core import formatting
from omnistore.core.errors import InsufficientStock, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.orders import api_orders, order_rules, placing
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order
from omnistore.reviews import dashboard
from omnistore.reviews import scope as review_scope
from omnistore.stores import markets
from omnistore.stores.models import Market
from omnistore.stores.staff import create_api_client

JACKET_EUR, JACKET_DKK = 24995, 189995


@pytest.fixture
def shop(make):
    make.market("DK")
    ham, cph = make.location("HAM"), make.location("CPH")
    customer = Customer(first_name="Søren", last_name="Ørsted", email="s@example.test", created_channel="store")
    db.session.add(customer)
    db.session.commit()
    jacket = make.variant(prices={"DE": JACKET_EUR, "DK": JACKET_DKK}, sku="JKT-M")
    german_only = make.variant(prices={"DE": 4995}, sku="DE-ONLY")
    return dataclasses.make_dataclass("Shop", ["ham", "cph", "customer", "jacket", "german_only"])(
        ham, cph, customer, jacket, german_only
    )


def counter_order(make, store, customer, variant, quantity=1, **fulfilment):
    clerk = make.staff(location=store)
    draft = order_drafts.start_draft(clerk, customer_id=customer.id)
    order_drafts.set_line(draft, variant.id, quantity, staff=clerk)
    if fulfilment:
        order_drafts.choose_fulfilment(draft, staff=clerk, **fulfilment)
    return placing.place(draft, staff=clerk)


def test_every_location_belongs_to_its_market(shop):
    assert (shop.ham.market.code, shop.ham.market.currency) == ("DE", "EUR")
    assert (shop.cph.market.code, shop.cph.market.currency, shop.cph.market.locale) == ("DK", "DKK", "da")


def test_a_copenhagen_clerk_sells_a_unit_only_hamburg_has_in_kroner(make, shop):
    """Cross-border endless aisle: sourcing ignores currency, the customer pays the Danish price."""
    make.stock(shop.jacket, shop.ham, 1)
    order = counter_order(make, shop.cph, shop.customer, shop.jacket)
    assert (order.market_code, order.currency) == ("DK", "DKK")
    assert [(line.source_location.code, line.unit_price_minor) for line in order.lines] == [("HAM", JACKET_DKK)]
    assert order.total_minor == JACKET_DKK
    assert order.pickup_location.code == "CPH"


def test_a_hamburg_clerk_sells_the_same_jacket_in_euros(make, shop):
    make.stock(shop.jacket, shop.ham, 1)
    order = counter_order(make, shop.ham, shop.customer, shop.jacket)
    assert (order.market_code, order.currency, order.total_minor) == ("DE", "EUR", JACKET_EUR)


def test_an_order_keeps_its_currency_and_prices_when_the_catalogue_changes(make, shop):
    make.stock(shop.jacket, shop.ham, 2)
    order = counter_order(make, shop.cph, shop.customer, shop.jacket)
    number = order.number
    api, _token = create_api_client("pim")
    result = upsert_products(
        [
            {
                "style_code": shop.jacket.product.style_code,
                "name": shop.jacket.product.name,
                "variants": [{"sku": "JKT-M", "ean": shop.jacket.ean, "prices": {"DK": 149995, "DE": 19995}}],
            }
        ],
        api,
    )
    assert result.summary["updated"] == 1
    markets.save_market(dataclasses.replace(markets.KNOWN_MARKETS["DK"], vat_rate_bp=2000, shipping_fee_minor=1))
    with pytest.raises(ValidationFailed) as refused:  # a market with orders keeps its currency
        markets.save_market(dataclasses.replace(markets.KNOWN_MARKETS["DK"], currency="EUR"))
    assert "cannot change" in refused.value.fields["currency"]
    assert db.session.get(Market, "DK").currency == "DKK"
    db.session.expire_all()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert (order.currency, order.total_minor, order.lines[0].unit_price_minor) == ("DKK", JACKET_DKK, JACKET_DKK)
    assert price_in(shop.jacket.id, "DK") == 149995


def test_a_variant_without_a_price_in_the_market_is_not_sellable_there(make, shop):
    make.stock(shop.german_only, shop.cph, 3)
    clerk = make.staff(location=shop.cph)
    draft = order_drafts.start_draft(clerk, customer_id=shop.customer.id)
    state = order_drafts.set_line(draft, shop.german_only.id, 1, staff=clerk)
    line = state.proposal.lines[0]
    assert not line.available and line.reason_code == "not_sold"
    assert line.reason == "Not sold in Danmark: it has no price in DKK."
    with pytest.raises(InsufficientStock):
        placing.place(draft, staff=clerk)
    assert db.session.scalar(select(Order.id)) is None
    # The same unit sells in Hamburg, in euros.
    make.stock(shop.german_only, shop.ham, 1)
    assert counter_order(make, shop.ham, shop.customer, shop.german_only).total_minor == 4995


def test_the_api_says_a_variant_is_not_sold_in_the_orders_market(make, shop):
    make.stock(shop.german_only, shop.cph, 2)
    with pytest.raises(InsufficientStock) as refused:
        api_orders.place_web_order(
            {
                "customer": {"email": "soren@example.dk", "first_name": "Søren"},
                "lines": [{"sku": "DE-ONLY", "quantity": 1}],
                "fulfilment": "pickup",
                "pickup_location": "CPH",
            },
            api_client=create_api_client("shop")[0],
        )
    assert refused.value.message == "Not sold in Danmark: it has no price in DKK."
    assert refused.value.detail["lines"] == [
        {"variant_id": shop.german_only.id, "quantity": 1, "reason": "Not sold in Danmark: it has no price in DKK."}
    ]
    assert db.session.scalar(select(Order.id)) is None


def test_a_delivery_pays_the_markets_shipping_fee_below_its_threshold(make, shop):
    make.stock(shop.german_only, shop.ham, 3)
    make.stock(shop.jacket, shop.ham, 3)
    address = {"name": "S Ø", "street": "Vesterbrogade 1", "postcode": "1620", "city": "København", "country": "DK"}
    web = api_orders.place_web_order(
        {
            "customer": {"email": "soren@example.dk", "first_name": "Søren"},
            "lines": [{"sku": "JKT-M", "quantity": 1}],
            "fulfilment": "delivery",
            "delivery_address": address,
        },
        api_client=create_api_client("shop")[0],
    ).order
    assert (web.market_code, web.currency, web.total_minor) == ("DK", "DKK", JACKET_DKK)  # free from 499 kr.
    explicit = api_orders.place_web_order(
        {
            "customer": {"email": "soren@example.dk", "first_name": "Søren"},
            "lines": [{"sku": "DE-ONLY", "quantity": 1}],
            "fulfilment": "delivery",
            "delivery_address": address,
            "market": "de",
        },
        api_client=create_api_client("shop2")[0],
    ).order
    # The German market asked for: euros, and 4,95 € shipping below its 50 € threshold.
    assert (explicit.market_code, explicit.currency, explicit.total_minor) == ("DE", "EUR", 4995 + 495)


def test_the_api_refuses_an_unknown_market_and_creates_nothing(make, shop):
    make.stock(shop.jacket, shop.ham, 1)
    with pytest.raises(ValidationFailed) as refused:
        api_orders.place_web_order(
            {
                "customer": {"email": "soren@example.dk", "first_name": "Søren"},
                "lines": [{"sku": "JKT-M", "quantity": 1}],
                "fulfilment": "pickup",
                "pickup_location": "HAM",
                "market": "SE",
            },
            api_client=create_api_client("shop")[0],
        )
    assert refused.value.fields == {"market": "No market with the code SE."}
    assert db.session.scalar(select(Order.id)) is None


def test_the_feed_sets_prices_per_market_and_refuses_bad_rows_one_by_one(app, make, shop):
    api, _token = create_api_client("pim")
    ean = make.ean

    def style(code, **variant):
        return {"style_code": code, "name": code, "variants": [{"sku": f"{code}-M", "ean": ean(), **variant}]}

    rows = [
        style("BOTH", prices={"DE": 24995, "dk": 189995}),
        style("OLD", price_minor=9995),  # as before markets: the default market's price
        style("UNKNOWN", prices={"SE": 100, "DE": 100}),
        style("CLASH", price_minor=100, prices={"DE": 200}),
        style("NONE"),
        style("BAD", prices={"DK": -1}),
        style("NOTOBJECT", prices=[["DK", 100]]),
    ]
    result = upsert_products(rows, api).as_dict()
    status = {r["style_code"]: (r["status"], [(e["field"], e["code"]) for e in r["errors"]]) for r in result["results"]}
    assert status == {
        "BOTH": ("created", []),
        "OLD": ("created", []),
        "UNKNOWN": ("error", [("variants[0].prices.SE", "unknown_market")]),
        "CLASH": ("error", [("variants[0].price_minor", "invalid_value")]),
        "NONE": ("error", [("variants[0].prices", "required")]),
        "BAD": ("error", [("variants[0].prices.DK", "invalid_value")]),
        "NOTOBJECT": ("error", [("variants[0].prices", "invalid_type")]),
    }
    variants = {p.variant.product.style_code: p.variant for p in db.session.scalars(select(VariantPrice))}
    assert prices_of(variants["BOTH"]) == {"DE": 24995, "DK": 189995}
    assert prices_of(variants["OLD"]) == {"DE": 9995}
    # null stops selling in a market, the other markets keep their price; the same rows again change nothing.
    stop = [dict(rows[0], variants=[dict(rows[0]["variants"][0], prices={"DK": None})])]
    assert upsert_products(stop, api).summary["updated"] == 1
    db.session.expire_all()
    assert prices_of(variants["BOTH"]) == {"DE": 24995}
    assert upsert_products(stop, api).summary["unchanged"] == 1


def test_customer_figures_are_per_currency_never_summed(make, shop):
    make.stock(shop.jacket, shop.ham, 3)
    counter_order(make, shop.cph, shop.customer, shop.jacket)
    counter_order(make, shop.ham, shop.customer, shop.jacket)
    counter_order(make, shop.ham, shop.customer, shop.jacket)
    figures = history.figures(shop.customer)
    assert figures.lifetime_value == {"DKK": JACKET_DKK, "EUR": 2 * JACKET_EUR}
    assert figures.average_basket == {"DKK": JACKET_DKK, "EUR": JACKET_EUR}
    assert figures.orders == 3


def test_the_network_figures_keep_kroner_and_euros_apart(make, shop):
    """Endless-aisle sales saved, network-wide: one amount per currency."""
    make.stock(shop.jacket, shop.ham, 1)
    counter_order(make, shop.cph, shop.customer, shop.jacket)  # from Hamburg, in kroner
    make.stock(shop.jacket, shop.cph, 1)
    counter_order(make, make.location("BER"), shop.customer, shop.jacket)  # from København, in euros
    admin = make.staff(role="admin", location=shop.ham)
    review = dashboard.review(review_scope.scope_for(admin, store="network", period="7d"))
    assert review.saved == {"DKK": JACKET_DKK, "EUR": JACKET_EUR}
    assert {s.code: s.saved for s in review.sources} == {"HAM": {"DKK": JACKET_DKK}, "CPH": {"EUR": JACKET_EUR}}


@pytest.mark.parametrize(
    ("locale", "kroner", "euros"),
    [
        ("da", "1.899,95\xa0kr.", "249,95\xa0€"),
        ("de", "1.899,95\xa0kr.", "249,95\xa0€"),
        ("en", "kr.\xa01,899.95", "€249.95"),
    ],
)
def test_money_is_written_for_the_language_and_the_amounts_currency(app, locale, kroner, euros):
    assert formatting.money(JACKET_DKK, "DKK", locale) == kroner
    assert formatting.money(JACKET_EUR, "EUR", locale) == euros


def test_the_vat_an_amount_includes_at_the_markets_rate(make):
    dk, de = make.market("DK"), make.market("DE")
    assert markets.vat_included(JACKET_DKK, dk) == 37999  # 1.899,95 kr. holds 379,99 kr. at 25 %
    assert markets.vat_included(11900, de) == 1900
    assert markets.vat_included(0, dk) == 0


def test_a_market_with_bad_terms_is_refused(app):
    bad = markets.MarketTerms("SWE", "Sver\nige", "XYZ", "sv", 25_000, -1, 0, "[0-9]{5}", 0)
    with pytest.raises(ValidationFailed) as refused:
        markets.save_market(bad)
    assert set(refused.value.fields) == {
        "code",
        "currency",
        "locale",
        "vat_rate_bp",
        "shipping_fee_minor",
        "postcode_rule",
        "return_window_days",
        "name",
    }


ADDRESS_CPH = {
    "name": "Søren Ørsted",
    "street": "Nørregade 1",
    "postcode": "1165",
    "city": "København",
    "country": "DK",
}


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("en", "A postcode in Denmark has 4 digits, like 1620."),
        ("da", "Et postnummer i Danmark har 4 cifre, f.eks. 1620."),
        ("de", "Eine Postleitzahl in Dänemark hat 4 Ziffern, z. B. 1620."),
    ],
)
def test_a_delivery_postcode_is_checked_by_its_markets_rule_in_the_clerks_language(app, make, shop, locale, message):
    from flask_babel import force_locale

    make.stock(shop.jacket, shop.cph, 2)
    clerk = make.staff(location=shop.cph)
    draft = order_drafts.start_draft(clerk, customer_id=shop.customer.id)
    order_drafts.set_line(draft, shop.jacket.id, 1, staff=clerk)
    with app.test_request_context(), force_locale(locale), pytest.raises(ValidationFailed) as refused:
        order_drafts.choose_fulfilment(draft, "delivery", staff=clerk, address=dict(ADDRESS_CPH, postcode="12345"))
    assert str(refused.value.fields["postcode"]) == message
    assert order_rules.check_address(dict(ADDRESS_CPH, postcode=" 11 65 ")).postcode == "1165"


def test_the_markets_postcode_rule_is_the_only_one(make, shop):
    """Change DK's rule and the Danish addresses follow it: no second copy of the rule anywhere."""
    five = dict(ADDRESS_CPH, postcode="12345")
    with pytest.raises(ValidationFailed):
        order_rules.check_address(five)
    markets.save_market(dataclasses.replace(markets.terms_of(shop.cph.market), postcode_rule="5-digits"))
    assert order_rules.check_address(five).postcode == "12345"
    with pytest.raises(ValidationFailed) as refused:
        order_rules.check_address(ADDRESS_CPH)
    assert "5 digits" in str(refused.value.fields["postcode"])
    markets.save_market(dataclasses.replace(markets.terms_of(shop.cph.market), postcode_rule=""))
    assert order_rules.check_address(dict(ADDRESS_CPH, postcode="DK-1165")).postcode == "DK-1165"
    assert order_rules.check_address(dict(ADDRESS_CPH, country="DE", postcode="20095")).postcode == "20095"
    with pytest.raises(ValidationFailed) as refused:
        order_rules.check_address(dict(ADDRESS_CPH, country="DE", postcode="1165"))
    assert str(refused.value.fields["postcode"]) == "A postcode in Germany has 5 digits, like 20095."


def test_a_ship_home_order_pays_its_markets_delivery_fee_below_the_threshold(make, shop):
    """DK: 39 kr. below 499 kr.; the fee and the threshold are the market's, changed on the markets screen."""
    cheap = make.variant(prices={"DE": 1995, "DK": 14995}, sku="SOCKS")
    make.stock(cheap, shop.cph, 10)
    make.stock(shop.jacket, shop.cph, 2)
    order = counter_order(make, shop.cph, shop.customer, cheap, fulfilment="delivery", address=ADDRESS_CPH)
    assert (order.currency, order.total_minor, placing.shipping_fee_minor(order)) == ("DKK", 14995 + 3900, 3900)
    order = counter_order(make, shop.cph, shop.customer, shop.jacket, fulfilment="delivery", address=ADDRESS_CPH)
    assert order.total_minor == JACKET_DKK  # above 499 kr.: free
    order = counter_order(make, shop.cph, shop.customer, cheap, fulfilment="pickup", pickup_location_id=shop.cph.id)
    assert order.total_minor == 14995  # collected: free
    terms = dataclasses.replace(markets.terms_of(shop.cph.market), shipping_fee_minor=2995, free_shipping_from_minor=0)
    markets.save_market(dataclasses.replace(terms, free_shipping_from_minor=20000))
    order = counter_order(make, shop.cph, shop.customer, cheap, fulfilment="delivery", address=ADDRESS_CPH)
    assert order.total_minor == 14995 + 2995
    markets.save_market(terms)
    order = counter_order(make, shop.cph, shop.customer, cheap, fulfilment="delivery", address=ADDRESS_CPH)
    assert order.total_minor == 14995


def test_a_currency_change_and_an_order_at_the_same_moment_never_leave_an_order_in_the_old_currency(app, make, shop):
    """Each round: a fresh market with no orders; one thread changes its currency while another places an order
    in it. Either the change comes first (the order is refused, or sold in the new currency) or the order does
    (the change is refused): never an order in a currency its market no longer has."""
    import threading

    for round_ in range(4):
        code = "X" + "ABCD"[round_]
        markets.save_market(markets.MarketTerms(code, f"Test {round_}", "DKK", "da", 2500, 0, 0))
        store = make.location(f"S{round_}", market_code=code)
        variant = make.variant(prices={code: 10000}, sku=f"CUR-{round_}")
        make.stock(variant, store, 1)
        clerk = make.staff(location=store)
        draft = order_drafts.start_draft(clerk, customer_id=shop.customer.id)
        order_drafts.set_line(draft, variant.id, 1, staff=clerk)
        ids = (draft.id, clerk.id)
        barrier, results = threading.Barrier(2), {}

        def place(ids=ids, barrier=barrier, results=results):
            with app.app_context():
                try:
                    from omnistore.orders.models import OrderDraft
                    from omnistore.stores.models import Staff

                    mine, staff = db.session.get(OrderDraft, ids[0]), db.session.get(Staff, ids[1])
                    barrier.wait(timeout=30)
                    results["order"] = placing.place(mine, staff=staff).currency
                except Exception as error:  # noqa: BLE001 — reported to the test
                    results["order"] = error
                finally:
                    db.session.remove()

        def change(code=code, barrier=barrier, results=results):
            with app.app_context():
                try:
                    terms = markets.terms_of(markets.market_for(code))
                    barrier.wait(timeout=30)
                    results["market"] = markets.save_market(dataclasses.replace(terms, currency="EUR")).currency
                except Exception as error:  # noqa: BLE001 — reported to the test
                    results["market"] = error
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=place), threading.Thread(target=change)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        db.session.rollback()
        db.session.expire_all()
        market = db.session.get(Market, code)
        sold = db.session.scalars(select(Order.currency).where(Order.market_code == code)).all()
        assert all(currency == market.currency for currency in sold), (results, sold, market.currency)
        assert results.keys() == {"order", "market"}
        assert not isinstance(results["order"], str) or results["order"] == market.currency, results


def test_four_saves_of_one_new_market_at_once_make_it_once(app):
    """A row lock cannot hold a code without a row: the late inserts meet the key and change the one made."""
    from omnistore.core.audit import AuditEvent
    from tests.helpers import at_once

    outcomes = at_once(app, lambda _i: markets.save_market(markets.KNOWN_MARKETS["DK"]).code)
    assert outcomes == ["DK"] * 4, outcomes
    created = db.select(db.func.count()).where(AuditEvent.action == "market.created", AuditEvent.entity_id == "DK")
    assert db.session.scalar(created) == 1
