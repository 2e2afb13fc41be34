"""Why an order line changed status, as the viewer reads it.

A reason the system writes (pickup expired, order cancelled) is stored as a code and parameters and rendered
here in the viewer's language; a reason a person typed (a clerk's "short" or "refused" reason) is kept in
`status_reason` as typed. Older rows keep showing their stored text.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from omnistore.orders import sourcing


def mark(line, status, code, **params):
    """Set `line` to `status` with a system reason `code` (one of TEXTS) and its parameters."""
    line.status, line.status_reason = status, ""
    line.status_reason_code = {"code": code, "params": params}


def typed(line, status, reason):
    """Set `line` to `status` with a reason a person typed (kept as typed)."""
    line.status, line.status_reason, line.status_reason_code = status, reason, None


def status_text(code, params=None) -> str:
    """A system status reason in the current language; '' for an unknown code."""
    params = params if isinstance(params, dict) else {}
    try:
        if code == "pickup_expired":
            return _("Not collected in time: the pickup expired.")
        if code == "order_cancelled":
            return _("Order cancelled")
        if code == "cancelled_by_customer":
            return _("Cancelled by the customer")
        if code == "rejected":
            return _(
                "Not supplied by %(store)s: %(why)s.",
                store=params["store"],
                why=_rejection_reason(params.get("reason")),
            )
    except (KeyError, TypeError, ValueError):
        return ""
    return ""


REJECTION_LABELS = {
    "not_found": _l("Not found on the shelf"),
    "damaged": _l("Damaged"),
    "wrong_item": _l("Wrong item or label"),
}


def rejection_label(code):
    """Why units were rejected at pick time (orders/rejecting.py), as a label."""
    return REJECTION_LABELS.get(code, code)


def _rejection_reason(code):
    return str(rejection_label(code)).lower()


def line_reason(line) -> str:
    """What an order line's reason says to the viewer: a system status reason from its code, else a typed
    (or older, stored) status reason, else the sourcing reason in the viewer's language."""
    stored = line.status_reason_code if isinstance(line.status_reason_code, dict) else None
    if stored:
        text = status_text(stored.get("code"), stored.get("params"))
        if text:
            return text
    if line.status_reason:
        return line.status_reason
    source = line.source_reason if isinstance(line.source_reason, dict) else {}
    return sourcing.reason_text(source.get("code"), source.get("params"))
