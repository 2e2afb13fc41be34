"""The network: stores and warehouses; distances between them and whether they are open."""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.stores.models import LOCATION_CODE_MAX, LOCATION_KINDS, WEEKDAYS, Location, Market

_HHMM_RE = re.compile(r"^[0-9]{2}:[0-9]{2}$")


def list_locations(*, include_inactive=False):
    """Locations ordered by code; only active ones unless asked otherwise."""
    query = select(Location).order_by(Location.code)
    if not include_inactive:
        query = query.where(Location.active.is_(True))
    return db.session.scalars(query).all()


def names_of(location_ids):
    """{id: name} of these locations, inactive ones too (an order's history names where things happened)."""
    ids = {location_id for location_id in location_ids if location_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Location.id, Location.name).where(Location.id.in_(ids))).all())


def get_location(code, *, include_inactive=False):
    """The location with this code (case-insensitive), or None."""
    if not isinstance(code, str) or not code.strip() or len(code) > LOCATION_CODE_MAX:
        return None
    query = select(Location).where(Location.code == code.strip().upper())
    if not include_inactive:
        query = query.where(Location.active.is_(True))
    return db.session.scalar(query)


# --- distance and opening hours (read helpers for the stock panel and the pickup pages) ------------------

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def distance_km(a, b):
    """Great-circle distance between two locations (anything with latitude/longitude), in km."""
    return distances_from(a)(b)


def distances_from(origin):
    """A function: location → great-circle km from `origin` (haversine; the origin's terms worked out once)."""
    lat1, lon1 = math.radians(origin.latitude), math.radians(origin.longitude)
    cos1, sin, cos, asin, sqrt, radians = math.cos(lat1), math.sin, math.cos, math.asin, math.sqrt, math.radians

    def distance(place):
        lat2, lon2 = radians(place.latitude), radians(place.longitude)
        h = sin((lat2 - lat1) / 2) ** 2 + cos1 * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
        return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))

    return distance


@dataclass(frozen=True)
class OpeningStatus:
    """A location's opening hours as seen at one moment, in its own time zone."""

    open_now: bool
    today: tuple[tuple[str, str], ...]  # today's intervals as stored, e.g. (("09:30", "20:00"),)
    closes_at: str | None = None  # when open now: the end of the current interval
    opens_at: str | None = None  # when closed now: the next opening later today, if any


def location_zone(location):
    """The location's time zone; UTC if the stored name is not a known zone."""
    try:
        return ZoneInfo(location.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return ZoneInfo("UTC")


def start_of_local_day(location, now):
    """Midnight of `now`'s day where the location is (an aware datetime in its zone)."""
    local = now.astimezone(location_zone(location))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _minutes(value):
    """ "09:30" → 570; "24:00" → 1440; anything else → None."""
    if not isinstance(value, str) or not _HHMM_RE.match(value):
        return None
    hours, minutes = int(value[:2]), int(value[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def _intervals(opening_hours, day):
    """Well-formed (start, end, start_text, end_text) of `day`; an end at or before its start runs past midnight."""
    if not isinstance(opening_hours, dict):
        return []
    result = []
    for interval in opening_hours.get(day) or []:
        if not isinstance(interval, list | tuple) or len(interval) != 2:
            continue
        start, end = _minutes(interval[0]), _minutes(interval[1])
        if start is None or end is None or start == end or start == 24 * 60:
            continue
        result.append((start, end, interval[0], interval[1]))
    return sorted(result)


def opening_status(location, now=None):
    """Open now? and today's hours, for `location` at `now` (aware, default: the current time)."""
    local = (now or datetime.now(UTC)).astimezone(location_zone(location))
    minute = local.hour * 60 + local.minute
    today_key, yesterday_key = WEEKDAYS[local.weekday()], WEEKDAYS[local.weekday() - 1]
    today = _intervals(location.opening_hours, today_key)
    # Yesterday's late interval running past midnight (e.g. 22:00–02:00) may still be open.
    for start, end, _s, end_text in _intervals(location.opening_hours, yesterday_key):
        if end < start and minute < end:
            return OpeningStatus(True, tuple((s, e) for _a, _b, s, e in today), closes_at=end_text)
    for start, end, _s, end_text in today:
        if start <= minute < (end if end > start else 24 * 60):
            return OpeningStatus(True, tuple((s, e) for _a, _b, s, e in today), closes_at=end_text)
    later = next((start_text for start, _e, start_text, _t in today if start > minute), None)
    return OpeningStatus(False, tuple((s, e) for _a, _b, s, e in today), opens_at=later)


def open_on(location, day) -> bool:
    """Is `location` open at some time on the calendar `day` (its own weekday)? A location without any
    opening hours recorded (e.g. a warehouse) counts as open every day."""
    hours = location.opening_hours if isinstance(location.opening_hours, dict) else {}
    if not any(_intervals(hours, key) for key in WEEKDAYS):
        return True
    return bool(_intervals(hours, WEEKDAYS[day.weekday()]))


def after_open_hours(location, start, hours, *, horizon=14):
    """The moment `hours` of `location`'s opening time have passed since `start` (aware): time while it is
    closed does not count (an order placed on Saturday evening is due on Monday morning). A location without
    opening hours counts as always open; beyond `horizon` days, `start` + `hours`."""
    wanted = timedelta(hours=hours)
    opening = location.opening_hours if isinstance(location.opening_hours, dict) else {}
    if not any(_intervals(opening, key) for key in WEEKDAYS):
        return start + wanted
    zone = location_zone(location)
    first = start.astimezone(zone).date() - timedelta(days=1)  # yesterday's interval may run past midnight
    for offset in range(horizon + 1):
        day = first + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for begin, end, _s, _e in _intervals(opening, WEEKDAYS[day.weekday()]):
            opens = midnight + timedelta(minutes=begin)
            closes = midnight + timedelta(minutes=end if end > begin else end + 24 * 60)
            opens = max(opens, start)
            if closes <= opens:
                continue
            if closes - opens >= wanted:
                return (opens + wanted).astimezone(UTC)
            wanted -= closes - opens
    return start + timedelta(hours=hours)


def next_open_day(location, day, *, horizon=14):
    """The first day on or after `day` on which `location` is open (`day` itself if none within `horizon`)."""
    for offset in range(horizon):
        candidate = day + timedelta(days=offset)
        if open_on(location, candidate):
            return candidate
    return day


def first_ready_day(location, now=None):
    """The first day something at `location` can be handed out: today (its local day) while it is still open
    today or opens later today, else its next open day."""
    local = (now or datetime.now(UTC)).astimezone(location_zone(location))
    today = local.date()
    minute = local.hour * 60 + local.minute
    status = opening_status(location, now or datetime.now(UTC))
    hours = location.opening_hours if isinstance(location.opening_hours, dict) else {}
    if not any(_intervals(hours, key) for key in WEEKDAYS):
        return today
    later_today = any(
        minute < (end if end > start else 24 * 60)
        for start, end, _s, _e in _intervals(hours, WEEKDAYS[today.weekday()])
    )
    if status.open_now or later_today:
        return today
    return next_open_day(location, today + timedelta(days=1))


# --- pickup settings of a store (the manager's rules) ------------------------------------------------------


@dataclass(frozen=True)
class PickupSettings:
    hold_days: int
    reminder_day: int
    pickup_enabled: bool
    sourcing_enabled: bool
    transfer_capacity: int
    safety_stock: int
    pickup_hours: dict  # {"mon": [["09:30", "20:00"]], …}; {} = whenever the store is open
    # Opening hours the store has to pick what it was asked for, as typed ("4", "1,5"); "" or None: the
    # network's OMNISTORE_PICK_HOURS (see `check_pick_hours`).
    pick_hours: object = None


PICK_HOURS_MIN, PICK_HOURS_MAX = 0.25, 168.0


def check_pick_hours(value):
    """A store's pick deadline in opening hours, as typed or given: None for "" or None (the network's
    setting), else a number from PICK_HOURS_MIN to PICK_HOURS_MAX, a decimal comma allowed ("1,5"), kept to two
    decimals. ValueError when it is not such a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        number = float(value)
    else:
        word = str(value).strip().replace(",", ".")
        if not word:
            return None
        if len(word) > 10 or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", word):
            raise ValueError(value)
        number = float(word)
    if number != number or not PICK_HOURS_MIN <= number <= PICK_HOURS_MAX:
        raise ValueError(value)
    return round(number, 2)


def parse_hours(text):
    """ "09:30-13:00, 14:00-20:00" → [["09:30", "13:00"], ["14:00", "20:00"]]; "" → []; None if malformed."""
    intervals = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip().replace("–", "-")
        if not part:
            continue
        start, sep, end = (piece.strip() for piece in part.partition("-"))
        if len(start) == 4:
            start = "0" + start
        if len(end) == 4:
            end = "0" + end
        low, high = _minutes(start), _minutes(end)
        if not sep or low is None or high is None or low >= high:
            return None
        intervals.append([start, end])
    intervals.sort()
    if any(a[1] > b[0] for a, b in zip(intervals, intervals[1:], strict=False)):
        return None
    return intervals


def format_hours(intervals):
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def update_pickup_settings(location, settings, *, staff):
    """Change a store's pickup rules (a manager their own store, an admin any), validated and audited."""
    from flask_babel import lazy_gettext as _l

    from omnistore.core.audit import record
    from omnistore.core.db import transaction
    from omnistore.core.errors import Forbidden, ValidationFailed

    if not (staff.is_admin or (staff.role == "manager" and staff.location_id == location.id)):
        raise Forbidden(_l("Only this store's manager can change its pickup rules."))
    errors = {}
    for name, low, high in (("hold_days", 1, 60), ("transfer_capacity", 0, 10_000), ("safety_stock", 0, 10_000)):
        value = getattr(settings, name)
        if not isinstance(value, int) or not low <= value <= high:
            errors[name] = _l("Give a whole number from %(low)d to %(high)d.", low=low, high=high)
    reminder = settings.reminder_day
    too_late = not errors.get("hold_days") and isinstance(reminder, int) and reminder >= settings.hold_days
    if not isinstance(reminder, int) or reminder < 0 or too_late:
        errors["reminder_day"] = _l(
            "The reminder goes out before the last hold day: 0 to %(last)d.", last=max(0, (settings.hold_days or 1) - 1)
        )
    try:
        pick_hours = check_pick_hours(settings.pick_hours)
    except ValueError:
        errors["pick_hours"] = _l(
            "Give a number of hours from %(low)s to %(high)d, or leave it empty for the network's setting.",
            low="0.25",
            high=int(PICK_HOURS_MAX),
        )
    hours = settings.pickup_hours if isinstance(settings.pickup_hours, dict) else None
    if hours is None or set(hours) - set(WEEKDAYS):
        errors["pickup_hours"] = _l("Give the hours as 09:30-20:00, several separated by commas.")
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    new = {
        "hold_days": settings.hold_days,
        "reminder_day": settings.reminder_day,
        "pickup_enabled": bool(settings.pickup_enabled),
        "sourcing_enabled": bool(settings.sourcing_enabled),
        "transfer_capacity": settings.transfer_capacity,
        "safety_stock": settings.safety_stock,
        "pickup_hours": {day: hours[day] for day in WEEKDAYS if day in hours},
        "pick_hours": pick_hours,
    }
    with transaction() as session:
        location = session.get(Location, location.id, with_for_update=True)
        changes = {
            name: [getattr(location, name), value] for name, value in new.items() if getattr(location, name) != value
        }
        for name, value in new.items():
            setattr(location, name, value)
        if changes:
            record("location.pickup_settings", entity=location, staff=staff, location_id=location.id, changes=changes)
    return location, changes


# --- making and changing a location: the chain's master data for one store or warehouse --------------------

_LOCATION_CODE = re.compile(rf"[A-Z0-9][A-Z0-9-]{{0,{LOCATION_CODE_MAX - 1}}}")
TIMEZONE_OF_COUNTRY = {"DE": "Europe/Berlin", "DK": "Europe/Copenhagen"}
# The columns' own lengths: the verb refuses exactly what the table cannot hold
_TEXT_LIMITS = {
    name: Location.__table__.c[name].type.length for name in ("name", "street", "postcode", "city", "phone")
}


@dataclass(frozen=True)
class LocationDetails:
    """What the chain says about one location. None keeps what a location has, or takes the default for a new
    one; `opening_hours` maps days ("mon"…"sun") to their hours as written ("09:30-13:00, 14:00-20:00", "" when
    closed), days left out kept."""

    code: str
    name: str | None = None
    kind: str | None = None
    market: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    opening_hours: dict | None = None


def save_location(details: LocationDetails, *, staff=None) -> tuple[Location, bool]:
    """Make the location with this code, or change what is given of it; validated and audited. A new location
    needs a name, its market and its coordinates, which every distance in the network is measured from. A
    location that changes market moves as `markets.assign_location` moves it. Returns (location, made)."""
    from flask_babel import lazy_gettext as _l
    from sqlalchemy.exc import IntegrityError

    from omnistore.core import validation
    from omnistore.core.audit import record
    from omnistore.core.db import transaction
    from omnistore.core.errors import DomainError, ValidationFailed
    from omnistore.stores import markets

    code = details.code.strip().upper() if isinstance(details.code, str) else ""
    if not _LOCATION_CODE.fullmatch(code):
        raise ValidationFailed(
            _l("Please check the location."), {"code": _l("Up to 16 letters, digits or dashes, like HAM or WH-1.")}
        )
    current = db.session.scalar(select(Location).where(Location.code == code))
    errors, values = {}, {}
    for name, limit in _TEXT_LIMITS.items():
        given = getattr(details, name)
        if given is not None:
            values[name] = validation.text(given, field=name, errors=errors, max_length=limit)
    if not values.get("name") and (current is None or details.name is not None):
        errors.setdefault("name", _l("A location needs a name."))
    if details.kind is not None:
        if details.kind not in LOCATION_KINDS:
            errors["kind"] = _l("store or warehouse.")
        values["kind"] = details.kind
    # The market it sells in: a Market, or for DE or DK not made yet their usual terms (made before the location)
    market = None
    if details.market is not None or current is None:
        wanted = details.market.strip().upper() if isinstance(details.market, str) else ""
        market = (db.session.get(Market, wanted) if wanted else None) or markets.KNOWN_MARKETS.get(wanted)
        if market is None:
            errors["market"] = _l("Name the market it sells in (make it first with its terms), like DE.")
    elif current.market_code:
        market = db.session.get(Market, current.market_code)
    moves = current is not None and market is not None and market.code != current.market_code
    if "postcode" in values or moves:  # a new market's rule applies to the postcode kept, too
        postcode = values.get("postcode", current.postcode if current is not None else "")
        if market is not None and postcode and "postcode" not in errors:
            try:
                values["postcode"] = markets.check_postcode(market, postcode)
            except ValidationFailed as failure:
                errors.update(failure.fields)
    if details.country is not None:
        country = details.country.strip().upper() if isinstance(details.country, str) else ""
        if not re.fullmatch(r"[A-Z]{2}", country):
            errors["country"] = _l("Two letters, the country's ISO code, like DK.")
        values["country"] = country
    elif current is None and market is not None:
        values["country"] = market.code
    for name, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        given = getattr(details, name)
        if given is None:
            if current is None:
                errors[name] = _l("A new location needs its coordinates: distances are measured from them.")
            continue
        number = not isinstance(given, bool) and isinstance(given, int | float) and math.isfinite(given)
        if not number or not low <= given <= high:
            errors[name] = _l("A number from %(low)d to %(high)d.", low=low, high=high)
        else:
            values[name] = float(given)
    zone = details.timezone
    if zone is None and current is None:
        zone = TIMEZONE_OF_COUNTRY.get(values.get("country", ""))
        if zone is None:
            errors["timezone"] = _l("Name its time zone, like Europe/Berlin.")
    if zone is not None:
        zone = zone.strip() if isinstance(zone, str) else ""
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = _l("A time zone like Europe/Berlin or Europe/Copenhagen.")
        else:
            if "/" not in zone:  # "UTC", "localtime": not where a store is
                errors["timezone"] = _l("A time zone like Europe/Berlin or Europe/Copenhagen.")
            values["timezone"] = zone
    if details.opening_hours is not None:
        hours = dict(current.opening_hours or {}) if current is not None else {}
        given = details.opening_hours if isinstance(details.opening_hours, dict) else {None: None}
        for day, written in given.items():
            intervals = parse_hours(written) if day in WEEKDAYS and isinstance(written, str) else None
            if intervals is None:
                errors["opening_hours"] = _l("Give each day's hours as 09:30-20:00, several separated by commas.")
                break
            hours[day] = intervals
        week = {day: hours.get(day, []) for day in WEEKDAYS}
        if "opening_hours" not in errors and not any(week.values()):
            errors["opening_hours"] = _l("Closed every day is no opening hours: give the days it is open.")
        values["opening_hours"] = week
    elif current is None:  # they decide "open now" in the network panel, pickup days and pick deadlines
        errors["opening_hours"] = _l("A new location needs its opening hours.")
    if errors:
        raise ValidationFailed(_l("Please check the location."), errors)
    made_meanwhile = _l("Location %(code)s was made meanwhile: save again to change it.", code=code)
    if market is not None and not isinstance(market, Market):
        markets.ensure_market(market.code)  # its usual terms, valid whatever becomes of the location
    try:
        with transaction() as session:
            location = session.scalar(select(Location).where(Location.code == code).with_for_update())
            if (location is None) != (current is None):  # made since it was checked: defaults are not for it
                raise DomainError(made_meanwhile)
            made = location is None
            if made:
                location = Location(code=code, market_code=market.code, **values)
                session.add(location)
                changes = {name: [None, value] for name, value in {**values, "market_code": market.code}.items()}
            else:
                changes = {
                    name: [getattr(location, name), value]
                    for name, value in values.items()
                    if getattr(location, name) != value
                }
                for name, (_before, value) in changes.items():
                    setattr(location, name, value)
            session.flush()
            if changes:
                record(
                    "location.created" if made else "location.changed",
                    entity=location,
                    staff=staff,
                    location_id=location.id,
                    changes=changes,
                )
            if moves:
                markets.assign_location(code, market.code, staff=staff)
    except IntegrityError as error:  # another save made this code at the same moment
        raise DomainError(made_meanwhile) from error
    return location, made
