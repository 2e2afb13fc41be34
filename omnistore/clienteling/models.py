"""What clienteling keeps of its own: the history of each customer's lifecycle stage (clienteling/lifecycle.py);
what the customer said after a purchase: the follow-up e-mail of one order, its rating and comment, and the
store manager's call back (clienteling/followups.py); what "available near you" keeps (clienteling/nearby.py):
the e-mails sent, one row per customer and variant (the cap and the hold link), and how far the job has read the
stock ledger."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow

# The stages' names, in the order of the journey (lifecycle.Stage spells the same words).
STAGE_NAMES = ("acquisition", "first_purchase", "loyal", "at_risk", "lapsed")


class CustomerStageChange(db.Model):
    """A customer entered `stage` (from `from_stage`; None: the first stage recorded for them) at `since`.
    Written by the periodic job lifecycle.record_stage_changes, only when the stage changed: the newest row per
    customer is the stage they were last seen in."""

    __tablename__ = "customer_stage_change"
    __table_args__ = (
        one_of("stage", STAGE_NAMES, "stage"),
        one_of("coalesce(from_stage, 'acquisition')", STAGE_NAMES, "from_stage"),
        Index("ix_customer_stage_change_customer", "customer_id", "id"),
        Index("ix_customer_stage_change_since", "since"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class PurchaseFollowUp(db.Model):
    """One per order: written when the job considered the order (sent, or why not), rated from the e-mail."""

    __tablename__ = "purchase_followup"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating"),
        Index("ix_purchase_followup_callback", "location_id", "callback", "called_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))  # the store that calls back
    outcome: Mapped[str] = mapped_column(String(16))  # the gate's answer: sent, no_consent, capped, …
    token: Mapped[str | None] = mapped_column(String(64), unique=True)  # the rating links'; None once erased
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback: Mapped[bool] = mapped_column(default=False)  # a low rating or a comment: the store calls back
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    call_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order = relationship("Order")
    customer = relationship("Customer")
    location = relationship("Location")
    called_by = relationship("Staff")


INTEREST_SOURCES = ("wishlist", "notify", "draft")


class NearbyAlert(db.Model):
    """The last "available near you" e-mail to one customer about one variant: where, when, why, and its hold
    button. The row is written by the send itself (one conditional upsert: a new row, or an old one whose
    `sent_at` lies more than the period back), so the cap and the send are one write."""

    __tablename__ = "nearby_alert"
    __table_args__ = (
        UniqueConstraint("customer_id", "variant_id"),
        one_of("source", INTEREST_SOURCES, "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))  # the store the e-mail named
    source: Mapped[str] = mapped_column(String(8))  # why: wishlist, notify (asked at the counter), draft
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sends: Mapped[int] = mapped_column(Integer, default=1)
    # SHA-256 (hex) of the hold button's token: the link in the e-mail is the only copy of the token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("order_draft.id", ondelete="SET NULL"))

    variant = relationship("Variant")
    location = relationship("Location")
    draft = relationship("OrderDraft")


class NearbyScan(db.Model):
    """How far the job has read the stock ledger: the last StockMovement id it has looked at."""

    __tablename__ = "nearby_scan"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_movement_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
