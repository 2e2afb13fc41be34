"""Drafts hold stock, holds expire, placing is final and atomic, cancelling gives the stock back."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import InsufficientStock, InvalidTransition, NotFound, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers.models import Customer
from omnistore.orders import cancelling, line_reasons, order_rules
from omnistore.orders import drafts as order_drafts
from omnistore.orders import placing as ordering
from omnistore.orders.models import DraftHold, Order, OrderEvent, OrderLine, Pickup, Transfer
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.models import Staff
from tests.helpers import count_statements


@pytest.fixture
def shop(make):
    ham, ber, cph = make.location("HAM"), make.location("BER"), make.location("CPH")
    clerk = make.staff(location=ham)
    customer = Customer(first_name="Jürgen", last_name="Ø", email="j@example.test", created_channel="store")
    db.session.add(customer)
    db.session.commit()
    variant = make.variant(price_minor=3000)
    return {"HAM": ham, "BER": ber, "CPH": cph, "clerk": clerk, "customer": customer, "variant": variant}


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


def test_a_draft_holds_the_units_of_its_plan_and_shows_why(make, shop):
    make.stock(shop["variant"], shop["CPH"], 3)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    state = order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    assert level(shop["variant"], shop["CPH"]) == (3, 2)
    assert state.proposal.lines[0].source.code == "CPH"
    assert "Nearest store with 3 available" in state.proposal.lines[0].reason
    assert 14 * 60 < state.seconds_left() <= 15 * 60 and state.held_units == 2 and state.can_place
    # Changing the quantity re-holds; the draft does not compete with its own holds.
    state = order_drafts.set_line(draft, shop["variant"].id, 3, staff=shop["clerk"])
    assert level(shop["variant"], shop["CPH"]) == (3, 3) and state.proposal.complete
    state = order_drafts.set_line(draft, shop["variant"].id, 1, staff=shop["clerk"])
    assert level(shop["variant"], shop["CPH"]) == (3, 1)
    state = order_drafts.remove_line(draft, shop["variant"].id, staff=shop["clerk"])
    assert level(shop["variant"], shop["CPH"]) == (3, 0) and state.proposal is None and state.held_units == 0
    assert_ledger_consistent()


def test_after_the_holds_move_the_other_ways_are_what_a_fresh_reading_proposes(make, shop):
    """A change re-holds, then the builder proposes the other ways of getting the goods from the reading the
    re-hold made, with no second read: it must come to what reading the stock afresh comes to, also when
    the holds moved to another store and the units are the last ones."""
    from omnistore.orders import counter

    make.stock(shop["variant"], shop["CPH"], 2)
    make.stock(shop["variant"], shop["BER"], 1)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 1, staff=shop["clerk"])
    changes = [
        {"fulfilment": "pickup", "pickup_location_id": shop["BER"].id},  # the hold moves to Berlin's last unit
        {"fulfilment": "pickup", "pickup_location_id": shop["CPH"].id},  # and on to Copenhagen
        {"fulfilment": "pickup", "pickup_location_id": shop["HAM"].id},  # collected here, from elsewhere
    ]
    for change in changes:
        state = order_drafts.choose_fulfilment(draft, staff=shop["clerk"], **change)
        assert state.reading is not None and state.held_units == 1
        with count_statements("SELECT") as seen:
            after = counter.option_summaries(draft, state, reading=state.reading)
        assert not [statement for statement in seen if "FROM stock_level" in statement], seen
        fresh = order_drafts.draft_state(draft)
        assert counter.option_summaries(draft, fresh, reading=fresh.reading) == after, change
        assert fresh.proposal.lines == state.proposal.lines
    assert_ledger_consistent()


def test_holds_expire_and_are_released_once(make, shop):
    make.stock(shop["variant"], shop["HAM"], 2)
    draft = order_drafts.start_draft(shop["clerk"])
    order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    assert level(shop["variant"], shop["HAM"]) == (2, 2)
    assert order_drafts.release_expired_holds(utcnow()) == 0
    later = utcnow() + timedelta(minutes=16)
    assert order_drafts.release_expired_holds(later) == 2
    assert order_drafts.release_expired_holds(later) == 0
    assert level(shop["variant"], shop["HAM"]) == (2, 0)
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 0
    state = order_drafts.draft_state(draft)
    assert state.held_units == 0 and state.seconds_left() == 0
    assert_ledger_consistent()


def test_hold_minutes_are_configurable(app, make, shop):
    app.config["OMNISTORE_HOLD_MINUTES"] = 5
    make.stock(shop["variant"], shop["HAM"], 2)
    draft = order_drafts.start_draft(shop["clerk"])
    state = order_drafts.set_line(draft, shop["variant"].id, 1, staff=shop["clerk"])
    assert 4 * 60 < state.seconds_left() <= 5 * 60


def test_placing_a_draft_converts_holds_into_the_order(make, shop):
    make.stock(shop["variant"], shop["HAM"], 1)
    make.stock(shop["variant"], shop["CPH"], 5)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    order = ordering.place(draft, idempotency_key="form-1", staff=shop["clerk"])
    assert order.number.startswith("OS-") and len(order.number) == 12
    assert (order.status, order.channel, order.fulfilment) == ("placed", "store", "pickup")
    assert order.total_minor == 6000 and order.pickup_location_id == shop["HAM"].id
    assert level(shop["variant"], shop["CPH"]) == (5, 2)
    assert level(shop["variant"], shop["HAM"]) == (1, 0)
    line = order.lines[0]
    assert line.source_location.code == "CPH" and "Nearest store" in line_reasons.line_reason(line)
    # The reason is stored as a code: a German or Danish viewer reads it in their language.
    from flask_babel import force_locale

    with force_locale("de"):
        assert line_reasons.line_reason(line).startswith("Nächste Filiale mit 5 verfügbar: København")
    with force_locale("da"):
        assert line_reasons.line_reason(line).startswith("Nærmeste butik med 5 tilgængelige: København")
    transfer = db.session.get(Transfer, line.transfer_id)
    assert (transfer.source_location_id, transfer.destination_location_id, transfer.status) == (
        shop["CPH"].id,
        shop["HAM"].id,
        "requested",
    )
    kinds = [
        e.kind
        for e in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    ]
    assert kinds[:2] == ["placed", "sourced"]
    assert (
        db.session.scalar(select(OutboxMessage.recipient).where(OutboxMessage.topic == "order.confirmation"))
        == "j@example.test"
    ), "the confirmation email is queued with the order"
    assert db.session.scalar(select(Pickup).where(Pickup.order_id == order.id)) is not None
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 0
    allocation = db.session.scalar(select(StockMovement).where(StockMovement.reference == order.number))
    assert allocation.kind == "allocation" and allocation.staff_id == shop["clerk"].id
    # The same draft submitted again (double tap) gives the same order.
    assert ordering.place(draft, idempotency_key="form-2", staff=shop["clerk"]).id == order.id
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert_ledger_consistent()


def test_goods_at_the_pickup_store_make_no_transfer(make, shop):
    make.stock(shop["variant"], shop["HAM"], 3)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    order = ordering.place(draft, staff=shop["clerk"])
    assert order.status == "placed" and order.lines[0].transfer_id is None
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 0


def test_units_gone_meanwhile_say_so_with_a_fresh_proposal(make, shop):
    make.stock(shop["variant"], shop["HAM"], 1)
    make.stock(shop["variant"], shop["BER"], 1)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 1, staff=shop["clerk"])
    order_drafts.release_expired_holds(utcnow() + timedelta(minutes=20))  # the hold ran out…
    other = ordering.place(
        ordering.PlaceOrder(  # …and a web order took the unit
            channel="web",
            customer_id=shop["customer"].id,
            lines=(order_rules.LineRequest(shop["variant"].id, 1),),
            fulfilment="pickup",
            payment_state="paid",
            pickup_location_id=shop["HAM"].id,
        ),
        api_client=None,
        staff=shop["clerk"],
    )
    assert other.lines[0].source_location_id == shop["HAM"].id
    db.session.execute(db.update(StockLevel).values(allocated=StockLevel.on_hand))  # the rest goes too
    db.session.add(
        StockMovement(
            variant_id=shop["variant"].id,
            location_id=shop["BER"].id,
            kind="allocation",
            allocated_delta=1,
            reason="test",
        )
    )
    db.session.commit()
    with pytest.raises(InsufficientStock) as error:
        ordering.place(draft, staff=shop["clerk"])
    assert "no longer available" in error.value.message
    assert error.value.proposal is not None and not error.value.proposal.complete
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert order_drafts.draft_for(draft.token, shop["clerk"]).status == "open"
    assert_ledger_consistent()


def test_cancel_releases_allocations_and_open_transfers(make, shop):
    make.stock(shop["variant"], shop["HAM"], 1)
    make.stock(shop["variant"], shop["CPH"], 5)
    other = make.variant(price_minor=1000)
    make.stock(other, shop["HAM"], 1)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    order_drafts.set_line(draft, other.id, 1, staff=shop["clerk"])
    order = ordering.place(draft, staff=shop["clerk"])
    assert sorted(line.source_location.code for line in order.lines) == ["CPH", "HAM"]
    cancelling.cancel(order, staff=shop["clerk"], reason="changed her mind")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "cancelled" and {line.status for line in order.lines} == {"released"}
    assert level(shop["variant"], shop["CPH"]) == (5, 0) and level(other, shop["HAM"]) == (1, 0)
    assert {t.status for t in db.session.scalars(select(Transfer))} == {"cancelled"}
    assert (
        db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.topic == "order.cancelled")
        )
        == 1
    )
    with pytest.raises(InvalidTransition):
        cancelling.cancel(order, staff=shop["clerk"], reason="again")
    assert_ledger_consistent()


@pytest.mark.parametrize("quantity", [0, -1, 1000, "abc", None, 2.5, True])
def test_bad_quantities_change_nothing(make, shop, quantity):
    make.stock(shop["variant"], shop["HAM"], 5)
    draft = order_drafts.start_draft(shop["clerk"])
    if quantity == 0:
        state = order_drafts.set_line(draft, shop["variant"].id, quantity, staff=shop["clerk"])
        assert state.proposal is None
    else:
        with pytest.raises(ValidationFailed):
            order_drafts.set_line(draft, shop["variant"].id, quantity, staff=shop["clerk"])
    assert level(shop["variant"], shop["HAM"]) == (5, 0)


def test_unknown_variant_and_other_stores_drafts(make, shop):
    draft = order_drafts.start_draft(shop["clerk"])
    with pytest.raises(NotFound):
        order_drafts.set_line(draft, 999_999, 1, staff=shop["clerk"])
    stranger = make.staff(location=shop["BER"])
    with pytest.raises(OutOfScope):
        order_drafts.draft_for(draft.token, stranger)
    with pytest.raises(OutOfScope):
        order_drafts.set_line(draft, shop["variant"].id, 1, staff=stranger)
    with pytest.raises(NotFound):
        order_drafts.draft_for("nonsense", shop["clerk"])


def test_fulfilment_choices_are_checked(make, shop):
    shop["BER"].pickup_enabled = False
    db.session.commit()
    make.stock(shop["variant"], shop["HAM"], 5)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 1, staff=shop["clerk"])
    with pytest.raises(ValidationFailed) as error:
        order_drafts.choose_fulfilment(draft, "pickup", pickup_location_id=shop["BER"].id, staff=shop["clerk"])
    assert "pickup_location" in error.value.fields
    with pytest.raises(ValidationFailed) as error:
        order_drafts.choose_fulfilment(
            draft,
            "delivery",
            staff=shop["clerk"],
            address={"name": "A", "street": "B", "postcode": "123", "city": "C", "country": "DE"},
        )
    assert "postcode" in error.value.fields
    state = order_drafts.choose_fulfilment(
        draft,
        "delivery",
        staff=shop["clerk"],
        address={"name": "Jürgen Ø", "street": "Große Str. 1", "postcode": "20095", "city": "Hamburg", "country": "DE"},
    )
    assert state.proposal.shipping_fee_minor == 495 and state.proposal.total_minor == 3495
    order = ordering.place(draft, staff=shop["clerk"])
    assert order.fulfilment == "delivery" and order.total_minor == 3495 and order.payment_state == "paid"
    assert ordering.shipping_fee_minor(order) == 495
    transfer = db.session.scalar(select(Transfer))
    assert transfer.destination_location_id is None and transfer.source_location_id == shop["HAM"].id


def test_a_draft_needs_a_customer_before_placing(make, shop):
    make.stock(shop["variant"], shop["HAM"], 5)
    draft = order_drafts.start_draft(shop["clerk"])
    order_drafts.set_line(draft, shop["variant"].id, 1, staff=shop["clerk"])
    with pytest.raises(ValidationFailed) as error:
        ordering.place(draft, staff=shop["clerk"])
    assert "customer" in error.value.fields
    assert order_drafts.draft_state(draft).held_units == 1
    state = order_drafts.set_customer(draft, shop["customer"].id, staff=shop["clerk"])
    assert state.can_place


def test_abandoning_a_draft_releases_its_holds(make, shop):
    make.stock(shop["variant"], shop["HAM"], 5)
    draft = order_drafts.start_draft(shop["clerk"])
    order_drafts.set_line(draft, shop["variant"].id, 4, staff=shop["clerk"])
    order_drafts.abandon(draft, staff=shop["clerk"])
    assert level(shop["variant"], shop["HAM"]) == (5, 0)
    with pytest.raises(NotFound):
        order_drafts.draft_for(draft.token, shop["clerk"])


def test_the_cli_releases_expired_holds(app, make, shop):
    make.stock(shop["variant"], shop["HAM"], 3)
    draft = order_drafts.start_draft(shop["clerk"])
    order_drafts.set_line(draft, shop["variant"].id, 3, staff=shop["clerk"])
    db.session.execute(db.update(DraftHold).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["holds", "release"])
    assert result.exit_code == 0 and "Released 3 held unit(s)." in result.output
    assert level(shop["variant"], shop["HAM"]) == (3, 0)


# --- never oversell: real threads, one app context (and database connection) each ---------------------------


def run_in_threads(app, count, work):
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                outcomes[i] = work(i)
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def _web_order(shop, lines, key=None):
    def work(i):
        return ordering.place(
            ordering.PlaceOrder(
                channel="web",
                customer_id=shop["customer"].id,
                lines=tuple(order_rules.LineRequest(shop["variant"].id, q) for q in lines),
                fulfilment="pickup",
                payment_state="paid",
                pickup_location_id=shop["HAM"].id,
            ),
            idempotency_key=key,
            staff=shop["clerk"],
        ).number

    return work


def _last_five(make, shop):
    for code, units in (("HAM", 2), ("BER", 2), ("CPH", 1)):
        make.stock(shop["variant"], shop[code], units)


def test_64_concurrent_orders_for_the_last_5_units_over_3_stores(app, make, shop):
    _last_five(make, shop)
    outcomes = run_in_threads(app, 64, _web_order(shop, [1]))
    placed = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if not isinstance(o, str)]
    assert len(placed) == 5 and len(set(placed)) == 5, outcomes
    assert len(refused) == 59 and all(isinstance(o, InsufficientStock) for o in refused), refused
    assert all("no longer available" in o.message for o in refused)
    assert sum(level(shop["variant"], shop[code])[1] for code in ("HAM", "BER", "CPH")) == 5
    assert db.session.scalar(select(func.count()).select_from(Order)) == 5
    assert db.session.scalar(select(func.sum(OrderLine.quantity))) == 5
    assert_ledger_consistent()


def test_64_concurrent_orders_of_two_lines_on_the_same_variant(app, make, shop):
    _last_five(make, shop)
    outcomes = run_in_threads(app, 64, _web_order(shop, [1, 1]))
    placed = [o for o in outcomes if isinstance(o, str)]
    assert all(isinstance(o, (str, InsufficientStock)) for o in outcomes), outcomes
    assert 2 <= len(placed) <= 2 and len(set(placed)) == len(placed)
    allocated = sum(level(shop["variant"], shop[code])[1] for code in ("HAM", "BER", "CPH"))
    assert allocated == 2 * len(placed) == db.session.scalar(select(func.sum(OrderLine.quantity)))
    assert_ledger_consistent()


def test_double_submit_of_one_idempotency_key_makes_one_order(app, make, shop):
    make.stock(shop["variant"], shop["HAM"], 50)
    outcomes = run_in_threads(app, 8, _web_order(shop, [1], key="web-order-77"))
    assert all(isinstance(o, str) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert level(shop["variant"], shop["HAM"]) == (50, 1)
    assert_ledger_consistent()


def test_double_tap_on_one_draft_from_two_tablets_makes_one_order(app, make, shop):
    make.stock(shop["variant"], shop["CPH"], 5)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    token, clerk_id = draft.token, shop["clerk"].id

    def tap(i):
        clerk = db.session.get(Staff, clerk_id)
        return ordering.place(order_drafts.draft_for(token, clerk), idempotency_key=f"tap-{i}", staff=clerk).number

    outcomes = run_in_threads(app, 6, tap)
    assert all(isinstance(o, str) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1
    assert level(shop["variant"], shop["CPH"]) == (5, 2)
    assert_ledger_consistent()


def test_expiry_run_and_placement_racing_never_double_release(app, make, shop):
    make.stock(shop["variant"], shop["HAM"], 4)
    draft = order_drafts.start_draft(shop["clerk"], customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["variant"].id, 2, staff=shop["clerk"])
    db.session.execute(db.update(DraftHold).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    token, clerk_id = draft.token, shop["clerk"].id

    def work(i):
        if i % 2:
            return order_drafts.release_expired_holds()
        clerk = db.session.get(Staff, clerk_id)
        return ordering.place(order_drafts.draft_for(token, clerk), staff=clerk).number

    outcomes = run_in_threads(app, 6, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len({o for o in outcomes if isinstance(o, str)}) == 1
    assert level(shop["variant"], shop["HAM"]) == (4, 2)
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 0
    assert_ledger_consistent()


def test_64_concurrent_orders_keep_every_suppliers_safety_stock(app, make, shop):
    # Safety stock 1 everywhere: HAM (the pickup store) sells both its own units, BER may send 1, CPH none.
    _last_five(make, shop)
    for code in ("HAM", "BER", "CPH"):
        shop[code].safety_stock = 1
    db.session.commit()
    outcomes = run_in_threads(app, 64, _web_order(shop, [1]))
    placed = [o for o in outcomes if isinstance(o, str)]
    assert all(isinstance(o, (str, InsufficientStock)) for o in outcomes), outcomes
    assert len(placed) == 3, outcomes
    assert level(shop["variant"], shop["HAM"]) == (2, 2)
    assert level(shop["variant"], shop["BER"]) == (2, 1)
    assert level(shop["variant"], shop["CPH"]) == (1, 0)
    assert_ledger_consistent()


def test_concurrent_orders_never_exceed_a_sources_transfer_capacity(app, make, shop):
    # HAM supplies BER's pickups; it sends at most 4 transfers a day, however many orders arrive at once.
    make.stock(shop["variant"], shop["HAM"], 50)
    shop["HAM"].transfer_capacity = 4
    db.session.commit()

    def work(i):
        return ordering.place(
            ordering.PlaceOrder(
                channel="web",
                customer_id=shop["customer"].id,
                lines=(order_rules.LineRequest(shop["variant"].id, 1),),
                fulfilment="pickup",
                payment_state="paid",
                pickup_location_id=shop["BER"].id,
            ),
            staff=shop["clerk"],
        ).number

    outcomes = run_in_threads(app, 24, work)
    placed = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if not isinstance(o, str)]
    assert all(isinstance(o, InsufficientStock) for o in refused), refused
    assert len(placed) == 4, outcomes
    assert (
        db.session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.source_location_id == shop["HAM"].id)
        )
        == 4
    )
    assert level(shop["variant"], shop["HAM"]) == (50, 4)
    # The refusal says the real reason: Hamburg's capacity, not "nowhere in the network".
    reasons = {line["reason"] for error in refused for line in error.detail["lines"]}
    assert reasons and all("transfers for today (4)" in reason for reason in reasons), reasons
    assert all(
        error.message.startswith(
            "Some items cannot be sent now: Hamburg has 46 but has sent all its transfers for today (4)"
        )
        for error in refused
    ), refused
    assert_ledger_consistent()
