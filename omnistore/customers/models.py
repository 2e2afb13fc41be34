"""One customer profile across channels, with consents and staff notes, visits, a wishlist, the log of who
viewed the profile, and the record of merges."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.channels import CHANNELS
from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow

CONSENT_CHANNELS = ("email", "sms")
LOYALTY_TIERS = ("basic", "silver", "gold")
CUSTOMER_LOCALES = ("en", "de", "da")
VISIT_KINDS = ("visit", "check_in", "appointment")
ACCESS_ACTIONS = ("view", "export", "erase", "merge")


class Customer(db.Model):
    __tablename__ = "customer"
    __table_args__ = (
        one_of("loyalty_tier", LOYALTY_TIERS, "loyalty_tier"),
        one_of("created_channel", CHANNELS, "created_channel"),
        one_of("locale", CUSTOMER_LOCALES, "locale"),
        # Partial, accent-insensitive name search on PostgreSQL (pg_trgm); a plain index elsewhere.
        Index(
            "ix_customer_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
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
    locale: Mapped[str] = mapped_column(String(5), default="de", server_default="de")
    # Set when a manager merged this profile into another one: everything moved there, this row stays as a stub.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)

    preferred_location = relationship("Location")
    consents: Mapped[list["Consent"]] = relationship(
        back_populates="customer", order_by="Consent.recorded_at", cascade="all, delete-orphan"
    )
    notes: Mapped[list["CustomerNote"]] = relationship(
        back_populates="customer", order_by="CustomerNote.created_at.desc()", cascade="all, delete-orphan"
    )

    @property
    def display_name(self):
        if self.erased_at is not None:
            return f"#{self.id}"
        return f"{self.first_name} {self.last_name}".strip() or (self.email or self.phone or f"#{self.id}")

    @property
    def active(self):
        """Findable and editable: neither erased nor merged into another profile."""
        return self.erased_at is None and self.merged_into_id is None

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


class CustomerVisit(db.Model):
    """The customer was in a store: a visit noted by the clerk, a pickup check-in, an appointment."""

    __tablename__ = "customer_visit"
    __table_args__ = (
        one_of("kind", VISIT_KINDS, "kind"),
        one_of("channel", CHANNELS, "channel"),
        Index("ix_customer_visit_customer_at", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="visit")
    channel: Mapped[str] = mapped_column(String(8), default="store")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    location = relationship("Location")
    staff = relationship("Staff")


class WishlistItem(db.Model):
    """A variant the customer would like; one list, the same on every channel."""

    __tablename__ = "wishlist_item"
    __table_args__ = (
        UniqueConstraint("customer_id", "variant_id"),
        one_of("channel", CHANNELS, "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8), default="store")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    variant = relationship("Variant")
    location = relationship("Location")


class NotifyRequest(db.Model):
    """ "Tell me when it is available": asked at the counter for a variant a store could not offer. One row per
    customer and variant; cancelling keeps the row (cancelled_at), asking again opens it again. While it is
    open, clienteling/nearby.py e-mails the customer when the variant is available near them."""

    __tablename__ = "notify_request"
    __table_args__ = (UniqueConstraint("customer_id", "variant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))  # the store where it was asked
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    variant = relationship("Variant")
    location = relationship("Location")

    @property
    def open(self):
        return self.cancelled_at is None


class CustomerAccess(db.Model):
    """Who opened, exported, merged or erased a profile, when and at which store (GDPR access log)."""

    __tablename__ = "customer_access"
    __table_args__ = (
        one_of("action", ACCESS_ACTIONS, "action"),
        Index("ix_customer_access_customer_at", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(8), default="view")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff = relationship("Staff")
    location = relationship("Location")


class CustomerMerge(db.Model):
    """A manager merged `merged` into `survivor`: what the merged profile held and what moved."""

    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    # The merged profile's identifiers and contact data as they were, and the rows moved per kind.
    merged_snapshot: Mapped[dict] = mapped_column(db.JSON, default=dict)
    moved: Mapped[dict] = mapped_column(db.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff = relationship("Staff")


class MarketingSend(db.Model):
    """One marketing e-mail the consent gate let through (customers/marketing.py): which kind, to whom, who
    sent it (outreach), its unsubscribe token, and whether that token was used. The frequency caps count these
    rows; the figures attribute orders to the staff member who sent one."""

    __tablename__ = "marketing_send"
    __table_args__ = (Index("ix_marketing_send_customer_kind_at", "customer_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64), default="")  # what a per-key cap counts by (a variant, an order)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)  # the unsubscribe link's; None once erased
    outbox_message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("outbox_message.id", ondelete="SET NULL")
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    detail: Mapped[dict] = mapped_column(db.JSON, default=dict)  # what the message carried (products, text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff = relationship("Staff")
    location = relationship("Location")
