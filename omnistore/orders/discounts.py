"""The orders' side of offers (offers/ owns the offers, their checks and their uses): the clerk applies a
customer's offer to a draft by its code or from the customer's list (`apply_offer`, `remove_offer`); what it
takes off the draft's proposal right now (`draft_discount`); at placing, the discount on the order's lines and
one use taken in the order's transaction (`discount_order`); at cancelling, the use given back (offers'
`give_back`, called by orders/cancelling.py)."""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from omnistore.catalog.models import Product, Variant
from omnistore.core.db import transaction
from omnistore.core.errors import DomainError, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.offers import discounts
from omnistore.offers import services as offers
from omnistore.offers.models import IssuedOffer
from omnistore.orders.drafts import _lock_open_draft, check_actor


@dataclass(frozen=True)
class DraftDiscount:
    """What the draft's offer does to its proposal now: the offer, the discount, or why it cannot be used."""

    issued: IssuedOffer | None
    discount: discounts.Discount = discounts.NO_DISCOUNT
    problem: str = ""

    @property
    def total_minor(self):
        return self.discount.total_minor if not self.problem else 0


NONE = DraftDiscount(None)


def basket_lines(planned_lines):
    """BasketLines for (variant_id, quantity, unit_price_minor) triples: each variant's product and category."""
    planned_lines = list(planned_lines)
    ids = {variant_id for variant_id, _q, _p in planned_lines}
    facts = {
        row.id: (row.product_id, row.category)
        for row in db.session.execute(
            select(Variant.id, Variant.product_id, Product.category)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id.in_(ids))
        )
    }
    return [
        discounts.BasketLine(*facts.get(variant_id, (None, "")), quantity, unit_price)
        for variant_id, quantity, unit_price in planned_lines
    ]


def discount_on(issued, proposal_lines, *, customer_id, market_code, today, field="offer") -> discounts.Discount:
    """The discount `issued` gives on the planned lines, checked for the customer, the market and today;
    ValidationFailed at `field` when it cannot be used or applies to nothing in the order."""
    offers.check_usable(issued, customer_id=customer_id, market_code=market_code, today=today, field=field)
    discount = discounts.discount_for(
        issued.offer, basket_lines((line.variant_id, line.quantity, line.unit_price_minor) for line in proposal_lines)
    )
    if not discount.applies:
        message = _("This offer does not apply to anything in this order.")
        raise ValidationFailed(message, {field: message})
    return discount


def apply_offer(draft, code, *, staff, issued_offer_id=None):
    """The clerk scans or types the customer's offer code, or picks one of their offers: checked for the draft's
    customer and market, then kept on the draft (redeemed when the order is placed)."""
    check_actor(staff)
    if draft.customer_id is None:
        message = _("Choose the customer first: offers are personal.")
        raise ValidationFailed(message, {"offer": message})
    if issued_offer_id is not None:
        issued = db.session.get(IssuedOffer, issued_offer_id) if 0 < issued_offer_id < 2**31 else None
    else:
        if not offers.normalise_code(code):
            message = _("Scan or type the offer's code.")
            raise ValidationFailed(message, {"offer": message})
        issued = offers.find_issued(code)
    offers.check_usable(
        issued, customer_id=draft.customer_id, market_code=draft.location.market_code, today=utcnow().date()
    )
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        draft.issued_offer_id = issued.id
        draft.updated_at = utcnow()
    return issued


def remove_offer(draft, *, staff):
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        draft.issued_offer_id = None
        draft.updated_at = utcnow()


def draft_discount(draft, proposal, *, today=None) -> DraftDiscount:
    """What the draft's offer takes off its current proposal (reads only)."""
    issued = draft.issued_offer
    if issued is None:
        return NONE
    if proposal is None:
        return DraftDiscount(issued)
    try:
        discount = discount_on(
            issued,
            proposal.lines,
            customer_id=draft.customer_id,
            market_code=proposal.market_code or draft.location.market_code,
            today=today or utcnow().date(),
        )
    except DomainError as refused:
        return DraftDiscount(issued, problem=str(refused.message))
    return DraftDiscount(issued, discount)


def customer_offers_for_draft(draft, *, today=None):
    """The draft's customer's offers usable now in the draft's market (to pick from in the builder)."""
    if draft.customer is None:
        return []
    market = draft.location.market_code
    return [
        issued
        for issued in offers.customer_offers(draft.customer, today=today, usable_only=True)
        if issued.offer.market_code == market
    ]


def discount_order(session, order, issued, *, staff=None, api_client=None, now=None, field="offer") -> int:
    """At placing, in the order's transaction: the offer checked again (customer, market, dates), its discount
    put on the order's lines and taken off the total, and one use taken by a conditional write (OfferUsed when
    none is left, and the whole order is rolled back). Returns the discount."""
    now = now or utcnow()
    lines = list(order.lines)
    discount = discount_on(
        issued, lines, customer_id=order.customer_id, market_code=order.market_code, today=now.date(), field=field
    )
    for line, share in zip(lines, discount.per_line, strict=True):
        line.discount_minor = share
    order.total_minor -= discount.total_minor
    session.flush()
    offers.take_use(
        session, issued, order=order, discount_minor=discount.total_minor, staff=staff, api_client=api_client, now=now
    )
    return discount.total_minor


def order_discount_minor(order) -> int:
    """What offers took off the order (the sum of its lines' discounts)."""
    return sum(line.discount_minor or 0 for line in order.lines)
