"""What staff do to a placed order from its page: cancel it (services/ordering.cancel does the work) and
resend the confirmation email (services/notifications). Who may: staff of the store that sold it or collects
it (a source store only sends goods), and admins anywhere."""
from flask_babel import gettext as _

from . import orders, validation
from .db import transaction
from .errors import Forbidden, InvalidTransition, ValidationFailed

try:  # the customer emails (pickups-customer helper)
    from . import notifications
except ImportError:  # pragma: no cover - depends on what is merged
    notifications = None

REASON_MAX = 300


def may_manage(order, staff):
    """Cancel / resend: the selling or the pickup store's staff, or an admin."""
    return staff.is_admin or staff.location_id in {order.origin_location_id, order.pickup_location_id}


def _require(order, staff):
    if not may_manage(order, staff):
        raise Forbidden(_("Only the store that sold this order or collects it can change it."))


def cancel(order, *, staff, reason):
    """Cancel with a reason (required, shown in the history and told to the customer)."""
    from . import ordering  # ordering-core's module: drafts, place, cancel

    _require(order, staff)
    text = clean_reason(reason)
    if not orders.can_transition(order, "cancelled"):
        raise InvalidTransition(_("Order %(number)s can no longer be cancelled: it is %(status)s.",
                                  number=order.number, status=orders.STATUS_WORDS.get(order.status, order.status)))
    return ordering.cancel(order, staff=staff, reason=text)


def clean_reason(reason):
    """A cancel reason as typed, tidied: required, at most REASON_MAX characters; ValidationFailed otherwise."""
    if validation.bad_character(str(reason or "")):
        raise ValidationFailed(_("Please check the highlighted fields."), {"reason": validation.BAD_CHARACTER})
    text = " ".join(str(reason or "").split())
    if not text:
        raise ValidationFailed(_("Please say why the order is cancelled."),
                               {"reason": _("Say why, e.g. the customer changed their mind.")})
    if len(text) > REASON_MAX:
        raise ValidationFailed(_("Please shorten the reason."), {
            "reason": _("At most %(max)d characters (now %(length)d).", max=REASON_MAX, length=len(text))})
    return text


def can_resend(order):
    customer = order.customer
    return (notifications is not None and customer is not None and bool(customer.email)
            and getattr(customer, "erased_at", None) is None and order.status != "cancelled")


def resend_confirmation(order, *, staff):
    """Queue the order confirmation again (the customer lost it, or typed the address wrong first)."""
    _require(order, staff)
    if notifications is None:
        raise InvalidTransition(_("Emails cannot be sent from here yet."))
    if not can_resend(order):
        raise ValidationFailed(_("This customer has no email address on their profile."),
                               {"email": _("Add an email address to the customer's profile first.")})
    with transaction():
        messages = notifications.order_confirmation(order)
        orders.record_event(order, "confirmation_resent", staff=staff, to=order.customer.email)
    return messages
