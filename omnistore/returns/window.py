"""The return window: how long after collection or delivery goods may come back.

The window of the order's market (stores.markets.return_window_days: the market's own, set on the markets
screen or with `flask market save --return-window`, else the network's `OMNISTORE_RETURN_WINDOW_DAYS`, 30 by
default); purchases made at a distance (web, app, phone orders) always get at least the legal 14 days, whatever
the market says. The window starts when the order was collected or
delivered (its final event). Outside it, only a manager may take the goods back, with a reason that is
audited (receiving.receive_return).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from omnistore.core.statuses import OrderStatus
from omnistore.core.types import utcnow
from omnistore.orders.services import ended_at
from omnistore.stores import markets

LEGAL_MINIMUM_DAYS = 14  # EU right of withdrawal for distance purchases
DISTANCE_CHANNELS = ("web", "app", "phone")
RETURNABLE_ORDER_STATUSES = (OrderStatus.COLLECTED, OrderStatus.DELIVERED)


@dataclass(frozen=True)
class Window:
    days: int
    starts_at: datetime | None  # None: nothing was collected or delivered yet
    ends_at: datetime | None

    def open_at(self, when=None) -> bool:
        return self.ends_at is not None and (when or utcnow()) <= self.ends_at


def window_days(order) -> int:
    days = markets.return_window_days(order.market)
    if order.channel in DISTANCE_CHANNELS:
        days = max(days, LEGAL_MINIMUM_DAYS)
    return days


def window_of(order) -> Window:
    days = window_days(order)
    if order.status not in RETURNABLE_ORDER_STATUSES:
        return Window(days, None, None)
    start = ended_at(order)
    return Window(days, start, start + timedelta(days=days) if start is not None else None)
