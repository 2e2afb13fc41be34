"""Returns, the rest of the issue in request terms: the manager's returns tab and its CSV, sending resellable
goods on from the return's page, placing an exchange with its credit, and the customer's order page."""

import pytest
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.orders.models import Order, Transfer
from omnistore.returns import exchanges, receiving
from omnistore.returns.models import Return, ReturnSending
from tests.services.test_returns import ask, collected_web_order


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        "BER",
        "WH1",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "berlin": ("clerk", "BER", "Lea Schmidt"),
            "boss": ("manager", "BER", "Ines Vogel"),
            "hamboss": ("manager", "HAM", "Ole Brandt"),
            "admin": ("admin", "HAM", "Ada Admin"),
            "kassel": ("clerk", "WH1", "Uwe Lang"),
        },
        variants={
            "parka": dict(product="Fjord Parka", size="M", colour="Navy", price_minor=12900, stock={"HAM": 9}),
            "boots": dict(product="Trail Boots", size="42", colour="Brown", price_minor=8900, stock={"HAM": 9}),
            "parka_l": dict(product="Fjord Parka", size="L", colour="Navy", price_minor=13900, stock={"HAM": 3}),
        },
    )


def text(response):
    return response.get_data(as_text=True)


def returned_in_berlin(shop, **order):
    placed, _client = collected_web_order(shop, **order)
    return receiving.receive_return(placed, ask(placed, {(shop.parka, "resell"): 1}), staff=shop.berlin)


# --- the manager's returns tab ----------------------------------------------------------------------------


def test_the_manager_sees_returns_by_store_channel_product_and_across_and_downloads_the_csv(client, shop):
    returned_in_berlin(shop)
    client.login("hamboss@example.test")
    page = client.get("/manager/returns?period=30d")
    assert page.status_code == 200
    body = text(page)
    for heading in ("By store", "By channel", "By product", "Across stores"):
        assert heading in body
    assert 'data-crossing="HAM-BER"' in body and "Does not fit" in body
    # The other tabs still draw their tables through the same macro, and the returns tab is among them.
    for tab in ("/manager/handovers", "/manager/counts", "/manager/rejections", "/manager/"):
        shown = client.get(tab)
        assert shown.status_code == 200 and 'href="/manager/returns?' in text(shown), tab
    csv = client.get("/manager/returns.csv?period=30d")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "attachment" in csv.headers["Content-Disposition"] and "returns-HAM-" in csv.headers["Content-Disposition"]
    rows = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()  # Excel's separator for a German store: ";"
    assert rows[0].startswith("Section;Name;Units sold;Units returned")
    assert any(row.startswith("Store;Hamburg;3;1;33.3;1;1;") and row.endswith(";EUR;129.00") for row in rows), (
        "\n".join(rows)
    )
    assert any("Hamburg → Berlin" in row for row in rows), rows


def test_returns_tab_roles_scope_and_bad_periods(client, shop):
    returned_in_berlin(shop)
    client.login("berlin@example.test")
    assert client.get("/manager/returns").status_code == 403
    assert client.get("/manager/returns.csv").status_code == 403
    client.submit("/logout")
    client.login("boss@example.test")
    assert client.get("/manager/returns?store=HAM").status_code in (403, 404)  # not their store
    bad = client.get("/manager/returns?period=custom&from=2026-13-45&to=x")
    assert bad.status_code == 200 and "Showing the last 7 days instead" in text(bad)
    huge = client.get("/manager/returns?period=" + "9" * 5000)
    assert huge.status_code in (200, 422)
    client.submit("/logout")
    client.login("admin@example.test")
    network = text(client.get("/manager/returns?store=network&period=7d"))
    assert 'data-crossing="HAM-BER"' in network


# --- sending returned goods on ----------------------------------------------------------------------------


def test_sending_a_resellable_unit_to_the_warehouse_from_the_return_page(client, shop):
    ret = returned_in_berlin(shop)
    line = ret.lines[0]
    client.login("berlin@example.test")
    page = text(client.get(f"/returns/{ret.id}"))
    assert "Send resellable goods on" in page and "Kassel warehouse" in page
    for data, message in (
        ({"line_id": str(line.id), "destination": str(shop.wh1.id), "quantity": "2"}, "Only 1 of these units"),
        ({"line_id": str(line.id), "destination": str(shop.wh1.id), "quantity": "-1"}, "A whole number"),
        ({"line_id": str(line.id), "destination": str(shop.ber.id), "quantity": "1"}, "The goods are here already"),
        ({"line_id": str(line.id), "destination": "", "quantity": "1"}, "Choose the store or warehouse"),
        ({"line_id": "999999", "destination": str(shop.wh1.id), "quantity": "1"}, "not part of this return"),
        ({"line_id": "x" * 500, "destination": "9" * 40, "quantity": "ü" * 50}, "not part of this return"),
    ):
        refused = client.submit(f"/returns/{ret.id}/send", data)
        assert refused.status_code == 422 and message in text(refused), (data, text(refused)[:300])
    control = client.submit(f"/returns/{ret.id}/send", {"line_id": "\x00", "destination": "\x07", "quantity": "1"})
    assert control.status_code in (400, 422)  # the request-shape check refuses control characters
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 0
    sent = client.submit(
        f"/returns/{ret.id}/send", {"line_id": str(line.id), "destination": str(shop.wh1.id), "quantity": "1"}
    )
    assert sent.status_code == 303
    transfer = db.session.scalar(select(Transfer).where(Transfer.order_id.is_(None)))
    send_list = text(client.get("/orders/send"))
    assert f'data-transfer="{transfer.id}"' in send_list and "Stock transfer" in send_list
    # Replayed: nothing more to send.
    again = client.submit(
        f"/returns/{ret.id}/send", {"line_id": str(line.id), "destination": str(shop.wh1.id), "quantity": "1"}
    )
    assert again.status_code == 422 and db.session.scalar(select(func.count()).select_from(ReturnSending)) == 1
    # Hamburg sees the return (the goods were bought there) but cannot send them on.
    client.submit("/logout")
    client.login("clerk@example.test")
    assert "Send resellable goods on" not in text(client.get(f"/returns/{ret.id}"))
    assert client.submit(f"/returns/{ret.id}/send", {"line_id": str(line.id)}).status_code in (403, 422)
    # The warehouse sees it coming; it cannot pick it (Berlin's), only receive once shipped.
    client.submit("/logout")
    client.login("kassel@example.test")
    assert f'data-transfer="{transfer.id}"' in text(client.get("/orders/arriving"))
    assert client.submit(f"/orders/transfers/{transfer.id}/pick", {}).status_code == 404
    assert client.submit(f"/orders/transfers/{transfer.id}/reject", {"line": "1", "quantity": "1"}).status_code in (
        404,
        422,
    )


# --- an exchange's credit ---------------------------------------------------------------------------------


def test_placing_the_exchange_sets_the_credit_against_the_new_order(client, shop):
    ret = returned_in_berlin(shop)
    draft = exchanges.start_exchange(ret, shop.parka_l.id, staff=shop.berlin)
    client.login("berlin@example.test")
    builder = text(client.get(f"/orders/drafts/{draft.token}"))
    assert f"/returns/{ret.id}/exchange/place" in builder and "Amount due" in builder
    placed = client.submit(f"/returns/{ret.id}/exchange/place", {"idempotency_key": "exchange-1"})
    assert placed.status_code == 303, text(placed)[:300]
    order = db.session.scalar(select(Order).order_by(Order.id.desc()))
    assert (order.credit_minor, order.amount_due_minor) == (12900, 1000)
    page = text(client.get(placed.headers["Location"]))
    assert "Amount due" in page and "10.00" in page
    # The same tap again: the same order, the credit not spent twice.
    again = client.submit(f"/returns/{ret.id}/exchange/place", {"idempotency_key": "exchange-1"})
    assert again.status_code in (303, 409) and db.session.scalar(select(func.count()).select_from(Order)) == 2
    db.session.expire_all()
    assert db.session.get(Return, ret.id).credit_applied_minor == 12900
    # The API shows what is due.
    from omnistore.stores.staff import create_api_client

    _api, token = create_api_client("reader", channels=("web", "store"))
    auth = {"Authorization": f"Bearer {token}"}
    document = client.http.get(f"/api/v1/orders/{order.number}", headers=auth).get_json()
    assert "credit_minor" in document, document
    assert document["credit_minor"] == 12900 and document["amount_due_minor"] == 1000
    got = client.http.get(f"/api/v1/returns/{ret.id}", headers=auth).get_json()
    assert (got["credit_minor"], got["refund_due_minor"], got["exchange_order_number"]) == (12900, 0, order.number)


def test_only_the_returning_store_places_the_exchange(client, shop):
    ret = returned_in_berlin(shop)
    exchanges.start_exchange(ret, shop.parka_l.id, staff=shop.berlin)
    client.login("clerk@example.test")
    refused = client.submit(f"/returns/{ret.id}/exchange/place", {"idempotency_key": "k"})
    assert refused.status_code in (403, 404)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


# --- the customer's order page ----------------------------------------------------------------------------


def test_the_customers_order_page_shows_the_return_in_their_language(client, shop):
    ret = returned_in_berlin(shop)
    token = ret.order.pickup.token
    page = text(client.get(f"/o/{token}"))
    assert "Your returns" in page and "Berlin" in page and 'data-return-status="refund_pending"' in page
    assert "We have asked for the refund to your payment method." in page
    german = text(client.get(f"/o/{token}", headers={"Accept-Language": "de"}))
    assert 'data-return-status="refund_pending"' in german and "Your returns" not in german
