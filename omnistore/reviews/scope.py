"""What a review is asked for: a Scope, a store (or the network, for admins) and a period of whole local days in
that store's time zone (the network uses the admin's own store's zone); `scope_for` says who may ask for which."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from omnistore.core.errors import Forbidden, NotFound, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stores.locations import location_zone
from omnistore.stores.models import Location

PERIODS = ("today", "7d", "30d", "custom")
PERIOD_DAYS = {"today": 1, "7d": 7, "30d": 30}
MAX_CUSTOM_DAYS = 366


@dataclass(frozen=True)
class Scope:
    location: Location | None  # None: the whole network
    zone: ZoneInfo
    period: str
    first_day: date
    last_day: date  # inclusive
    now: datetime

    @property
    def start(self):
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self):
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def days(self):
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    @property
    def is_network(self):
        return self.location is None

    def query_args(self, store=None, **extra):
        """The URL query that selects this scope again (for links and exports); `store` picks another store."""
        args = {"period": self.period, "store": store or (self.location.code if self.location else "network")}
        if self.period == "custom":
            args.update({"from": self.first_day.isoformat(), "to": self.last_day.isoformat()})
        args.update({k: v for k, v in extra.items() if v not in (None, "")})
        return args


def local_midnight(day, zone):
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _parse_day(value, name):
    try:
        return date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        raise ValidationFailed(_l("Give dates as YYYY-MM-DD."), {name: _l("Give a date as YYYY-MM-DD.")}) from None


def scope_for(staff, *, store=None, period="7d", first=None, last=None, now=None):
    """The scope a staff member asks for. Managers see their own store; admins any store or the network
    (store "network" or empty). Another store for a manager is OutOfScope; the network is Forbidden."""
    now = now or utcnow()
    store = (store or "").strip().upper()
    if staff.is_admin:
        if store in ("", "NETWORK"):
            location = None
        else:
            location = db.session.scalar(select(Location).where(Location.code == store[:16]))
            if location is None:
                raise NotFound(_l("No store with that code."))
    elif staff.role == "manager":
        if store == "NETWORK":
            raise Forbidden(_l("Only admins review the whole network."))
        if store and store != staff.location.code:
            raise OutOfScope(_l("No store with that code."))
        location = staff.location
    else:
        raise Forbidden(_l("Only managers review pickups."))
    zone = location_zone(location or staff.location)
    today = now.astimezone(zone).date()
    if period not in PERIODS:
        period = "7d"
    if period == "custom":
        first_day, last_day = _parse_day(first, "from"), _parse_day(last, "to")
        if last_day < first_day:
            message = _l("The period ends before it starts.")
            raise ValidationFailed(message, {"to": message})
        if (last_day - first_day).days + 1 > MAX_CUSTOM_DAYS:
            message = _l("Pick a period of at most a year.")
            raise ValidationFailed(message, {"to": message})
        if first_day.year < 2000 or last_day.year > 2100:
            message = _l("Pick dates between 2000 and 2100.")
            raise ValidationFailed(message, {"from": message})
    else:
        first_day, last_day = today - timedelta(days=PERIOD_DAYS[period] - 1), today
    return Scope(location, zone, period, first_day, last_day, now)
