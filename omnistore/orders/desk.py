"""The order page's rules for staff: who may manage an order (the store that sold it or collects it — a source
store only sends goods — and admins anywhere), what a cancel's reason must be (orders/cancelling.cancel, the
one cancel verb, applies both), and resending the confirmation email (orders/notifications.py)."""

from flask_babel import gettext as _

from omnistore.core import validation
from omnistore.core.db import transaction
from omnistore.core.errors import Forbidden, ValidationFailed
from omnistore.orders import notifications
from omnistore.orders import services as orders

REASON_MAX = 300


def may_manage(order, staff):
    """Cancel / resend: the selling or the pickup store's staff, or an admin."""
    return staff.is_admin or staff.location_id in {order.origin_location_id, order.pickup_location_id}


def require_manage(order, staff):
    if not may_manage(order, staff):
        raise Forbidden(_("Only the store that sold this order or collects it can change it."))


def cancel_reason(reason):
    """A staff cancel's reason, squeezed to one line: required, at most REASON_MAX characters, no control
    characters; ValidationFailed otherwise."""
    if validation.bad_character(str(reason or "")):
        raise ValidationFailed(_("Please check the highlighted fields."), {"reason": validation.BAD_CHARACTER})
    text = " ".join(str(reason or "").split())
    if not text:
        raise ValidationFailed(
            _("Please say why the order is cancelled."), {"reason": _("Say why, e.g. the customer changed their mind.")}
        )
    if len(text) > REASON_MAX:
        raise ValidationFailed(
            _("Please shorten the reason."),
            {"reason": _("At most %(max)d characters (now %(length)d).", max=REASON_MAX, length=len(text))},
        )
    return text


def can_resend(order):
    customer = order.customer
    return customer is not None and bool(customer.email) and customer.erased_at is None and order.status != "cancelled"


def resend_confirmation(order, *, staff):
    """Queue the order confirmation again (the customer lost it, or typed the address wrong first)."""
    require_manage(order, staff)
    if not can_resend(order):
        raise ValidationFailed(
            _("This customer has no email address on their profile."),
            {"email": _("Add an email address to the customer's profile first.")},
        )
    with transaction():
        messages = notifications.order_confirmation(order)
        orders.record_event(order, "confirmation_resent", staff=staff, to=order.customer.email)
    return messages
