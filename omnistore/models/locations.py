"""Stores and warehouses: the network."""
from sqlalchemy import Boolean, CheckConstraint, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._types import one_of

LOCATION_KINDS = ("store", "warehouse")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="store")
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="DE")  # ISO 3166-1 alpha-2
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
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_store(self):
        return self.kind == "store"

    @property
    def address_line(self):
        return ", ".join(part for part in (self.street, f"{self.postcode} {self.city}".strip()) if part)

    def __repr__(self):
        return f"<Location {self.code}>"
