"""The one cancel verb: `cancel(order, …)` from the order page, the customer's status page or the API, while
the status machine allows it: allocations released where the goods are, open transfers cancelled, the customer
told (orders/notifications.py), a redeemed offer's use given back (offers/services.give_back)."""

from flask_babel import gettext as _
from sqlalchemy import select

from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import Forbidden, InvalidTransition
from omnistore.core.statuses import OPEN_TRANSFER_STATUSES, RESERVED_LINE_STATUSES, TransferStatus, order_word
from omnistore.offers import services as offers
from omnistore.orders import desk as order_desk
from omnistore.orders import line_reasons, notifications
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderLine, Transfer
from omnistore.stock import ledger


def can_cancel(order):
    return orders.can_transition(order, "cancelled")


def cancel(order, *, staff=None, api_client=None, by_customer=False, by_system=False, reason="") -> Order:
    """The one way an order is cancelled, from the order page (staff), the customer's status page
    (`by_customer`, after pickups/customer.py checked the page's own rule), the API, or the system itself
    (`by_system`: a rejection left nothing to send, orders/rejecting.py).

    Staff: only the selling or the pickup store's staff, or an admin (orders/desk.may_manage), and
    only with a reason (shown in the history and told to the customer). Then, while the status machine allows
    it: allocations released where the goods are, open transfers cancelled, the customer (and webhooks)
    told. Forbidden / ValidationFailed / InvalidTransition / AlreadyCollected otherwise."""
    if staff is None and api_client is None and not by_customer and not by_system:
        raise Forbidden(_("Sign in to cancel orders."))
    if staff is not None and api_client is None:
        order_desk.require_manage(order, staff)
        reason = order_desk.cancel_reason(reason)
        if not orders.can_transition(order, "cancelled"):
            raise InvalidTransition(
                _(
                    "Order %(number)s can no longer be cancelled: it is %(status)s.",
                    number=order.number,
                    status=order_word(order.status),
                )
            )
    reason = " ".join(str(reason or "").split())[:300]
    actor = api_client if api_client is not None else staff
    with transaction() as session:
        orders.transition(
            order, "cancelled", staff=staff, api_client=api_client, reason=reason, by_customer=by_customer
        )
        lines = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).execution_options(populate_existing=True)
        ).all()
        transfers = {t.id: t for t in session.scalars(select(Transfer).where(Transfer.order_id == order.id))}
        to_release = {}
        for line in lines:
            if line.status not in RESERVED_LINE_STATUSES:
                continue
            transfer = transfers.get(line.transfer_id)
            if transfer is None or transfer.status in OPEN_TRANSFER_STATUSES:
                where = line.source_location_id
            elif transfer.status == "received" and transfer.destination_location_id is not None:
                where = transfer.destination_location_id
            else:
                continue  # on the road: the receiving store gives it back when it arrives
            key = (line.variant_id, where)
            to_release[key] = to_release.get(key, 0) + line.quantity
            line_reasons.mark(line, "released", "cancelled_by_customer" if by_customer else "order_cancelled")
        for variant_id, location_id in sorted(to_release, key=lambda k: (k[1], k[0])):
            ledger.release(
                ledger.StockChange(
                    variant_id,
                    location_id,
                    to_release[(variant_id, location_id)],
                    _("Order %(number)s cancelled", number=order.number),
                    order.number,
                ),
                actor,
            )
        for transfer in transfers.values():
            if transfer.status in OPEN_TRANSFER_STATUSES:
                transfer.status = TransferStatus.CANCELLED
        offers.give_back(session, order.id)  # a redeemed offer's use comes back
        session.flush()
        notifications.order_cancelled(order, reason=reason)
        audit.record(
            "order.cancelled",
            entity=order,
            staff=staff,
            api_client=api_client,
            number=order.number,
            reason=reason,
            by_customer=by_customer,
        )
    return order
