"""Markets: the countries the chain sells in. A market has its currency, its customers' language, the VAT rate its
documents show, its delivery terms and its postcode rule; every location belongs to one, and a variant's price is
per market (catalog/prices.py). One price for a product in store, online and by phone — within a market.

`save_market` makes or changes one (the `flask market save` command and the markets screen both call it);
`assign_location` moves a location into one; `market_for(code)` and `market_of(location)` read them;
`vat_included` is the one owner of the VAT a price includes (shown on documents, never added to a price);
`check_postcode` is the one owner of "is this a postcode of that country" (a market's rule, one of
POSTCODE_RULES); `return_window_days` the market's return window (returns/window.py applies it).
"""

import re
from dataclasses import dataclass

from babel import Locale
from babel.numbers import get_currency_name
from flask import current_app, has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

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
    postcode_rule: str = ""  # a key of POSTCODE_RULES; "": no check
    return_window_days: int | None = None  # None: the network's OMNISTORE_RETURN_WINDOW_DAYS


@dataclass(frozen=True)
class PostcodeRule:
    """How a country writes its postcodes: `pattern` must match the whole postcode once spaces are taken out."""

    key: str
    label: object  # lazy text, for the list on the markets screen
    pattern: re.Pattern
    message: object  # lazy text with %(country)s: said at the postcode field when it does not match


# The postcode rules a market can have (chosen on the markets screen or with `flask market save --postcode`).
POSTCODE_RULES = {
    rule.key: rule
    for rule in (
        PostcodeRule("", _l("No check"), re.compile(r".+"), _l("Enter the postcode.")),
        PostcodeRule(
            "4-digits",
            _l("4 digits · 1620"),
            re.compile(r"[0-9]{4}"),
            _l("A postcode in %(country)s has 4 digits, like 1620."),
        ),
        PostcodeRule(
            "5-digits",
            _l("5 digits · 20095"),
            re.compile(r"[0-9]{5}"),
            _l("A postcode in %(country)s has 5 digits, like 20095."),
        ),
        PostcodeRule(
            "4-digits-letters",
            _l("4 digits, 2 letters · 1012 AB"),
            re.compile(r"[1-9][0-9]{3}[A-Z]{2}"),
            _l("A postcode in %(country)s has 4 digits and 2 letters, like 1012 AB."),
        ),
        PostcodeRule(
            "2-3-digits",
            _l("2-3 digits · 00-950"),
            re.compile(r"[0-9]{2}-[0-9]{3}"),
            _l("A postcode in %(country)s is written like 00-950."),
        ),
    )
}


# The terms of the countries the chain knows how to open in; a market is made from them (or from any terms) by
# save_market. DKK price points are not converted euros: a market's prices are set per market in the feed.
KNOWN_MARKETS = {
    "DE": MarketTerms("DE", "Deutschland", "EUR", "de", 1900, 495, 5000, "5-digits"),
    "DK": MarketTerms("DK", "Danmark", "DKK", "da", 2500, 3900, 49900, "4-digits"),
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
        raise NotFound(_("There is no market %(code)s.", code=repr(code)[:10]), field="market")
    return market


def market_of(location) -> Market:
    """The market a location sells in."""
    return market_for(location.market_code)


MAX_RETURN_WINDOW_DAYS = 365


def _checked(terms: MarketTerms) -> dict:
    errors = {}
    code = (terms.code or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        errors["code"] = _("Two letters, the country's ISO code, like DK.")
    name = (terms.name or "").strip()
    if len(name) > 100 or any(ord(char) < 32 for char in name):
        errors["name"] = _("At most 100 characters, on one line.")
    currency = (terms.currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency) or get_currency_name(currency, locale="en") == currency:
        errors["currency"] = _("An ISO 4217 currency code, like DKK.")
    if terms.locale not in LOCALES:
        errors["locale"] = _("One of %(languages)s.", languages=", ".join(LOCALES))
    if not _whole(terms.vat_rate_bp) or not 0 <= terms.vat_rate_bp <= 10000:
        errors["vat_rate_bp"] = _("A rate from 0 to 100 %.")
    for field in ("shipping_fee_minor", "free_shipping_from_minor"):
        value = getattr(terms, field)
        if not _whole(value) or not 0 <= value < 10**9:
            errors[field] = _("An amount of 0 or more.")
    if terms.postcode_rule not in POSTCODE_RULES:
        errors["postcode_rule"] = _("Choose one of the known postcode rules.")
    days = terms.return_window_days
    if days is not None and (not _whole(days) or not 1 <= days <= MAX_RETURN_WINDOW_DAYS):
        errors["return_window_days"] = _(
            "From 1 to %(max)d days, or empty for the network's setting.", max=MAX_RETURN_WINDOW_DAYS
        )
    if errors:
        raise ValidationFailed(_("Please check the market."), errors)
    return dict(
        code=code,
        name=name or code,
        currency=currency,
        locale=terms.locale,
        vat_rate_bp=terms.vat_rate_bp,
        shipping_fee_minor=terms.shipping_fee_minor,
        free_shipping_from_minor=terms.free_shipping_from_minor,
        postcode_rule=terms.postcode_rule,
        return_window_days=days,
    )


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def terms_of(market) -> MarketTerms:
    """A market's terms as they are now: the start of a change (the CLI's options, the screen's form)."""
    return MarketTerms(**{name: getattr(market, name) for name in MarketTerms.__dataclass_fields__})


def _has_orders(code) -> bool:
    # Orders sit above the stores layer; their table is read by name (one row is enough).
    return db.session.execute(text("SELECT 1 FROM orders WHERE market_code = :code LIMIT 1"), {"code": code}).first()


def save_market(terms: MarketTerms, *, staff=None) -> Market:
    """Make the market, or change its terms. Orders already sold in it keep their currency and prices; the
    currency of a market that has orders cannot change (its orders, figures and prices are in that currency)."""
    values = _checked(terms)
    locked = select(Market).where(Market.code == values["code"]).with_for_update()
    with transaction():
        market = db.session.scalar(locked)
        made = market is None
        if made:
            market, made = _insert_market(values, locked)
        if not made:
            if values["currency"] != market.currency and _has_orders(market.code):
                raise ValidationFailed(
                    _("Please check the market."),
                    {
                        "currency": _(
                            "%(market)s has orders in %(currency)s: its currency cannot change. Open a new market "
                            "for the new currency instead.",
                            market=market.name,
                            currency=market.currency,
                        )
                    },
                )
            changes = {name: value for name, value in values.items() if getattr(market, name) != value}
            if not changes:
                return market
            for name, value in changes.items():
                setattr(market, name, value)
        db.session.flush()
        audit.record(
            "market.created" if made else "market.changed", entity=("market", market.code), staff=staff, **values
        )
    return market


def _insert_market(values, locked):
    """(the new market, True), or (the one another save made at the same moment, False): a row lock cannot
    hold a code that has no row yet, so the second insert meets the key and is undone alone."""
    try:
        with db.session.begin_nested():
            market = Market(**values)
            db.session.add(market)
        return market, True
    except IntegrityError:
        return db.session.scalar(locked), False


def assign_location(location_code, market_code, *, staff=None) -> Location:
    """Move a location into a market: from then on it sells at that market's prices, in its currency (orders it
    sold before keep theirs)."""
    market = market_for(market_code)
    code = (location_code or "").strip().upper() if isinstance(location_code, str) else ""
    with transaction():
        location = db.session.scalar(select(Location).where(Location.code == code[:16]).with_for_update())
        if location is None:
            raise NotFound(_("There is no location %(code)s.", code=repr(code[:16])), field="location")
        before = location.market_code
        if before == market.code:
            return location
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


def country_name(code, locale=None) -> str:
    """The country's name in the viewer's language ("Denmark", "Dänemark", "Danmark"); the code if unknown."""
    try:
        return Locale.parse(str(locale or get_locale() or "en")).territories.get(code, code)
    except (ValueError, TypeError):
        return code


def check_postcode(market, postcode) -> str:
    """The postcode as kept (spaces out, letters upper-case) if it fits the market's rule; ValidationFailed with
    the rule's message at the postcode field otherwise, in the current language."""
    written = re.sub(r"\s+", "", postcode or "").upper()
    rule = POSTCODE_RULES.get(market.postcode_rule) or POSTCODE_RULES[""]
    if not rule.pattern.fullmatch(written):
        message = str(rule.message) % {"country": country_name(market.code)}
        raise ValidationFailed(_("Please check the delivery address."), {"postcode": message})
    return written


def return_window_days(market) -> int:
    """The days goods may come back in this market (before the legal minimum for distance purchases, which
    returns/window.py adds): the market's own window, else the network's OMNISTORE_RETURN_WINDOW_DAYS."""
    if market is not None and market.return_window_days is not None:
        return market.return_window_days
    value = current_app.config.get("OMNISTORE_RETURN_WINDOW_DAYS") if has_app_context() else None
    return int(value if value is not None else settings.default("RETURN_WINDOW_DAYS"))
