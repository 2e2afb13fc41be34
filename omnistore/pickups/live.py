"""The desk's live topic: a store's pickup desk hears (core/live.py) when its queue may look different.

After every flush, the orders it touched — a new or changed order, an event in an order's history (every
transition, check-in and on-the-way records one: orders/services.record_event), its pickup row, a transfer for
it — name their pickup store's desk. A change the verbs make by a plain UPDATE records an order event, so it is
heard too; what no verb records (the clock: waiting times, overdue) the desk's own minute refresh shows.
PostgreSQL only (core/live.py): on SQLite the desk polls.
"""

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from omnistore.core import live
from omnistore.orders.models import Order, OrderEvent, Pickup, Transfer


def desk_topic(location_id):
    """The live topic of a store's pickup desk."""
    return f"desk:{location_id}"


@event.listens_for(Session, "after_flush")
def _note_desks(session, _flush_context):
    if session.get_bind().dialect.name != "postgresql":
        return
    locations, order_ids = set(), set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Order):
            if obj.pickup_location_id is not None:
                locations.add(obj.pickup_location_id)
        elif isinstance(obj, OrderEvent | Pickup):
            order_ids.add(obj.order_id)
        elif isinstance(obj, Transfer):
            if obj.destination_location_id is not None:
                locations.add(obj.destination_location_id)
            if obj.order_id is not None:
                order_ids.add(obj.order_id)
    order_ids.discard(None)
    unknown = set()
    for order_id in order_ids:  # an order this session holds (just placed, or the one a verb acts on) says it
        order = session.identity_map.get(session.identity_key(Order, order_id))
        if order is not None and "pickup_location_id" in order.__dict__:
            if order.pickup_location_id is not None:
                locations.add(order.pickup_location_id)
        else:
            unknown.add(order_id)
    if unknown:
        rows = session.connection().execute(
            select(Order.pickup_location_id).where(Order.id.in_(unknown), Order.pickup_location_id.is_not(None))
        )
        locations.update(location_id for (location_id,) in rows)
    if locations:
        live.note(session, *(desk_topic(location_id) for location_id in locations))
