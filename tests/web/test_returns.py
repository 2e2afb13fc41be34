"""The returns counter in the browser's terms, and the returns API: find, take back, refund, scope, bad input."""

from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.orders.models import Order
from omnistore.returns.models import Return
from omnistore.stock import reads
from omnistore.stores.staff import create_api_client
from tests.services.test_returns import collected_web_order, line_of
from tests.services.test_returns import shop as shop  # noqa: F401 — the fixture


def text(response):
    return response.get_data(as_text=True)


def test_a_berlin_clerk_takes_back_a_web_order_collected_in_hamburg(client, shop):
    order, _api = collected_web_order(shop)
    client.login("berlin@example.test")
    assert "Find the order" in text(client.get("/returns/"))
    found = client.get(f"/returns/find?code={order.number.lower()}")
    assert found.status_code == 303 and found.headers["Location"].endswith(f"/returns/orders/{order.number}")
    page = text(client.get(f"/returns/orders/{order.number}"))
    assert "Fjord Parka" in page and "Refund by the web shop" in page and "Take the goods back" in page
    parka, boots = line_of(order, shop.parka), line_of(order, shop.boots)
    done = client.submit(
        f"/returns/orders/{order.number}",
        {f"qty-{parka.id}-resell": "1", f"qty-{boots.id}-defective": "1", "reason": "does_not_fit"},
    )
    assert done.status_code == 303, text(done)
    ret = db.session.scalar(select(Return))
    assert done.headers["Location"].endswith(f"/returns/{ret.id}")
    detail = text(client.get(f"/returns/{ret.id}"))
    assert "Refund pending" in detail and "Back in stock here" in detail and "Booked out" in detail
    assert reads.level_at(shop.parka.id, shop.ber.id).available == 1
    # Hamburg, where it was bought, sees the return; another store's clerk does not act on it.
    client.get("/logout")
    client.login("clerk@example.test")
    seen = client.get(f"/returns/{ret.id}")
    assert seen.status_code == 200 and "Till refund reference" not in text(seen)


def test_bad_input_is_answered_at_the_field_and_changes_nothing(client, shop):
    order, _api = collected_web_order(shop)
    client.login("berlin@example.test")
    parka = line_of(order, shop.parka)
    for data, message in (
        ({f"qty-{parka.id}-resell": "3", "reason": "does_not_fit"}, "Only 2 of this line can come back"),
        ({f"qty-{parka.id}-resell": "x", "reason": "does_not_fit"}, "A whole number of units"),
        ({"reason": "does_not_fit"}, "Say how many units come back"),
        ({f"qty-{parka.id}-resell": "1", "reason": "sabotage"}, "Choose the reason"),
        ({f"qty-{parka.id}-resell": "1", "reason": "other"}, "Say what the reason is"),
    ):
        refused = client.submit(f"/returns/orders/{order.number}", data)
        assert refused.status_code == 422 and message in text(refused), (data, text(refused)[:200])
    assert db.session.scalar(select(Return)) is None
    missing = client.get("/returns/find?code=OS-26-999999")
    assert missing.status_code == 404 and "No order matches" in text(missing)
    assert client.get("/returns/find?code=").status_code == 422
    assert client.get("/returns/orders/NOPE").status_code == 404
    assert client.get("/returns/123456").status_code == 404


def test_a_till_refund_is_recorded_with_its_reference(client, shop):
    order, _api = collected_web_order(shop, payment_state="pay_at_pickup")
    client.login("berlin@example.test")
    parka = line_of(order, shop.parka)
    client.submit(f"/returns/orders/{order.number}", {f"qty-{parka.id}-resell": "1", "reason": "changed_mind"})
    ret = db.session.scalar(select(Return))
    assert "Till refund reference" in text(client.get(f"/returns/{ret.id}"))
    refused = client.submit(f"/returns/{ret.id}/refunded", {"reference": ""})
    assert refused.status_code == 422 and "Type the refund reference" in text(refused)
    paid = client.submit(f"/returns/{ret.id}/refunded", {"reference": "TILL-7"})
    assert paid.status_code == 303
    db.session.expire_all()
    assert db.session.get(Return, ret.id).status == "refunded"
    assert "TILL-7" in text(client.get(f"/returns/{ret.id}"))


def test_the_api_shows_returned_quantities_and_confirms_a_refund_once(client, shop):
    order, placed_by = collected_web_order(shop)
    client.login("berlin@example.test")
    parka = line_of(order, shop.parka)
    client.submit(f"/returns/orders/{order.number}", {f"qty-{parka.id}-resell": "2", "reason": "does_not_fit"})
    ret = db.session.scalar(select(Return))
    _other, token = create_api_client("payments")
    auth = {"Authorization": f"Bearer {token}"}
    document = client.http.get(f"/api/v1/orders/{order.number}", headers=auth).get_json()
    assert {line["sku"]: line["returned_quantity"] for line in document["lines"]} == {
        shop.parka.sku: 2,
        shop.boots.sku: 0,
    }
    got = client.http.get(f"/api/v1/returns/{ret.id}", headers=auth).get_json()
    assert got["status"] == "refund_pending" and got["total_minor"] == 2 * 12900 and got["refund_method"] == "online"
    first = client.http.post(f"/api/v1/returns/{ret.id}/refunded", json={"reference": "re_9"}, headers=auth)
    assert first.status_code == 200 and first.get_json()["status"] == "refunded"
    again = client.http.post(f"/api/v1/returns/{ret.id}/refunded", headers=auth)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["refund_reference"] == "re_9"
    assert client.http.get("/api/v1/returns/999999", headers=auth).status_code == 404
    bad = client.http.post(f"/api/v1/returns/{ret.id}/refunded", json={"reference": 7}, headers=auth)
    assert bad.status_code == 422
    # An order on the counter's channel is out of a web token's scope: its return is not found either.
    db.session.get(Order, order.id).channel = "store"
    db.session.commit()
    assert client.http.get(f"/api/v1/returns/{ret.id}", headers=auth).status_code == 404


def test_the_return_is_on_the_customers_timeline_in_the_export_and_gone_with_an_erase(client, shop, make):
    from omnistore.clienteling import erasure, export
    from omnistore.returns import receiving
    from tests.services.test_returns import ask

    order, _api = collected_web_order(shop)
    receiving.receive_return(
        order,
        ask(order, {(shop.parka, "resell"): 1}, reason="other", note="Mia Jensen says the sleeves are short"),
        staff=shop.berlin,
    )
    client.login("berlin@example.test")
    profile = text(client.get(f"/customers/{order.customer_id}"))
    assert "Goods returned" in profile and "1 returned" in profile and "Return #" in profile
    admin = make.staff("admin", shop.ber, email="admin@example.test")
    customer = db.session.get(Order, order.id).customer
    data = export.export_data(customer, staff=admin)
    assert data["orders"][0]["returns"][0]["note"] == "Mia Jensen says the sleeves are short"
    erasure.erase_customer(customer, staff=admin, confirmation="ERASE")
    db.session.expire_all()
    ret = db.session.scalar(select(Return))
    assert ret.note == "" and ret.refund_minor == 12900  # what came back and what is owed stay
