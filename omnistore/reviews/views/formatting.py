"""Durations and rates as the manager's screens and CSV files show them (the language's decimals), and the
template filters that show them."""

from functools import lru_cache

from babel.dates import format_date
from babel.numbers import get_decimal_symbol
from flask_babel import gettext as _

from omnistore.reviews.views import bp
from omnistore.web.i18n import formatting_locale


@lru_cache(maxsize=8)
def _decimal_symbol(locale):
    return get_decimal_symbol(locale)


def _one_decimal(value):
    """1.5 → "1.5" / "1,5" for the current locale (a plain format: this runs for every cell of the league)."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace(".", _decimal_symbol(formatting_locale()))


def duration(seconds):
    """Seconds → "35 min" / "4.5 h" / "2.3 d" (locale decimals); "—" when there is none."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(n)s min", n=str(round(seconds / 60)))
    if seconds < 48 * 3600:
        return _("%(n)s h", n=_one_decimal(seconds / 3600))
    return _("%(n)s d", n=_one_decimal(seconds / 86400))


def percent(rate):
    if rate is None:
        return "—"
    return _one_decimal(rate * 100) + " %"


@bp.app_template_filter("duration")
def _duration_filter(seconds):
    return duration(seconds)


@bp.app_template_filter("review_day")
def _review_day_filter(day):
    return format_date(day, "EEE d MMM y", locale=formatting_locale())


@bp.app_template_filter("percent")
def _percent_filter(rate):
    return percent(rate)
