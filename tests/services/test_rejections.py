"""Rejecting units at pick time: the stock effect of each reason, re-sourcing a home delivery, a pickup
customer's choice and its default, the exclusion of the rejecting store, and the races that matter."""

import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from omnistore.core.errors import InvalidTransition, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.orders import cancelling, line_reasons, order_rules, rejecting, rejection_choices, transfers
from omnistore.orders import placing as ordering
from omnistore.orders.models import LineRejection, Order, OrderLine, Transfer
from omnistore.pickups import handover, preparing
from omnistore.stock import ledger
from omnistore.stock.models import CountTask, StockLevel, StockMovement
from tests.services.test_stock import assert_ledger_explains_every_level

DK_ADDRESS = order_rules.Address(name="Ida Holm", street="Nørregade 1", postcode="1165", city="København", country="DK")


@pytest.fixture
def shop(make):
    made = make.shop(
        "CPH",
        "HAM",
        "BER",
        team={
            "cph_clerk": ("clerk", "CPH", "Carl Copenhagen"),
            "ham_clerk": ("clerk", "HAM", "Hanna Hamburg"),
            "ber_clerk": ("clerk", "BER", "Bea Berlin"),
        },
        variants={"boot": {"size": "42", "price_minor": 3000}},
    )
    made["customer"] = make.customer("Ida", "Holm", email="ida@example.test", created_channel="web")
    return made


def receive(shop, location, units, variant=None):
    ledger.receive(ledger.StockChange((variant or shop.boot).id, location.id, units, "delivery note 1"), None)


def level(variant, location):
    db.session.expire_all()
    row = db.session.scalar(
        select(StockLevel).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )
    return (row.on_hand, row.allocated) if row else (0, 0)


def assert_ledger_consistent():
    db.session.expire_all()
    for row in db.session.scalars(select(StockLevel)):
        on_hand, allocated = db.session.execute(
            select(
                func.coalesce(func.sum(StockMovement.on_hand_delta), 0),
                func.coalesce(func.sum(StockMovement.allocated_delta), 0),
            ).where(StockMovement.variant_id == row.variant_id, StockMovement.location_id == row.location_id)
        ).one()
        assert (on_hand, allocated) == (row.on_hand, row.allocated)
        assert 0 <= row.allocated <= row.on_hand


def web_order(shop, quantity=1, *, fulfilment="delivery", pickup=None, staff=None):
    return ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=shop.customer.id,
            lines=(order_rules.LineRequest(shop.boot.id, quantity),),
            fulfilment=fulfilment,
            payment_state="paid",
            pickup_location_id=pickup.id if pickup is not None else None,
            delivery_address=DK_ADDRESS if fulfilment == "delivery" else None,
        ),
        staff=staff or shop.cph_clerk,
    )


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def topics():
    return [m.topic for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


# --- home deliveries: re-sourced at once ------------------------------------------------------------------


def test_copenhagen_rejects_a_ship_home_line_as_not_found_and_hamburg_sends_it(shop):
    receive(shop, shop.cph, 2)
    receive(shop, shop.ham, 3)
    order = web_order(shop)
    (line,) = order.lines
    assert line.source_location_id == shop.cph.id  # a DK address: the Danish store first
    assert level(shop.boot, shop.cph) == (2, 1)

    rejection = rejecting.reject(order, line_id=line.id, quantity=1, reason="not_found", staff=shop.cph_clerk)

    assert rejection.outcome == "resourced" and rejection.decided_by == "system"
    assert level(shop.boot, shop.cph) == (1, 0)  # corrected: the unit is not there
    assert level(shop.boot, shop.ham) == (3, 1)
    task = db.session.scalar(select(CountTask).where(CountTask.location_id == shop.cph.id))
    assert task is not None and task.status == "open" and task.reference == order.number
    order = fresh(Order, order.id)
    rejected, replacement = order.lines
    assert (
        rejected.status == "short"
        and "Not supplied by København: not found on the shelf" in line_reasons.line_reason(rejected)
    )
    assert replacement.status == "allocated" and replacement.source_location_id == shop.ham.id
    assert "Hamburg" in line_reasons.line_reason(replacement)  # why this store
    moving = {t.source_location.code: t.status for t in transfers.transfers_of(order)}
    assert moving == {"CPH": "cancelled", "HAM": "requested"}
    assert transfers.to_send(shop.cph.id).to_pick == []
    assert [e.kind for e in order.events][-2:] == ["rejected", "resourced"]
    assert_ledger_consistent()

    (ham_transfer,) = transfers.to_send(shop.ham.id).to_pick
    transfers.pick(ham_transfer, staff=shop.ham_clerk)
    transfers.ship(ham_transfer, staff=shop.ham_clerk, tracking="DHL 1")
    assert fresh(Order, order.id).status == "shipped"
    assert level(shop.boot, shop.ham) == (2, 0)
    assert_ledger_consistent()


def test_part_of_a_line_is_rejected_as_damaged_and_the_rest_keeps_moving(shop):
    receive(shop, shop.cph, 3)
    receive(shop, shop.ham, 3)
    order = web_order(shop, 2)
    (line,) = order.lines
    rejecting.reject(order, line_id=line.id, quantity=1, reason="damaged", staff=shop.cph_clerk)

    assert level(shop.boot, shop.cph) == (2, 1)  # one booked out as damaged, one still reserved
    damaged = db.session.scalar(
        select(StockMovement).where(StockMovement.location_id == shop.cph.id, StockMovement.on_hand_delta == -1)
    )
    assert damaged.kind == "write_off" and damaged.reason.startswith("Damaged") and damaged.allocated_delta == -1
    assert db.session.scalar(select(func.count()).select_from(CountTask)) == 0  # damaged: no count needed
    order = fresh(Order, order.id)
    assert sorted((ln.quantity, ln.status, ln.source_location.code) for ln in order.lines) == [
        (1, "allocated", "CPH"),
        (1, "allocated", "HAM"),
        (1, "short", "CPH"),
    ]
    assert {t.source_location.code: t.status for t in transfers.transfers_of(order)} == {
        "CPH": "requested",
        "HAM": "requested",
    }
    assert_ledger_consistent()


def test_the_rejecting_store_is_not_asked_again_for_that_variant_for_a_while(shop, app):
    receive(shop, shop.cph, 5)
    receive(shop, shop.ham, 5)
    order = web_order(shop)
    rejecting.reject(order, line_id=order.lines[0].id, quantity=1, reason="wrong_item", staff=shop.cph_clerk)
    assert level(shop.boot, shop.cph) == (5, 0)  # wrong item: released, counted later

    again = web_order(shop)
    assert again.lines[0].source_location_id == shop.ham.id
    later = utcnow() + timedelta(hours=app.config["OMNISTORE_REJECTION_EXCLUDE_HOURS"] + 1)
    request = rejecting.sourcing.SourcingRequest(
        lines=(order_rules.LineRequest(shop.boot.id, 1),), fulfilment="delivery", delivery_country="DK", now=later
    )
    assert rejecting.sourcing.propose(request).lines[0].source.code == "CPH"


def test_nobody_else_has_it_the_line_is_dropped_and_an_empty_order_cancelled(shop):
    receive(shop, shop.cph, 1)
    order = web_order(shop)
    rejection = rejecting.reject(order, line_id=order.lines[0].id, quantity=1, reason="not_found", staff=shop.cph_clerk)
    assert rejection.outcome == "unavailable"
    order = fresh(Order, order.id)
    assert order.status == "cancelled"
    assert "order.cancelled" in topics()
    assert level(shop.boot, shop.cph) == (0, 0)
    assert_ledger_consistent()


def test_a_store_with_an_outgoing_capacity_of_0_is_not_sourced_from(shop):
    receive(shop, shop.cph, 2)
    receive(shop, shop.ham, 2)
    receive(shop, shop.ber, 2)
    shop.ham.transfer_capacity = 0
    db.session.commit()
    order = web_order(shop)
    rejecting.reject(order, line_id=order.lines[0].id, quantity=1, reason="not_found", staff=shop.cph_clerk)
    order = fresh(Order, order.id)
    assert order.lines[-1].source_location.code == "BER"
    shop.ber.transfer_capacity = 0
    db.session.commit()
    request = rejecting.sourcing.SourcingRequest(
        lines=(order_rules.LineRequest(shop.boot.id, 9),), fulfilment="pickup", pickup_location_id=shop.cph.id
    )
    with_none = rejecting.sourcing.propose(request)
    assert not with_none.complete


@pytest.mark.parametrize(
    ("line", "quantity", "reason", "field"),
    [
        ("own", 0, "not_found", "quantity"),
        ("own", 2, "not_found", "quantity"),
        ("own", "one", "not_found", "quantity"),
        ("own", 1, "lost", "reason"),
        ("own", 1, "", "reason"),
        ("other", 1, "not_found", "line"),
        (None, 1, "not_found", "line"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_changes_nothing(shop, line, quantity, reason, field):
    receive(shop, shop.cph, 3)
    order, other = web_order(shop), web_order(shop)
    line_id = {"own": order.lines[0].id, "other": other.lines[0].id, None: None}[line]
    with pytest.raises(ValidationFailed) as refused:
        rejecting.reject(order, line_id=line_id, quantity=quantity, reason=reason, staff=shop.cph_clerk)
    assert field in refused.value.fields
    assert level(shop.boot, shop.cph) == (3, 2)
    assert db.session.scalar(select(func.count()).select_from(LineRejection)) == 0


def test_only_where_the_goods_are_and_only_before_they_leave(shop):
    receive(shop, shop.cph, 3)
    order = web_order(shop)
    line_id = order.lines[0].id
    with pytest.raises(OutOfScope):
        rejecting.reject(order, line_id=line_id, quantity=1, reason="not_found", staff=shop.ham_clerk)
    (transfer,) = transfers.transfers_of(order)
    transfers.pick(transfer, staff=shop.cph_clerk)
    transfers.ship(transfer, staff=shop.cph_clerk, tracking="PN 1")
    with pytest.raises(InvalidTransition):
        rejecting.reject(fresh(Order, order.id), line_id=line_id, quantity=1, reason="not_found", staff=shop.cph_clerk)
    assert level(shop.boot, shop.cph) == (2, 0)


# --- pickup orders: the customer chooses ------------------------------------------------------------------


def desk_rejection(shop, reason="not_found"):
    """A pickup order at Hamburg supplied by Hamburg itself, its unit rejected at Hamburg's desk."""
    receive(shop, shop.ham, 1)
    receive(shop, shop.cph, 2)
    receive(shop, shop.ber, 2)
    order = web_order(shop, fulfilment="pickup", pickup=shop.ham)
    assert order.lines[0].source_location_id == shop.ham.id
    rejection = preparing.reject_at_desk(
        order, staff=shop.ham_clerk, line_id=order.lines[0].id, quantity=1, reason=reason
    )
    return fresh(Order, order.id), fresh(LineRejection, rejection.id)


def test_a_rejected_pickup_line_never_moves_silently_the_customer_is_asked(shop, app):
    order, rejection = desk_rejection(shop, "wrong_item")
    assert rejection.outcome == "pending"
    assert rejection.choice_due_at > utcnow() + timedelta(hours=app.config["OMNISTORE_REJECTION_CHOICE_HOURS"] - 1)
    assert level(shop.boot, shop.ham) == (1, 0)  # wrong item: released, and a count asked for
    assert db.session.scalar(select(CountTask.reason).where(CountTask.location_id == shop.ham.id)) == "wrong_item"
    assert "order.line_rejected" in topics()
    assert order.status == "placed" and [line.status for line in order.lines] == ["short"]
    choices = rejection_choices.choices(rejection)
    assert choices.wait is not None and choices.wait.source.code == "BER"  # Berlin is nearer than København
    assert [o.location.code for o in choices.stores] == ["BER", "CPH"]


def test_the_customer_collects_it_at_another_store_a_new_order_there(shop):
    order, rejection = desk_rejection(shop)
    rejection_choices.choose(order, rejection.id, "store", store_id=shop.cph.id)
    rejection = fresh(LineRejection, rejection.id)
    assert rejection.outcome == "moved" and rejection.decided_by == "customer"
    moved = rejection.replacement_order
    assert moved.pickup_location_id == shop.cph.id and moved.customer_id == shop.customer.id
    assert [(ln.source_location.code, ln.status) for ln in moved.lines] == [("CPH", "allocated")]
    assert moved.pickup is not None and moved.payment_state == "paid"
    assert level(shop.boot, shop.cph) == (2, 1)
    assert topics().count("order.confirmation") == 2
    with pytest.raises(InvalidTransition):
        rejection_choices.choose(fresh(Order, order.id), rejection.id, "drop")
    assert_ledger_consistent()


def test_the_customer_waits_for_a_transfer_to_the_same_store(shop):
    order, rejection = desk_rejection(shop)
    rejection_choices.choose(order, rejection.id, "wait")
    order = fresh(Order, order.id)
    assert [(ln.source_location.code, ln.status) for ln in order.lines] == [("HAM", "short"), ("BER", "allocated")]
    (transfer,) = [t for t in transfers.transfers_of(order) if t.status != "cancelled"]
    assert (transfer.source_location.code, transfer.destination_location.code) == ("BER", "HAM")
    assert level(shop.boot, shop.ber) == (2, 1)


def test_the_customer_drops_the_only_line_and_the_order_is_cancelled(shop):
    order, rejection = desk_rejection(shop)
    rejection_choices.choose(order, rejection.id, "drop")
    assert fresh(Order, order.id).status == "cancelled"
    assert fresh(LineRejection, rejection.id).outcome == "dropped"


def test_a_bad_choice_is_refused_and_changes_nothing(shop):
    order, rejection = desk_rejection(shop)
    with pytest.raises(ValidationFailed):
        rejection_choices.choose(order, rejection.id, "teleport")
    with pytest.raises(ValidationFailed):
        rejection_choices.choose(order, rejection.id, "store", store_id=shop.ham.id)  # the rejecting store
    assert fresh(LineRejection, rejection.id).outcome == "pending"


def test_the_default_after_the_time_to_choose_is_to_wait_else_to_drop(shop, app):
    order, rejection = desk_rejection(shop)
    assert rejection_choices.run(utcnow()).waited == []  # not due yet
    due = utcnow() + timedelta(hours=app.config["OMNISTORE_REJECTION_CHOICE_HOURS"] + 1)
    report = rejection_choices.run(due)
    assert report.waited == [order.number] and report.dropped == []
    assert fresh(LineRejection, rejection.id).decided_by == "default"
    assert rejection_choices.run(due).waited == []  # idempotent

    result = app.test_cli_runner().invoke(args=["pickups", "rejections"])
    assert result.exit_code == 0 and "0 rejected lines sent from another store" in result.output


def test_the_default_drops_what_nobody_can_send(shop, app):
    receive(shop, shop.ham, 1)
    order = web_order(shop, fulfilment="pickup", pickup=shop.ham)
    rejection = preparing.reject_at_desk(
        order, staff=shop.ham_clerk, line_id=order.lines[0].id, quantity=1, reason="damaged"
    )
    due = utcnow() + timedelta(hours=app.config["OMNISTORE_REJECTION_CHOICE_HOURS"] + 1)
    assert rejection_choices.run(due).dropped == [order.number]
    assert fresh(LineRejection, rejection.id).outcome == "dropped"
    assert fresh(Order, order.id).status == "cancelled"


# --- ship home free -----------------------------------------------------------------------------------------

HOME = {"name": "Ida Holm", "street": "Nørregade 1", "postcode": "1165", "city": "København", "country": "dk"}


def test_the_customer_has_it_shipped_home_free_sourced_as_usual_and_the_fee_waived(shop):
    order, rejection = desk_rejection(shop)
    goods = order.lines[0].unit_price_minor
    assert rejection_choices.choices(rejection).ship  # a paid order: offered

    rejection_choices.choose(order, rejection.id, "ship", address=dict(HOME))

    rejection = fresh(LineRejection, rejection.id)
    assert rejection.outcome == "moved" and rejection.decided_by == "customer"
    shipped = rejection.replacement_order
    assert shipped.fulfilment == "delivery" and shipped.customer_id == shop.customer.id
    assert shipped.delivery_address == {**HOME, "country": "DK"}  # as the address rule cleaned it
    assert shipped.market_code == order.market_code and shipped.payment_state == "paid"
    # The usual rules for a Danish address: København first; Hamburg (which rejected it) is not asked again.
    assert [(ln.source_location.code, ln.status) for ln in shipped.lines] == [("CPH", "allocated")]
    assert level(shop.boot, shop.cph) == (2, 1)
    # The fee is waived and recorded so: the total is the goods, and the order says why.
    fee = db.session.get(type(shipped.market), shipped.market_code).shipping_fee_minor
    assert fee > 0 and goods < shipped.market.free_shipping_from_minor  # there would have been a fee
    assert shipped.shipping_fee_waived and shipped.total_minor == goods
    assert ordering.shipping_fee_minor(shipped) == 0
    sourced = next(e for e in shipped.events if e.kind == "sourced")
    assert sourced.detail["shipping_fee_minor"] == 0 and sourced.detail["shipping_fee_waived_minor"] == fee
    assert fresh(Order, order.id).status == "cancelled"  # nothing left to collect at Hamburg
    assert any(e.kind == "line_shipped_home" for e in fresh(Order, order.id).events)
    assert topics().count("order.confirmation") == 2
    assert_ledger_consistent()


def test_the_confirmation_of_the_delivery_says_the_fee_was_waived_in_the_customers_language(shop):
    from flask_babel import force_locale
    from flask_babel import gettext as translate

    shop.customer.locale = "da"
    db.session.commit()
    order, rejection = desk_rejection(shop)
    rejection_choices.choose(order, rejection.id, "ship", address=dict(HOME))
    shipped = fresh(LineRejection, rejection.id).replacement_order
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "order.confirmation").order_by(OutboxMessage.id.desc())
    ).first()
    assert message.payload["locale"] == "da" and shipped.number in message.subject
    with force_locale("da"):
        waived = translate("Free: we waived the delivery fee")
    assert waived in message.body and waived in message.payload["html"]


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({**HOME, "postcode": "20095"}, "postcode"),  # a German postcode for Denmark
        ({**HOME, "postcode": "１１６５"}, "postcode"),  # full-width digits
        ({**HOME, "street": ""}, "street"),
        ({**HOME, "city": "København\x00"}, "city"),
        ({**HOME, "name": "I" * 500}, "name"),
        ({**HOME, "country": "SE"}, "country"),  # not delivered to
        ({}, "name"),
        ("Nørregade 1", "name"),  # not a form's fields at all
    ],
)
def test_a_bad_address_is_refused_at_its_field_and_changes_nothing(shop, address, field):
    order, rejection = desk_rejection(shop)
    orders_before = db.session.scalar(select(func.count()).select_from(Order))
    with pytest.raises(ValidationFailed) as refused:
        rejection_choices.choose(order, rejection.id, "ship", address=address)
    assert field in refused.value.fields
    assert fresh(LineRejection, rejection.id).outcome == "pending"
    assert db.session.scalar(select(func.count()).select_from(Order)) == orders_before
    assert level(shop.boot, shop.cph) == (2, 0)


def test_sending_the_same_choice_again_ships_once(shop):
    order, rejection = desk_rejection(shop)
    rejection_choices.choose(order, rejection.id, "ship", address=dict(HOME))
    orders_after = db.session.scalar(select(func.count()).select_from(Order))
    again = rejection_choices.choose(fresh(Order, order.id), rejection.id, "ship", address=dict(HOME))
    assert again.outcome == "moved"
    assert db.session.scalar(select(func.count()).select_from(Order)) == orders_after
    assert level(shop.boot, shop.cph) == (2, 1)
    with pytest.raises(InvalidTransition):  # another choice after it: decided already
        rejection_choices.choose(fresh(Order, order.id), rejection.id, "drop")


def test_when_no_store_can_ship_it_the_customer_is_told_and_nothing_changes(shop):
    receive(shop, shop.ham, 1)
    order = web_order(shop, fulfilment="pickup", pickup=shop.ham)
    rejection = preparing.reject_at_desk(
        order, staff=shop.ham_clerk, line_id=order.lines[0].id, quantity=1, reason="damaged"
    )
    order = fresh(Order, order.id)
    with pytest.raises(InvalidTransition, match="No store can send it"):
        rejection_choices.choose(order, rejection.id, "ship", address=dict(HOME))
    assert fresh(LineRejection, rejection.id).outcome == "pending"
    assert fresh(Order, order.id).status == "placed"
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_an_order_to_pay_at_pickup_is_not_offered_ship_home(shop):
    receive(shop, shop.ham, 1)
    receive(shop, shop.cph, 1)
    order = ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=shop.customer.id,
            lines=(order_rules.LineRequest(shop.boot.id, 1),),
            fulfilment="pickup",
            payment_state="pay_at_pickup",
            pickup_location_id=shop.ham.id,
        ),
        staff=shop.ham_clerk,
    )
    rejection = preparing.reject_at_desk(
        order, staff=shop.ham_clerk, line_id=order.lines[0].id, quantity=1, reason="not_found"
    )
    assert not rejection_choices.choices(fresh(LineRejection, rejection.id)).ship
    with pytest.raises(InvalidTransition):
        rejection_choices.choose(fresh(Order, order.id), rejection.id, "ship", address=dict(HOME))
    assert fresh(LineRejection, rejection.id).outcome == "pending"


# --- races (real threads on PostgreSQL) -------------------------------------------------------------------


def _race(app, *work):
    results, barrier = [None] * len(work), threading.Barrier(len(work))

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                results[i] = work[i]()
            except Exception as error:  # noqa: BLE001 — reported to the test
                results[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.parametrize("round_", range(4))
def test_a_rejection_racing_a_cancel_of_the_same_order(app, shop, round_):
    if app.database_kind != "postgresql":
        pytest.skip("real concurrency on PostgreSQL")
    receive(shop, shop.cph, 3)
    receive(shop, shop.ham, 3)
    order = web_order(shop, 2)
    order_id, line_id = order.lines[0].order_id, order.lines[0].id

    def reject():
        return rejecting.reject(
            db.session.get(Order, order_id),
            line_id=line_id,
            quantity=1,
            reason="not_found",
            staff=db.session.get(type(shop.cph_clerk), shop.cph_clerk.id),
        ).outcome

    def cancel():
        return cancelling.cancel(db.session.get(Order, order_id), by_customer=True, reason="changed my mind").status

    rejected, cancelled = _race(app, reject, cancel)
    assert cancelled == "cancelled", cancelled
    # Either the rejection came first (then the cancel released the rest, the re-sourced unit too) or the
    # cancel did (then the rejection was refused). Never both half-way.
    assert rejected == "resourced" or isinstance(rejected, InvalidTransition), rejected
    assert fresh(Order, order_id).status == "cancelled"
    cph, ham = level(shop.boot, shop.cph), level(shop.boot, shop.ham)
    assert cph == ((2, 0) if rejected == "resourced" else (3, 0))
    assert ham == (3, 0)
    assert_ledger_consistent()


@pytest.mark.parametrize("round_", range(4))
def test_a_rejection_racing_a_handover_of_the_same_stock(app, shop, round_):
    if app.database_kind != "postgresql":
        pytest.skip("real concurrency on PostgreSQL")
    receive(shop, shop.ham, 2)
    first = web_order(shop, fulfilment="pickup", pickup=shop.ham, staff=shop.ham_clerk)
    second = web_order(shop, fulfilment="pickup", pickup=shop.ham, staff=shop.ham_clerk)
    preparing.mark_ready(first, staff=shop.ham_clerk, shelf_location="A1")
    first_id, second_id, line_id = first.id, second.id, second.lines[0].id
    staff_id = shop.ham_clerk.id

    def hand():
        return handover.hand_over(
            db.session.get(Order, first_id),
            staff=db.session.get(type(shop.ham_clerk), staff_id),
            verification="qr",
        ).status

    def reject():
        return preparing.reject_at_desk(
            db.session.get(Order, second_id),
            staff=db.session.get(type(shop.ham_clerk), staff_id),
            line_id=line_id,
            quantity=1,
            reason="not_found",
        ).outcome

    handed, rejected = _race(app, hand, reject)
    assert handed == "collected" and rejected == "pending", (handed, rejected)
    assert level(shop.boot, shop.ham) == (0, 0)
    assert_ledger_consistent()


def test_two_tablets_rejecting_the_same_line_at_once_reject_it_once(app, shop):
    if app.database_kind != "postgresql":
        pytest.skip("real concurrency on PostgreSQL")
    receive(shop, shop.cph, 3)
    receive(shop, shop.ham, 3)
    order = web_order(shop)
    order_id, line_id = order.id, order.lines[0].id

    def reject():
        return rejecting.reject(
            db.session.get(Order, order_id),
            line_id=line_id,
            quantity=1,
            reason="not_found",
            staff=db.session.get(type(shop.cph_clerk), shop.cph_clerk.id),
        ).outcome

    results = _race(app, reject, reject, reject)
    assert sorted(map(str, results)).count("resourced") == 1, results
    assert level(shop.boot, shop.cph) == (2, 0) and level(shop.boot, shop.ham) == (3, 1)
    assert db.session.scalar(select(func.count()).select_from(LineRejection)) == 1
    assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 2
    assert db.session.scalar(select(func.count()).select_from(Transfer).where(Transfer.status != "cancelled")) == 1
    assert_ledger_consistent()


@pytest.mark.parametrize("round_", range(4))
def test_ship_home_racing_another_choice_and_the_default_decides_once(app, shop, round_):
    """Two phones (ship home; leave it out) and the default job at the same moment: one decision wins, at most
    one delivery order is placed, and the stock is reserved exactly for what won."""
    if app.database_kind != "postgresql":
        pytest.skip("real concurrency on PostgreSQL")
    from omnistore.pickups import customer as customer_pickups

    order, rejection = desk_rejection(shop)
    token, rejection_id = order.pickup.token, rejection.id
    due = utcnow() + timedelta(hours=app.config["OMNISTORE_REJECTION_CHOICE_HOURS"] + 1)
    db.session.commit()

    def ship():
        return customer_pickups.choose(token, rejection_id, "ship", address=dict(HOME)).status

    def drop():
        return customer_pickups.choose(token, rejection_id, "drop").status

    def default():
        return str(rejection_choices.run(due))

    results = _race(app, ship, drop, default)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, InvalidTransition)], results
    rejection = fresh(LineRejection, rejection_id)
    deliveries = db.session.scalars(select(Order).where(Order.fulfilment == "delivery")).all()
    if rejection.outcome == "moved":
        assert [o.id for o in deliveries] == [rejection.replacement_order_id]
        assert deliveries[0].shipping_fee_waived
    else:
        assert rejection.outcome in ("dropped", "resourced") and deliveries == []
    reserved = sum(level(shop.boot, place)[1] for place in (shop.cph, shop.ham, shop.ber))
    assert reserved == (0 if rejection.outcome == "dropped" else 1)
    assert_ledger_consistent()


# --- property: any sequence of rejections keeps the ledger, the summaries and the order's units whole --------

REJECTIONS = st.lists(
    st.tuples(
        st.integers(0, 3),  # which line (by position among the order's lines)
        st.one_of(st.integers(-1, 4), st.sampled_from(["2", "x", ""])),
        st.sampled_from(["not_found", "damaged", "wrong_item", "lost"]),
    ),
    max_size=6,
)


@pytest.fixture
def books(make):
    """Three stores with a clerk each and a customer (created once; every example gets a variant of its own)."""
    made = make.shop(
        "CPH", "HAM", "BER", team={f"{code}_clerk": ("clerk", code.upper()) for code in ("cph", "ham", "ber")}
    )
    stores = [made.cph, made.ham, made.ber]
    customer = make.customer("Ida", "Holm", email="ida@example.test", created_channel="web")
    return stores, {loc.id: made[f"{loc.code.lower()}_clerk"] for loc in stores}, customer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=REJECTIONS)
def test_any_sequence_of_rejections_keeps_the_books(make, books, steps):
    """Whatever is rejected, however much and why (some refused): every level is explained by its movements
    and its summary, every unit ordered is live or rejected and not replaced, and what is reserved for the
    variant is exactly its live lines."""
    (cph, ham, ber), clerks, customer = books
    boot = make.variant(size="42", price_minor=3000)
    for location, units in ((cph, 3), (ham, 2), (ber, 2)):
        ledger.receive(ledger.StockChange(boot.id, location.id, units, "delivery note"), None)
    order = ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=customer.id,
            lines=(order_rules.LineRequest(boot.id, 3),),
            fulfilment="delivery",
            payment_state="paid",
            delivery_address=DK_ADDRESS,
        ),
        staff=clerks[cph.id],
    )
    for position, quantity, reason in steps:
        order = fresh(Order, order.id)
        lines = [line for line in order.lines if line.status == "allocated"]
        if not lines:
            break
        line = lines[position % len(lines)]
        whole = int(quantity) if isinstance(quantity, str) and quantity.isdigit() else quantity
        valid = reason != "lost" and isinstance(whole, int) and 1 <= whole <= line.quantity
        try:
            rejecting.reject(
                order, line_id=line.id, quantity=quantity, reason=reason, staff=clerks[line.source_location_id]
            )
            assert valid, (quantity, reason, line.quantity)
        except ValidationFailed:
            assert not valid, (quantity, reason, line.quantity)
        assert_ledger_explains_every_level()
        order = fresh(Order, order.id)
        live = sum(ln.quantity for ln in order.lines if ln.status == "allocated")
        mine = select(func.coalesce(func.sum(LineRejection.quantity), 0)).where(LineRejection.order_id == order.id)
        rejected = db.session.scalar(mine)
        replaced = db.session.scalar(mine.where(LineRejection.outcome == "resourced"))
        assert live + rejected - replaced == 3 or order.status == "cancelled"
        reserved = db.session.scalar(select(func.sum(StockLevel.allocated)).where(StockLevel.variant_id == boot.id))
        assert reserved == (0 if order.status == "cancelled" else live)
