"""What the manager's screens read from the query: the review scope (store and period), the page, the stores an
admin may pick, and the labels the filters show. Managers see their store; admins any store or the network."""

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from omnistore.core.errors import ValidationFailed
from omnistore.reviews import scope as review_scope
from omnistore.stores import locations as location_service
from omnistore.web.forms import page_arg

PERIOD_LABELS = {"today": _l("Today"), "7d": _l("7 days"), "30d": _l("30 days"), "custom": _l("Custom")}
VERIFICATION_LABELS = {"qr": _l("QR code"), "code_name": _l("Short code and name"), "id": _l("ID document")}


def scope_from_query():
    """The scope the query asks for; a bad custom period falls back to 7 days with the message kept."""
    args = request.args
    store = args.get("store", "")[:20]
    try:
        return review_scope.scope_for(
            current_user,
            store=store,
            period=args.get("period", "7d"),
            first=args.get("from", "")[:20],
            last=args.get("to", "")[:20],
        ), None
    except ValidationFailed as failure:
        return review_scope.scope_for(current_user, store=store, period="7d"), failure


def page_from_query():
    return min(page_arg(), 100_000)


def store_choices():
    """The stores an admin may pick; a manager picks none."""
    if not current_user.is_admin:
        return []
    return [loc for loc in location_service.list_locations() if loc.is_store]


def scope_zone(scope):
    """Whose clock the times are shown in: the store's, or for the network the admin's own store's."""
    return scope.location or current_user.location
