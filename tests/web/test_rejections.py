"""Rejecting at pick time on the screens: the "to pick & send" card, the desk's pick list, and the customer's
choice on their order page."""

import pytest
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.orders import order_rules
from omnistore.orders import placing as ordering
from omnistore.orders.models import LineRejection, Order, Transfer
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel

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
