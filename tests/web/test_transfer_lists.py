"""The stores' "to pick & send" and "arriving" lists: each clerk sees and acts on their own store's only."""

import pytest

from omnistore.core.extensions import db
from omnistore.orders.models import Order, Transfer
from omnistore.stock.models import StockLevel


@pytest.fixture
def net(make):
    class Net:
        ham = make.location("HAM")
        cph = make.location("CPH")
        ber = make.location("BER")
        ham_clerk = make.staff(location=ham, email="hanna@example.test")
        cph_clerk = make.staff(location=cph, email="carl@example.test")
        ber_clerk = make.staff(location=ber, email="bea@example.test")
        boot = make.variant(make.product(name="Trail Boot"), size="42")

    make.stock(Net.boot, Net.cph, 3, allocated=1)
    Net.order = make.order(Net.ham, lines=[(Net.boot, 1, Net.cph)], channel="store")
    Net.transfer = make.transfer(Net.order, Net.cph)
    return Net


def status_of(transfer):
    db.session.expire_all()
    return db.session.get(Transfer, transfer.id).status


def shipped_by_copenhagen(client, net):
    """The transfer picked and shipped by København's clerk, who then signs out."""
    db.session.execute(db.update(Transfer).where(Transfer.id == net.transfer.id).values(status="picked"))
    db.session.commit()
    client.login(net.cph_clerk.email)
    client.submit(f"/orders/transfers/{net.transfer.id}/ship", {"tracking": "PN-5"})
    client.post("/logout", data={"csrf_token": client.csrf_token()})


def test_the_source_clerk_picks_and_ships_from_the_list(client, net):
    client.login(net.cph_clerk.email)
    page = client.get("/orders/send").get_data(as_text=True)
    assert net.order.number in page and "To Hamburg" in page and "Trail Boot" in page
    assert "Picked – goods are off the shelf" in page

    card = client.submit(f"/orders/transfers/{net.transfer.id}/pick", headers={"HX-Request": "true"})
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    assert html.lstrip().startswith("<article") and f'id="transfer-{net.transfer.id}"' in html
    assert "Tracking reference" in html and status_of(net.transfer) == "picked"

    refused = client.submit(
        f"/orders/transfers/{net.transfer.id}/ship", {"tracking": ""}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422
    assert "Enter the tracking reference" in refused.get_data(as_text=True)
    assert status_of(net.transfer) == "picked"

    shipped = client.submit(
        f"/orders/transfers/{net.transfer.id}/ship", {"tracking": "GLS 77"}, headers={"HX-Request": "true"}
    )
    assert shipped.status_code == 200
    assert "Shipped: order" in shipped.get_data(as_text=True)
    assert status_of(net.transfer) == "shipped"
    assert db.session.get(Order, net.order.id).status == "in_transit"

    again = client.submit(
        f"/orders/transfers/{net.transfer.id}/ship", {"tracking": "GLS 78"}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 409
    assert "already been shipped" in again.get_data(as_text=True)


def test_without_javascript_each_step_redirects_back_with_a_message(client, net):
    client.login(net.cph_clerk.email)
    response = client.submit(f"/orders/transfers/{net.transfer.id}/pick")
    assert response.status_code == 303 and response.headers["Location"].endswith("/orders/send")
    response = client.submit(f"/orders/transfers/{net.transfer.id}/ship", {"tracking": "<bad>"})
    assert response.status_code == 303
    assert "Use letters, digits" in client.get("/orders/send").get_data(as_text=True)
    client.submit(f"/orders/transfers/{net.transfer.id}/ship", {"tracking": "PN-5"})
    assert status_of(net.transfer) == "shipped"


def test_the_pickup_store_receives_and_the_order_is_ready(client, net):
    shipped_by_copenhagen(client, net)

    client.login(net.ham_clerk.email)
    page = client.get("/orders/arriving").get_data(as_text=True)
    assert "From København" in page and "Received – the parcel is here" in page
    card = client.submit(f"/orders/transfers/{net.transfer.id}/receive", headers={"HX-Request": "true"})
    assert card.status_code == 200
    assert "ready for pickup" in card.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, net.order.id).status == "ready"
    level = db.session.query(StockLevel).filter_by(variant_id=net.boot.id, location_id=net.ham.id).one()
    assert (level.on_hand, level.allocated) == (1, 1)
    history = client.get(f"/orders/{net.order.number}").get_data(as_text=True)
    assert "PN-5" in history and "Received" in history


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("ham_clerk", "pick"),
        ("ber_clerk", "pick"),
        ("ham_clerk", "ship"),
        ("cph_clerk", "receive"),
        ("ber_clerk", "receive"),
    ],
)
def test_other_stores_cannot_act_on_a_transfer(client, net, who, path):
    client.login(getattr(net, who).email)
    response = client.submit(f"/orders/transfers/{net.transfer.id}/{path}", {"tracking": "X"})
    assert response.status_code == 404
    assert status_of(net.transfer) == "requested"


def test_each_clerk_sees_their_own_stores_lists_only(client, net):
    client.login(net.ber_clerk.email)
    assert net.order.number not in client.get("/orders/send").get_data(as_text=True)
    assert net.order.number not in client.get("/orders/arriving").get_data(as_text=True)
    assert "Nothing to pick." in client.get("/orders/send").get_data(as_text=True)


def test_unknown_transfers_and_bad_ids_are_not_found(client, net):
    client.login(net.cph_clerk.email)
    assert client.submit("/orders/transfers/999999/pick").status_code == 404
    assert client.submit("/orders/transfers/99999999999999999999/pick").status_code == 404
    assert client.submit("/orders/transfers/abc/pick").status_code == 404
    assert client.post(f"/orders/transfers/{net.transfer.id}/pick").status_code == 400  # no CSRF token


def test_the_tabs_count_what_waits(client, net):
    client.login(net.cph_clerk.email)
    page = client.get("/orders/").get_data(as_text=True)
    assert 'data-count="send">1<' in page


def test_the_last_parcel_asks_for_the_shelf_and_a_refused_shelf_changes_nothing(client, net):
    shipped_by_copenhagen(client, net)

    client.login(net.ham_clerk.email)
    page = client.get("/orders/arriving").get_data(as_text=True)
    assert f'id="shelf-{net.transfer.id}" name="shelf_location"' in page
    hx = {"HX-Request": "true"}
    refused = client.submit(f"/orders/transfers/{net.transfer.id}/receive", {"shelf_location": "X" * 40}, headers=hx)
    assert refused.status_code == 422 and f'id="shelf-{net.transfer.id}-error"' in refused.get_data(as_text=True)
    assert status_of(net.transfer) == "shipped"
    card = client.submit(f"/orders/transfers/{net.transfer.id}/receive", {"shelf_location": "A-07"}, headers=hx)
    assert card.status_code == 200 and "ready for pickup" in card.get_data(as_text=True)
    db.session.expire_all()
    order = db.session.get(Order, net.order.id)
    assert order.status == "ready" and order.pickup.shelf_location == "A-07"
