"""Pick deadlines: counted in the store's opening hours, flagged on the send list, the desk and to the manager."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.models import Customer
from omnistore.orders import order_rules, pick_deadlines, transfers
from omnistore.orders import placing as ordering
from omnistore.orders.models import Order, Transfer
from omnistore.pickups import preparing, queue
from omnistore.stock import ledger
from omnistore.stores.locations import after_open_hours


@pytest.fixture
def shop(make):
    class Shop:
        ham, cph = make.location("HAM"), make.location("CPH")  # open Mon–Sat 09:30–20:00
        ham_clerk = make.staff(location=ham)
        cph_clerk = make.staff(location=cph)
        boot = make.variant(size="42")
        customer = Customer(first_name="Ida", last_name="Holm", email="ida@example.test", created_channel="web")

    db.session.add(Shop.customer)
    db.session.commit()
    for location in (Shop.ham, Shop.cph):
        ledger.receive(ledger.StockChange(Shop.boot.id, location.id, 3, "delivery note"), None)
    return Shop


def test_only_opening_hours_count(shop):
    saturday_evening = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)  # 19:00 in Hamburg, an hour before closing
    assert after_open_hours(shop.ham, saturday_evening, 4) == datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
    monday_morning = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 07:00, before opening
    assert after_open_hours(shop.ham, monday_morning, 4) == datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
    shop.ham.opening_hours = {}
    assert after_open_hours(shop.ham, saturday_evening, 4) == saturday_evening + timedelta(hours=4)


def backdate(order, hours):
    then = utcnow() - timedelta(hours=hours)
    db.session.execute(update(Order).where(Order.id == order.id).values(placed_at=then))
    db.session.execute(update(Transfer).where(Transfer.order_id == order.id).values(created_at=then))
    db.session.commit()
    db.session.expire_all()


def place(shop, pickup):
    return ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=shop.customer.id,
            lines=(order_rules.LineRequest(shop.boot.id, 1),),
            fulfilment="pickup",
            payment_state="paid",
            pickup_location_id=pickup.id,
        ),
        staff=shop.ham_clerk,
    )


def test_late_picks_are_flagged_on_the_send_list_the_desk_and_to_the_manager(shop):
    shop.ham.opening_hours = shop.cph.opening_hours = {}  # always open: the test does not depend on the clock
    db.session.commit()
    at_desk = place(shop, shop.ham)
    assert at_desk.lines[0].source_location_id == shop.ham.id
    assert pick_deadlines.late_picks() == []
    backdate(at_desk, 5)

    late = pick_deadlines.late_picks()
    assert [(item.number, item.kind, item.location.code) for item in late] == [(at_desk.number, "pickup", "HAM")]
    (item,) = queue.desk_queue(shop.ham).to_pick
    assert item.late_pick and item.pick_due < utcnow()
    preparing.mark_picked(db.session.get(Order, at_desk.id), [at_desk.lines[0].id], shop.ham_clerk)
    assert pick_deadlines.late_picks() == []  # picked: no longer late

    sent = ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=shop.customer.id,
            lines=(order_rules.LineRequest(shop.boot.id, 1),),
            fulfilment="delivery",
            payment_state="paid",
            delivery_address=order_rules.Address(
                name="Ida", street="Nørregade 1", postcode="1165", city="København", country="DK"
            ),
        ),
        staff=shop.cph_clerk,
    )
    (transfer,) = transfers.transfers_of(sent)
    assert not pick_deadlines.is_late(pick_deadlines.transfer_due(transfer))
    backdate(sent, 5)
    assert [(item.number, item.kind) for item in pick_deadlines.late_picks(shop.cph.id)] == [(sent.number, "transfer")]
    assert pick_deadlines.late_picks(shop.ham.id) == []
