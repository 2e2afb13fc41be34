"""The click-and-collect desk of a store."""
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from ..extensions import db
from ..models import Location, Order, Pickup
from ..models._types import utcnow


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


def start_of_local_day(location: Location, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(location.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


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
            func.count().filter(
                and_(status == "collected", Pickup.collected_at >= start_of_local_day(location, now))
            ),
        )
        .select_from(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(Order.pickup_location_id == location.id, Order.fulfilment == "pickup")
    ).one()
    return QueueSummary(*(int(value or 0) for value in row))



