"""Order drafts at the counter: the customer, the lines, the fulfilment, and the units held meanwhile."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._types import UTCDateTime, one_of, utcnow
from .orders import FULFILMENTS, PAYMENT_STATES

DRAFT_STATUSES = ("open", "placed", "abandoned")


class OrderDraft(db.Model):
    __tablename__ = "order_draft"
    __table_args__ = (
        one_of("status", DRAFT_STATUSES, "status"),
        one_of("fulfilment", FULFILMENTS, "fulfilment"),
        one_of("payment_state", PAYMENT_STATES, "payment_state"),
        Index("ix_order_draft_location_status", "location_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # in URLs and hold references
    status: Mapped[str] = mapped_column(String(16), default="open")
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))  # the selling store
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    fulfilment: Mapped[str] = mapped_column(String(8), default="pickup")
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    delivery_address: Mapped[dict] = mapped_column(db.JSON, default=dict)
    payment_state: Mapped[str] = mapped_column(String(16), default="pay_at_pickup")
    holds_expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    staff = relationship("Staff")
    location = relationship("Location", foreign_keys=[location_id])
    pickup_location = relationship("Location", foreign_keys=[pickup_location_id])
    customer = relationship("Customer")
    order = relationship("Order")
    lines: Mapped[list["DraftLine"]] = relationship(
        back_populates="draft", order_by="DraftLine.id", cascade="all, delete-orphan"
    )
    holds: Mapped[list["DraftHold"]] = relationship(
        back_populates="draft", order_by="DraftHold.id", cascade="all, delete-orphan"
    )

    def __repr__(self):
        return f"<OrderDraft {self.token}>"


class DraftLine(db.Model):
    __tablename__ = "draft_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        UniqueConstraint("draft_id", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("order_draft.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    draft: Mapped[OrderDraft] = relationship(back_populates="lines")
    variant = relationship("Variant")


class DraftHold(db.Model):
    """Units allocated (stock.allocate) to a draft until `expires_at`; released when it passes."""

    __tablename__ = "draft_hold"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        UniqueConstraint("draft_id", "variant_id", "location_id"),
        Index("ix_draft_hold_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("order_draft.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    draft: Mapped[OrderDraft] = relationship(back_populates="holds")
    location = relationship("Location")
