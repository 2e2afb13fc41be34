"""The manager's side of counts: the counts waiting for a decision, the orders that hold a blocked line's units,
and count accuracy per store — the variance between what was counted and what the system expected, before
anything posted (stock/counts.py stores both on each line when the count is submitted)."""

from dataclasses import dataclass

from sqlalchemy import case, func, select

from omnistore.core.extensions import db
from omnistore.core.statuses import OPEN_STATUSES, RESERVED_LINE_STATUSES
from omnistore.orders.models import Order, OrderLine
from omnistore.reviews.figures import between
from omnistore.stock.models import StockCount, StockCountLine
from omnistore.stores.models import Location


def waiting_counts(scope):
    """Counts of the scope's store (or the network) with variances waiting for a manager, oldest first."""
    query = select(StockCount).where(StockCount.status == "review").order_by(StockCount.submitted_at, StockCount.id)
    if scope.location is not None:
        query = query.where(StockCount.location_id == scope.location.id)
    return db.session.scalars(query).all()


def orders_holding(location_id, variant_id):
    """The open orders whose lines reserve this variant at this store (sourced from it, or waiting in it for
    pickup): a count below their reservations posts only once they are changed. Oldest first."""
    return db.session.execute(
        select(Order.number, Order.id, OrderLine.quantity, OrderLine.status)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            OrderLine.variant_id == variant_id,
            OrderLine.status.in_(RESERVED_LINE_STATUSES),
            Order.status.in_(OPEN_STATUSES),
            (OrderLine.source_location_id == location_id) | (Order.pickup_location_id == location_id),
        )
        .order_by(Order.id)
    ).all()


@dataclass(frozen=True)
class CountAccuracy:
    location: Location
    counts: int
    lines: int  # items whose counted figure was set against an expected one
    exact: int  # of them, counted as expected
    units_expected: int
    units_off: int  # the sum of the absolute variances

    @property
    def rate(self):
        """Share of items counted exactly as expected (0..1), None without any."""
        return self.exact / self.lines if self.lines else None

    @property
    def unit_rate(self):
        """1 − units off ÷ units expected (never below 0), None when nothing was expected."""
        if not self.units_expected:
            return None
        return max(0.0, 1 - self.units_off / self.units_expected)


def count_accuracy(scope):
    """Per store, over the counts submitted in the scope's period: how close the figures were before posting."""
    line_ = StockCountLine
    query = (
        select(
            StockCount.location_id,
            func.count(func.distinct(StockCount.id)),
            func.count(line_.id),
            func.sum(case((line_.counted == line_.expected, 1), else_=0)),
            func.sum(line_.expected),
            func.sum(func.abs(line_.counted - line_.expected)),
        )
        .join(line_, line_.count_id == StockCount.id)
        .where(line_.expected.is_not(None), between(StockCount.submitted_at, scope))
        .group_by(StockCount.location_id)
    )
    if scope.location is not None:
        query = query.where(StockCount.location_id == scope.location.id)
    rows = db.session.execute(query).all()
    locations = {
        loc.id: loc for loc in db.session.scalars(select(Location).where(Location.id.in_([r[0] for r in rows])))
    }
    result = [
        CountAccuracy(locations[loc], counts, lines, int(exact or 0), int(expected or 0), int(off or 0))
        for loc, counts, lines, exact, expected, off in rows
    ]
    return sorted(result, key=lambda row: row.location.name)
