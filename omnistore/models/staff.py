"""Staff logins and integration clients."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._types import UTCDateTime, one_of, utcnow

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
    # Moves in steps (services/staff_sessions.py): one write a minute while in use, none per poll.
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
    # Scope (see services/staff.py, "API scope"): the order channels it may read and act on, the location
    # codes it may read and act on (None: the whole network), and whether it may only read.
    channels: Mapped[list] = mapped_column(db.JSON, default=lambda: list(DEFAULT_API_CHANNELS),
                                           server_default=text("'[\"web\"]'"))
    stores: Mapped[list | None] = mapped_column(db.JSON)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sees the status_url (the customer's QR credential) of in-scope orders other clients placed too.
    all_status_urls: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
