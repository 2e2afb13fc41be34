"""Pick deadlines: counted in the store's opening hours, flagged on the send list, the desk and to the manager."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders import order_rules, pick_deadlines, transfers
from omnistore.orders import placing as ordering
from omnistore.orders.models import Order, Transfer
from omnistore.pickups import preparing, queue
from omnistore.stock import ledger
from omnistore.stores.locations import after_open_hours


@pytest.fixture
def shop(make):
    made = make.shop(  # HAM and CPH open Mon–Sat 09:30–20:00
        "HAM",
        "CPH",
        team={"ham_clerk": ("clerk", "HAM"), "cph_clerk": ("clerk", "CPH")},
        variants={"boot": {"size": "42"}},
    )
    made["customer"] = make.customer("Ida", "Holm", email="ida@example.test", created_channel="web")
    for location in (made.ham, made.cph):
        ledger.receive(ledger.StockChange(made.boot.id, location.id, 3, "delivery note"), None)
    return made


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


# --- a pick deadline per store ------------------------------------------------------------------------------


def test_a_store_s_own_pick_deadline_replaces_the_network_s(shop, app):
    shop.ham.opening_hours = shop.cph.opening_hours = {}  # always open
    db.session.commit()
    assert app.config["OMNISTORE_PICK_HOURS"] == 4
    at_ham, at_cph = place(shop, shop.ham), place(shop, shop.cph)
    backdate(at_ham, 2)
    backdate(at_cph, 2)
    assert pick_deadlines.late_picks() == []  # 2 of the network's 4 hours

    settings(shop.ham, pick_hours="1,5")  # Hamburg's manager: 1.5 hours
    db.session.expire_all()
    assert shop.ham.pick_hours == 1.5 and pick_deadlines.pick_hours(shop.ham) == 1.5
    assert [(item.number, item.location.code) for item in pick_deadlines.late_picks()] == [(at_ham.number, "HAM")]
    (item,) = queue.desk_queue(shop.ham).to_pick
    assert item.late_pick  # flagged on Hamburg's desk
    (item,) = queue.desk_queue(shop.cph).to_pick
    assert not item.late_pick  # København keeps the network's 4 hours

    settings(shop.ham, pick_hours="")  # empty: the network's setting again
    db.session.expire_all()
    assert shop.ham.pick_hours is None and pick_deadlines.late_picks() == []


def test_the_pick_deadline_is_counted_in_the_store_s_opening_hours(shop):
    settings(shop.ham, pick_hours=2)
    saturday_evening = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)  # 19:00 in Hamburg, an hour before closing
    assert pick_deadlines.due_at(shop.ham, saturday_evening) == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert pick_deadlines.due_at(shop.cph, saturday_evening) == after_open_hours(shop.cph, saturday_evening, 4)


def settings(location, staff=None, **changes):
    from omnistore.stores import locations
    from tests import factories

    values = dict(
        hold_days=location.hold_days,
        reminder_day=location.reminder_day,
        pickup_enabled=location.pickup_enabled,
        sourcing_enabled=location.sourcing_enabled,
        transfer_capacity=location.transfer_capacity,
        safety_stock=location.safety_stock,
        pickup_hours=location.pickup_hours or {},
        pick_hours=location.pick_hours,
    )
    values.update(changes)
    staff = staff or factories.staff("manager", location)
    return locations.update_pickup_settings(location, locations.PickupSettings(**values), staff=staff)


@pytest.mark.parametrize("typed", ["0", "0.2", "169", "-1", "abc", "1.5.5", "١٢", "4h", "1e2", "nan", "9" * 30, True])
def test_a_bad_pick_deadline_is_refused_at_its_field_and_changes_nothing(shop, typed):
    from omnistore.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        settings(shop.ham, pick_hours=typed)
    assert "pick_hours" in refused.value.fields
    db.session.expire_all()
    assert shop.ham.pick_hours is None


def test_only_the_store_s_manager_or_an_admin_sets_its_pick_deadline(shop, make):
    from omnistore.core.errors import Forbidden

    with pytest.raises(Forbidden):
        settings(shop.ham, staff=shop.ham_clerk, pick_hours=2)
    with pytest.raises(Forbidden):
        settings(shop.ham, staff=make.staff("manager", shop.cph), pick_hours=2)
    settings(shop.ham, staff=make.staff("admin", shop.cph), pick_hours=2)
    db.session.expire_all()
    assert shop.ham.pick_hours == 2
