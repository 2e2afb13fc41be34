"""An exchange at the counter: the goods come back (receiving.py), and in the same flow a new endless-aisle
order is started for the customer — another size of what came back, from wherever the network has it. The
new order is an ordinary counter draft (orders/drafts.py: sourcing, holds, placing); the return keeps the
link, so the builder shows the returned goods' credit and the price difference, and the return shows the
order its credit went to.

Placing the exchange order (`place_exchange`) sets the credit against its payment, in the placing transaction:
the order's `credit_minor` is the credit up to its total, so the customer owes `amount_due_minor` = new total −
credit, never below 0; the return keeps the part it gave (`credit_applied_minor`) and refunds only the rest
(`refund_due_minor`) the usual way (refund pending → refunded at the till or by the web shop, which is told the
new amount by the `return.refund_changed` webhook). A credit that covers the whole refund settles the return:
refunded, its reference the new order's number. The return's row changes in one conditional UPDATE (still
refund pending, no credit given yet): a refund paid out meanwhile refuses the placement, so a credit is never
both refunded and spent."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from omnistore.catalog.models import Variant
from omnistore.catalog.prices import prices_in
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import InvalidTransition, NotFound
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders import drafts, placing
from omnistore.orders.models import OrderDraft
from omnistore.orders.services import record_event
from omnistore.returns import refunds
from omnistore.returns.access import check_may_act
from omnistore.returns.models import Return
from omnistore.stock.availability import variant_totals
from omnistore.stores.markets import market_of
from omnistore.stores.models import Location


@dataclass(frozen=True)
class Option:
    variant: Variant
    here: int
    network: int
    returned: bool  # the variant that came back (offered too: the same size, a fresh unit)
    price_minor: int | None  # its price in this store's market (None: not sold there)
    market: object  # that market (stores.models.Market)


def exchange_options(ret: Return, location_id) -> list[Option]:
    """The variants of the products that came back (resold or not), with what is available here and in the
    network — the sizes and colours a customer may take instead."""
    product_ids = {line.variant.product_id for line in ret.lines if line.grade != "not_ours"}
    if not product_ids:
        return []
    variants = db.session.scalars(
        select(Variant).where(Variant.product_id.in_(product_ids)).order_by(Variant.product_id, Variant.id)
    ).all()
    totals = variant_totals([v.id for v in variants], location_id)
    market = market_of(db.session.get(Location, location_id))
    prices = prices_in([v.id for v in variants], market.code)
    returned = {line.variant_id for line in ret.lines}
    options = []
    for variant in variants:
        found = totals.get(variant.id)
        options.append(
            Option(
                variant,
                found.here if found else 0,
                found.network if found else 0,
                variant.id in returned,
                prices.get(variant.id),
                market,
            )
        )
    return options


def start_exchange(ret: Return, variant_id, *, staff) -> OrderDraft:
    """A counter draft for the return's customer with one unit of `variant_id` (it is held at once, from
    wherever sourcing finds it), linked to the return. Only the store that took the goods back; once."""
    check_may_act(ret, staff)
    if ret.status == "refused" or ret.total_refund_minor == 0:
        raise InvalidTransition(_l("Nothing came back to exchange: this return has no credit."))
    if ret.exchange_draft_id is not None and ret.exchange_draft.status != "abandoned":
        raise InvalidTransition(_l("This return is already being exchanged."))
    if not isinstance(variant_id, int) or db.session.get(Variant, variant_id) is None:
        raise NotFound(_l("We could not find that product variant."))
    with transaction():
        draft = drafts.start_draft(staff, customer_id=ret.order.customer_id)
        ret.exchange_draft = draft
        record_event(ret.order, "exchange_started", staff=staff, return_id=ret.id)
        audit.record("return.exchange_started", entity=ret, staff=staff, draft=draft.token, variant_id=variant_id)
        drafts.set_line(draft, variant_id, 1, staff=staff)  # held at once; none anywhere: nothing is kept
    return draft


@dataclass(frozen=True)
class Credit:
    ret: Return
    credit_minor: int
    currency: str


def credit_for_draft(draft) -> Credit | None:
    """The returned goods' credit a counter draft carries (an exchange), or None."""
    if draft is None or getattr(draft, "id", None) is None:
        return None
    ret = db.session.scalar(select(Return).where(Return.exchange_draft_id == draft.id))
    if ret is None:
        return None
    return Credit(ret, ret.total_refund_minor, ret.currency)


def place_exchange(ret: Return, draft, *, staff, idempotency_key=None) -> placing.Placed:
    """Place the exchange's counter draft with the return's credit set against its payment (see the module
    docstring). Only the store that took the goods back; only the draft this return started."""
    check_may_act(ret, staff)
    if draft is None or ret.exchange_draft_id != getattr(draft, "id", None):
        raise InvalidTransition(_l("This order draft is not the exchange of this return."))

    def settle(order, applied):
        _settle(ret, order, applied, staff)

    credit = placing.OrderCredit(ret.total_refund_minor, ret.currency, settle)
    return placing.place_order(draft, idempotency_key=idempotency_key, staff=staff, credit=credit)


def _settle(ret, order, applied, staff):
    now = utcnow()
    values = {"credit_applied_minor": applied}
    settled = applied >= ret.total_refund_minor
    if settled:
        values.update(status="refunded", refunded_at=now, refunded_by_staff_id=staff.id, refund_reference=order.number)
    changed = db.session.execute(
        update(Return)
        .where(Return.id == ret.id, Return.status == "refund_pending", Return.credit_applied_minor == 0)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise InvalidTransition(
            _l(
                "The refund of return #%(id)d was paid out meanwhile: its credit cannot pay for this order. "
                "Drop this draft and start a new order.",
                id=ret.id,
            )
        )
    db.session.expire(ret)
    detail = {"return_id": ret.id, "credit_minor": applied, "currency": order.currency}
    record_event(ret.order, "exchange_credit", staff=staff, exchange_order=order.number, **detail)
    record_event(order, "exchange_credit", staff=staff, returned_order=ret.order.number, **detail)
    if settled:
        record_event(ret.order, "refunded", staff=staff, return_id=ret.id, reference=order.number)
    audit.record(
        "return.credit_applied",
        entity=ret,
        staff=staff,
        exchange_order=order.number,
        refund_due_minor=ret.refund_due_minor,
        **detail,
    )
    if ret.refund_method == "online":
        refunds.queue_webhook(ret, "return.refund_changed")
