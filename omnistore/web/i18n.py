"""Language and time zone for each request, and the filters that format money and times for them."""

from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context, request, session
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from omnistore.core import formatting, statuses


def select_locale():
    if not has_request_context():  # the CLI, scripts, tests: the default locale
        return None
    if current_user and current_user.is_authenticated:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) if request else None


def select_timezone():
    """Times are shown in the staff member's store's time zone."""
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated and current_user.location is not None:
        return current_user.location.timezone
    return None


def formatting_locale():
    """The locale numbers and dates are formatted in for this request (see omnistore/core/formatting.py)."""
    return formatting.formatting_locale()


def money(minor, currency=None):
    """Minor units → "49,95 €" / "€49.95" / "1.899,95 kr." for the current locale (core/formatting.money). Pass
    the amount's currency (an order's, or the market's); without one it is the default market's currency at
    setup (OMNISTORE_CURRENCY), kept only for amounts that are truly in the default market."""
    return formatting.money(minor, currency or current_app.config["OMNISTORE_CURRENCY"])


def here_market():
    """The market of the signed-in staff member's store: the prices and currency the stock screens show."""
    if has_request_context() and current_user and current_user.is_authenticated and current_user.location:
        return current_user.location.market
    return None


def local_datetime(value, location=None, fmt="short"):
    """A UTC datetime shown in `location`'s time zone (or the staff member's store's)."""
    zone = ZoneInfo(location.timezone) if location is not None else get_timezone()
    return formatting.local_datetime(value, zone, fmt)


ROLE_LABELS = {"clerk": _l("Clerk"), "manager": _l("Manager"), "admin": _l("Admin")}


CHANNEL_LABELS = {"web": _l("Web shop"), "store": _l("Store"), "app": _l("App"), "phone": _l("Phone")}
FULFILMENT_LABELS = {"pickup": _l("Pickup"), "delivery": _l("Delivery")}
PAYMENT_LABELS = {"paid": _l("Paid"), "pay_at_pickup": _l("Pay at pickup")}
EVENT_LABELS = {
    "placed": _l("Placed"),
    "sourced": _l("Sourced"),
    "picked": _l("Picked"),
    "shipped": _l("Shipped"),
    "received": _l("Received"),
    "ready": _l("Ready"),
    "notified": _l("Customer notified"),
    "reminded": _l("Reminder sent"),
    "on_the_way": _l("Customer on the way"),
    "checked_in": _l("Customer checked in"),
    "collected": _l("Collected"),
    "expired": _l("Expired"),
    "cancelled": _l("Cancelled"),
    "delivered": _l("Delivered"),
    "code_failed": _l("Wrong pickup code tried"),
    "confirmation_resent": _l("Confirmation sent again"),
    "in_transit": _l("In transit"),
    "rejected": _l("Rejected at pick time"),
    "resourced": _l("Sourced again"),
    "line_dropped": _l("Line left out"),
    "line_moved": _l("Moved to another store"),
    "replaces": _l("Replaces a rejected line"),
    "returned": _l("Goods returned"),
    "exchange_started": _l("Exchange started"),
    "refunded": _l("Refunded"),
    "return_sent_on": _l("Returned goods sent on"),
    "exchange_credit": _l("Exchange credit set against an order"),
}


def label(mapping):
    return lambda value: mapping.get(value, value)


def role_label(role):
    return ROLE_LABELS.get(role, role)


def _translations():
    """Flask-Babel's translations for this request, kept at hand in its request namespace while the locale
    stays the same object (force_locale and refresh() set another, so they are looked up again). A page
    translates dozens of strings, and each lookup through Flask-Babel costs more than the translating."""
    context = g.get("_flask_babel")
    locale = getattr(context, "babel_locale", None)
    kept = getattr(context, "omnistore_translations", None)
    if locale is not None and kept is not None and kept[0] is locale:
        return kept[1]
    translations = get_translations()
    context = g.get("_flask_babel")
    locale = getattr(context, "babel_locale", None)
    if locale is not None:
        context.omnistore_translations = (locale, translations)
    return translations


def init_app(app):
    app.jinja_env.install_gettext_callables(  # as Flask-Babel's, with the translations kept at hand
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    app.add_template_filter(role_label, "role_label")
    app.jinja_env.globals["status_groups"] = statuses  # e.g. status_groups.PREPARING_STATUSES
    app.add_template_filter(statuses.order_label, "status_label")
    app.add_template_filter(statuses.order_word, "status_word")
    app.add_template_filter(statuses.line_label, "line_status_label")
    app.add_template_filter(statuses.line_word, "line_status_word")
    app.add_template_filter(statuses.transfer_label, "transfer_label")
    app.add_template_filter(label(CHANNEL_LABELS), "channel_label")
    app.add_template_filter(label(FULFILMENT_LABELS), "fulfilment_label")
    app.add_template_filter(label(PAYMENT_LABELS), "payment_label")
    app.add_template_filter(label(EVENT_LABELS), "event_label")
    app.add_template_filter(money, "money")
    app.add_template_filter(local_datetime, "local_datetime")

    @app.context_processor
    def _languages():
        return {
            "languages": app.config["LANGUAGES"],
            "current_locale": str(get_locale() or "en"),
            "here_market": here_market(),
        }
