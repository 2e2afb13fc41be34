"""Money, dates and times for people: the language's conventions and the store's clock. Shared core (no request
needed): web/i18n.py, the email texts and the services' messages all format through here.

English means European conventions (22/11/2026, 14:30 — not 11/22/26, 2:30 PM): our staff work in Germany and
Denmark, and our customers shop there.
"""

import re
from functools import lru_cache

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from flask_babel import get_locale

# A currency's symbol where it is at home, written for it in every language where Babel would write the ISO code:
# a German clerk in København reads "1.899,95 kr.", as the Danish one does, not "1.899,95 DKK".
HOME_SYMBOLS = {"DKK": "kr.", "SEK": "kr", "NOK": "kr"}


def formatting_locale(locale=None) -> str:
    """The Babel locale numbers and dates are written in: `locale`, or the current request's language."""
    locale = str(locale or get_locale() or "en")
    return "en_GB" if locale == "en" else locale


def local_datetime(value, zone, fmt="short", locale=None) -> str:
    """A UTC datetime on `zone`'s clock (a tzinfo), written for the language ("" for None)."""
    if value is None:
        return ""
    return format_datetime(value, fmt, tzinfo=zone, locale=formatting_locale(locale))


def money(minor, currency, locale=None) -> str:
    """An amount in minor units of `currency` (always given: an amount knows its currency), written for the
    language: "1.899,95 kr." (da, de), "kr. 1,899.95" (en), "€249.95" (en), "249,95 €" (de); "" for None."""
    if minor is None:
        return ""
    return _money(int(minor), currency.upper(), formatting_locale(locale))


@lru_cache(maxsize=4096)
def _money(minor, currency, locale):
    """Babel's formatting, kept per amount, currency and locale: a result list shows a price per line."""
    text = format_currency(minor / 100, currency, locale=locale)
    symbol = HOME_SYMBOLS.get(currency)
    if symbol and currency in text:
        text = re.sub(rf"{currency}(?=[\d-])", symbol + "\u00a0", text).replace(currency, symbol)
    return text


def percent(fraction, locale=None) -> str:
    """0.25 → "25 %" (da, de) / "25%" (en); one decimal when there is one (0.075 → "7.5%")."""
    return format_percent(fraction, "#,##0.#%", locale=formatting_locale(locale))


def decimal_text(hundredths, locale=None) -> str:
    """Hundredths as the language writes a plain number to type over: 3900 → "39,00" (da, de) / "39.00" (en);
    whole numbers without decimals ("25" for 2500): what a form shows in a field."""
    pattern = "0" if hundredths % 100 == 0 else "0.00"
    return format_decimal(hundredths / 100, pattern, locale=formatting_locale(locale))
