"""What a return refunds, how it is paid out, and the two ways it is confirmed.

omnistore takes no payments. It records what is owed and how:

- **Goods**: each unit graded resell, damaged or defective refunds the line's unit price (what the customer
  paid for it); a unit graded "not ours" refunds nothing (it is refused and handed back).
- **Shipping fee**: refunded once, with the return that brings back the last unit the customer received
  (the whole order withdrawn); partial returns refund the goods only.
- **How**: an order paid online (web, app, phone, `payment_state = paid`) is refunded by the web shop /
  payment side: the `return.refund_requested` webhook carries the amounts per line, and
  `POST /api/v1/returns/{id}/refunded` confirms it (idempotent). An order paid at a store's till (a store
  order, or one paid at pickup) is refunded at the till, and the clerk records the till's refund reference.

- **Exchange**: the credit an exchange order takes (exchanges.py) is not paid back: the refund owed is
  `refund_due_minor` = the refund less that credit; a credit that covers it all settles the return (refunded,
  its reference the exchange order's number); the web shop hears of the new amount (`return.refund_changed`).

States: received → graded → refund_pending → refunded, or refused when nothing is owed.
"""

from datetime import UTC

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from omnistore.core import audit, outbox
from omnistore.core.db import transaction
from omnistore.core.errors import InvalidTransition, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.core.webhooks import endpoints_for
from omnistore.orders.services import record_event
from omnistore.returns.access import check_may_act
from omnistore.returns.models import Return

REFUNDED_GRADES = ("resell", "damaged", "defective")
REFERENCE_MAX = 100


def refund_method(order) -> str:
    """ "till" for what was paid at a store's till (a store order, or paid at pickup), else "online"."""
    if order.channel == "store" or order.payment_state == "pay_at_pickup":
        return "till"
    return "online"


def unit_refund_minor(line, grade) -> int:
    """A unit's refund: what the customer paid for it — the line's net (less an offer's share) per unit,
    rounded down so a discounted line never refunds more than was paid."""
    return line.net_minor // line.quantity if grade in REFUNDED_GRADES else 0


def _iso(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def webhook_payload(ret: Return, event: str) -> dict:
    """The body of a return webhook: the order, the amounts per line in the order's currency, the total."""
    order = ret.order
    return {
        "event": event,
        "occurred_at": _iso(utcnow()),
        "return": {
            "id": ret.id,
            "order_number": order.number,
            "status": ret.status,
            "location": ret.location.code,
            "currency": ret.currency,
            "lines": [
                {
                    "sku": line.variant.sku,
                    "quantity": line.quantity,
                    "grade": line.grade,
                    "amount_minor": line.refund_minor,
                }
                for line in ret.lines
            ],
            "shipping_minor": ret.shipping_refund_minor,
            "total_minor": ret.total_refund_minor,
            # An exchange: the part of the credit set against the new order, and what is left to pay back.
            "credit_minor": ret.credit_applied_minor or 0,
            "exchange_order_number": ret.exchange_order.number if ret.exchange_order is not None else None,
            "refund_due_minor": ret.refund_due_minor,
            "refund_reference": ret.refund_reference or None,
            "requested_at": _iso(ret.refund_requested_at),
            "refunded_at": _iso(ret.refunded_at),
        },
    }


def queue_webhook(ret: Return, event: str):
    endpoints = endpoints_for(event)
    if not endpoints:
        return []
    payload = webhook_payload(ret, event)
    return [outbox.enqueue_webhook(event, url=e.url, payload=payload, endpoint=e) for e in endpoints]


def _mark_refunded(ret, *, reference, staff=None, api_client=None):
    """refund_pending → refunded in one conditional UPDATE: of two confirmations at once, one changes it."""
    now = utcnow()
    changed = db.session.execute(
        update(Return)
        .where(Return.id == ret.id, Return.status == "refund_pending")
        .values(
            status="refunded",
            refunded_at=now,
            refund_reference=reference,
            refunded_by_staff_id=staff.id if staff is not None else None,
            refunded_by_api_client_id=api_client.id if api_client is not None else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(ret)
    return changed == 1


def record_till_refund(ret: Return, reference, *, staff) -> Return:
    """The clerk paid the refund out at the till: the till's refund reference is recorded, the return is
    refunded. Only the store that took the goods back (admin anywhere), only a till refund that is pending."""
    check_may_act(ret, staff)
    reference = (reference if isinstance(reference, str) else "").strip()
    if not reference:
        raise ValidationFailed(
            _l("Please check the highlighted fields."),
            {"reference": _l("Type the refund reference the till printed.")},
        )
    if len(reference) > REFERENCE_MAX:
        raise ValidationFailed(
            _l("Please check the highlighted fields."),
            {"reference": _l("At most %(max)d characters.", max=REFERENCE_MAX)},
        )
    if ret.refund_method != "till":
        raise InvalidTransition(_l("This refund is paid by the web shop, not at the till."))
    if ret.exchange_draft is not None and ret.exchange_draft.status == "open":
        raise InvalidTransition(_l("An exchange order is being built with this credit: place or drop it first."))
    with transaction():
        if not _mark_refunded(ret, reference=reference, staff=staff):
            raise InvalidTransition(
                _l("This return is no longer waiting for a refund."), status=db.session.get(Return, ret.id).status
            )
        record_event(ret.order, "refunded", staff=staff, return_id=ret.id, reference=reference)
        audit.record("return.refunded", entity=ret, staff=staff, method="till", reference=reference)
    return ret


def confirm_online_refund(ret: Return, *, api_client, reference="") -> tuple[Return, bool]:
    """The web shop / payment side refunded it (POST /api/v1/returns/{id}/refunded). Idempotent: confirming
    a refunded return again changes nothing and answers the same (the bool says whether this call did it)."""
    reference = (reference if isinstance(reference, str) else "").strip()[:REFERENCE_MAX]
    if ret.refund_method != "online":
        raise InvalidTransition(
            _l("This return is refunded at the store's till, not by the web shop."), status=ret.status
        )
    if ret.status == "refunded":
        return ret, False
    with transaction():
        if not _mark_refunded(ret, reference=reference, api_client=api_client):
            current = db.session.get(Return, ret.id)
            if current.status == "refunded":
                return current, False
            raise InvalidTransition(_l("This return is not waiting for a refund."), status=current.status)
        record_event(ret.order, "refunded", api_client=api_client, return_id=ret.id, reference=reference)
        audit.record("return.refunded", entity=ret, api_client=api_client, method="online", reference=reference)
    return ret, True
