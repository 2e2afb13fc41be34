"""Indexes the manager's review figures (services/reviews.py) read through: period ranges on the moments
an order passes (placed, ready, collected, checked in, expired/cancelled events), per store and network-wide."""
from sqlalchemy import Index

from .audit import AuditEvent
from .orders import Order, OrderEvent, Pickup

REVIEW_INDEXES = (
    Index("ix_orders_placed_at", Order.placed_at),
    Index("ix_orders_pickup_location_placed", Order.pickup_location_id, Order.placed_at),
    Index("ix_orders_origin_location_placed", Order.origin_location_id, Order.placed_at),
    Index("ix_orders_status_pickup_location", Order.status, Order.pickup_location_id),
    Index("ix_pickup_ready_at", Pickup.ready_at),
    Index("ix_pickup_collected_at", Pickup.collected_at),
    Index("ix_pickup_checked_in_at", Pickup.checked_in_at),
    Index("ix_order_event_kind_at", OrderEvent.kind, OrderEvent.created_at),
    Index("ix_audit_event_action_at", AuditEvent.action, AuditEvent.created_at),
)
