"""Stock per (variant, location) and the append-only ledger that explains every change."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
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
    "count",  # a count session posted: on_hand set to what was counted (counts.py)
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
        Index("ix_stock_level_location_zone", "location_id", "zone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    # Where the variant sits in this location (e.g. "A3", "Shoe wall"): what a count of a zone covers. "" = none.
    zone: Mapped[str] = mapped_column(String(40), default="")
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


# --- counts: what the shelf says, checked against the figures (counts.py) ---------------------------------

COUNT_TASK_STATUSES = ("open", "closed")
COUNT_SCOPES = ("category", "variants", "tasks", "zone")
COUNT_STATUSES = ("counting", "review", "posted", "cancelled")
# counting: being scanned; review: variance above the threshold, waiting for a manager (or a second count);
# blocked: the count is below what orders reserve here; posted: on_hand set through the ledger (a `count`
# movement when it differed); kept: the manager kept the system's figure.
COUNT_LINE_STATUSES = ("counting", "review", "blocked", "posted", "kept")


class CountTask(db.Model):
    """A request to count one variant at one store (raised e.g. when a picker could not find it). At most one
    is open per (location, variant): raising it again while open adds to `times`. A posted count that covers
    the variant closes it."""

    __tablename__ = "count_task"
    __table_args__ = (
        one_of("status", COUNT_TASK_STATUSES, "status"),
        Index(
            "uq_count_task_open",
            "location_id",
            "variant_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200), default="")  # the latest reason it was raised for
    reference: Mapped[str] = mapped_column(String(100), default="")  # e.g. the order number
    times: Mapped[int] = mapped_column(Integer, default=1)  # raised this often while open
    status: Mapped[str] = mapped_column(String(10), default="open")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_count_id: Mapped[int | None] = mapped_column(ForeignKey("stock_count.id", ondelete="SET NULL"))

    variant = relationship("Variant")
    location = relationship("Location")


class StockCount(db.Model):
    """A count session at one store: a zone, a category, a list of variants or the store's open count tasks, scanned
    item by item. Its state is saved per scan, so a count interrupted is resumed where it was."""

    __tablename__ = "stock_count"
    __table_args__ = (
        one_of("scope", COUNT_SCOPES, "scope"),
        one_of("status", COUNT_STATUSES, "status"),
        Index("ix_stock_count_location_status", "location_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    scope: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(100), default="")  # scope "category"
    zone: Mapped[str] = mapped_column(String(40), default="")  # scope "zone"
    blind: Mapped[bool] = mapped_column(Boolean, default=True)  # expected figures hidden while counting
    status: Mapped[str] = mapped_column(String(10), default="counting")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    location = relationship("Location")
    started_by = relationship("Staff")
    lines = relationship(
        "StockCountLine", back_populates="count", order_by="StockCountLine.id", cascade="all, delete-orphan"
    )

    @property
    def named(self):
        """The zone or category it covers ("" for a list of items or the count tasks)."""
        return self.zone or self.category


class StockCountLine(db.Model):
    """One variant in a count: what was scanned, and at submit what the system expected."""

    __tablename__ = "stock_count_line"
    __table_args__ = (
        UniqueConstraint("count_id", "variant_id"),
        one_of("status", COUNT_LINE_STATUSES, "status"),
        CheckConstraint("counted >= 0", name="counted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_count.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"))
    counted: Mapped[int] = mapped_column(Integer, default=0)
    scans: Mapped[int] = mapped_column(Integer, default=0)  # 0: not scanned (counts as zero at submit)
    expected: Mapped[int | None] = mapped_column(Integer)  # on_hand when submitted (variance = counted - this)
    first_counted: Mapped[int | None] = mapped_column(Integer)  # the first count, when a second was asked for
    status: Mapped[str] = mapped_column(String(10), default="counting")
    posted_delta: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    count = relationship("StockCount", back_populates="lines")
    variant = relationship("Variant")

    @property
    def variance(self):
        return None if self.expected is None else self.counted - self.expected
