"""What "available near you" keeps (clienteling/nearby.py): the e-mails sent, one row per customer and variant
(the cap and the hold link), and how far the job has read the stock ledger."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of

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
