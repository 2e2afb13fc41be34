"""Orders and their lines, the transfers that move goods for them, and the pickup at the desk."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.channels import CHANNELS
from omnistore.core.extensions import db
from omnistore.core.statuses import (
    DELIVERY_STATUSES,
    LINE_STATUSES,
    PICKUP_STATUSES,
    TRANSFER_STATUSES,
)
from omnistore.core.types import UTCDateTime, one_of, utcnow

FULFILMENTS = ("pickup", "delivery")
PAYMENT_STATES = ("paid", "pay_at_pickup")
VERIFICATIONS = ("qr", "code_name", "id")


def _in(values):
    return ", ".join(f"'{v}'" for v in values)


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        one_of("channel", CHANNELS, "channel"),
        one_of("fulfilment", FULFILMENTS, "fulfilment"),
        one_of("payment_state", PAYMENT_STATES, "payment_state"),
        # The status must be one the order's fulfilment knows (see DESIGN.md, order status).
        CheckConstraint(
            f"(fulfilment = 'pickup' AND status IN ({_in(PICKUP_STATUSES)}))"
            f" OR (fulfilment = 'delivery' AND status IN ({_in(DELIVERY_STATUSES)}))",
            name="status",
        ),
        CheckConstraint("fulfilment <> 'pickup' OR pickup_location_id IS NOT NULL", name="pickup_location"),
        CheckConstraint("total_minor >= 0", name="total_minor"),
        Index("ix_order_pickup_location_status", "pickup_location_id", "status"),
        Index("ix_order_customer_placed", "customer_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)  # OS-26-000123, set on insert
    channel: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    fulfilment: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="placed")
    payment_state: Mapped[str] = mapped_column(String(16), default="paid")
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    origin_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))  # store that sold it
    delivery_address: Mapped[dict] = mapped_column(db.JSON, default=dict)
    tracking_reference: Mapped[str] = mapped_column(String(100), default="")
    # The market it was sold in (the selling store's, or the API order's) and that market's currency then:
    # the order and its lines keep both, whatever the catalogue's prices or markets become later.
    market_code: Mapped[str | None] = mapped_column(ForeignKey("market.code"))  # always set on placing
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total_minor: Mapped[int] = mapped_column(Integer, default=0)
    # A delivery whose shipping fee the chain waived: units a pickup store could not supply, sent home instead
    # at the customer's choice (orders/rejection_choices.py). The order's total holds no fee then.
    shipping_fee_waived: Mapped[bool] = mapped_column(Boolean, default=False)
    # An exchange (returns/exchanges.py): the returned goods' credit set against this order's payment, at most
    # its total when placed; the customer owes amount_due_minor. 0 for every other order.
    credit_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # SHA-256 (hex) of "<scope>:<key>": a client's key may hold personal data, so only its hash is kept.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    placed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The integration that placed it: only that client sees its status_url (unless allowed all).
    placed_by_api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer = relationship("Customer")
    market = relationship("Market")
    pickup_location = relationship("Location", foreign_keys=[pickup_location_id])
    origin_location = relationship("Location", foreign_keys=[origin_location_id])
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    pickup: Mapped["Pickup | None"] = relationship(back_populates="order", uselist=False)
    events: Mapped[list["OrderEvent"]] = relationship(order_by="OrderEvent.created_at")

    @property
    def amount_due_minor(self):
        """What the customer owes for the order: its total less an exchange's credit, never below 0."""
        return max(self.total_minor - (self.credit_minor or 0), 0)

    def __repr__(self):
        return f"<Order {self.number}>"


class OrderLine(db.Model):
    __tablename__ = "order_line"
    __table_args__ = (
        one_of("status", LINE_STATUSES, "status"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price_minor >= 0", name="unit_price_minor"),
        CheckConstraint("returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_quantity"),
        CheckConstraint("discount_minor >= 0 AND discount_minor <= quantity * unit_price_minor", name="discount_minor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    source_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))  # where it is allocated
    # Indexed: a transfer's lines are found by it (an order page with a transfer, the transfer lists).
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfer.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="allocated")
    # Units the customer brought back (returns/: raised by one conditional UPDATE, never above quantity).
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What an offer took off this line (all its units together; offers/discounts.py spreads it over the lines).
    # The line keeps it whatever the offer becomes: net_minor is what the customer paid for the line.
    discount_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status_reason: Mapped[str] = mapped_column(String(300), default="")  # as a person typed it (or older rows)
    # A reason the system wrote (pickup expired, order cancelled): {"code": ..., "params": {...}}, rendered in
    # the viewer's language by orders/line_reasons.py.
    status_reason_code: Mapped[dict | None] = mapped_column(db.JSON, nullable=True)
    # Why this source: {"code": ..., "params": {...}} rendered in the viewer's language by
    # orders.line_reasons.line_reason (older lines have only the text in status_reason).
    source_reason: Mapped[dict | None] = mapped_column(db.JSON, nullable=True)

    order: Mapped[Order] = relationship(back_populates="lines")
    variant = relationship("Variant")
    source_location = relationship("Location")

    @property
    def gross_minor(self):
        return self.quantity * self.unit_price_minor

    @property
    def net_minor(self):
        """What the customer pays for the line: its units at their price, less the offer's share."""
        return self.quantity * self.unit_price_minor - (self.discount_minor or 0)


class OrderEvent(db.Model):
    """The order's history: placed, sourced, picked, shipped, ready, notified, checked in, collected…"""

    __tablename__ = "order_event"
    __table_args__ = (Index("ix_order_event_order_at", "order_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    detail: Mapped[dict] = mapped_column(db.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff = relationship("Staff")


class Transfer(db.Model):
    """Goods moving for an order from a source location to the pickup store (or, with no destination,
    to the customer's address) — or, with no order, a stock transfer: the store's own goods sent to the
    warehouse or another store (its `items`; e.g. resellable returned goods, returns/sending.py)."""

    __tablename__ = "transfer"
    __table_args__ = (
        one_of("status", TRANSFER_STATUSES, "status"),
        CheckConstraint(
            "destination_location_id IS NULL OR destination_location_id <> source_location_id",
            name="distinct_locations",
        ),
        Index("ix_transfer_source_status", "source_location_id", "status"),
        Index("ix_transfer_destination_status", "destination_location_id", "status"),
        Index("ix_transfer_created_at", "created_at"),  # today's transfers per source (transfer_capacity.py)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    source_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    destination_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    # A stock transfer: why the goods move, as its list shows it (e.g. "Returned goods, return #12").
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    tracking_reference: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    picked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order = relationship("Order")
    source_location = relationship("Location", foreign_keys=[source_location_id])
    destination_location = relationship("Location", foreign_keys=[destination_location_id])
    lines = relationship("OrderLine")
    items: Mapped[list["TransferItem"]] = relationship(
        back_populates="transfer", order_by="TransferItem.id", cascade="all, delete-orphan"
    )

    @property
    def is_stock_transfer(self):
        return self.order_id is None


class TransferItem(db.Model):
    """Units of one variant on a stock transfer (one with no order): reserved at the source when it is
    created, dispatched on ship, arriving on receive and then free stock at the destination."""

    __tablename__ = "transfer_item"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfer.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    transfer: Mapped[Transfer] = relationship(back_populates="items")
    variant = relationship("Variant")


class Pickup(db.Model):
    """The collect side of a pickup order: what the customer shows at the desk, and what happened there."""

    __tablename__ = "pickup"
    __table_args__ = (
        one_of("verification", VERIFICATIONS + ("",), "verification"),
        CheckConstraint("length(short_code) = 8", name="short_code_length"),
        UniqueConstraint("order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)  # ≥128 random bits, for the QR / status URL
    short_code: Mapped[str] = mapped_column(String(8), unique=True)
    shelf_location: Mapped[str] = mapped_column(String(32), default="")
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pickup_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_the_way_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_in_note: Mapped[str] = mapped_column(Text, default="")
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    verification: Mapped[str] = mapped_column(String(16), default="")
    payment_collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="pickup")
    collected_by = relationship("Staff")


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
    # None: held by the customer from an "available near you" e-mail (clienteling/nearby.py), no clerk yet.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))  # the selling store
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    fulfilment: Mapped[str] = mapped_column(String(8), default="pickup")
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    delivery_address: Mapped[dict] = mapped_column(db.JSON, default=dict)
    payment_state: Mapped[str] = mapped_column(String(16), default="pay_at_pickup")
    holds_expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # The customer's offer the clerk applied (offers/): redeemed when the order is placed.
    issued_offer_id: Mapped[int | None] = mapped_column(ForeignKey("issued_offer.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    staff = relationship("Staff")
    issued_offer = relationship("IssuedOffer")
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
        # "Available near you" looks up the drafts that held a variant (clienteling/nearby.py).
        Index("ix_draft_line_variant_id", "variant_id"),
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


REJECTION_REASONS = ("not_found", "damaged", "wrong_item")
# pending: a pickup customer has yet to choose; resourced: another source sends it for the same order;
# moved: the customer collects it at another store (a new pickup order there); dropped: the line is given up
# (by the customer, or no source has it); unavailable: no source could take it over.
REJECTION_OUTCOMES = ("pending", "resourced", "moved", "dropped", "unavailable")
REJECTION_DECIDERS = ("", "system", "customer", "default")


class LineRejection(db.Model):
    """Units of an order line a store could not supply at pick time (orders/rejecting.py): who, when, why, and
    what became of them. While `exclude_until` lies ahead, sourcing does not choose that store for that
    variant (orders/sourcing.py)."""

    __tablename__ = "line_rejection"
    __table_args__ = (
        one_of("reason", REJECTION_REASONS, "reason"),
        one_of("outcome", REJECTION_OUTCOMES, "outcome"),
        one_of("decided_by", REJECTION_DECIDERS, "decided_by"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_line_rejection_variant_until", "variant_id", "exclude_until"),
        Index("ix_line_rejection_location_at", "location_id", "created_at"),
        Index("ix_line_rejection_outcome_due", "outcome", "choice_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"))  # the rejected units
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))  # the store that rejected them
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    exclude_until: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    choice_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a pickup customer's time to choose
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(10), default="")
    replacement_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_line.id", ondelete="SET NULL"))
    replacement_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))

    order = relationship("Order", foreign_keys=[order_id])
    line = relationship("OrderLine", foreign_keys=[line_id])
    replacement_line = relationship("OrderLine", foreign_keys=[replacement_line_id])
    replacement_order = relationship("Order", foreign_keys=[replacement_order_id])
    variant = relationship("Variant")
    location = relationship("Location")
    staff = relationship("Staff")
