"""Pickup time limits: reminders on the store's reminder day, expiry after pickup-by (stock back, customer and
webhooks told); idempotent and safe to run concurrently."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from omnistore.core import webhooks
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import pickup_codes
from omnistore.orders.models import Order, OrderEvent, Pickup
from omnistore.pickups import deadlines as pickup_deadlines
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel

# Monday 16 November 2026, 10:00 in Hamburg (09:00 UTC)
READY_AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _ready(make, store, variant, *, ready_at=READY_AT, quantity=1, email=True):
    customer = None
    if email:
        count = db.session.scalar(select(func.count(Customer.id)))
        customer = Customer(first_name="Kim", email=f"kim{count}@example.test")
        db.session.add(customer)
        db.session.commit()
    order = make.order(store, [(variant, quantity, store)], status="ready", customer=customer)
    with transaction():
        pickup = pickup_codes.open_pickup(order)
        pickup.ready_at = ready_at
        # Collect by the end of the local day hold_days later (Monday 23 November, 23:59 in Hamburg).
        pickup.pickup_by = datetime(2026, 11, 23, 22, 59, tzinfo=UTC) + (ready_at - READY_AT)
    return order


@pytest.fixture
def setup(make):
    store = make.location("HAM", hold_days=7, reminder_day=5)
    variant = make.variant()
    make.stock(variant, store, on_hand=10, allocated=0)
    return store, variant


def _allocate(store, variant, quantity):
    ledger.allocate(ledger.StockChange(variant.id, store.id, quantity, reference="test"))


def _outbox(topic):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)).all()


def _level(store):
    db.session.expire_all()
    level = db.session.scalar(select(StockLevel).where(StockLevel.location_id == store.id))
    return level.on_hand, level.allocated


def test_the_reminder_goes_out_on_the_reminder_day_once(make, setup):
    store, variant = setup
    _allocate(store, variant, 1)
    order = _ready(make, store, variant)
    friday_night = datetime(2026, 11, 20, 22, 59, tzinfo=UTC)  # Friday 23:59 in Hamburg: day 4
    assert pickup_deadlines.run(friday_night).reminded == []
    saturday_early = datetime(2026, 11, 20, 23, 1, tzinfo=UTC)  # Saturday 00:01 in Hamburg: day 5
    report = pickup_deadlines.run(saturday_early)
    assert report.reminded == [order.number] and report.expired == []
    assert pickup_deadlines.run(saturday_early + timedelta(hours=1)).reminded == []  # idempotent
    [email] = _outbox("order.reminder")
    assert email.recipient.startswith("kim") and order.pickup.short_code in email.body
    assert db.session.scalar(select(Pickup.reminded_at).where(Pickup.order_id == order.id)) == saturday_early
    assert [e.kind for e in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id))] == [
        "notified",
        "reminded",
    ]


def test_reminder_day_zero_means_no_reminder(make):
    store = make.location("BER", hold_days=3, reminder_day=0)
    variant = make.variant()
    make.stock(variant, store, on_hand=1, allocated=1)
    _ready(make, store, variant)
    assert pickup_deadlines.run(READY_AT + timedelta(days=2)).reminded == []


def test_an_overdue_order_expires_its_stock_returns_and_customer_and_webhooks_are_told(make, setup):
    store, variant = setup
    webhooks.add_endpoint("shop", "https://shop.example.test/hooks")
    _allocate(store, variant, 2)
    order = _ready(make, store, variant, quantity=2)
    assert _level(store) == (10, 2)
    before = datetime(2026, 11, 23, 22, 58, tzinfo=UTC)
    assert pickup_deadlines.expire_overdue(before).expired == []
    after = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    report = pickup_deadlines.run(after)
    assert report.expired == [order.number] and report.reminded == []  # overdue: no reminder any more
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "expired" and [line.status for line in order.lines] == ["released"]
    # The line's reason is stored as a code: each viewer reads it in their own language.
    from flask_babel import force_locale

    from omnistore.orders.line_reasons import line_reason

    assert line_reason(order.lines[0]) == "Not collected in time: the pickup expired."
    with force_locale("de"):
        assert line_reason(order.lines[0]) == "Nicht rechtzeitig abgeholt: die Abholfrist ist abgelaufen."
    with force_locale("da"):
        assert line_reason(order.lines[0]) == "Ikke afhentet i tide: afhentningsfristen er udløbet."
    assert _level(store) == (10, 0)
    [email] = [m for m in _outbox("order.expired") if m.kind == "email"]
    assert "wurde bis Montag, 23. November 2026, 23:59 nicht abgeholt" in email.body  # German: a store in DE
    [hook] = _webhooks("order.expired")
    assert hook.payload["order"]["status"] == "expired"
    assert pickup_deadlines.run(after + timedelta(hours=1)).expired == []  # idempotent
    assert _level(store) == (10, 0) and len(_outbox("order.expired")) == 2


def _webhooks(topic):
    return [m for m in _outbox(topic) if m.kind == "webhook"]


def test_orders_that_are_not_ready_or_not_overdue_are_left_alone(make, setup):
    store, variant = setup
    placed = make.order(store, [(variant, 1, store)], status="placed")
    collected = make.order(store, [(variant, 1, store)], status="collected")
    for order in (placed, collected):
        with transaction():
            pickup_codes.open_pickup(order).pickup_by = READY_AT
    report = pickup_deadlines.run(READY_AT + timedelta(days=30))
    assert report.expired == [] and report.reminded == []
    db.session.expire_all()
    assert [db.session.get(Order, o.id).status for o in (placed, collected)] == ["placed", "collected"]


def test_a_broken_order_is_reported_and_the_others_still_expire(make, setup):
    store, variant = setup
    _allocate(store, variant, 1)
    broken = _ready(make, store, variant)  # allocates 1 less than it holds: release cannot succeed
    broken_line = broken.lines[0]
    with transaction():
        broken_line.quantity = 5
    good = _ready(make, store, variant, email=False)
    _allocate(store, variant, 1)
    report = pickup_deadlines.run(READY_AT + timedelta(days=8))
    assert report.expired == [good.number]
    assert [number for number, _problem in report.problems] == [broken.number]
    assert "1 orders expired, 1 left for the next run" in str(report)
    db.session.expire_all()
    assert db.session.get(Order, broken.id).status == "ready"  # rolled back, tried again next run


def test_the_cli_runs_it(app, make, setup):
    store, variant = setup
    _allocate(store, variant, 1)
    _ready(make, store, variant, ready_at=datetime.now(UTC) - timedelta(days=20))
    result = app.test_cli_runner().invoke(args=["pickups", "expire"])
    assert result.exit_code == 0, result.output
    assert "0 reminders sent, 1 orders expired" in result.output


def test_concurrent_runs_expire_and_remind_each_order_once(app, make, setup):
    store, variant = setup
    _allocate(store, variant, 6)
    overdue = [_ready(make, store, variant) for _ in range(6)]
    _allocate(store, variant, 3)
    due_reminders = [_ready(make, store, variant, ready_at=READY_AT + timedelta(days=5)) for _ in range(3)]
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # past the first six's pickup-by, day 3 of the others
    for order in due_reminders:
        with transaction():
            db.session.get(Pickup, order.pickup.id).ready_at = now - timedelta(days=5)
    reports, errors = [], []
    start = threading.Barrier(4)

    def run():
        with app.app_context():
            try:
                start.wait()
                reports.append(pickup_deadlines.run(now))
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    expired = sorted(n for r in reports for n in r.expired)
    reminded = sorted(n for r in reports for n in r.reminded)
    assert expired == sorted(o.number for o in overdue)
    assert reminded == sorted(o.number for o in due_reminders)
    assert all(not r.problems for r in reports)
    assert _level(store) == (10, 3)  # the six released once each, the three still reserved
    assert len([m for m in _outbox("order.expired") if m.kind == "email"]) == 6
    assert len(_outbox("order.reminder")) == 3
