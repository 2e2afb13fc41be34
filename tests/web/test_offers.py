"""Offers on the screens and the API: a manager defines one (messages at the fields), a clerk gives one to a
customer on the profile, the builder applies it by code or by tapping it and the total shows the discount; the
order page, the customer's page and the API carry it; a segment gets it at once; the figures count it. Wrong
roles, another market's offer and bad input change nothing."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.offers import services as offers
from omnistore.offers.models import IssuedOffer, Offer, OfferRedemption
from omnistore.orders.models import Order, OrderDraft
from omnistore.stores.staff import create_api_client

HTMX = {"HX-Request": "true"}
TODAY = utcnow().date()


@pytest.fixture
def shop(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={
            "clerk": ("clerk", "HAM", "Hanna"),
            "manager": ("manager", "HAM"),
            "dk_clerk": ("clerk", "CPH"),
            "dk_manager": ("manager", "CPH"),
        },
        variants={
            "jacket": dict(product="Rain Jacket", category="Jackets", price_minor=10000, sku="JKT-M", stock={"HAM": 5}),
            "scarf": dict(product="Wool Scarf", category="Scarves", price_minor=2995, sku="SCF-1", stock={"HAM": 5}),
        },
    )
    made["customer"] = make.customer(first_name="Ida", last_name="Lund", email="ida@example.de")
    return made


def define(shop, staff=None, **changes):
    fields = dict(
        name="Come back 20 %",
        kind="percent",
        value="20",
        scope="basket",
        market="DE",
        valid_from=TODAY.isoformat(),
        valid_until=(TODAY + timedelta(days=14)).isoformat(),
    )
    fields.update(changes)
    return offers.define_offer(offers.OfferTerms(**fields), staff=staff or shop.manager)


def count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# --- the manager defines ------------------------------------------------------------------------------------


def test_a_manager_defines_an_offer_and_bad_input_is_shown_at_the_field(client, shop):
    client.login(shop.manager.email)
    page = client.get("/manager/offers/")
    assert page.status_code == 200 and "New offer" in page.get_data(as_text=True)
    good = {
        "name": "Winter jackets",
        "kind": "amount",
        "value": "15,00",
        "scope": "category",
        "category": "jackets",
        "market": "DE",
        "valid_from": TODAY.isoformat(),
        "valid_until": (TODAY + timedelta(days=30)).isoformat(),
        "uses_per_customer": "1",
    }
    for change, message in [
        ({"name": ""}, "Required."),
        ({"value": "-3"}, "above zero"),
        ({"value": "x" * 500}, "above zero"),
        ({"category": "Bags\u202e"}, "No product has the category"),
        ({"valid_until": "2020-01-01"}, "before the first"),
        ({"valid_from": "morgen"}, "2026-12-31"),
        ({"uses_per_customer": "0"}, "from 1 to 100"),
        ({"name": "bad\x07bell"}, "control character"),
        ({"market": "DK"}, "Not a valid choice"),
    ]:
        response = client.submit("/manager/offers/", dict(good, **change))
        html = response.get_data(as_text=True)
        assert response.status_code == 422, change
        assert message in html and 'aria-invalid="true"' in html, change
    assert count(Offer) == 0
    saved = client.submit("/manager/offers/", good)
    assert saved.status_code == 303
    offer = db.session.scalar(select(Offer))
    assert (offer.kind, offer.value, offer.category, offer.scope) == ("amount", 1500, "Jackets", "category")
    listed = client.get("/manager/offers/").get_data(as_text=True)
    assert "Winter jackets" in listed and "€15.00 off Jackets" in listed


def test_a_clerk_cannot_define_offers(client, shop):
    client.login(shop.clerk.email)
    assert client.get("/manager/offers/").status_code == 403
    assert client.submit("/manager/offers/", {"name": "x"}).status_code == 403
    assert count(Offer) == 0


# --- the clerk issues on the profile ----------------------------------------------------------------------------


def test_a_clerk_gives_an_offer_on_the_profile_and_refusals_change_nothing(client, shop):
    offer = define(shop)
    dk_offer = define(shop, staff=shop.dk_manager, market="DK", name="Danish only")
    client.login(shop.clerk.email)
    profile = client.get(f"/customers/{shop.customer.id}").get_data(as_text=True)
    assert 'id="customer-offers"' in profile and "Come back 20 %" in profile and "Danish only" not in profile
    given = client.submit(f"/customers/{shop.customer.id}/offers", {"offer_id": offer.id}, headers=HTMX)
    html = given.get_data(as_text=True)
    issued = db.session.scalar(select(IssuedOffer))
    assert given.status_code == 200 and html.lstrip().startswith('<section class="card" id="customer-offers"')
    assert issued.code in html and "1 use left" in html
    # Again: the same offer, not a second one.
    client.submit(f"/customers/{shop.customer.id}/offers", {"offer_id": offer.id}, headers=HTMX)
    assert count(IssuedOffer) == 1
    for bad in (dk_offer.id, "abc", "", "99999999999999", -1):
        refused = client.submit(f"/customers/{shop.customer.id}/offers", {"offer_id": bad}, headers=HTMX)
        assert refused.status_code == 422 and "No such offer" in refused.get_data(as_text=True), bad
    assert count(IssuedOffer) == 1
    assert client.submit("/customers/999999/offers", {"offer_id": offer.id}, headers=HTMX).status_code == 404
    # Without JavaScript: back to the profile with the message.
    plain = client.submit(f"/customers/{shop.customer.id}/offers", {"offer_id": offer.id})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#customer-offers")


def test_loyalty_points_buy_a_reward_on_the_profile_when_the_chain_turns_it_on(app, client, shop):
    shop.customer.loyalty_points = 600
    db.session.commit()
    client.login(shop.clerk.email)
    assert "Use 500 points" not in client.get(f"/customers/{shop.customer.id}").get_data(as_text=True)
    refused = client.submit(f"/customers/{shop.customer.id}/loyalty-reward", headers=HTMX)
    assert refused.status_code == 422 and count(IssuedOffer) == 0
    app.config["OMNISTORE_LOYALTY_REWARD_POINTS"] = 500
    assert "Use 500 points: 10 % off" in client.get(f"/customers/{shop.customer.id}").get_data(as_text=True)
    first = client.submit(f"/customers/{shop.customer.id}/loyalty-reward", headers=HTMX)
    assert first.status_code == 200 and "Reward issued" in first.get_data(as_text=True)
    second = client.submit(f"/customers/{shop.customer.id}/loyalty-reward", headers=HTMX)
    assert second.status_code == 422 and "500 points are needed" in second.get_data(as_text=True)
    db.session.expire_all()
    assert shop.customer.loyalty_points == 100 and count(IssuedOffer) == 1


# --- the builder --------------------------------------------------------------------------------------------


def start(client, **params):
    response = client.get("/orders/new", query_string=params)
    return re.search(r"/orders/drafts/([0-9a-f]{32})$", response.headers["Location"]).group(1)


def test_the_builder_applies_an_offer_and_every_total_shows_the_discount(client, shop, make):
    offer = define(shop, scope="category", category="Jackets", value="15")
    issued = offers.issue_to_customer(offer, shop.customer, staff=shop.clerk)
    other = offers.issue_to_customer(offer, make.customer(email="someone@example.test"), staff=shop.clerk)
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.jacket.id, customer_id=shop.customer.id)
    client.submit(f"/orders/drafts/{token}/add", {"code": shop.scarf.sku}, headers=HTMX)
    page = client.get(f"/orders/drafts/{token}").get_data(as_text=True)
    assert f'data-offer-choice="{issued.code}"' in page and other.code not in page
    for code, message in [
        ("", "Scan or type the offer"),
        ("NOPE-NOPE", "No offer with this code for this customer."),
        (other.code, "No offer with this code for this customer."),
        ("x" * 500, "Scan or type the offer"),
        ("AB\x07CD", "Scan or type the offer"),
    ]:
        refused = client.submit(f"/orders/drafts/{token}/offer", {"code": code}, headers=HTMX)
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422 and message in html and 'id="offer-code-error"' in html, code
    assert db.session.scalar(select(OrderDraft.issued_offer_id)) is None
    applied = client.submit(f"/orders/drafts/{token}/offer", {"code": issued.code.lower()}, headers=HTMX)
    html = applied.get_data(as_text=True)
    assert applied.status_code == 200 and html.lstrip().startswith('<section id="draft"')
    assert 'data-discount="1500"' in html and 'data-total="11495"' in html  # 100.00 + 29.95 − 15.00
    assert "Place order · €114.95" in html
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
    placed = client.submit(f"/orders/drafts/{token}/place", {"idempotency_key": key})
    assert placed.status_code == 303
    order = db.session.scalar(select(Order))
    assert order.total_minor == 11495 and sorted(li.discount_minor for li in order.lines) == [0, 1500]
    detail = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert 'data-order-discount="1500"' in detail and "€114.95" in detail and issued.code in detail
    # The customer's own page (/o/…) and the confirmation e-mail say it too.
    status = client.get(f"/o/{order.pickup.token}").get_data(as_text=True)
    assert 'data-discount="1500"' in status and "€114.95" in status
    from omnistore.core.outbox import OutboxMessage

    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email").order_by(OutboxMessage.id))
    assert "−15,00" in mail.body and "114,95" in mail.body and "−15,00" in mail.payload["html"]  # in German
    # A second draft cannot use the one-use offer again.
    second = start(client, variant_id=shop.jacket.id, customer_id=shop.customer.id)
    refused = client.submit(f"/orders/drafts/{second}/offer", {"issued_offer_id": issued.id}, headers=HTMX)
    assert refused.status_code == 422 and "used already" in refused.get_data(as_text=True)


def test_another_store_cannot_touch_the_draft_and_removing_the_offer_works(client, shop):
    offer = define(shop)
    issued = offers.issue_to_customer(offer, shop.customer, staff=shop.clerk)
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id, customer_id=shop.customer.id)
    client.submit(f"/orders/drafts/{token}/offer", {"issued_offer_id": issued.id}, headers=HTMX)
    removed = client.submit(f"/orders/drafts/{token}/offer/remove", headers=HTMX)
    assert removed.status_code == 200 and "taken off this order" in removed.get_data(as_text=True)
    client.get("/logout")
    client.submit("/logout")
    client.login(shop.dk_clerk.email)
    assert (
        client.submit(f"/orders/drafts/{token}/offer", {"issued_offer_id": issued.id}, headers=HTMX).status_code == 404
    )
    assert db.session.scalar(select(OrderDraft.issued_offer_id)) is None


# --- segments and figures -------------------------------------------------------------------------------------


def test_a_manager_issues_an_offer_to_a_segment_once(client, shop, make):
    offer = define(shop)
    for i in range(3):
        make.customer(email=f"new{i}@example.test", preferred_location_id=shop.ham.id)
    client.login(shop.manager.email)
    first = client.submit(f"/manager/offers/{offer.id}/segment", {"stage": "acquisition"})
    assert first.status_code == 303
    assert count(IssuedOffer) == 3  # the store's new customers (Ida has no preferred store and no orders here)
    assert client.submit(f"/manager/offers/{offer.id}/segment", {"stage": "acquisition"}).status_code == 303
    assert count(IssuedOffer) == 3
    bad = client.submit(f"/manager/offers/{offer.id}/segment", {"stage": "vip"})
    assert bad.status_code == 422 and "Choose one of the stages." in bad.get_data(as_text=True)
    assert client.submit("/manager/offers/999/segment", {"stage": "lapsed"}).status_code == 404
    client.submit("/logout")
    client.login(shop.clerk.email)
    assert client.submit(f"/manager/offers/{offer.id}/segment", {"stage": "acquisition"}).status_code == 403
    assert {r.segment for r in db.session.scalars(select(IssuedOffer))} == {"acquisition"}


def test_the_figures_count_offers_issued_and_redeemed_and_the_sales_they_brought(client, shop):
    offer = define(shop, kind="amount", value="10")
    issued = offers.issue_to_customer(offer, shop.customer, staff=shop.clerk)
    from omnistore.orders import discounts as order_discounts
    from omnistore.orders import drafts as order_drafts
    from omnistore.orders import placing

    draft = order_drafts.start_draft(shop.clerk, customer_id=shop.customer.id)
    order_drafts.set_line(draft, shop.jacket.id, 1, staff=shop.clerk)
    order_discounts.apply_offer(draft, issued.code, staff=shop.clerk)
    placing.place(draft, staff=shop.clerk)
    client.login(shop.manager.email)
    page = client.get("/manager/offers").get_data(as_text=True)
    assert 'data-figure="issued">1<' in page and 'data-figure="redeemed">1<' in page
    assert "€10.00" in page and "€90.00" in page
    csv = client.get("/manager/offers.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert "Come back 20 %;€10.00 off the basket;DE" in text and ";1;1;100;EUR;10.00;90.00" in text
    assert count(OfferRedemption) == 1
    client.submit("/logout")
    client.login(shop.clerk.email)
    assert client.get("/manager/offers").status_code == 403


# --- the API ------------------------------------------------------------------------------------------------


def api_body(**overrides):
    document = {
        "customer": {"email": "ida@example.de", "first_name": "Ida", "last_name": "Lund"},
        "lines": [{"sku": "JKT-M", "quantity": 1}, {"sku": "SCF-1", "quantity": 2}],
        "fulfilment": "pickup",
        "pickup_location": "HAM",
    }
    document.update(overrides)
    return document


def test_the_api_validates_then_redeems_an_offer_once(app, shop):
    http = app.test_client()
    _client, token = create_api_client("shop")
    auth = {"Authorization": f"Bearer {token}"}
    offer = define(shop, scope="product", product_code="SCF-1", value="50")
    issued = offers.issue_to_customer(offer, shop.customer, staff=shop.clerk)

    checked = http.post("/api/v1/offers/validate", json=api_body(offer_code=issued.code), headers=auth)
    assert checked.status_code == 200, checked.get_json()
    document = checked.get_json()
    assert document["discount_minor"] == 2995 and document["total_minor"] == 10000 + 5990 - 2995
    assert [line["discount_minor"] for line in document["lines"]] == [0, 2995]
    assert count(OfferRedemption) == 0  # validating uses nothing up

    for body, field in [
        (api_body(), "offer_code"),
        (api_body(offer_code="ZZZZZZ"), "offer_code"),
        (api_body(offer_code=123), "offer_code"),
        (api_body(offer_code="a\x00b"), "offer_code"),
        (api_body(offer_code=issued.code, customer={"email": "x@example.de", "last_name": "X"}), "offer_code"),
        (api_body(offer_code=issued.code, lines=[{"sku": "JKT-M", "quantity": 1}]), "offer_code"),
    ]:
        refused = http.post("/api/v1/offers/validate", json=body, headers=auth)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], body

    placed = http.post(
        "/api/v1/orders", json=api_body(offer_code=issued.code), headers=dict(auth, **{"Idempotency-Key": "a1"})
    )
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["discount_minor"] == 2995 and order["total_minor"] == 12995
    assert [line["discount_minor"] for line in order["lines"]] == [0, 2995]
    again = http.post(
        "/api/v1/orders", json=api_body(offer_code=issued.code), headers=dict(auth, **{"Idempotency-Key": "a1"})
    )
    assert again.status_code == 200 and again.get_json()["number"] == order["number"]
    used = http.post(
        "/api/v1/orders", json=api_body(offer_code=issued.code), headers=dict(auth, **{"Idempotency-Key": "a2"})
    )
    assert used.status_code == 422 and "used already" in used.get_json()["error"]["fields"]["offer_code"]
    assert count(Order) == 1 and count(OfferRedemption) == 1
    # Cancelling through the API gives the use back.
    assert http.post(f"/api/v1/orders/{order['number']}/cancel", headers=auth).status_code == 200
    db.session.expire_all()
    assert db.session.get(IssuedOffer, issued.id).uses_left == 1
    spec = http.get("/api/v1/openapi.json").get_json()
    assert "/offers/validate" in spec["paths"] and "offer_code" in str(spec["components"]["schemas"]["OrderInput"])
