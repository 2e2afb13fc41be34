"""Pick deadlines: a store has its pick hours — its own setting (Location.pick_hours, set by its manager on
the pickup settings screen), else the network's OMNISTORE_PICK_HOURS — of its own opening hours
(stores/locations.after_open_hours) to pick what it was asked for: a transfer to send from the moment it was
requested, a pickup order's goods at the pickup store from the moment they were all there (placed, or its last
parcel received). Past that, the transfer's card on the "to pick & send" list, the desk's queue and the
manager's rejections page flag it. Reads only."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.core.statuses import RESERVED_LINE_STATUSES
from omnistore.core.types import utcnow
from omnistore.orders.models import Order, Transfer
from omnistore.stores.locations import after_open_hours
from omnistore.stores.models import Location


def pick_hours(location=None):
    """The opening hours `location` has to pick: its own setting, else the network's (no location: the network's)."""
    own = getattr(location, "pick_hours", None)
    return own if own is not None else current_app.config["OMNISTORE_PICK_HOURS"]


def due_at(location, since) -> datetime:
    """When something asked of `location` at `since` should be picked."""
    return after_open_hours(location, since, pick_hours(location))


def transfer_due(transfer):
    """A transfer still to be picked: when it is due; None once picked (or further)."""
    if transfer.status != "requested":
        return None
    return due_at(transfer.source_location, transfer.created_at)


def is_late(due, now=None):
    return due is not None and due < (now or utcnow())


@dataclass(frozen=True)
class LatePick:
    location: Location
    number: str  # the order's
    kind: str  # "transfer" (to send) or "pickup" (to pick at the desk)
    due: datetime


def late_picks(location_id=None, now=None) -> list:
    """What is late to pick now, at one store (or the network), the most overdue first."""
    now = now or utcnow()
    late = []
    transfers = select(Transfer).where(Transfer.status == "requested")
    if location_id is not None:
        transfers = transfers.where(Transfer.source_location_id == location_id)
    for transfer in db.session.scalars(transfers):
        due = transfer_due(transfer)
        if is_late(due, now) and transfer.order is not None:  # a stock transfer has no order page to open
            late.append(LatePick(transfer.source_location, transfer.order.number, "transfer", due))
    received = (
        select(Transfer.order_id, func.max(Transfer.received_at).label("at"))
        .where(Transfer.status == "received")
        .group_by(Transfer.order_id)
        .subquery()
    )
    pickups = (
        select(Order, received.c.at)
        .outerjoin(received, received.c.order_id == Order.id)
        .where(Order.fulfilment == "pickup", Order.status == "placed")
    )
    if location_id is not None:
        pickups = pickups.where(Order.pickup_location_id == location_id)
    for order, arrived in db.session.execute(pickups):
        due = pickup_due(order, arrived)
        if is_late(due, now):
            late.append(LatePick(order.pickup_location, order.number, "pickup", due))
    return sorted(late, key=lambda item: (item.due, item.number))


def pickup_due(order, last_received=None):
    """A placed pickup order whose goods are all at its store and not all picked: when it is due; else None."""
    lines = [line for line in order.lines if line.status in RESERVED_LINE_STATUSES]
    if not lines or all(line.status == "picked" for line in lines):
        return None
    for line in lines:
        if line.transfer_id is not None:
            transfer = db.session.get(Transfer, line.transfer_id)
            if transfer.status != "received":
                return None
    since = max(order.placed_at, last_received) if last_received else order.placed_at
    return due_at(order.pickup_location, since)
