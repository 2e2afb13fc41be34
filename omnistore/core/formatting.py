"""Dates and times for people: the language's conventions and the store's clock. Shared core (no request
needed): web/i18n.py, the email texts and the services' messages all format through here.

English means European conventions (22/11/2026, 14:30 — not 11/22/26, 2:30 PM): our staff work in Germany and
Denmark, and our customers shop there.
"""

from babel.dates import format_datetime
from flask_babel import get_locale


def formatting_locale(locale=None) -> str:
    """The Babel locale numbers and dates are written in: `locale`, or the current request's language."""
    locale = str(locale or get_locale() or "en")
    return "en_GB" if locale == "en" else locale


def local_datetime(value, zone, fmt="short", locale=None) -> str:
    """A UTC datetime on `zone`'s clock (a tzinfo), written for the language ("" for None)."""
    if value is None:
        return ""
    return format_datetime(value, fmt, tzinfo=zone, locale=formatting_locale(locale))
