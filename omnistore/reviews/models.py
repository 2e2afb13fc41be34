"""What the manager's review reads (reviews/dashboard.py and reviews/day_summaries.py).

ReviewFact: one narrow row per pickup order with every moment the figures are dated by, kept by database
triggers on orders, pickup and order_event (see the review migration), so the dashboard aggregates one table
instead of joining three. The indexes below serve the period ranges on the base tables (the order lists
behind each figure)."""

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from omnistore.core.audit import AuditEvent
from omnistore.core.channels import CHANNELS
from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow
from omnistore.orders.models import Order, OrderEvent, Pickup


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

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
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


class ReviewDay(db.Model):
    """One closed day's review figures of a store or the network, in one time zone, computed once and kept
    (PostgreSQL). `dirty_id` is the newest ReviewDirty id the computation could see: a later mark for an hour
    of this day makes it stale."""

    __tablename__ = "review_day"

    scope_key: Mapped[str] = mapped_column(String(20), primary_key=True)  # "network" or the location id
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dirty_id: Mapped[int] = mapped_column(BigInteger, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(db.JSON, default=dict)


class ReviewDirty(db.Model):
    """An hour whose figures changed after the fact (a timestamp more than an hour old was set, changed or
    re-dated): written by triggers on PostgreSQL, read to drop the cached days it falls in."""

    __tablename__ = "review_dirty"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


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


class AcquisitionSpend(db.Model):
    """What was spent to win customers through one channel in one month, in one currency: for one store, or
    (no location) for the network. Entered by a manager; the acquisition cost is this divided by the new
    customers of that channel and month (reviews/customer_figures.py)."""

    __tablename__ = "acquisition_spend"
    __table_args__ = (
        one_of("channel", CHANNELS, "channel"),
        CheckConstraint("amount_minor >= 0", name="amount_minor"),
        CheckConstraint("length(currency) = 3", name="currency"),
        # One figure per store (or the network), channel, month and currency.
        Index(
            "uq_acquisition_spend_store",
            "location_id",
            "channel",
            "month",
            "currency",
            unique=True,
            sqlite_where=text("location_id IS NOT NULL"),
            postgresql_where=text("location_id IS NOT NULL"),
        ),
        Index(
            "uq_acquisition_spend_network",
            "channel",
            "month",
            "currency",
            unique=True,
            sqlite_where=text("location_id IS NULL"),
            postgresql_where=text("location_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    channel: Mapped[str] = mapped_column(String(8))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
