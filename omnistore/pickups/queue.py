"""The pickup desk's queue: today's figures for the desk (and the home screen), and the live queue of a
store's open pickup orders grouped as the desk works them, with the fingerprint its polling compares."""

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import joinedload

from omnistore.core.extensions import db
from omnistore.core.statuses import (
    HELD_LINE_STATUSES,
    OPEN_PICKUP_STATUSES,
    RESERVED_LINE_STATUSES,
)
from omnistore.core.types import utcnow
from omnistore.orders import pick_deadlines
from omnistore.orders.models import Order, Pickup, Transfer
from omnistore.orders.services import LINES_SHOWN
from omnistore.stores.locations import start_of_local_day
from omnistore.stores.models import Location, Staff, StaffSession


@dataclass(frozen=True)
class QueueSummary:
    to_prepare: int  # placed, goods in this store: pick and mark ready
    arriving: int  # in transit from another location
    ready: int  # waiting on the shelf
    checked_in: int  # the customer says "I'm here"
    overdue: int  # ready past the pickup-by date
    collected_today: int

    @property
    def waiting(self):
        return self.to_prepare + self.arriving + self.ready


def queue_summary(location: Location, now: datetime | None = None) -> QueueSummary:
    """Today's figures for the pickup desk of `location`, in one query."""
    now = now or utcnow()
    status = Order.status
    ready = status == "ready"
    row = db.session.execute(
        select(
            func.count().filter(status == "placed"),
            func.count().filter(status == "in_transit"),
            func.count().filter(ready),
            func.count().filter(and_(ready, Pickup.checked_in_at.is_not(None))),
            func.count().filter(and_(ready, Pickup.pickup_by < now)),
            func.count().filter(and_(status == "collected", Pickup.collected_at >= start_of_local_day(location, now))),
        )
        .select_from(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(Order.pickup_location_id == location.id, Order.fulfilment == "pickup")
    ).one()
    return QueueSummary(*(int(value or 0) for value in row))


QUEUE_LIMIT = 300  # open orders shown per store; a desk with more has other problems


@dataclass(frozen=True)
class QueueItem:
    order: Order
    lines: list  # the lines still to be collected (reserved or picked)
    here: int  # how many of them are at the store
    now: datetime
    pick_due: datetime | None = None  # to pick: by when (orders/pick_deadlines.py)

    @property
    def late_pick(self):
        return self.pick_due is not None and self.pick_due < self.now

    @property
    def pickup(self):
        return self.order.pickup

    @property
    def customer_name(self):
        customer = self.order.customer
        return customer.display_name if customer is not None else ""

    @property
    def units(self):
        return sum(line.quantity for line in self.lines)

    @property
    def picked(self):
        return sum(1 for line in self.lines if line.status == "picked")

    @property
    def waiting(self):
        """How long it has waited on the shelf (ready orders), else None."""
        pickup = self.pickup
        return self.now - pickup.ready_at if pickup is not None and pickup.ready_at else None

    @property
    def overdue(self):
        pickup = self.pickup
        return (
            self.order.status == "ready"
            and pickup is not None
            and pickup.pickup_by is not None
            and pickup.pickup_by < self.now
        )

    @property
    def checked_in(self):
        return self.pickup is not None and self.pickup.checked_in_at is not None

    @property
    def on_the_way(self):
        return self.pickup is not None and self.pickup.on_the_way_at is not None and not self.checked_in


@dataclass(frozen=True)
class DeskQueue:
    location: Location
    checked_in: list
    to_pick: list
    arriving: list
    ready: list
    overdue: list
    fingerprint: str
    truncated: bool = False

    @property
    def empty(self):
        return not (self.checked_in or self.to_pick or self.arriving or self.ready or self.overdue)


def _orders_figures(location_id):
    return (
        select(
            func.count(Order.id),
            func.max(Order.updated_at),
            func.max(Pickup.checked_in_at),
            func.max(Pickup.on_the_way_at),
            func.max(Pickup.ready_at),
            func.sum(func.length(Pickup.check_in_note)),
        )
        .select_from(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(Order.pickup_location_id == location_id, Order.status.in_(OPEN_PICKUP_STATUSES))
    )


def _transfers_figures(location_id):
    return select(
        func.count(Transfer.id),
        func.max(Transfer.picked_at),
        func.max(Transfer.shipped_at),
        func.max(Transfer.received_at),
    ).where(Transfer.destination_location_id == location_id)


def _stamp(orders_row, transfers_row, now):
    stamp = repr((tuple(orders_row), tuple(transfers_row), now.strftime("%Y%m%d%H%M")))
    return hashlib.sha1(stamp.encode(), usedforsecurity=False).hexdigest()[:16]


def queue_fingerprint(location: Location, now: datetime | None = None) -> str:
    """Changes whenever the desk's queue would look different: an order arrives, moves or closes, a customer
    is on the way or checks in, a transfer to the store moves, or a minute passes (waiting times, overdue).
    One aggregate over the store's open orders and one over its incoming transfers."""
    now = now or utcnow()
    orders_row = db.session.execute(_orders_figures(location.id)).one()
    transfers_row = db.session.execute(_transfers_figures(location.id)).one()
    return _stamp(orders_row, transfers_row, now)


# The desk's unchanged poll: the signed-in staff member's session fields with their store, then the queue's two
# aggregates. Built once: the poll runs these and nothing else.
_SESSION = (
    select(
        Staff.session_generation,
        Staff.active,
        Staff.role,
        Staff.location_id,
        StaffSession.ended_at,
        StaffSession.started_at,
        StaffSession.last_seen_at,
    )
    .select_from(Staff)
    .outerjoin(StaffSession, and_(StaffSession.staff_id == Staff.id, StaffSession.key_hash == bindparam("key")))
    .where(Staff.id == bindparam("staff"))
)
_ORDERS = _orders_figures(bindparam("location"))
_TRANSFERS = _transfers_figures(bindparam("location"))


@dataclass(frozen=True)
class QueuePoll:
    session_generation: int
    active: bool
    role: str
    session_open: bool  # the server-side session with this key exists and has not ended
    started_at: datetime | None
    last_seen_at: datetime | None
    fingerprint: str  # of the staff member's own store's queue, as queue_fingerprint makes it


def poll(staff_id, key_hash, now=None):
    """For a desk asking "anything new?" about its own store's queue: the staff member's session fields (to
    check the sign-in, its idle time and whether the poll would count as desk presence) and the queue's
    fingerprint, without loading the staff member; None if there is no such staff member or store.

    On PostgreSQL it runs on a connection in autocommit: three round trips, no BEGIN and ROLLBACK around
    them."""
    now = now or utcnow()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return _poll(connection, staff_id, key_hash, now)
    return _poll(db.session, staff_id, key_hash, now)


def _poll(connection, staff_id, key_hash, now):
    row = connection.execute(_SESSION, {"staff": staff_id, "key": key_hash}).first()
    if row is None or row.location_id is None:
        return None
    orders_row = connection.execute(_ORDERS, {"location": row.location_id}).one()
    transfers_row = connection.execute(_TRANSFERS, {"location": row.location_id}).one()
    return QueuePoll(
        row.session_generation,
        bool(row.active),
        row.role,
        row.started_at is not None and row.ended_at is None,
        row.started_at,
        row.last_seen_at,
        _stamp(orders_row, transfers_row, now),
    )


def desk_queue(location: Location, now: datetime | None = None) -> DeskQueue:
    """The open pickup orders of `location`, grouped as the desk works them: customers checked in (at the
    top), to pick, arriving, ready on the shelf, overdue. Oldest first in each group."""
    now = now or utcnow()
    fingerprint = queue_fingerprint(location, now)  # first: a change landing meanwhile shows on the next poll
    found = db.session.scalars(
        select(Order)
        .where(
            Order.pickup_location_id == location.id,
            Order.fulfilment == "pickup",
            Order.status.in_(OPEN_PICKUP_STATUSES),
        )
        .options(
            LINES_SHOWN,
            joinedload(Order.pickup),
            joinedload(Order.customer),
        )
        .order_by(Order.placed_at, Order.id)
        .limit(QUEUE_LIMIT + 1)
    ).all()
    truncated = len(found) > QUEUE_LIMIT
    found = found[:QUEUE_LIMIT]
    transfer_ids = {line.transfer_id for order in found for line in order.lines if line.transfer_id}
    received = (
        dict(
            db.session.execute(
                select(Transfer.id, Transfer.received_at).where(
                    Transfer.id.in_(transfer_ids),
                    Transfer.status == "received",
                    Transfer.destination_location_id == location.id,
                )
            ).all()
        )
        if transfer_ids
        else {}
    )
    groups = {"checked_in": [], "to_pick": [], "arriving": [], "ready": [], "overdue": []}
    for order in found:
        lines = [line for line in order.lines if line.status in HELD_LINE_STATUSES]
        here = sum(
            1
            for line in lines
            if line.status in RESERVED_LINE_STATUSES
            and ((line.source_location_id == location.id and line.transfer_id is None) or line.transfer_id in received)
        )
        item = QueueItem(order=order, lines=lines, here=here, now=now)
        if item.checked_in:
            groups["checked_in"].append(item)
        elif order.status == "ready":
            groups["overdue" if item.overdue else "ready"].append(item)
        elif order.status == "placed" and here == len(lines):
            arrived = [received[line.transfer_id] for line in lines if line.transfer_id in received]
            since = max([order.placed_at, *[at for at in arrived if at is not None]])
            if any(line.status != "picked" for line in lines):
                item = dataclasses.replace(item, pick_due=pick_deadlines.due_at(location, since))
            groups["to_pick"].append(item)
        else:
            groups["arriving"].append(item)
    groups["checked_in"].sort(key=lambda item: item.pickup.checked_in_at)
    for name in ("ready", "overdue"):
        groups[name].sort(key=lambda item: item.pickup.ready_at or item.order.placed_at)
    return DeskQueue(location=location, fingerprint=fingerprint, truncated=truncated, **groups)


def orders_to_pick(location: Location, numbers=None) -> list[Order]:
    """Pick lists: the given orders of this store (by number), or every order waiting to be picked."""
    queue = desk_queue(location)
    items = queue.checked_in + queue.to_pick
    if numbers:
        wanted = {str(number).strip().upper() for number in numbers}
        items = [item for item in items if item.order.number in wanted]
    return [item.order for item in items if item.order.status == "placed" and item.here == len(item.lines)]
