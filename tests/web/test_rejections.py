"""Rejecting at pick time on the screens: the "to pick & send" card, the desk's pick list, and the customer's
choice on their order page."""

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.orders import order_rules
from omnistore.orders import placing as ordering
from omnistore.orders.models import LineRejection, Order, Transfer
from omnistore.pickups import preparing
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel
from omnistore.stores.staff import create_api_client

DK_ADDRESS = order_rules.Address(name="Ida Holm", street="Nørregade 1", postcode="1165", city="København", country="DK")


@pytest.fixture
def net(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={
            "ham_clerk": ("clerk", "HAM", None, "hanna@example.test"),
            "cph_clerk": ("clerk", "CPH", None, "carl@example.test"),
        },
        variants={"boot": {"product": "Trail Boot", "size": "42"}},
    )
    made["customer"] = make.customer("Ida", "Holm", email="ida@example.test", created_channel="web")
    for location, units in ((made.cph, 2), (made.ham, 2)):
        ledger.receive(ledger.StockChange(made.boot.id, location.id, units, "delivery note 7"), None)
    return made


def place(net, fulfilment="delivery"):
    return ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=net.customer.id,
            lines=(order_rules.LineRequest(net.boot.id, 1),),
            fulfilment=fulfilment,
            payment_state="paid",
            pickup_location_id=net.ham.id if fulfilment == "pickup" else None,
            delivery_address=DK_ADDRESS if fulfilment == "delivery" else None,
        ),
        staff=net.cph_clerk,
    )


def on_hand(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel.on_hand).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def rejections():
    return db.session.scalar(select(func.count()).select_from(LineRejection))


def test_copenhagen_rejects_on_its_send_list_and_the_card_says_where_it_comes_from_now(client, net):
    order = place(net)
    (transfer,) = order_transfers = db.session.scalars(select(Transfer).where(Transfer.order_id == order.id)).all()
    assert order_transfers
    client.login(net.cph_clerk.email)
    page = client.get("/orders/send").get_data(as_text=True)
    assert "Can&#39;t supply it? Reject a line" in page or "Can't supply it? Reject a line" in page
    assert "Not found on the shelf" in page

    card = client.submit(
        f"/orders/transfers/{transfer.id}/reject",
        {"line": order.lines[0].id, "quantity": "1", "reason": "not_found"},
        headers={"HX-Request": "true"},
    )
    html = card.get_data(as_text=True)
    assert card.status_code == 200 and html.lstrip().startswith("<article"), html[:500]
    assert "It now comes from Hamburg" in html and "Not supplied by København" in html
    assert on_hand(net.boot, net.cph) == 1
    assert client.get("/orders/send").get_data(as_text=True).count("Trail Boot") == 0  # nothing left to pick

    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login(net.ham_clerk.email)
    assert order.number in client.get("/orders/send").get_data(as_text=True)
    detail = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "Nearest store" in detail or "Hamburg" in detail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quantity": "5", "reason": "not_found"}, "Enter a whole number from 1 to 1."),
        ({"quantity": "x", "reason": "not_found"}, "Enter a whole number from 1 to 1."),
        ({"quantity": "1", "reason": "stolen"}, "Choose: not found, damaged or wrong item."),
        ({"quantity": "1"}, "Choose: not found, damaged or wrong item."),
    ],
)
def test_bad_input_comes_back_at_the_field_and_changes_nothing(client, net, data, message):
    order = place(net)
    transfer = db.session.scalar(select(Transfer).where(Transfer.order_id == order.id))
    client.login(net.cph_clerk.email)
    card = client.submit(
        f"/orders/transfers/{transfer.id}/reject",
        {"line": order.lines[0].id, **data},
        headers={"HX-Request": "true"},
    )
    assert card.status_code == 422
    assert message in card.get_data(as_text=True)
    assert rejections() == 0 and on_hand(net.boot, net.cph) == 2


def test_another_store_cannot_reject_and_without_javascript_it_redirects(client, net):
    order = place(net)
    transfer = db.session.scalar(select(Transfer).where(Transfer.order_id == order.id))
    client.login(net.ham_clerk.email)
    refused = client.submit(
        f"/orders/transfers/{transfer.id}/reject", {"line": order.lines[0].id, "quantity": "1", "reason": "damaged"}
    )
    assert refused.status_code == 404 and rejections() == 0
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login(net.cph_clerk.email)
    done = client.submit(
        f"/orders/transfers/{transfer.id}/reject", {"line": order.lines[0].id, "quantity": "1", "reason": "damaged"}
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/orders/send")
    assert rejections() == 1


def test_the_desk_rejects_a_pickup_line_and_the_customer_chooses_on_their_page(client, net):
    order = place(net, "pickup")
    client.login(net.ham_clerk.email)
    page = client.get(f"/pickups/orders/{order.number}").get_data(as_text=True)
    assert "Reject a line" in page
    fragment = client.submit(
        f"/pickups/orders/{order.number}/reject",
        {"line": order.lines[0].id, "quantity": "1", "reason": "not_found"},
        headers={"HX-Request": "true"},
    )
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and 'id="prepare"' in html
    assert "The customer is asked by e-mail" in html

    client.post("/logout", data={"csrf_token": client.csrf_token()})
    db.session.expire_all()
    token = db.session.get(Order, order.id).pickup.token
    phone = client.get(f"/o/{token}").get_data(as_text=True)
    assert "Hamburg could not supply 1 × Trail Boot" in phone
    assert "Collect it at København" in phone and "Leave it out" in phone
    rejection = db.session.scalar(select(LineRejection))

    refused = client.submit(f"/o/{token}/choose/{rejection.id}", {"choice": "store", "store": str(net.ham.id)})
    assert refused.status_code == 422 and "That store cannot offer it any more" in refused.get_data(as_text=True)

    assert client.submit(f"/o/{token}/choose/999999", {"choice": "drop"}).status_code == 404
    chosen = client.submit(
        f"/o/{token}/choose/{rejection.id}",
        {"choice": "store", "store": str(net.cph.id)},
        headers={"HX-Request": "true"},
    )
    assert chosen.status_code == 200
    db.session.expire_all()
    moved = db.session.get(LineRejection, rejection.id).replacement_order
    assert moved is not None and moved.pickup_location_id == net.cph.id
    after = chosen.get_data(as_text=True)
    assert "Collect it at København" not in after
    assert f"Trail Boot is now collected at København: order {moved.number}" in after
    assert db.session.get(Order, order.id).status == "cancelled"  # nothing was left to collect at Hamburg

    again = client.submit(f"/o/{token}/choose/{rejection.id}", {"choice": "drop"})
    assert again.status_code == 409 and "can no longer change" in again.get_data(as_text=True)


def test_the_manager_sees_the_rejection_rate_and_re_source_success_per_store_and_exports_them(client, net, make):
    for _ in range(2):
        place(net)
    first = db.session.scalar(select(Transfer).where(Transfer.source_location_id == net.cph.id).order_by(Transfer.id))
    client.login(net.cph_clerk.email)
    client.submit(
        f"/orders/transfers/{first.id}/reject",
        {"line": first.lines[0].id, "quantity": "1", "reason": "not_found"},
    )
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    admin = make.staff("admin", net.ham, email="admin@example.test")
    client.login(admin.email)
    page = client.get("/manager/rejections?period=7d&store=network")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Rejections at pick time" in html
    row = html[html.index('<th scope="row">København') :].split("</tr>")[0]
    assert '<td class="num">2</td>' in row and "50 %" in row  # 1 of the 2 units asked
    assert "100 %" in row  # Hamburg sent it
    assert "Not found on the shelf: 1" in row
    csv = client.get("/manager/rejections.csv?period=7d&store=network")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert "Rejection rate (%)" in text
    assert any(line.startswith("København;2;1;50") and line.endswith(";100") for line in text.splitlines()), text
    clerk_page = client.get("/manager/rejections")
    assert clerk_page.status_code == 200
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login(net.cph_clerk.email)
    assert client.get("/manager/rejections").status_code == 403


def test_late_picks_are_flagged_on_the_send_list_the_desk_and_the_managers_page(client, net, make):
    from datetime import timedelta

    from sqlalchemy import update

    from omnistore.core.types import utcnow

    net.ham.opening_hours = net.cph.opening_hours = {}  # always open: the test does not depend on the clock
    db.session.commit()
    sent, at_desk = place(net), place(net, "pickup")
    client.login(net.cph_clerk.email)
    assert "Pick by" in client.get("/orders/send").get_data(as_text=True)
    then = utcnow() - timedelta(hours=9)
    db.session.execute(update(Order).values(placed_at=then))
    db.session.execute(update(Transfer).values(created_at=then))
    db.session.commit()
    page = client.get("/orders/send").get_data(as_text=True)
    assert "Late" in page and "was to be picked by" in page
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login(net.ham_clerk.email)
    desk = client.get("/pickups/").get_data(as_text=True)
    assert "late: to be picked by" in desk
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login(make.staff("admin", net.ham, email="admin@example.test").email)
    manager = client.get("/manager/rejections?store=network").get_data(as_text=True)
    late = manager[manager.index('id="late-picks"') :]
    assert sent.number in late and at_desk.number in late and "To pick and send" in late


# --- ship home free ------------------------------------------------------------------------------------------

HOME = {"name": "Ida Holm", "street": "Nørregade 1", "postcode": "1165", "city": "København", "country": "DK"}


def rejected_at_the_desk(net):
    order = place(net, "pickup")
    rejection = preparing.reject_at_desk(
        order, staff=net.ham_clerk, line_id=order.lines[0].id, quantity=1, reason="not_found"
    )
    db.session.expire_all()
    return db.session.get(Order, order.id), db.session.get(LineRejection, rejection.id)


def test_the_customer_ships_it_home_free_and_the_order_page_email_and_api_say_so(client, net):
    order, rejection = rejected_at_the_desk(net)
    token = order.pickup.token
    phone = client.get(f"/o/{token}").get_data(as_text=True)
    assert "Ship it home free" in phone and 'name="postcode"' in phone
    url = f"/o/{token}/choose/{rejection.id}"

    refused = client.submit(url, {"choice": "ship", **HOME, "postcode": "20095"}, headers={"HX-Request": "true"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "A postcode in Denmark has 4 digits, like 1620." in html and 'aria-invalid="true"' in html
    assert 'value="Nørregade 1"' in html and '<details class="public-choice-ship" open>' in html  # kept as typed
    assert db.session.get(LineRejection, rejection.id).outcome == "pending"

    chosen = client.submit(url, {"choice": "ship", **HOME}, headers={"HX-Request": "true"})
    assert chosen.status_code == 200
    db.session.expire_all()
    shipped = db.session.get(LineRejection, rejection.id).replacement_order
    after = chosen.get_data(as_text=True)
    assert f"1 × Trail Boot is sent to your home: order {shipped.number}." in after
    assert "Ida Holm, Nørregade 1, 1165 København, DK" in after
    assert "Delivery: free" in after and "we waived the delivery fee" in after
    assert "Ship it home free" not in after
    assert client.get(f"/o/{token}").get_data(as_text=True).count(shipped.number) == 1  # after a reload too

    again = client.submit(url, {"choice": "ship", **HOME}, headers={"HX-Request": "true"})  # the phone resends
    assert again.status_code == 200 and shipped.number in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2

    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "order.confirmation").order_by(OutboxMessage.id.desc())
    ).first()
    with force_locale(mail.payload["locale"]):  # in the customer's language
        waived = gettext("Free: we waived the delivery fee")
    assert shipped.number in mail.subject and waived in mail.body

    client.login(net.cph_clerk.email)  # København sends it
    assert "Free: we waived the delivery fee" in client.get(f"/orders/{shipped.number}").get_data(as_text=True)

    _api, api_token = create_api_client("shop")
    document = client.get(f"/api/v1/orders/{shipped.number}", headers={"Authorization": f"Bearer {api_token}"})
    assert document.status_code == 200
    body = document.get_json()
    assert body["shipping_fee_waived"] is True and body["shipping_fee_minor"] == 0
    assert body["fulfilment"] == "delivery" and body["total_minor"] == shipped.lines[0].unit_price_minor


@pytest.mark.parametrize(
    "data",
    [
        {"choice": "ship"},  # no address at all
        {"choice": "ship", **HOME, "country": "SE"},
        {"choice": "ship", **HOME, "street": "x" * 5000},
        {"choice": "ship", **HOME, "city": "Kø\u0007benhavn"},
        {"choice": "ship", **HOME, "name": "\U0001f600" * 200},
        {"choice": "ship", **HOME, "postcode": "-1165"},
    ],
)
def test_bad_addresses_come_back_at_their_field_and_change_nothing(client, net, data):
    order, rejection = rejected_at_the_desk(net)
    response = client.submit(f"/o/{order.pickup.token}/choose/{rejection.id}", data, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Please check the delivery address." in response.get_data(as_text=True)
    assert db.session.get(LineRejection, rejection.id).outcome == "pending"
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_when_no_store_can_ship_it_the_page_says_so_and_keeps_the_address(client, net):
    for location in (net.cph, net.ham):
        ledger.correct(ledger.StockChange(net.boot.id, location.id, 1 if location is net.ham else 0, "count"), None)
    order, rejection = rejected_at_the_desk(net)
    response = client.submit(
        f"/o/{order.pickup.token}/choose/{rejection.id}", {"choice": "ship", **HOME}, headers={"HX-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "No store can send it to that address at the moment" in html
    assert 'value="Nørregade 1"' in html
    assert db.session.get(LineRejection, rejection.id).outcome == "pending"
