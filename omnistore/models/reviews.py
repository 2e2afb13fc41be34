"""What the manager's review reads (services/reviews.py).

ReviewFact: one narrow row per pickup order with every moment the figures are dated by, kept by database
triggers on orders, pickup and order_event (see the review migration), so the dashboard aggregates one table
instead of joining three. The indexes below serve the period ranges on the base tables (the order lists
behind each figure)."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._types import UTCDateTime
from .audit import AuditEvent
from .orders import Order, OrderEvent, Pickup


class ReviewFact(db.Model):
    __tablename__ = "review_fact"
    __table_args__ = (
        Index("ix_review_fact_placed_at", "placed_at"),
        Index("ix_review_fact_ready_at", "ready_at"),
        Index("ix_review_fact_collected_at", "collected_at"),
        Index("ix_review_fact_checked_in_at", "checked_in_at"),
        Index("ix_review_fact_ended_at", "ended_at"),
        Index("ix_review_fact_status", "status"),
        Index("ix_review_fact_location", "pickup_location_id"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pickup_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its "expired" or "cancelled" event
    ended_from: Mapped[str] = mapped_column(String(16), default="")  # the status it expired/was cancelled from


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
