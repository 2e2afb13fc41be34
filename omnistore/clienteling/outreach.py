"""Outreach from the profile: a clerk writes a customer a short message with up to six products (from the wishlist
or the recommendations) by e-mail. Offered only where e-mail marketing consent is on record; at most
OMNISTORE_OUTREACH_LIMIT per customer per OMNISTORE_OUTREACH_PERIOD_DAYS across all staff — the cap is the
consent gate's (customers/marketing.py), counted under the customer's row lock in the same transaction as the
send. Each send records who sent it: orders the customer places within OMNISTORE_OUTREACH_ATTRIBUTION_DAYS count
for that clerk (`orders_attributed_to_outreach`).
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from omnistore.catalog.models import Variant
from omnistore.catalog.prices import prices_in
from omnistore.clienteling.history import NOT_SOLD, recommendations
from omnistore.core import audit, validation
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.formatting import money
from omnistore.customers import marketing
from omnistore.customers.models import MarketingSend
from omnistore.customers.services import wishlist
from omnistore.orders.models import Order
from omnistore.stores.markets import market_of

KIND = marketing.register_kind(
    marketing.MarketingKind(
        "outreach",
        _l("a message from a clerk"),
        cap=lambda config: marketing.Cap(
            config["OMNISTORE_OUTREACH_LIMIT"], timedelta(days=config["OMNISTORE_OUTREACH_PERIOD_DAYS"])
        ),
    )
)
MESSAGE_MAX = 500
PRODUCTS_MAX = 6


@dataclass(frozen=True)
class Choice:
    variant: Variant
    source: str  # "wishlist" or "recommended"
    price_minor: int | None
    currency: str


def offered(customer) -> bool:
    """Whether the profile offers the outreach button: an address, and e-mail marketing consent on record."""
    return bool(customer.email) and customer.active and marketing.consent_in_force(customer, KIND.channel)


def choices(customer, staff) -> list[Choice]:
    """What the clerk may put in the message: the wishlist, then the recommendations at the clerk's store."""
    market = market_of(staff.location) if staff.location is not None else None
    picked = {}
    for item in wishlist(customer):
        picked.setdefault(item.variant_id, (item.variant, "wishlist"))
    for rec in recommendations(customer, staff.location_id):
        picked.setdefault(rec.variant.id, (rec.variant, "recommended"))
    prices = prices_in(list(picked), market.code) if market is not None and picked else {}
    currency = market.currency if market is not None else ""
    return [Choice(variant, source, prices.get(vid), currency) for vid, (variant, source) in picked.items()]


def _ids(raw):
    ids = []
    for value in raw or ():
        number = validation.whole_number(value) if isinstance(value, str) else value
        if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
            return None
        if number not in ids:
            ids.append(number)
    return ids


def send_outreach(customer, *, staff, message, variant_ids) -> MarketingSend:
    """Send the clerk's message with the chosen products; refused (nothing sent) without consent, over the cap,
    or with bad input — each with its message at the field."""
    errors = {}
    text = validation.text(
        message,
        field="message",
        errors=errors,
        max_length=MESSAGE_MAX,
        required=True,
        multiline=True,
        missing=_l("Write a short message."),
    )
    ids = _ids(variant_ids)
    allowed = {choice.variant.id: choice for choice in choices(customer, staff)}
    if ids is None or any(i not in allowed for i in ids):
        errors["products"] = _l("Choose products from the wishlist or the recommendations.")
    elif not ids:
        errors["products"] = _l("Choose at least one product.")
    elif len(ids) > PRODUCTS_MAX:
        errors["products"] = _l("Choose at most %(count)d products.", count=PRODUCTS_MAX)
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    locale = marketing.customer_locale(customer)
    products = [
        {
            "name": allowed[i].variant.product.name,
            "detail": allowed[i].variant.label,
            "price": money(allowed[i].price_minor, allowed[i].currency, locale) if allowed[i].currency else "",
        }
        for i in ids
    ]
    store = staff.location
    with transaction():
        outcome = marketing.send(
            customer,
            marketing.MarketingEmail(
                kind=KIND.name,
                template="message",
                subject=_l("A message from %(store)s", store=store.name if store else "omnistore"),
                context={"message": text, "products": products, "signature": staff.name},
                staff=staff,
                location=store,
                detail={"message": text, "variant_ids": ids},
            ),
        )
        if outcome.sent:
            audit.record("customer.outreach", entity=customer, staff=staff, products=len(ids))
    if outcome.reason == "capped":
        config = current_app.config
        raise Conflict(
            _l(
                "This customer already got a message from the store in the last %(days)d days.",
                days=config["OMNISTORE_OUTREACH_PERIOD_DAYS"],
            )
        )
    if outcome.reason in ("no_consent", "no_address"):
        message = _l("The customer has not agreed to e-mails from the store.")
        raise ValidationFailed(message, {"message": message})
    if not outcome.sent:
        raise NotFound(_l("This profile can no longer be changed."))
    return outcome.send


def sent_to(customer):
    """The outreach sends to a customer, newest first, with who sent them."""
    return db.session.scalars(
        select(MarketingSend)
        .where(MarketingSend.customer_id == customer.id, MarketingSend.kind == KIND.name)
        .options(joinedload(MarketingSend.staff))
        .order_by(MarketingSend.created_at.desc())
    ).all()


# --- the figure: orders attributed to a clerk's outreach ------------------------------------------------------


@dataclass
class Attributed:
    staff_id: int
    orders: int = 0
    sales: dict = None  # {currency: minor units}, never summed across currencies

    def __post_init__(self):
        self.sales = self.sales or {}


def orders_attributed_to_outreach(start, end, *, location_id=None, days=None) -> dict[int, Attributed]:
    """Orders placed in [start, end) by a customer within `days` (OMNISTORE_OUTREACH_ATTRIBUTION_DAYS) after a
    clerk's outreach to them, per clerk; each order counts once, for the latest outreach before it. `location_id`:
    outreach sent from that store only. Cancelled and expired orders never count."""
    window = timedelta(days=days if days is not None else current_app.config["OMNISTORE_OUTREACH_ATTRIBUTION_DAYS"])
    orders = db.session.execute(
        select(Order.id, Order.customer_id, Order.placed_at, Order.currency, Order.total_minor).where(
            Order.placed_at >= start,
            Order.placed_at < end,
            Order.customer_id.is_not(None),
            Order.status.not_in(NOT_SOLD),
        )
    ).all()
    if not orders:
        return {}
    sends = select(MarketingSend.customer_id, MarketingSend.staff_id, MarketingSend.created_at).where(
        MarketingSend.kind == KIND.name,
        MarketingSend.staff_id.is_not(None),
        MarketingSend.customer_id.in_({o.customer_id for o in orders}),
        MarketingSend.created_at > start - window,
        MarketingSend.created_at < end,
    )
    if location_id is not None:
        sends = sends.where(MarketingSend.location_id == location_id)
    by_customer = {}
    for customer_id, staff_id, at in db.session.execute(sends.order_by(MarketingSend.created_at)):
        by_customer.setdefault(customer_id, []).append((at, staff_id))
    result = {}
    for order in orders:
        before = [(at, s) for at, s in by_customer.get(order.customer_id, ()) if at <= order.placed_at < at + window]
        if not before:
            continue
        staff_id = before[-1][1]
        row = result.setdefault(staff_id, Attributed(staff_id))
        row.orders += 1
        row.sales[order.currency] = row.sales.get(order.currency, 0) + order.total_minor
    return result
