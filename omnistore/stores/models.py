"""Stores and warehouses: the network."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text, false, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of, utcnow

LOCATION_KINDS = ("store", "warehouse")
LOCATION_CODE_MAX = 16
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Market(db.Model):
    """A country the chain sells in: its currency, language, VAT rate shown on documents and delivery terms.
    Prices are per market (catalog.models.VariantPrice); every location belongs to one."""

    __tablename__ = "market"
    __table_args__ = (
        CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="vat_rate_bp"),
        CheckConstraint("shipping_fee_minor >= 0", name="shipping_fee_minor"),
        CheckConstraint("free_shipping_from_minor >= 0", name="free_shipping_from_minor"),
        CheckConstraint(
            "return_window_days IS NULL OR return_window_days BETWEEN 1 AND 365", name="return_window_days"
        ),
    )

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2 of the country
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    locale: Mapped[str] = mapped_column(String(5), default="en")  # the customers' default language
    vat_rate_bp: Mapped[int] = mapped_column(Integer)  # basis points: 2500 = 25 %; prices include it
    shipping_fee_minor: Mapped[int] = mapped_column(Integer)
    free_shipping_from_minor: Mapped[int] = mapped_column(Integer)
    postcode_rule: Mapped[str] = mapped_column(String(16), default="")  # a key of stores.markets.POSTCODE_RULES
    # Days goods may come back after collection or delivery; None: the network's OMNISTORE_RETURN_WINDOW_DAYS.
    # Purchases at a distance always get at least the legal 14 (returns/window.py).
    return_window_days: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def __repr__(self):
        return f"<Market {self.code} {self.currency}>"


class Location(db.Model):
    __tablename__ = "location"
    __table_args__ = (
        one_of("kind", LOCATION_KINDS, "kind"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
        CheckConstraint("hold_days BETWEEN 1 AND 60", name="hold_days"),
        CheckConstraint("reminder_day >= 0 AND reminder_day < hold_days", name="reminder_day"),
        CheckConstraint("safety_stock >= 0", name="safety_stock"),
        CheckConstraint("transfer_capacity >= 0", name="transfer_capacity"),
        CheckConstraint("lead_time_days BETWEEN 0 AND 60", name="lead_time_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(LOCATION_CODE_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="store")
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="DE")  # ISO 3166-1 alpha-2
    # The market it sells in: its prices and currency (stores/markets.py).
    # Set by every verb that makes a location; nullable only because the column came to a filled table.
    market_code: Mapped[str | None] = mapped_column(ForeignKey("market.code"), index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    # {"mon": [["09:30", "20:00"]], ..., "sun": []} in the location's own time zone
    opening_hours: Mapped[dict] = mapped_column(db.JSON, default=dict)
    pickup_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    hold_days: Mapped[int] = mapped_column(Integer, default=7)
    reminder_day: Mapped[int] = mapped_column(Integer, default=5)
    # Pickup desk hours, same shape as opening_hours; empty means "whenever the store is open".
    pickup_hours: Mapped[dict] = mapped_column(db.JSON, default=dict)
    # Sourcing rules (endless aisle): may this location supply other locations' orders at all, how many
    # units it always keeps for its own customers, how many outgoing transfers it sends per local day,
    # and how many days it needs before goods leave (a warehouse's lead time).
    sourcing_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    transfer_capacity: Mapped[int] = mapped_column(Integer, default=50)
    lead_time_days: Mapped[int] = mapped_column(Integer, default=0)
    # Opening hours the store has to pick what it was asked for (orders/pick_deadlines.py); None: the
    # network's OMNISTORE_PICK_HOURS.
    pick_hours: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    market = relationship("Market")  # many-to-one by primary key: read once per session

    @hybrid_property
    def is_store(self):
        return self.kind == "store"  # also a SQL expression: Location.is_store in a query

    @property
    def address_line(self):
        return ", ".join(part for part in (self.street, f"{self.postcode} {self.city}".strip()) if part)

    def __repr__(self):
        return f"<Location {self.code}>"


ROLES = ("clerk", "manager", "admin")
LOCALES = ("en", "de", "da")
# What a token may see when nobody said otherwise (and what tokens made before scopes existed keep):
# the web shop's own channel, never counter orders.
DEFAULT_API_CHANNELS = ("web",)


class Staff(UserMixin, db.Model):
    __tablename__ = "staff"
    __table_args__ = (one_of("role", ROLES, "role"), one_of("locale", LOCALES, "locale"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="clerk")
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    locale: Mapped[str] = mapped_column(String(5), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of the session id: bumping it (password change, disable) logs out every session.
    session_generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    location = relationship("Location")

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return f"{self.id}:{self.session_generation}"

    @property
    def is_manager(self):
        return self.role in ("manager", "admin")

    @property
    def is_admin(self):
        return self.role == "admin"

    def __repr__(self):
        return f"<Staff {self.email}>"


class StaffSession(db.Model):
    """One sign-in on one device, kept on the server so that signing out (or a replayed copy of the cookie after
    the idle timeout) ends it there; the cookie holds only a random key whose hash is stored here."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moves in steps (stores/sessions.py): one write a minute while in use, none per poll.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiClient(db.Model):
    """A named bearer token for an integration (web shop, ERP); only its hash is kept."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))  # shown in listings, enough to tell tokens apart
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Scope (see stores/staff.py, "API scope"): the order channels it may read and act on, the location
    # codes it may read and act on (None: the whole network), and whether it may only read.
    channels: Mapped[list] = mapped_column(
        db.JSON, default=lambda: list(DEFAULT_API_CHANNELS), server_default=text("'[\"web\"]'")
    )
    stores: Mapped[list | None] = mapped_column(db.JSON)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sees the status_url (the customer's QR credential) of in-scope orders other clients placed too.
    all_status_urls: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
