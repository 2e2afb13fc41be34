"""Every API token has a scope: channels, stores, read-only, and whose status URLs it sees.

Out of scope reads of orders answer 404 exactly like an unknown number (so numbers cannot be probed);
writes to a forbidden store or channel 403 out_of_scope; any write by a read-only token 403 read_only.
"""

import pytest
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.orders.models import Order
from omnistore.stock.models import StockLevel
from omnistore.stores.models import ApiClient
from omnistore.stores.staff import create_api_client


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def net(app, make):
    ham, cph = make.location("HAM"), make.location("CPH")
    variant = make.variant(sku="JKT-M")
    make.stock(variant, ham, 5)
    make.stock(variant, cph, 5)
    counter = make.order(cph, [(variant, 1, cph)], channel="store", origin_location_id=cph.id)
    make.pickup(counter, token="counter-qr-token")
    return {"HAM": ham, "CPH": cph, "variant": variant, "counter": counter}


def token(name, **scope):
    return {"Authorization": f"Bearer {create_api_client(name, **scope)[1]}"}


def web_order(http, auth, store="HAM", **overrides):
    body = {
        "customer": {"email": "anna@example.de", "last_name": "Berg"},
        "lines": [{"sku": "JKT-M", "quantity": 1}],
        "fulfilment": "pickup",
        "pickup_location": store,
        **overrides,
    }
    return http.post("/api/v1/orders", json=body, headers=auth)


def status(order):
    db.session.expire_all()
    return db.session.get(Order, order.id).status


def test_a_default_token_cannot_read_or_cancel_a_counter_order(http, net):
    """The attack: any integration token read a counter order (with its QR link) and cancelled it."""
    shop = token("shop")
    number = net["counter"].number
    unknown = "OS-26-999999"

    read = http.get(f"/api/v1/orders/{number}", headers=shop)
    assert read.status_code == 404
    assert "counter-qr-token" not in read.get_data(as_text=True)
    assert read.get_json() == http.get(f"/api/v1/orders/{unknown}", headers=shop).get_json()

    cancel = http.post(f"/api/v1/orders/{number}/cancel", headers=shop)
    assert cancel.status_code == 404
    assert cancel.get_json() == http.post(f"/api/v1/orders/{unknown}/cancel", headers=shop).get_json()
    assert status(net["counter"]) == "placed"


def test_only_the_placing_client_sees_the_status_url(http, net):
    shop, other = token("shop"), token("other-shop")
    placed = web_order(http, shop)
    assert placed.status_code == 201, placed.get_json()
    number = placed.get_json()["number"]
    assert placed.get_json()["status_url"].startswith("http")

    own = http.get(f"/api/v1/orders/{number}", headers=shop).get_json()
    assert own["status_url"] == placed.get_json()["status_url"]
    theirs = http.get(f"/api/v1/orders/{number}", headers=other)
    assert theirs.status_code == 200  # a web order: in the other web client's scope, but not its credential
    assert theirs.get_json()["status_url"] is None
    assert own["status_url"] not in theirs.get_data(as_text=True)

    allowed = token("desk-app", channels=("web", "store"), all_status_urls=True)
    assert http.get(f"/api/v1/orders/{number}", headers=allowed).get_json()["status_url"] == own["status_url"]
    counter = http.get(f"/api/v1/orders/{net['counter'].number}", headers=allowed).get_json()
    assert counter["status_url"].endswith("/o/counter-qr-token")


def test_a_store_scoped_token_reads_and_acts_at_its_stores_only(http, net, make):
    ham_counter = make.order(
        net["HAM"], [(net["variant"], 1, net["HAM"])], channel="store", origin_location_id=net["HAM"].id
    )
    ham = token("ham-erp", channels=("web", "store"), stores=("ham",))

    assert http.get(f"/api/v1/orders/{ham_counter.number}", headers=ham).status_code == 200
    assert http.get(f"/api/v1/orders/{net['counter'].number}", headers=ham).status_code == 404

    elsewhere = web_order(http, ham, store="CPH")
    assert elsewhere.status_code == 403 and elsewhere.get_json()["error"]["code"] == "out_of_scope"
    delivery = web_order(
        http,
        ham,
        store=None,
        fulfilment="delivery",
        delivery_address={
            "name": "Anna Berg",
            "street": "Weg 1",
            "postcode": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
    )
    delivery_body = delivery.get_json()
    assert delivery.status_code == 403 and delivery_body["error"]["code"] == "out_of_scope", delivery_body
    assert web_order(http, ham, store="HAM").status_code == 201
    assert db.session.scalar(select(db.func.count()).select_from(Order)) == 3

    rows = http.put(
        "/api/v1/stock",
        headers=ham,
        json={
            "stock": [
                {"sku": "JKT-M", "location": "HAM", "on_hand": 7},
                {"sku": "JKT-M", "location": "CPH", "on_hand": 0},
            ]
        },
    )
    assert rows.status_code == 200
    results = rows.get_json()["results"]
    assert results[0]["status"] == "updated"
    assert results[1]["status"] == "error" and results[1]["errors"][0]["code"] == "out_of_scope"
    db.session.expire_all()
    assert db.session.scalar(select(StockLevel.on_hand).where(StockLevel.location_id == net["CPH"].id)) == 5

    availability = http.get("/api/v1/stock/JKT-M", headers=ham).get_json()
    assert [row["location"] for row in availability["locations"]] == ["HAM"]

    catalogue = http.put("/api/v1/products", headers=ham, json={"products": []})
    assert catalogue.status_code == 403 and catalogue.get_json()["error"]["code"] == "out_of_scope"


def test_a_read_only_token_changes_nothing(http, net):
    reader = token("bi", channels=("web", "store"), read_only=True)
    number = net["counter"].number
    assert http.get(f"/api/v1/orders/{number}", headers=reader).status_code == 200
    assert http.get("/api/v1/stock/JKT-M", headers=reader).status_code == 200

    for response in (
        http.post(f"/api/v1/orders/{number}/cancel", headers=reader),
        web_order(http, reader),
        http.put("/api/v1/stock", headers=reader, json={"stock": [{"sku": "JKT-M", "location": "HAM", "on_hand": 1}]}),
        http.put("/api/v1/products", headers=reader, json={"products": []}),
    ):
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["error"]["code"] == "read_only"
    assert status(net["counter"]) == "placed"
    assert db.session.scalar(select(db.func.count()).select_from(Order)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(StockLevel.on_hand).where(StockLevel.location_id == net["HAM"].id)) == 5


def test_a_token_may_not_place_orders_on_a_channel_outside_its_scope(http, net):
    shop = token("shop")  # web only
    response = web_order(http, shop, channel="app")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "out_of_scope"
    assert db.session.scalar(select(db.func.count()).select_from(Order)) == 1


def test_the_cli_sets_the_scope(app, net):
    cli = app.test_cli_runner()
    result = cli.invoke(
        args=[
            "api-token",
            "create",
            "ham-bi",
            "--channel",
            "web",
            "--channel",
            "store",
            "--store",
            "ham",
            "--read-only",
        ]
    )
    assert result.exit_code == 0, result.output
    client = db.session.scalar(select(ApiClient).where(ApiClient.name == "ham-bi"))
    assert (client.channels, client.stores, client.read_only, client.all_status_urls) == (
        ["store", "web"],
        ["HAM"],
        True,
        False,
    )

    default = cli.invoke(args=["api-token", "create", "shop"])
    assert default.exit_code == 0
    client = db.session.scalar(select(ApiClient).where(ApiClient.name == "shop"))
    assert (client.channels, client.stores, client.read_only) == (["web"], None, False)

    unknown = cli.invoke(args=["api-token", "create", "x", "--store", "NOPE"])
    assert unknown.exit_code != 0 and "NOPE" in unknown.output

    listing = cli.invoke(args=["api-token", "list"]).output.splitlines()
    assert listing[0].startswith("ham-bi") and "channels store, web; HAM; read-only" in listing[0]
    assert listing[1].startswith("shop") and "channels web; every store; read-write" in listing[1]
