"""Offers: an offer a manager defines (`Offer`), issued to one customer (`IssuedOffer`, with its code and the
uses left), and each use on an order (`OfferRedemption`, released again when the order is cancelled)."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow

OFFER_KINDS = ("percent", "amount")  # percent off, or an amount in the market's currency (minor units)
OFFER_SCOPES = ("basket", "category", "product")
OFFER_ORIGINS = ("manager", "loyalty")  # defined by a manager, or a loyalty reward bought with points
ISSUE_CHANNELS = ("clerk", "segment", "loyalty")
CODE_LENGTH = 12
MAX_USES = 100


class Offer(db.Model):
    __tablename__ = "offer"
    __table_args__ = (
        one_of("kind", OFFER_KINDS, "kind"),
        one_of("scope", OFFER_SCOPES, "scope"),
        one_of("origin", OFFER_ORIGINS, "origin"),
        CheckConstraint("value > 0", name="value"),
        CheckConstraint("kind <> 'percent' OR value <= 100", name="percent"),
        CheckConstraint(f"uses_per_customer BETWEEN 1 AND {MAX_USES}", name="uses_per_customer"),
        CheckConstraint("valid_until >= valid_from", name="validity"),
        CheckConstraint("scope <> 'category' OR category <> ''", name="category"),
        CheckConstraint("scope <> 'product' OR product_id IS NOT NULL", name="product"),
        Index("ix_offer_market_until", "market_code", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[int] = mapped_column(Integer)  # percent (1–100), or minor units of the market's currency
    scope: Mapped[str] = mapped_column(String(8), default="basket")
    category: Mapped[str] = mapped_column(String(100), default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    market_code: Mapped[str] = mapped_column(ForeignKey("market.code"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)  # inclusive
    uses_per_customer: Mapped[int] = mapped_column(Integer, default=1)
    origin: Mapped[str] = mapped_column(String(8), default="manager", server_default="manager")
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product")
    market = relationship("Market")
    created_by = relationship("Staff")

    def __repr__(self):
        return f"<Offer {self.id} {self.kind} {self.value}>"


class IssuedOffer(db.Model):
    """An offer given to one customer: the code a clerk scans or the web shop sends, and the uses left (taken
    by one conditional UPDATE when an order redeems it, given back when that order is cancelled)."""

    __tablename__ = "issued_offer"
    __table_args__ = (
        UniqueConstraint("offer_id", "customer_id"),  # issuing twice never duplicates
        one_of("issued_via", ISSUE_CHANNELS, "issued_via"),
        CheckConstraint("uses_left >= 0", name="uses_left"),
        Index("ix_issued_offer_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(CODE_LENGTH), unique=True)
    uses_left: Mapped[int] = mapped_column(Integer)
    issued_via: Mapped[str] = mapped_column(String(8), default="clerk")
    segment: Mapped[str] = mapped_column(String(32), default="")  # the lifecycle stage it was issued to
    issued_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    offer: Mapped[Offer] = relationship()
    customer = relationship("Customer")
    issued_by = relationship("Staff")


class OfferRedemption(db.Model):
    """One use of an issued offer on an order: the discount it gave (also on the order's lines). Released
    (`released_at`) when the order is cancelled, and the use given back."""

    __tablename__ = "offer_redemption"
    __table_args__ = (
        UniqueConstraint("order_id"),  # one offer per order
        CheckConstraint("discount_minor >= 0", name="discount_minor"),
        Index("ix_offer_redemption_issued", "issued_offer_id"),
        Index("ix_offer_redemption_redeemed_at", "redeemed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issued_offer_id: Mapped[int] = mapped_column(ForeignKey("issued_offer.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    discount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))

    issued: Mapped[IssuedOffer] = relationship()
