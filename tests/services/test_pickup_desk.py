"""The pickup desk's verbs: pick, mark ready (partly short), find the order a customer shows, hand it over."""

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from omnistore.core.audit import AuditEvent
from omnistore.core.db import transaction
from omnistore.core.errors import AlreadyCollected, InvalidTransition, NotFound, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders import pickup_codes
from omnistore.orders.models import Order, OrderEvent, Pickup
from omnistore.pickups import handover as pickup_handover
from omnistore.pickups import preparing
from omnistore.pickups import queue as pickup_queue
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel, StockMovement


@pytest.fixture
def desk(make):
    """A Hamburg store with a clerk, a Berlin store with its clerk, and a variant in stock at both."""
    ham, ber = make.location("HAM"), make.location("BER")
    jacket = make.variant(make.product("Rain Jacket"), size="M")
    boots = make.variant(make.product("Boots"), size="42")
    for variant in (jacket, boots):
        make.stock(variant, ham, 10)
        make.stock(variant, ber, 10)

    class Desk:
        pass

    d = Desk()
    d.ham, d.ber, d.jacket, d.boots = ham, ber, jacket, boots
    d.clerk = make.staff("clerk", ham, name="Hanna Clerk")
    d.other_clerk = make.staff("clerk", ham, name="Ole Clerk")
    d.berlin_clerk = make.staff("clerk", ber, name="Bert Clerk")
    d.admin = make.staff("admin", ber, name="Ada Admin")
    return d


def placed_order(make, desk, *, lines=None, payment_state="paid", **fields):
    """A placed pickup order at Hamburg, its lines allocated there, with its pickup (token, short code)."""
    lines = lines or [(desk.jacket, 1, desk.ham), (desk.boots, 2, desk.ham)]
    order = make.order(desk.ham, lines=lines, payment_state=payment_state, **fields)
    for variant, quantity, source in lines:
        ledger.allocate(ledger.StockChange(variant.id, source.id, quantity, reference=order.number))
    with transaction():
        pickup_codes.open_pickup(order)
    return order


def ready_order(make, desk, **kwargs):
    order = placed_order(make, desk, **kwargs)
    return preparing.mark_ready(order, staff=desk.clerk, shelf_location="B-12")


def level(variant, location):
    db.session.expire_all()
    return db.session.scalar(db.select(StockLevel).filter_by(variant_id=variant.id, location_id=location.id))


def test_marking_lines_picked_records_it(make, desk):
    order = placed_order(make, desk)
    changed = preparing.mark_picked(order, [order.lines[0].id], desk.clerk)
    assert [line.id for line in changed] == [order.lines[0].id]
    db.session.expire_all()
    assert [line.status for line in db.session.get(Order, order.id).lines] == ["picked", "allocated"]
    assert db.session.query(OrderEvent).filter_by(order_id=order.id, kind="picked").count() == 1
    assert preparing.mark_picked(order, [order.lines[0].id], desk.clerk) == []  # again: nothing changes


@pytest.mark.parametrize("lines", [[], [999_999], None])
def test_picking_nothing_or_a_foreign_line_is_refused(make, desk, lines):
    order = placed_order(make, desk)
    with pytest.raises(ValidationFailed):
        preparing.mark_picked(order, lines, desk.clerk)


def test_mark_ready_sets_the_shelf_the_dates_and_tells_the_customer(app, make, desk):
    order = placed_order(make, desk)
    before = utcnow()
    preparing.mark_ready(order, staff=desk.clerk, shelf_location="  B-12 ")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "ready"
    pickup = order.pickup
    assert pickup.shelf_location == "B-12" and pickup.ready_at >= before
    # Seven days (the default hold) after today, to the end of that day in Hamburg.
    local_end = pickup.pickup_by.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local_end.hour, local_end.minute) == (23, 59)
    assert local_end.date() == (before.astimezone(ZoneInfo("Europe/Berlin")) + timedelta(days=7)).date()
    assert [line.status for line in order.lines] == ["allocated", "allocated"]  # reserved until handed over
    assert (
        db.session.query(OrderEvent).filter_by(order_id=order.id, to_status="ready").one().detail["shelf_location"]
        == "B-12"
    )
    assert level(desk.jacket, desk.ham).allocated == 1  # still reserved for the customer


def test_hold_days_of_the_store_set_the_pickup_by_date(make, desk):
    desk.ham.hold_days, desk.ham.reminder_day = 3, 2
    db.session.commit()
    order = ready_order(make, desk)
    db.session.expire_all()
    ready_at = db.session.get(Order, order.id).pickup
    assert (ready_at.pickup_by - ready_at.ready_at) < timedelta(days=4)
    assert (ready_at.pickup_by - ready_at.ready_at) > timedelta(days=3) - timedelta(seconds=1)


def test_a_short_line_goes_back_to_stock_with_its_reason(make, desk):
    order = placed_order(make, desk)
    boots = order.lines[1]
    preparing.mark_ready(order, staff=desk.clerk, short={boots.id: "Damaged sole"})
    db.session.expire_all()
    lines = db.session.get(Order, order.id).lines
    assert [(line.status, line.status_reason) for line in lines] == [("allocated", ""), ("short", "Damaged sole")]
    assert level(desk.boots, desk.ham).allocated == 0 and level(desk.boots, desk.ham).on_hand == 10
    release = db.session.query(StockMovement).filter_by(kind="release", variant_id=desk.boots.id).one()
    assert release.reference == order.number and release.reason == "Damaged sole"


@pytest.mark.parametrize(
    "short, field",
    [
        ({"LINE": ""}, "short-LINE"),  # no reason
        ({"LINE": "x" * 301}, "short-LINE"),  # too long
        ({999_999: "gone"}, "short"),  # not a line of this order
        ({"nonsense": "gone"}, "short"),
    ],
)
def test_bad_short_lines_are_refused_and_nothing_changes(make, desk, short, field):
    order = placed_order(make, desk)
    line_id = order.lines[1].id
    short = {(line_id if key == "LINE" else key): value for key, value in short.items()}
    field = field.replace("LINE", str(line_id))
    with pytest.raises(ValidationFailed) as refused:
        preparing.mark_ready(order, staff=desk.clerk, short=short)
    assert field in refused.value.fields
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "placed"
    assert level(desk.boots, desk.ham).allocated == 2


def test_everything_short_is_not_ready(make, desk):
    order = placed_order(make, desk)
    with pytest.raises(ValidationFailed):
        preparing.mark_ready(order, staff=desk.clerk, short={line.id: "gone" for line in order.lines})
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "placed"


@pytest.mark.parametrize("shelf", ["x" * 33, "bad\x00shelf", 42])
def test_a_bad_shelf_is_refused(make, desk, shelf):
    order = placed_order(make, desk)
    with pytest.raises(ValidationFailed) as refused:
        preparing.mark_ready(order, staff=desk.clerk, shelf_location=shelf)
    assert "shelf_location" in refused.value.fields


def test_goods_still_on_their_way_cannot_be_ready(make, desk):
    order = placed_order(make, desk, lines=[(desk.jacket, 1, desk.ber)])  # supplied by Berlin, no transfer yet
    with pytest.raises(InvalidTransition, match="on its way from Berlin"):
        preparing.mark_ready(order, staff=desk.clerk)


def test_goods_that_arrived_can_be_ready(make, desk):
    from omnistore.orders.models import Transfer

    order = placed_order(make, desk, lines=[(desk.jacket, 1, desk.ber)])
    transfer = Transfer(
        order_id=order.id, source_location_id=desk.ber.id, destination_location_id=desk.ham.id, status="received"
    )
    db.session.add(transfer)
    db.session.flush()
    order.lines[0].transfer_id = transfer.id
    db.session.commit()
    ledger.dispatch(ledger.StockChange(desk.jacket.id, desk.ber.id, 1, reference=order.number))
    ledger.arrive(ledger.StockChange(desk.jacket.id, desk.ham.id, 1, reference=order.number))
    with transaction():
        db.session.execute(db.update(Order).where(Order.id == order.id).values(status="in_transit"))
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    preparing.mark_ready(order, staff=desk.clerk)
    assert db.session.get(Order, order.id).status == "ready"


def test_only_staff_of_the_pickup_store_mark_ready(make, desk):
    order = placed_order(make, desk)
    with pytest.raises(OutOfScope):
        preparing.mark_ready(order, staff=desk.berlin_clerk)
    with pytest.raises(OutOfScope):
        preparing.mark_ready(order, staff=None)
    preparing.mark_ready(order, staff=desk.admin)  # admin anywhere
    assert db.session.get(Order, order.id).status == "ready"


@pytest.mark.parametrize("status", ["ready", "collected", "cancelled", "expired"])
def test_an_order_past_placed_cannot_be_marked_ready_again(make, desk, status):
    order = placed_order(make, desk)
    with transaction():
        db.session.execute(db.update(Order).where(Order.id == order.id).values(status=status))
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    with pytest.raises((InvalidTransition, AlreadyCollected)):
        preparing.mark_ready(order, staff=desk.clerk)


def test_mark_ready_opens_the_pickup_when_the_order_had_none(make, desk):
    order = make.order(desk.ham, lines=[(desk.jacket, 1, desk.ham)])
    ledger.allocate(ledger.StockChange(desk.jacket.id, desk.ham.id, 1))
    preparing.mark_ready(order, staff=desk.clerk)
    db.session.expire_all()
    assert len(db.session.get(Order, order.id).pickup.short_code) == 8


# --- finding the order ------------------------------------------------------------------------------------


def test_found_by_status_url_raw_token_or_short_code_in_any_spelling(app, make, desk):
    order = ready_order(make, desk)
    pickup = db.session.get(Order, order.id).pickup
    code = pickup.short_code
    for typed in (
        pickup_codes.status_url(pickup),
        f"https://shop.example/o/{pickup.token}",
        pickup.token,
        code,
        code.lower(),
        f"{code[:4]} {code[4:]}",
        f"{code[:4]}-{code[4:]}",
        f"  {code}\n",
    ):
        found = pickup_handover.find_for_handover(typed, desk.clerk)
        assert found.order.id == order.id, typed
    assert pickup_handover.find_for_handover(pickup.token, desk.clerk).found_by == "qr"
    assert pickup_handover.find_for_handover(code, desk.clerk).found_by == "code"
    assert db.session.query(AuditEvent).filter_by(action=pickup_handover.FAILED_CODE).count() == 0


@pytest.mark.parametrize(
    "typed",
    ["ACDEFGHJ", "ACDE-FGH", "hello", "", "O0O0O0O0", "x" * 5000, None, 12345678, "https://example.com/o/", "/o/short"],
)
def test_a_code_that_matches_nothing_says_so_and_is_audited(make, desk, typed):
    ready_order(make, desk)
    with pytest.raises(NotFound):
        pickup_handover.find_for_handover(typed, desk.clerk)
    failed = db.session.query(AuditEvent).filter_by(action=pickup_handover.FAILED_CODE).one()
    assert failed.staff_id == desk.clerk.id and failed.location_id == desk.ham.id


def test_another_stores_code_says_where_to_collect_it(make, desk):
    order = ready_order(make, desk)
    code = db.session.get(Order, order.id).pickup.short_code
    with pytest.raises(pickup_handover.WrongStore, match="Hamburg") as refused:
        pickup_handover.find_for_handover(code, desk.berlin_clerk)
    assert refused.value.detail["location"] == "HAM"
    failed = db.session.query(AuditEvent).filter_by(action=pickup_handover.FAILED_CODE, staff_id=desk.berlin_clerk.id)
    assert failed.count() == 1
    assert db.session.query(OrderEvent).filter_by(order_id=order.id, kind="code_failed").count() == 1
    assert pickup_handover.find_for_handover(code, desk.admin).order.id == order.id  # admin anywhere


def test_a_collected_order_says_when_and_by_whom(make, desk):
    order = ready_order(make, desk)
    pickup_handover.hand_over(order, staff=desk.clerk, verification="qr")
    code = db.session.get(Order, order.id).pickup.short_code
    with pytest.raises(AlreadyCollected, match="Hanna Clerk"):
        pickup_handover.find_for_handover(code, desk.other_clerk)


@pytest.mark.parametrize(
    "status, words",
    [("cancelled", "cancelled"), ("expired", "expired"), ("placed", "not ready yet"), ("in_transit", "not ready yet")],
)
def test_an_order_not_ready_is_not_handed_over(make, desk, status, words):
    order = placed_order(make, desk)
    with transaction():
        db.session.execute(db.update(Order).where(Order.id == order.id).values(status=status))
    with pytest.raises(InvalidTransition, match=words):
        pickup_handover.find_for_handover(order.pickup.short_code, desk.clerk)


def test_short_codes_are_throttled_per_clerk_and_per_store(app, make, desk):
    app.config.update(OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK=3, OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_STORE=5)
    order = ready_order(make, desk)
    code = db.session.get(Order, order.id).pickup.short_code
    for _ in range(3):
        with pytest.raises(NotFound):
            pickup_handover.find_for_handover("ACDEFGHJ", desk.clerk)
    with pytest.raises(pickup_handover.TooManyAttempts):  # even the right code, until the window has passed
        pickup_handover.find_for_handover(code, desk.clerk)
    assert pickup_handover.find_for_handover(code, desk.other_clerk).order.id == order.id  # a colleague still can
    for _ in range(2):
        with pytest.raises(NotFound):
            pickup_handover.find_for_handover("ACDEFGHK", desk.other_clerk)
    with pytest.raises(pickup_handover.TooManyAttempts):  # the store has had 5 failures now
        pickup_handover.find_for_handover(code, desk.other_clerk)
    assert pickup_handover.find_for_handover(code, desk.admin)  # the admin counts at Berlin
    # The QR code is never throttled (192 random bits cannot be guessed).
    token = db.session.get(Order, order.id).pickup.token
    assert pickup_handover.find_for_handover(token, desk.clerk).order.id == order.id
    assert db.session.query(AuditEvent).filter_by(action="pickup.code_throttled").count() == 2
    # After the window, the clerk may try again.
    with transaction():
        db.session.execute(db.update(AuditEvent).values(created_at=utcnow() - timedelta(hours=1)))
    assert pickup_handover.find_for_handover(code, desk.clerk).order.id == order.id


# --- the handover -------------------------------------------------------------------------------------------


def test_hand_over_takes_the_goods_out_of_stock_and_records_who_when_how(make, desk):
    order = ready_order(make, desk)
    before = utcnow()
    pickup_handover.hand_over(order, staff=desk.clerk, verification="code_name")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "collected"
    assert [line.status for line in order.lines] == ["collected", "collected"]
    pickup = order.pickup
    assert pickup.collected_by_staff_id == desk.clerk.id and pickup.verification == "code_name"
    assert pickup.collected_at >= before and pickup.payment_collected_at is None
    jacket, boots = level(desk.jacket, desk.ham), level(desk.boots, desk.ham)
    assert (jacket.on_hand, jacket.allocated, boots.on_hand, boots.allocated) == (9, 0, 8, 0)
    movements = db.session.query(StockMovement).filter_by(kind="handover", reference=order.number).all()
    assert sorted(m.on_hand_delta for m in movements) == [-2, -1]
    assert (
        db.session.query(AuditEvent).filter_by(action="pickup.handed_over").one().detail["verification"] == "code_name"
    )


def test_partial_handover_puts_refused_lines_back_in_stock(make, desk):
    order = ready_order(make, desk)
    boots = order.lines[1]
    pickup_handover.hand_over(order, staff=desk.clerk, verification="id", refused=[(boots.id, "Wrong size")])
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "collected"
    assert [(line.status, line.status_reason) for line in order.lines] == [("collected", ""), ("refused", "Wrong size")]
    boots_level = level(desk.boots, desk.ham)
    assert (boots_level.on_hand, boots_level.allocated) == (10, 0)


def test_a_short_line_is_not_handed_over(make, desk):
    order = placed_order(make, desk)
    preparing.mark_ready(order, staff=desk.clerk, short={order.lines[1].id: "Damaged"})
    pickup_handover.hand_over(order, staff=desk.clerk, verification="qr")
    db.session.expire_all()
    assert [line.status for line in db.session.get(Order, order.id).lines] == ["collected", "short"]
    assert (level(desk.boots, desk.ham).on_hand, level(desk.boots, desk.ham).allocated) == (10, 0)


def test_pay_at_pickup_needs_the_payment_collected(make, desk):
    order = ready_order(make, desk, payment_state="pay_at_pickup")
    with pytest.raises(ValidationFailed) as refused:
        pickup_handover.hand_over(order, staff=desk.clerk, verification="qr")
    assert "payment" in refused.value.fields
    assert db.session.get(Order, order.id).status == "ready"
    pickup_handover.hand_over(order, staff=desk.clerk, verification="qr", payment_collected=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).pickup.payment_collected_at is not None


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"verification": ""}, "verification"),
        ({"verification": "face"}, "verification"),
        ({"verification": None}, "verification"),
        ({"verification": "qr", "refused": {"LINE": ""}}, "refused-LINE"),
        ({"verification": "qr", "refused": {999_999: "x"}}, "refused"),
        ({"verification": "qr", "refused": "ALL"}, "refused"),
    ],
)
def test_bad_handover_input_changes_nothing(make, desk, kwargs, field):
    order = ready_order(make, desk)
    line_id = order.lines[0].id
    if kwargs.get("refused") == "ALL":
        kwargs["refused"] = {line.id: "no" for line in order.lines}
    elif isinstance(kwargs.get("refused"), dict):
        kwargs["refused"] = {(line_id if k == "LINE" else k): v for k, v in kwargs["refused"].items()}
    with pytest.raises(ValidationFailed) as refused:
        pickup_handover.hand_over(order, staff=desk.clerk, **kwargs)
    assert field.replace("LINE", str(line_id)) in refused.value.fields
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "ready"
    assert level(desk.jacket, desk.ham).allocated == 1


def test_only_staff_of_the_pickup_store_hand_over(make, desk):
    order = ready_order(make, desk)
    with pytest.raises(OutOfScope):
        pickup_handover.hand_over(order, staff=desk.berlin_clerk, verification="qr")
    assert db.session.get(Order, order.id).status == "ready"
    pickup_handover.hand_over(order, staff=desk.admin, verification="id")
    assert db.session.get(Order, order.id).status == "collected"


@pytest.mark.parametrize(
    "status, error",
    [
        ("collected", AlreadyCollected),
        ("expired", InvalidTransition),
        ("cancelled", InvalidTransition),
        ("placed", InvalidTransition),
    ],
)
def test_an_order_that_is_not_ready_is_not_handed_over(make, desk, status, error):
    order = ready_order(make, desk)
    with transaction():
        db.session.execute(db.update(Order).where(Order.id == order.id).values(status=status))
    db.session.expire_all()
    with pytest.raises(error):
        pickup_handover.hand_over(db.session.get(Order, order.id), staff=desk.clerk, verification="qr")
    assert level(desk.jacket, desk.ham).on_hand == 10


def test_a_home_delivery_is_not_handed_over_at_the_desk(make, desk):
    order = make.order(desk.ham, fulfilment="delivery", lines=[(desk.jacket, 1, desk.ham)])
    with pytest.raises(InvalidTransition):
        pickup_handover.hand_over(order, staff=desk.clerk, verification="qr")


def test_a_double_tap_on_two_tablets_hands_over_once(app, make, desk):
    order_id = ready_order(make, desk).id
    tablets = 6
    barrier = threading.Barrier(tablets)
    outcomes = []
    staff_ids = [desk.clerk.id, desk.other_clerk.id]

    def confirm(n):
        from omnistore.stores.models import Staff

        with app.app_context():
            try:
                order = db.session.get(Order, order_id)
                _ = order.lines, order.pickup  # the handover screen had them loaded
                staff = db.session.get(Staff, staff_ids[n % 2])
                barrier.wait()
                pickup_handover.hand_over(order, staff=staff, verification="qr")
                outcomes.append("collected")
            except AlreadyCollected:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm, args=(n,)) for n in range(tablets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["collected"] + ["refused"] * (tablets - 1)
    db.session.expire_all()
    assert db.session.query(StockMovement).filter_by(kind="handover").count() == 2  # two lines, once each
    assert (level(desk.jacket, desk.ham).on_hand, level(desk.jacket, desk.ham).allocated) == (9, 0)
    assert db.session.query(OrderEvent).filter_by(order_id=order_id, to_status="collected").count() == 1
    assert db.session.query(AuditEvent).filter_by(action="pickup.handed_over").count() == 1


def test_the_handover_view_of_the_order(make, desk):
    order = ready_order(make, desk, payment_state="pay_at_pickup")
    found = pickup_handover.find_for_handover(db.session.get(Order, order.id).pickup.short_code, desk.clerk)
    assert [line.id for line in found.lines] == [line.id for line in order.lines]
    assert found.amount_due_minor == sum(line.unit_price_minor * line.quantity for line in order.lines) == 3 * 8995
    assert found.first_name == ""
    assert isinstance(found.pickup, Pickup)


# --- goods from another location, and the queue ----------------------------------------------------------------


def transfer_order(make, desk, transfer_status):
    """A Hamburg pickup order of a jacket that Berlin sends (its transfer in `transfer_status`)."""
    from omnistore.orders.models import Transfer

    order = placed_order(make, desk, lines=[(desk.jacket, 1, desk.ber), (desk.boots, 1, desk.ham)])
    transfer = Transfer(
        order_id=order.id, source_location_id=desk.ber.id, destination_location_id=desk.ham.id, status=transfer_status
    )
    db.session.add(transfer)
    db.session.flush()
    order.lines[0].transfer_id = transfer.id
    order.lines[0].status = "shipped" if transfer_status == "shipped" else "allocated"
    db.session.commit()
    return order, transfer


def test_a_line_on_the_truck_keeps_the_order_from_being_ready(make, desk):
    order, _transfer = transfer_order(make, desk, "shipped")
    with pytest.raises(InvalidTransition, match="on its way from Berlin"):
        preparing.mark_ready(order, staff=desk.clerk)
    with pytest.raises(InvalidTransition):  # nor can it be marked short here: it is not here to release
        preparing.mark_ready(order, staff=desk.clerk, short={order.lines[0].id: "late"})


def test_the_queue_groups_orders_as_the_desk_works_them(make, desk):
    to_pick = placed_order(make, desk)
    arriving, _transfer = transfer_order(make, desk, "shipped")
    ready = ready_order(make, desk)
    overdue = ready_order(make, desk)
    here = ready_order(make, desk)
    with transaction():
        db.session.get(Pickup, overdue.pickup.id).pickup_by = utcnow() - timedelta(hours=1)
        db.session.get(Pickup, here.pickup.id).checked_in_at = utcnow()
    collected = ready_order(make, desk, lines=[(desk.jacket, 1, desk.ham)])  # collected: it leaves the queue
    pickup_handover.hand_over(collected, staff=desk.clerk, verification="qr")
    queue = pickup_queue.desk_queue(desk.ham)
    numbers = {
        name: [item.order.number for item in getattr(queue, name)]
        for name in ("checked_in", "to_pick", "arriving", "ready", "overdue")
    }
    assert numbers == {
        "checked_in": [here.number],
        "to_pick": [to_pick.number],
        "arriving": [arriving.number],
        "ready": [ready.number],
        "overdue": [overdue.number],
    }
    arriving_item = queue.arriving[0]
    assert (arriving_item.here, len(arriving_item.lines)) == (1, 2)
    assert queue.overdue[0].overdue and queue.ready[0].waiting is not None
    assert pickup_queue.desk_queue(desk.ber).empty


def test_the_queue_fingerprint_moves_with_every_change_the_desk_sees(make, desk):
    now = utcnow()  # one clock for the whole test: only the data may move the fingerprint (not a new minute)

    def fingerprint(location):
        return pickup_queue.queue_fingerprint(location, now)

    first, berlin = fingerprint(desk.ham), fingerprint(desk.ber)
    assert fingerprint(desk.ham) == first
    order = placed_order(make, desk)
    second = fingerprint(desk.ham)
    assert second != first
    preparing.mark_picked(order, [order.lines[0].id], desk.clerk)
    third = fingerprint(desk.ham)
    assert third != second
    preparing.mark_ready(order, staff=desk.clerk)
    fourth = fingerprint(desk.ham)
    assert fourth != third
    with transaction():
        db.session.get(Pickup, order.pickup.id).on_the_way_at = utcnow()
    assert fingerprint(desk.ham) != fourth
    assert fingerprint(desk.ber) == berlin  # Hamburg's orders are not Berlin's desk's business
    assert pickup_queue.queue_fingerprint(desk.ham, now + timedelta(minutes=1)) != fingerprint(desk.ham)  # a minute


# --- the customer is told ----------------------------------------------------------------------------------


def test_ready_and_handover_queue_the_emails_and_webhooks_in_the_same_transaction(make, desk):
    from omnistore.core import webhooks
    from omnistore.core.outbox import OutboxMessage

    webhooks.add_endpoint("shop", "https://shop.example/hooks", ["order.ready", "order.collected"])
    customer = make.customer("Mia", "Jensen", email="mia@example.test")
    order = placed_order(make, desk, customer_id=customer.id)
    preparing.mark_ready(order, staff=desk.clerk, shelf_location="B-12")
    sent = [
        (m.kind, m.topic, m.recipient) for m in db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id))
    ]
    assert sent == [
        ("email", "order.ready", "mia@example.test"),
        ("webhook", "order.ready", "https://shop.example/hooks"),
    ]
    pickup_handover.hand_over(order, staff=desk.clerk, verification="qr", refused={order.lines[1].id: "Too small"})
    topics = [(m.kind, m.topic) for m in db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id))]
    assert topics[2:] == [("email", "order.receipt"), ("webhook", "order.collected")]
    webhook = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert [line["status"] for line in webhook.payload["order"]["lines"]] == ["collected", "refused"]


def test_a_refused_handover_tells_nobody(make, desk):
    from omnistore.core.outbox import OutboxMessage

    customer = make.customer("Mia", "Jensen", email="mia@example.test")
    order = placed_order(make, desk, customer_id=customer.id, payment_state="pay_at_pickup")
    preparing.mark_ready(order, staff=desk.clerk)
    with pytest.raises(ValidationFailed):
        pickup_handover.hand_over(order, staff=desk.clerk, verification="qr")  # payment not collected
    assert [m.topic for m in db.session.scalars(db.select(OutboxMessage))] == ["order.ready"]


def test_the_code_throttle_holds_across_app_processes(app, make, desk, database_url):
    """Failures are counted in the database, so a second app process (here: a second app on the same database,
    its own engine and connections) refuses a clerk who used up the attempts on the first."""
    from omnistore import create_app
    from tests.conftest import _test_config

    app.config.update(OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK=2)
    for _ in range(2):
        with pytest.raises(NotFound):
            pickup_handover.find_for_handover("ACDEFGHJ", desk.clerk)
    other = create_app(_test_config(database_url, OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK=2))
    clerk_id = desk.clerk.id
    with other.app_context():
        from omnistore.stores.models import Staff

        try:
            with pytest.raises(pickup_handover.TooManyAttempts):
                pickup_handover.find_for_handover("ACDEFGHK", db.session.get(Staff, clerk_id))
        finally:
            db.session.remove()
            db.engine.dispose()


def test_the_code_throttle_holds_under_concurrent_wrong_codes(app, make, desk):
    """40 wrong codes at once from two clerks' sessions: each clerk gets exactly its 5 failures recorded, then
    TooManyAttempts (the count and the record are one transaction under the throttle's locks)."""
    app.config.update(OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK=5, OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_STORE=100)
    clerk_ids = [desk.clerk.id, desk.other_clerk.id]
    barrier = threading.Barrier(40)
    outcomes = [None] * 40

    def run(i):
        from omnistore.stores.models import Staff

        with app.app_context():
            try:
                staff = db.session.get(Staff, clerk_ids[i % 2])
                db.session.commit()
                barrier.wait(timeout=60)
                pickup_handover.find_for_handover("ACDEFGHJ", staff)
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(isinstance(o, (NotFound, pickup_handover.TooManyAttempts)) for o in outcomes), outcomes
    assert sum(isinstance(o, NotFound) for o in outcomes) == 10, outcomes
    for clerk_id in clerk_ids:
        assert (
            db.session.query(AuditEvent).filter_by(action=pickup_handover.FAILED_CODE, staff_id=clerk_id).count() == 5
        )
