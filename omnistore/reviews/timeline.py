"""One order's full story for the manager: its events oldest first, each with who did it (staff, an integration or the
customer) and where."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.orders.models import OrderEvent
from omnistore.stores.models import ApiClient, Location, Staff


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    actor: str
    location: str
    from_status: str = ""
    to_status: str = ""
    detail: dict = field(default_factory=dict)


def timeline(order):
    """The order's events oldest first, each with who did it (staff, integration or the customer) and where."""
    names = dict(db.session.execute(select(Location.id, Location.name)).all())
    rows = db.session.execute(
        select(OrderEvent, Staff.name, ApiClient.name)
        .outerjoin(Staff, Staff.id == OrderEvent.staff_id)
        .outerjoin(ApiClient, ApiClient.id == OrderEvent.api_client_id)
        .where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.created_at, OrderEvent.id)
    ).all()
    entries = []
    for event, staff_name, client_name in rows:
        actor = staff_name or (f"API · {client_name}" if client_name else "")
        entries.append(
            TimelineEntry(
                event.created_at,
                event.kind,
                actor,
                names.get(event.location_id, ""),
                event.from_status,
                event.to_status,
                event.detail if isinstance(event.detail, dict) else {},
            )
        )
    return entries
