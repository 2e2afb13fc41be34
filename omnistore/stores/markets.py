"""Markets: the countries the chain sells in. A market has its currency, its customers' language, the VAT rate its
documents show, its delivery terms and its postcode rule; every location belongs to one, and a variant's price is
per market (catalog/prices.py). One price for a product in store, online and by phone — within a market.

`save_market` makes or changes one; `market_for(code)` and `market_of(location)` read them; `vat_included` is the
one owner of the VAT a price includes (shown on documents, never added to a price).
"""

import re
from dataclasses import dataclass

from babel.numbers import get_currency_name
from flask import current_app, has_app_context
from sqlalchemy import select

from omnistore.core import audit
from omnistore.core import config as settings
from omnistore.core.db import transaction
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stores.models import LOCALES, Location, Market


@dataclass(frozen=True)
class MarketTerms:
    """What a market is, as given to save_market."""

    code: str
    name: str
    currency: str
    locale: str
    vat_rate_bp: int  # 2500 = 25 %
    shipping_fee_minor: int
    free_shipping_from_minor: int
    postcode_pattern: str = ""


# The terms of the countries the chain knows how to open in; a market is made from them (or from any terms) by
# save_market. DKK price points are not converted euros: a market's prices are set per market in the feed.
KNOWN_MARKETS = {
    "DE": MarketTerms("DE", "Deutschland", "EUR", "de", 1900, 495, 5000, r"[0-9]{5}"),
    "DK": MarketTerms("DK", "Danmark", "DKK", "da", 2500, 3900, 49900, r"[0-9]{4}"),
}


def default_market_code():
    """The market today's single-currency data moved into: the default for `price_minor` in the feed."""
    value = current_app.config.get("OMNISTORE_DEFAULT_MARKET") if has_app_context() else None
    return (value or settings.default("DEFAULT_MARKET")).strip().upper()


def list_markets():
    return db.session.scalars(select(Market).order_by(Market.code)).all()


def market_for(code) -> Market:
    """The market with this code (case-insensitive); NotFound if there is none."""
    market = db.session.get(Market, code.strip().upper()) if isinstance(code, str) and code.strip() else None
    if market is None:
        raise NotFound(f"There is no market {code!r}.", field="market")
    return market


def market_of(location) -> Market:
    """The market a location sells in."""
    return market_for(location.market_code)


def _checked(terms: MarketTerms) -> dict:
    errors = {}
    code = (terms.code or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        errors["code"] = "Two letters, the country's ISO code, like DK."
    currency = (terms.currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency) or get_currency_name(currency, locale="en") == currency:
        errors["currency"] = "An ISO 4217 currency code, like DKK."
    if terms.locale not in LOCALES:
        errors["locale"] = f"One of {', '.join(LOCALES)}."
    if not isinstance(terms.vat_rate_bp, int) or not 0 <= terms.vat_rate_bp <= 10000:
        errors["vat_rate_bp"] = "Basis points from 0 to 10000 (2500 is 25 %)."
    for name in ("shipping_fee_minor", "free_shipping_from_minor"):
        value = getattr(terms, name)
        if not isinstance(value, int) or value < 0:
            errors[name] = "A whole number of minor units, 0 or more."
    try:
        re.compile(terms.postcode_pattern or "")
    except re.error:
        errors["postcode_pattern"] = "Not a regular expression."
    if errors:
        raise ValidationFailed("Please check the market.", errors)
    return dict(
        code=code,
        name=(terms.name or code).strip()[:100],
        currency=currency,
        locale=terms.locale,
        vat_rate_bp=terms.vat_rate_bp,
        shipping_fee_minor=terms.shipping_fee_minor,
        free_shipping_from_minor=terms.free_shipping_from_minor,
        postcode_pattern=terms.postcode_pattern or "",
    )


def save_market(terms: MarketTerms, *, staff=None) -> Market:
    """Make the market, or change its terms. Orders already sold in it keep their currency and prices."""
    values = _checked(terms)
    with transaction():
        market = db.session.get(Market, values["code"])
        made = market is None
        if made:
            market = Market(**values)
            db.session.add(market)
        else:
            for name, value in values.items():
                setattr(market, name, value)
        db.session.flush()
        audit.record(
            "market.created" if made else "market.changed", entity=("market", market.code), staff=staff, **values
        )
    return market


def assign_location(location_code, market_code, *, staff=None) -> Location:
    """Move a location into a market: from then on it sells at that market's prices, in its currency (orders it
    sold before keep theirs)."""
    market = market_for(market_code)
    code = (location_code or "").strip().upper()
    with transaction():
        location = db.session.scalar(select(Location).where(Location.code == code[:16]).with_for_update())
        if location is None:
            raise NotFound(f"There is no location {code[:16]!r}.", field="location")
        before = location.market_code
        location.market_code = market.code
        audit.record(
            "location.market_changed", entity=location, staff=staff, market=market.code, previous_market=before
        )
    return location


def ensure_market(code) -> Market:
    """The market with this code, made from KNOWN_MARKETS if it is not there yet (setting up a network)."""
    code = (code or "").strip().upper()
    market = db.session.get(Market, code)
    if market is not None:
        return market
    if code not in KNOWN_MARKETS:
        raise NotFound(f"There is no market {code!r}; make it with its terms first.", field="market")
    return save_market(KNOWN_MARKETS[code])


def vat_included(amount_minor, market) -> int:
    """The VAT an amount that includes it holds, at the market's rate, rounded to the minor unit."""
    rate = market.vat_rate_bp
    return (amount_minor * rate * 2 + (10000 + rate)) // ((10000 + rate) * 2)


def postcode_ok(market, postcode) -> bool:
    return not market.postcode_pattern or re.fullmatch(market.postcode_pattern, postcode or "") is not None
