"""A return: goods of one order brought back at a store, line by line with a grade per unit, and the refund
owed for them (omnistore takes no payments: it records what is owed, how, and when it was paid)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow

# received → graded → refund_pending → refunded; refused when nothing of it is refunded (e.g. not ours).
RETURN_STATUSES = ("received", "graded", "refund_pending", "refunded", "refused")
GRADES = ("resell", "damaged", "defective", "not_ours")
# resell → back on hand here (`return` movement); damaged/defective → `return` then `write_off` (never
# available); not_ours → refused, nothing moves.
DISPOSITIONS = ("restocked", "written_off", "refused")
REASONS = ("does_not_fit", "not_as_described", "defective", "wrong_item", "changed_mind", "other")
REFUND_METHODS = ("online", "till", "none")


class Return(db.Model):
    __tablename__ = "order_return"
    __table_args__ = (
        one_of("status", RETURN_STATUSES, "status"),
        one_of("reason", REASONS, "reason"),
        one_of("refund_method", REFUND_METHODS, "refund_method"),
        CheckConstraint("refund_minor >= 0 AND shipping_refund_minor >= 0", name="refund_minor"),
        CheckConstraint(
            "credit_applied_minor >= 0 AND credit_applied_minor <= refund_minor + shipping_refund_minor",
            name="credit_applied_minor",
        ),
        Index("ix_order_return_location_created", "location_id", "created_at"),
        Index("ix_order_return_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))  # the store that took the goods back
    status: Mapped[str] = mapped_column(String(16), default="received")
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")  # as the clerk typed it (erased with the customer)
    currency: Mapped[str] = mapped_column(String(3))  # the order's
    refund_minor: Mapped[int] = mapped_column(Integer, default=0)  # goods, shipping included below
    shipping_refund_minor: Mapped[int] = mapped_column(Integer, default=0)
    # An exchange: the part of the credit set against the new order's payment (placed with it); the rest,
    # refund_due_minor, is refunded the usual way.
    credit_applied_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refund_method: Mapped[str] = mapped_column(String(8), default="none")
    refund_reference: Mapped[str] = mapped_column(String(100), default="")  # the till's or the payment side's
    window_overridden_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    window_override_reason: Mapped[str] = mapped_column(String(300), default="")
    # An exchange: the counter draft started for the customer from this return; once placed, its order is
    # the one the returned goods' credit goes to (OrderDraft.order).
    exchange_draft_id: Mapped[int | None] = mapped_column(ForeignKey("order_draft.id", ondelete="SET NULL"))
    received_by_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # received
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refund_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    refunded_by_api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order = relationship("Order", foreign_keys=[order_id])
    exchange_draft = relationship("OrderDraft")
    location = relationship("Location")
    received_by = relationship("Staff", foreign_keys=[received_by_staff_id])
    refunded_by = relationship("Staff", foreign_keys=[refunded_by_staff_id])
    refunded_by_api_client = relationship("ApiClient")
    window_overridden_by = relationship("Staff", foreign_keys=[window_overridden_by_staff_id])
    lines: Mapped[list["ReturnLine"]] = relationship(
        back_populates="ret", order_by="ReturnLine.id", cascade="all, delete-orphan"
    )

    @property
    def exchange_order(self):
        return self.exchange_draft.order if self.exchange_draft is not None else None

    @property
    def total_refund_minor(self):
        return self.refund_minor + self.shipping_refund_minor

    @property
    def refund_due_minor(self):
        """What is paid back: the refund less the credit an exchange order took."""
        return self.total_refund_minor - (self.credit_applied_minor or 0)

    def __repr__(self):
        return f"<Return {self.id} of order {self.order_id}>"


class ReturnLine(db.Model):
    """Units of one order line with one grade (a line brought back as 1 resell + 1 defective is two rows)."""

    __tablename__ = "order_return_line"
    __table_args__ = (
        one_of("grade", GRADES, "grade"),
        one_of("disposition", DISPOSITIONS, "disposition"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("refund_minor >= 0", name="refund_minor"),
        CheckConstraint("sent_on_quantity >= 0 AND sent_on_quantity <= quantity", name="sent_on_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("order_return.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(12))
    disposition: Mapped[str] = mapped_column(String(12))
    refund_minor: Mapped[int] = mapped_column(Integer, default=0)  # quantity × the line's unit price, or 0
    # Restocked units sent on to the warehouse or another store (sending.py: never more than came back).
    sent_on_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    ret: Mapped[Return] = relationship(back_populates="lines")
    order_line = relationship("OrderLine")
    variant = relationship("Variant")
    sendings: Mapped[list["ReturnSending"]] = relationship(back_populates="line", order_by="ReturnSending.id")

    @property
    def sendable(self):
        """Units of a restocked line still here to send on."""
        return self.quantity - self.sent_on_quantity if self.disposition == "restocked" else 0


class ReturnSending(db.Model):
    """Restocked returned units sent on from the returning store through a stock transfer (orders/transfers)."""

    __tablename__ = "order_return_sending"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_line_id: Mapped[int] = mapped_column(ForeignKey("order_return_line.id", ondelete="CASCADE"), index=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfer.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line: Mapped[ReturnLine] = relationship(back_populates="sendings")
    transfer = relationship("Transfer")
    staff = relationship("Staff")
