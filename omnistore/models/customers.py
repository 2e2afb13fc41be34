"""One customer profile across channels, with consents and staff notes."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._types import UTCDateTime, one_of, utcnow

CHANNELS = ("web", "store", "app", "phone")
CONSENT_CHANNELS = ("email", "sms")
LOYALTY_TIERS = ("basic", "silver", "gold")


class Customer(db.Model):
    __tablename__ = "customer"
    __table_args__ = (
        one_of("loyalty_tier", LOYALTY_TIERS, "loyalty_tier"),
        one_of("created_channel", CHANNELS, "created_channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # lower-cased
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # E.164
    loyalty_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    loyalty_tier: Mapped[str] = mapped_column(String(16), default="basic")
    loyalty_points: Mapped[int] = mapped_column(Integer, default=0)
    preferred_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    sizes: Mapped[dict] = mapped_column(db.JSON, default=dict)  # {"shoes": "42", "tops": "M"}
    preferences: Mapped[dict] = mapped_column(db.JSON, default=dict)
    # Lower-cased, accent-folded full name for search.
    search_name: Mapped[str] = mapped_column(String(300), default="", index=True)
    created_channel: Mapped[str] = mapped_column(String(8), default="store")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    preferred_location = relationship("Location")
    consents: Mapped[list["Consent"]] = relationship(
        back_populates="customer", order_by="Consent.recorded_at", cascade="all, delete-orphan"
    )
    notes: Mapped[list["CustomerNote"]] = relationship(
        back_populates="customer", order_by="CustomerNote.created_at.desc()", cascade="all, delete-orphan"
    )

    @property
    def display_name(self):
        return f"{self.first_name} {self.last_name}".strip() or (self.email or "")

    def __repr__(self):
        return f"<Customer {self.id}>"


class Consent(db.Model):
    """A consent given or withdrawn: append-only, the newest row per channel is in force."""

    __tablename__ = "consent"
    __table_args__ = (
        one_of("channel", CONSENT_CHANNELS, "channel"),
        one_of("source_channel", CHANNELS, "source_channel"),
        Index("ix_consent_customer_channel", "customer_id", "channel", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    granted: Mapped[bool] = mapped_column(Boolean)
    source_channel: Mapped[str] = mapped_column(String(8), default="store")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")
    location = relationship("Location")
    staff = relationship("Staff")


class CustomerNote(db.Model):
    __tablename__ = "customer_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="notes")
    staff = relationship("Staff")
