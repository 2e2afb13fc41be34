"""Stock per (variant, location) and the append-only ledger that explains every change."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow

MOVEMENT_KINDS = (
    "receipt",
    "adjustment",
    "allocation",
    "release",
    "transfer_out",
    "transfer_in",
    "handover",
    "import",
    "return",  # goods a customer brought back, at the store that took them back (returns/)
    "write_off",  # goods booked out: a returned unit damaged or defective, with its reason
)


class StockLevel(db.Model):
    __tablename__ = "stock_level"
    __table_args__ = (
        UniqueConstraint("variant_id", "location_id"),
        CheckConstraint("on_hand >= 0", name="on_hand"),
        CheckConstraint("allocated >= 0", name="allocated"),
        CheckConstraint("allocated <= on_hand", name="allocated_le_on_hand"),
        Index("ix_stock_level_location_variant", "location_id", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on every change, so an open stock panel can ask "anything new?" cheaply.
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    variant = relationship("Variant")
    location = relationship("Location")

    @property
    def available(self):
        return max(self.on_hand - self.allocated, 0)


class VariantStock(db.Model):
    """A variant's figures summed over all its StockLevel rows (every location, closed ones included).

    Kept by the stock verbs (ledger.py, bulk_import.py) in the same transaction as each change to a level
    (summaries.py), so a search's network totals and the live panel's fingerprint are one key lookup instead
    of an aggregate over a row per location. `versions` is the sum of the levels' versions and `levels` their
    number: the pair changes with any change to any of the variant's levels, as the panel's fingerprint needs.
    """

    __tablename__ = "variant_stock"

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("variant.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    versions: Mapped[int] = mapped_column(BigInteger, default=0)
    levels: Mapped[int] = mapped_column(Integer, default=0)


class StockMovement(db.Model):
    """One change to a StockLevel. Sums of the deltas equal on_hand and allocated."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        one_of("kind", MOVEMENT_KINDS, "kind"),
        Index("ix_stock_movement_variant_location_at", "variant_id", "location_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    kind: Mapped[str] = mapped_column(String(16))
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    allocated_delta: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(500), default="")
    reference: Mapped[str] = mapped_column(String(100), default="")  # e.g. an order number or import id
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff = relationship("Staff")
