"""POST /api/v1/orders, GET /api/v1/orders/{number}, POST …/cancel: web orders in, precise errors, replay."""

import pytest
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.orders.models import Order, Pickup, Transfer
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.staff import create_api_client


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def shop(app, make):
    ham, cph = make.location("HAM"), make.location("CPH")
    make.location("BER", pickup_enabled=False)
    make.location("WH1", lead_time_days=2)
    product = make.product()
    jacket = make.variant(product, size="M", sku="JKT-M", price_minor=8995)
    boots = make.variant(product, size="42", sku="BOOT-42", price_minor=1000)
    make.stock(jacket, ham, 1)
    make.stock(jacket, cph, 3)
    make.stock(boots, cph, 2)
    _client, token = create_api_client("shop")
    return {"HAM": ham, "CPH": cph, "jacket": jacket, "boots": boots, "auth": {"Authorization": f"Bearer {token}"}}


def body(**overrides):
    document = {
        "customer": {"email": "Jurgen@Example.de", "first_name": "Jürgen", "last_name": "Müller"},
        "lines": [{"sku": "JKT-M", "quantity": 1}],
        "fulfilment": "pickup",
        "pickup_location": "HAM",
        "payment_state": "paid",
    }
    document.update(overrides)
    return document


def post(http, shop, document, key=None):
    headers = dict(shop["auth"])
    if key is not None:
        headers["Idempotency-Key"] = key
    return http.post("/api/v1/orders", json=document, headers=headers)


def count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def allocated(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel.allocated).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def test_a_pickup_order_from_the_pickup_stores_own_stock(http, shop):
    response = post(http, shop, body(), key="o-1")
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["number"].startswith("OS-") and response.headers["Location"] == f"/api/v1/orders/{order['number']}"
    assert (order["status"], order["fulfilment"], order["channel"]) == ("placed", "pickup", "web")
    assert order["pickup_location"]["code"] == "HAM" and order["status_url"].startswith("http")
    assert order["lines"] == [
        {
            "sku": "JKT-M",
            "quantity": 1,
            "unit_price_minor": 8995,
            "status": "allocated",
            "source_location": "HAM",
            "reason": order["lines"][0]["reason"],
            "returned_quantity": 0,
            "discount_minor": 0,
        }
    ]
    assert "In stock here" in order["lines"][0]["reason"] and order["discount_minor"] == 0
    assert order["total_minor"] == 8995 and order["shipping_fee_minor"] == 0
    assert allocated(shop["jacket"], shop["HAM"]) == 1 and count(Transfer) == 0
    customer = db.session.scalar(select(Customer))
    assert customer.email == "jurgen@example.de" and customer.first_name == "Jürgen"
    assert http.get(f"/api/v1/orders/{order['number']}", headers=shop["auth"]).get_json() == order
    token = db.session.scalar(select(Pickup.token))
    assert order["status_url"].endswith(f"/o/{token}")


def test_sourced_from_another_store_when_the_pickup_store_lacks_it(http, shop):
    response = post(http, shop, body(lines=[{"sku": "JKT-M", "quantity": 2}, {"sku": "BOOT-42", "quantity": 1}]))
    assert response.status_code == 201
    order = response.get_json()
    assert {line["source_location"] for line in order["lines"]} == {"CPH"}
    transfer = db.session.scalar(select(Transfer))
    assert (transfer.source_location_id, transfer.destination_location_id) == (shop["CPH"].id, shop["HAM"].id)
    assert allocated(shop["jacket"], shop["CPH"]) == 2 and allocated(shop["jacket"], shop["HAM"]) == 0


def test_an_existing_customer_is_matched_by_email_or_phone(http, shop):
    db.session.add(Customer(first_name="J", email="jurgen@example.de", created_channel="store"))
    db.session.commit()
    assert post(http, shop, body()).status_code == 201
    assert count(Customer) == 1
    assert db.session.scalar(select(Order.customer_id)) == db.session.scalar(select(Customer.id))


def test_a_delivery_with_shipping_fee(http, shop):
    document = body(
        fulfilment="delivery",
        pickup_location=None,
        lines=[{"sku": "BOOT-42", "quantity": 1}],
        delivery_address={
            "name": "Søren Ørsted",
            "street": "Vesterbrogade 1",
            "postcode": "1620",
            "city": "København V",
            "country": "DK",
        },
    )
    response = post(http, shop, document)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status_url"] is None and order["pickup_location"] is None
    # Delivered to Denmark: the DK market's prices (the boots cost 1000 øre there) and delivery terms, in kroner.
    assert (order["market"], order["currency"]) == ("DK", "DKK")
    assert order["shipping_fee_minor"] == 3900 and order["total_minor"] == 4900
    assert (order["vat_rate_bp"], order["vat_minor"]) == (2500, 980)
    assert order["delivery_address"]["postcode"] == "1620"
    assert db.session.scalar(select(Transfer.destination_location_id)) is None


def test_the_same_key_and_body_give_the_same_order_another_body_is_refused(http, shop):
    first = post(http, shop, body(), key="k-1")
    again = post(http, shop, body(), key="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    other = post(http, shop, body(lines=[{"sku": "JKT-M", "quantity": 2}]), key="k-1")
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert count(Order) == 1 and allocated(shop["jacket"], shop["HAM"]) == 1
    # Another client's same key is its own.
    _client, token = create_api_client("app")
    response = http.post(
        "/api/v1/orders", json=body(), headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}
    )
    assert response.status_code == 201 and count(Order) == 2


def test_not_enough_stock_is_a_clear_409_and_creates_nothing(http, shop):
    response = post(http, shop, body(lines=[{"sku": "BOOT-42", "quantity": 3}]), key="big")
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock" and "no longer available" in error["message"]
    assert error["lines"][0]["quantity"] == 3 and "only 2" in error["lines"][0]["reason"]
    assert count(Order) == 0 and count(Customer) == 0
    assert post(http, shop, body(lines=[{"sku": "BOOT-42", "quantity": 2}]), key="big").status_code == 201


BAD = [
    ("no customer", body(customer=None), "customer"),
    ("customer without contact", body(customer={"first_name": "A"}), "customer.email"),
    ("customer without name", body(customer={"email": "a@example.de"}), "customer.last_name"),
    ("bad email", body(customer={"email": "not-an-email", "last_name": "A"}), "customer.email"),
    ("unknown customer field", body(customer={"email": "a@example.de", "last_name": "A", "vip": True}), "customer.vip"),
    ("no lines", body(lines=[]), "lines"),
    ("lines not a list", body(lines={"sku": "JKT-M"}), "lines"),
    ("unknown sku", body(lines=[{"sku": "NOPE", "quantity": 1}]), "lines[0].sku"),
    ("zero", body(lines=[{"sku": "JKT-M", "quantity": 0}]), "lines[0].quantity"),
    ("negative", body(lines=[{"sku": "JKT-M", "quantity": -2}]), "lines[0].quantity"),
    ("huge", body(lines=[{"sku": "JKT-M", "quantity": 10**30}]), "lines[0].quantity"),
    ("decimal", body(lines=[{"sku": "JKT-M", "quantity": 1.5}]), "lines[0].quantity"),
    ("quantity as text", body(lines=[{"sku": "JKT-M", "quantity": "1"}]), "lines[0].quantity"),
    ("boolean", body(lines=[{"sku": "JKT-M", "quantity": True}]), "lines[0].quantity"),
    ("line not an object", body(lines=["JKT-M"]), "lines[0]"),
    ("unknown line field", body(lines=[{"sku": "JKT-M", "quantity": 1, "price": 1}]), "lines[0].price"),
    ("second line bad", body(lines=[{"sku": "JKT-M", "quantity": 1}, {"sku": "☃", "quantity": 1}]), "lines[1].sku"),
    ("no fulfilment", body(fulfilment=None), "fulfilment"),
    ("unknown fulfilment", body(fulfilment="drone"), "fulfilment"),
    ("pickup without location", body(pickup_location=None), "pickup_location"),
    ("unknown pickup location", body(pickup_location="XXX"), "pickup_location"),
    ("store without pickup desk", body(pickup_location="BER"), "pickup_location"),
    ("a warehouse", body(pickup_location="WH1"), "pickup_location"),
    ("delivery without address", body(fulfilment="delivery", pickup_location=None), "delivery_address"),
    (
        "German postcode",
        body(
            fulfilment="delivery",
            pickup_location=None,
            delivery_address={"name": "A", "street": "B 1", "postcode": "123", "city": "Hamburg", "country": "DE"},
        ),
        "delivery_address.postcode",
    ),
    (
        "country we do not serve",
        body(
            fulfilment="delivery",
            pickup_location=None,
            delivery_address={"name": "A", "street": "B 1", "postcode": "75001", "city": "Paris", "country": "FR"},
        ),
        "delivery_address.country",
    ),
    (
        "pay at pickup for a delivery",
        body(
            fulfilment="delivery",
            pickup_location=None,
            payment_state="pay_at_pickup",
            delivery_address={"name": "A", "street": "B 1", "postcode": "20095", "city": "Hamburg", "country": "DE"},
        ),
        "payment_state",
    ),
    ("unknown payment state", body(payment_state="later"), "payment_state"),
    ("unknown channel", body(channel="fax"), "channel"),
    ("unknown top-level field", body(coupon="X"), "coupon"),
    ("not an object", ["order"], "body"),
    ("NUL in a SKU", body(lines=[{"sku": "JKT-M\u0000", "quantity": 1}]), "lines[0].sku"),
    ("NUL in the pickup location", body(pickup_location="HAM\u0000"), "pickup_location"),
    ("ESC in a name", body(customer={"email": "a@example.de", "last_name": "M\u001b[31m"}), "customer.last_name"),
]


@pytest.mark.parametrize(("name", "document", "field"), BAD, ids=[case[0] for case in BAD])
def test_a_bad_payload_gets_a_precise_error_and_creates_nothing(http, shop, name, document, field):
    response = post(http, shop, document, key="bad-" + name.replace(" ", "-").encode("ascii", "replace").decode())
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"], error
    assert count(Order) == 0 and count(Customer) == 0
    assert count(StockMovement) == 3  # only the test's receipts


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        (b"", {"Content-Type": "application/json"}, 400),
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b'{"a": NaN}', {"Content-Type": "application/json"}, 400),
        (b"lines=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
def test_malformed_requests(http, shop, data, headers, status):
    response = http.post("/api/v1/orders", data=data, headers={**shop["auth"], **headers})
    assert response.status_code == status and response.get_json()["error"]["message"]
    assert count(Order) == 0


@pytest.mark.parametrize("key", ["x" * 151, "with space", "ümlaut"])
def test_a_bad_idempotency_key_is_refused(http, shop, key):
    response = http.post(
        "/api/v1/orders",
        json=body(),
        headers={**shop["auth"], "Idempotency-Key": key.encode("utf-8").decode("latin-1")},
    )
    assert response.status_code == 422 and "idempotency_key" in response.get_json()["error"]["fields"]
    assert count(Order) == 0


def test_get_unknown_order_and_no_token(http, shop):
    for number in ("OS-26-999999", "x" * 300, "%C3%A6", "%00"):
        response = http.get(f"/api/v1/orders/{number}", headers=shop["auth"])
        assert response.status_code in (400, 404) and response.get_json()["error"]["message"]
    assert http.get("/api/v1/orders/OS-26-000001").status_code == 401
    assert http.post("/api/v1/orders", json=body()).status_code == 401
    assert count(Order) == 0


def test_cancel_releases_and_a_second_cancel_is_refused(http, shop):
    number = post(http, shop, body(lines=[{"sku": "JKT-M", "quantity": 2}])).get_json()["number"]
    assert allocated(shop["jacket"], shop["CPH"]) == 2
    response = http.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "Customer changed their mind"}, headers=shop["auth"]
    )
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert {line["status"] for line in response.get_json()["lines"]} == {"released"}
    assert allocated(shop["jacket"], shop["CPH"]) == 0
    assert db.session.scalar(select(Transfer.status)) == "cancelled"
    again = http.post(f"/api/v1/orders/{number}/cancel", headers=shop["auth"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"
    assert again.get_json()["error"]["current_status"] == "cancelled"
    bad = http.post(f"/api/v1/orders/{number}/cancel", json={"reason": 5}, headers=shop["auth"])
    assert bad.status_code == 422
    assert http.post("/api/v1/orders/OS-26-999999/cancel", headers=shop["auth"]).status_code == 404


def test_a_danish_web_order_with_a_bad_postcode_gets_its_markets_message_and_its_customer_speaks_danish(http, shop):
    address = {"name": "Ida Lund", "street": "Nørregade 1", "postcode": "123", "city": "København", "country": "DK"}
    document = body(fulfilment="delivery", pickup_location=None, delivery_address=address)
    refused = post(http, shop, document, key="dk-bad")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"]["delivery_address.postcode"] == (
        "A postcode in Denmark has 4 digits, like 1620."
    )
    assert count(Order) == 0 and count(Customer) == 0
    placed = post(http, shop, dict(document, delivery_address=dict(address, postcode="1165")), key="dk-good")
    assert placed.status_code == 201, placed.get_json()
    order = db.session.scalar(select(Order))
    assert (order.market_code, order.currency, order.customer.locale) == ("DK", "DKK", "da")
    assert order.delivery_address["postcode"] == "1165"


def test_the_markets_list_shows_the_postcode_rule_and_the_return_window(http, shop):
    from omnistore.stores.models import Market

    db.session.get(Market, "DK").return_window_days = 45
    db.session.commit()
    listed = {m["code"]: m for m in http.get("/api/v1/markets", headers=shop["auth"]).get_json()["markets"]}
    assert (listed["DK"]["postcode_rule"], listed["DK"]["return_window_days"]) == ("4-digits", 45)
    assert (listed["DE"]["postcode_rule"], listed["DE"]["return_window_days"]) == ("5-digits", 30)
