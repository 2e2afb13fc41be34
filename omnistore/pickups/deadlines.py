"""Time limits of pickups: the reminder on each store's reminder day, and expiry after the pickup-by date.

`run(now)` is the worker's job pickups.deadlines (every 15 minutes: omnistore/jobs.py), and what
`flask --app app pickups expire` does once. It is idempotent and safe to run in several processes at once: a
reminder is claimed by a conditional UPDATE of pickup.reminded_at (one winner per order), and expiry is the
order's conditional status change (orders.transition), so of two runs only one expires an order, releases its
stock and tells the customer.
Each order is handled in its own transaction: one that fails is logged and left for the next run.

Reminder day: days after the order became ready, counted in the store's local calendar (hold_days 7 and
reminder_day 5: ready on Monday, reminded on Saturday, collect by the next Monday's end). 0 means no
reminder.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core.db import transaction
from omnistore.core.errors import AlreadyCollected, InvalidTransition
from omnistore.core.extensions import db
from omnistore.core.statuses import HELD_LINE_STATUSES
from omnistore.core.types import utcnow
from omnistore.orders import line_reasons, notifications
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderLine, Pickup
from omnistore.stock import ledger
from omnistore.stores.locations import location_zone

log = logging.getLogger(__name__)


@dataclass
class DeadlineReport:
    reminded: list = field(default_factory=list)  # order numbers
    expired: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # (order number, message)

    def __str__(self):
        text = f"{len(self.reminded)} reminders sent, {len(self.expired)} orders expired"
        if self.problems:
            text += f", {len(self.problems)} left for the next run"
        return text


def _ready_orders(where):
    return db.session.scalars(
        select(Order)
        .join(Pickup, Pickup.order_id == Order.id)
        .where(Order.fulfilment == "pickup", Order.status == "ready", *where)
        .options(
            selectinload(Order.pickup),
            selectinload(Order.pickup_location),
            selectinload(Order.customer),
            selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
        )
        .order_by(Order.id)
    ).all()


def reminder_due(order, now):
    """Is today (in the store's calendar) the reminder day or later, and the order not yet overdue?"""
    store, pickup = order.pickup_location, order.pickup
    if not store.reminder_day or pickup.ready_at is None or pickup.reminded_at is not None:
        return False
    if pickup.pickup_by is not None and pickup.pickup_by <= now:
        return False
    zone = location_zone(store)
    ready_day = pickup.ready_at.astimezone(zone).date()
    return now.astimezone(zone).date() >= ready_day + timedelta(days=store.reminder_day)


def send_reminders(now=None, report=None):
    now = now or utcnow()
    report = report or DeadlineReport()
    candidates = _ready_orders([Pickup.reminded_at.is_(None), Pickup.ready_at.is_not(None)])
    db.session.commit()  # end the read
    for order in candidates:
        if not reminder_due(order, now):
            continue
        try:
            with transaction():
                won = db.session.execute(
                    update(Pickup)
                    .where(Pickup.id == order.pickup.id, Pickup.reminded_at.is_(None))
                    .values(reminded_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if won != 1:
                    continue  # another run reminded this one a moment ago
                db.session.refresh(order, ["status"])
                if order.status != "ready":
                    raise _Skip()
                notifications.pickup_reminder(order)
                orders.record_event(order, "reminded", location_id=order.pickup_location_id)
            report.reminded.append(order.number)
        except _Skip:
            continue
        except Exception as error:  # noqa: BLE001 — one order's problem must not stop the others
            log.exception("pickup reminder for %s failed", order.number)
            report.problems.append((order.number, str(error)))
    return report


class _Skip(Exception):
    """Roll this order's transaction back and go on: it changed since we read it."""


def expire_overdue(now=None, report=None):
    now = now or utcnow()
    report = report or DeadlineReport()
    candidates = _ready_orders([Pickup.pickup_by.is_not(None), Pickup.pickup_by < now])
    db.session.commit()
    for order in candidates:
        try:
            with transaction():
                try:
                    orders.transition(
                        order,
                        "expired",
                        location_id=order.pickup_location_id,
                        pickup_by=order.pickup.pickup_by.isoformat(),
                    )
                except (InvalidTransition, AlreadyCollected):
                    raise _Skip() from None  # collected, cancelled or expired by someone else a moment ago
                for line in order.lines:
                    if line.status not in HELD_LINE_STATUSES:
                        continue
                    ledger.release(
                        ledger.StockChange(
                            line.variant_id,
                            order.pickup_location_id,
                            line.quantity,
                            reason="pickup expired",
                            reference=order.number,
                        )
                    )
                    line_reasons.mark(line, "released", "pickup_expired")
                db.session.flush()
                db.session.refresh(order, ["status", "updated_at"])
                notifications.order_expired(order)
            report.expired.append(order.number)
        except _Skip:
            continue
        except Exception as error:  # noqa: BLE001 — one order's problem must not stop the others
            log.exception("expiring %s failed", order.number)
            report.problems.append((order.number, str(getattr(error, "message", error))))
    return report


def run(now=None):
    """Reminders, then expiry: what the periodic job does."""
    now = now or utcnow()
    report = send_reminders(now)
    return expire_overdue(now, report)
