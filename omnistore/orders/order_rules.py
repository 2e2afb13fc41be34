"""What an order may ask for, and the configured rules it is planned by.

- the limits: MAX_LINES per order, MAX_LINE_QUANTITY per line, the FULFILMENTS (pickup, delivery);
- `Rules` / `rules()`: the OMNISTORE_* settings of sourcing (transfer days by distance, delivery days, the
  delivery countries), parsed as core/config.py parses them; the shipping fee and the free-shipping threshold
  are the market's (stores/markets.py, orders/sourcing.shipping_fee);
- the inputs and their checks, shared by the drafts at the counter, the API's orders, the forms and the
  sourcing engine (orders/sourcing.py): `LineRequest`, `Address` and `check_address`, `check_quantity`,
  `pickup_location`; each raises ValidationFailed with a message per field. A delivery address's postcode is
  checked by the rule of the market of its country (stores.markets.check_postcode: the one owner).
"""

from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import gettext as _

from omnistore.core import config as settings
from omnistore.core import validation
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.stores import markets
from omnistore.stores.models import Location, Market

MAX_LINES = 100
MAX_LINE_QUANTITY = 999  # per line; more than a shop floor ever sells at once, small enough to stay honest
FULFILMENTS = ("pickup", "delivery")

ADDRESS_FIELDS = {"name": 120, "street": 200, "postcode": 16, "city": 100, "country": 2}


# --- configuration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    transfer_days: tuple = settings.default("TRANSFER_DAYS")  # ((max_km or None, days), ...) ascending
    delivery_days: int = settings.default("DELIVERY_DAYS")
    delivery_countries: tuple = settings.default("DELIVERY_COUNTRIES")

    def days_for_distance(self, km):
        for limit, days in self.transfer_days:
            if limit is None or km <= limit:
                return days
        return self.transfer_days[-1][1]


parse_transfer_days = settings.transfer_days


def rules() -> Rules:
    """The rules from the app's configuration (the OMNISTORE_* settings of core/config.py, parsed the same way)."""
    config = current_app.config if has_app_context() else {}

    def get(name):
        value = config[f"OMNISTORE_{name}"] if f"OMNISTORE_{name}" in config else settings.default(name)
        return settings.setting(name).parse(value) if isinstance(value, str) else value

    return Rules(
        transfer_days=get("TRANSFER_DAYS"),
        delivery_days=int(get("DELIVERY_DAYS")),
        delivery_countries=tuple(get("DELIVERY_COUNTRIES")),
    )


# --- inputs and their checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class Address:
    name: str
    street: str
    postcode: str
    city: str
    country: str

    def as_dict(self):
        return {
            "name": self.name,
            "street": self.street,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
        }

    @property
    def one_line(self):
        return f"{self.name}, {self.street}, {self.postcode} {self.city}, {self.country}"


def check_address(data, *, allowed_countries=None) -> Address:
    """A delivery address from a dict (form or JSON); ValidationFailed with a message per field."""
    allowed = allowed_countries or rules().delivery_countries
    if not isinstance(data, dict):
        raise ValidationFailed(_("Enter the delivery address."), {"address": _("Enter the delivery address.")})
    errors, values = {}, {}
    for name, limit in ADDRESS_FIELDS.items():
        value = validation.text(data.get(name), field=name, errors=errors, max_length=limit, required=True)
        if name in errors:
            continue
        values[name] = value
    country = values.get("country", "").upper()
    if "country" not in errors:
        if country not in allowed:
            errors["country"] = _("We deliver to %(countries)s only.", countries=", ".join(allowed))
        elif "postcode" not in errors:
            market = db.session.get(Market, country)  # the country's market: its postcode rule (none: any)
            if market is not None:
                try:
                    values["postcode"] = markets.check_postcode(market, values["postcode"])
                except ValidationFailed as failure:
                    errors.update(failure.fields)
    if errors:
        raise ValidationFailed(_("Please check the delivery address."), errors)
    return Address(values["name"], values["street"], values["postcode"], values["city"], country)


def check_quantity(value, *, name="quantity"):
    """A line quantity (int, or a string as typed): 1..MAX_LINE_QUANTITY; ValidationFailed otherwise."""
    value = validation.whole_number(value)
    if value is None or abs(value) >= 10**9:  # ten digits and more: a slip of the finger, not a quantity
        raise ValidationFailed(_("Please check the quantity."), {name: _("Enter a whole number, like 1.")})
    if value < 1:
        raise ValidationFailed(_("Please check the quantity."), {name: _("The quantity must be at least 1.")})
    if value > MAX_LINE_QUANTITY:
        raise ValidationFailed(
            _("Please check the quantity."), {name: _("At most %(max)d per line.", max=MAX_LINE_QUANTITY)}
        )
    return value


def pickup_location(location_id) -> Location:
    """An active store with a pickup desk; ValidationFailed (field pickup_location) otherwise."""
    location = db.session.get(Location, location_id) if isinstance(location_id, int) else None
    if location is None or not location.active:
        raise ValidationFailed(
            _("Please choose where to collect."), {"pickup_location": _("We could not find that location.")}
        )
    if not location.is_store or not location.pickup_enabled:
        raise ValidationFailed(
            _("Please choose where to collect."),
            {"pickup_location": _("%(name)s has no pickup desk. Choose another store.", name=location.name)},
        )
    return location
