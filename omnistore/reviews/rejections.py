"""Rejections at pick time, per store, for the manager: how much of what a store was asked to supply it
rejected (units rejected ÷ units asked of it, orders placed in the period), why, and how often what it rejected
found another way to the customer (re-source success: sent by another store or collected at another store, of
the rejections decided). Read from LineRejection (orders/rejecting.py) and the order lines; writes nothing."""

from dataclasses import dataclass, field

from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.orders.models import LineRejection, Order, OrderLine
from omnistore.reviews.figures import between
from omnistore.stores.models import Location

FOUND_ANOTHER_WAY = ("resourced", "moved")
GIVEN_UP = ("dropped", "unavailable")


@dataclass
class StoreRejections:
    location: Location
    units_asked: int = 0
    rejections: int = 0
    units_rejected: int = 0
    by_reason: dict = field(default_factory=dict)  # reason code -> rejections
    found_another_way: int = 0
    given_up: int = 0
    pending: int = 0

    @property
    def rate(self):
        """Units rejected ÷ units asked of the store (None when it was asked for nothing)."""
        return self.units_rejected / self.units_asked if self.units_asked else None

    @property
    def success(self):
        """Rejections that still reached the customer ÷ rejections decided (None when none is decided)."""
        decided = self.found_another_way + self.given_up
        return self.found_another_way / decided if decided else None


def per_store(scope) -> list:
    """A StoreRejections per store in the scope that was asked for something or rejected something, most
    rejected units first (then by code)."""
    asked = select(OrderLine.source_location_id, func.sum(OrderLine.quantity)).join(
        Order, Order.id == OrderLine.order_id
    )
    asked = asked.where(between(Order.placed_at, scope))
    rejected = select(
        LineRejection.location_id,
        LineRejection.reason,
        LineRejection.outcome,
        func.count(),
        func.sum(LineRejection.quantity),
    ).where(between(LineRejection.created_at, scope))
    if scope.location is not None:
        asked = asked.where(OrderLine.source_location_id == scope.location.id)
        rejected = rejected.where(LineRejection.location_id == scope.location.id)
    stores = {}

    def store(location_id):
        if location_id not in stores:
            stores[location_id] = StoreRejections(db.session.get(Location, location_id))
        return stores[location_id]

    for location_id, units in db.session.execute(asked.group_by(OrderLine.source_location_id)):
        store(location_id).units_asked = int(units or 0)
    grouped = rejected.group_by(LineRejection.location_id, LineRejection.reason, LineRejection.outcome)
    for location_id, reason, outcome, count, units in db.session.execute(grouped):
        row = store(location_id)
        row.rejections += count
        row.units_rejected += int(units or 0)
        row.by_reason[reason] = row.by_reason.get(reason, 0) + count
        if outcome in FOUND_ANOTHER_WAY:
            row.found_another_way += count
        elif outcome in GIVEN_UP:
            row.given_up += count
        else:
            row.pending += count
    return sorted(stores.values(), key=lambda row: (-row.units_rejected, row.location.code))
