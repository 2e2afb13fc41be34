"""Placing an order, from a draft at the counter (orders/drafts.py) or from the web shop (a PlaceOrder, built
by orders/api_orders.py).

`place(draft_or_PlaceOrder, idempotency_key=…)` creates the order in one transaction with its
final allocations: a draft's holds are converted (released and allocated again under the order number,
key by key in a stable order, so concurrent placements never deadlock), missing units are allocated by the
conditional UPDATE of ledger.allocate. Units that went away meanwhile raise InsufficientStock ("no longer
available") carrying a fresh proposal (for a draft: re-held). An API order (PlaceOrder) is re-sourced up
to three times before giving up, since the web shop promised no particular store. The same idempotency
key (per staff member or API client) never makes a second order; a draft is placed at most once. Only the
key's SHA-256 is stored (a client may put personal data into it). A draft is placed under its customer's
lock (the one erase and merge take): an erased customer's draft is refused, whenever the erase happened. The
order gets its number (OS-YY-NNNNNN), OrderEvents "placed" and "sourced", a Transfer per source location
that is not the pickup store (every source of a delivery ships to the customer), a Pickup for a pickup
order, and the confirmation email via orders/notifications.order_confirmation(order).

A credit (`OrderCredit`, e.g. the returned goods' credit of an exchange, returns/exchanges.py) is set against
the new order's payment in the same transaction: `order.credit_minor` = the credit, at most the order's total
(the customer owes `order.amount_due_minor`, never below 0), and the credit's owner settles its side there too
(`settle(order, applied)`; refusing rolls the whole placement back). The confirmation shows it.

Cancelling is orders/cancelling.py's.
"""

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import (
    DomainError,
    Forbidden,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    OutOfScope,
    ValidationFailed,
)
from omnistore.core.extensions import db
from omnistore.core.idempotency import IDEMPOTENCY_KEY_MAX, hash_key, scoped_key  # noqa: F401 — the API and tests use them from here
from omnistore.core.types import utcnow
from omnistore.customers import services as customers
from omnistore.customers.services import lock_customer
from omnistore.offers.models import IssuedOffer
from omnistore.offers.services import find_issued
from omnistore.orders import discounts, notifications, order_rules, pickup_codes, sourcing, transfer_capacity
from omnistore.orders import services as orders
from omnistore.orders.drafts import (
    _lock_open_draft,
    check_actor,
    claim_holds,
    customer_erased,
    hold_reference,
    refuse_erased_customer,
    rehold,
    release_expired_holds,
    sourcing_request,
)
from omnistore.orders.models import Order, OrderDraft, OrderEvent, OrderLine, Transfer
from omnistore.orders.services import shipping_fee_minor  # noqa: F401 — the API reads it from here
from omnistore.orders.sourcing import SourcingRequest
from omnistore.stock import ledger
from omnistore.stores.models import Market

_PLACE_ATTEMPTS = 3


@dataclass(frozen=True)
class PlaceOrder:
    """An order without a draft (the web shop's API): everything placement needs, already checked."""

    channel: str
    customer_id: int
    lines: tuple  # of LineRequest
    fulfilment: str
    payment_state: str
    pickup_location_id: int | None = None
    delivery_address: order_rules.Address | None = None
    origin_location_id: int | None = None
    request_fingerprint: str = ""  # the API's body hash: same key + another body is refused
    contact: object = None  # a CustomerContact to match or create (inside the order's transaction)
    market_code: str | None = None  # asked for explicitly; else from the pickup store or delivery country
    waive_shipping: bool = False  # a delivery the chain sends free (rejected pickup units sent home instead)
    offer_code: str = ""  # the customer's offer to redeem (orders/discounts.py), checked again when placing


class IdempotencyConflict(InvalidTransition):
    code = "idempotency_key_reused"


class _AlreadyPlaced(Exception):
    """A concurrent call placed the same draft first."""


def order_by_key(scoped_key):
    return db.session.scalar(select(Order).where(Order.idempotency_key == scoped_key)) if scoped_key else None


def _fingerprint_of(order):
    detail = db.session.scalar(
        select(OrderEvent.detail).where(OrderEvent.order_id == order.id, OrderEvent.kind == "placed").limit(1)
    )
    return (detail or {}).get("request_fingerprint", "")


@dataclass(frozen=True)
class OrderCredit:
    """A credit to set against the new order's payment: its amount and currency, and `settle(order, applied)`
    — the owner's side (run in the placing transaction; raising refuses the placement)."""

    minor: int
    currency: str
    settle: object


def _apply_credit(order, credit):
    if credit.currency != order.currency:
        raise InvalidTransition(
            _(
                "The credit is in %(credit)s and this order in %(order)s: it cannot pay for it.",
                credit=credit.currency,
                order=order.currency,
            )
        )
    order.credit_minor = max(min(int(credit.minor), order.total_minor), 0)
    credit.settle(order, order.credit_minor)


@dataclass(frozen=True)
class Placed:
    """The result of place(): the order, and whether this call made it (False: an earlier call did)."""

    order: Order
    created: bool


def place(source, *, idempotency_key=None, staff=None, api_client=None) -> Order:
    """Place a draft (OrderDraft) or an API order (PlaceOrder); see the module docstring. Returns the Order."""
    return place_order(source, idempotency_key=idempotency_key, staff=staff, api_client=api_client).order


def place_order(source, *, idempotency_key=None, staff=None, api_client=None, credit=None) -> Placed:
    """Like place(), also telling whether the order was created now or found (a replayed key or draft)."""
    if staff is None and api_client is None:
        raise Forbidden(_("Sign in to take orders."))
    key = scoped_key(idempotency_key, staff=staff, api_client=api_client)
    release_expired_holds()
    is_draft = isinstance(source, OrderDraft)
    if is_draft:
        _editable_or_placed(source, staff)
    request_hash = getattr(source, "request_fingerprint", "")
    last_error = None
    for _attempt in range(1 if is_draft else _PLACE_ATTEMPTS):
        existing = existing_order(source, key, request_hash)
        if existing is not None:
            return Placed(existing, False)
        try:
            with transaction() as session:
                order = _place_once(session, source, key, staff=staff, api_client=api_client, credit=credit)
            return Placed(order, True)
        except InsufficientStock as error:
            last_error = error
        except DomainError as error:
            if error.code != "duplicate_customer":
                raise
            last_error = None  # the customer was created a moment ago by a concurrent order: match it now
        except (IntegrityError, _AlreadyPlaced):  # the same key or draft placed a moment ago by a concurrent call
            db.session.rollback()
            existing = existing_order(source, key, request_hash)
            if existing is None:
                if is_draft:  # dropped meanwhile (the customer erased, or the clerk dropped it)
                    _editable_or_placed(db.session.get(OrderDraft, source.id, populate_existing=True), staff)
                    raise InvalidTransition(
                        _("This order draft changed a moment ago. Check it and place again.")
                    ) from None
                raise
            return Placed(existing, False)
    raise _no_longer_available(source, last_error, staff)


def _editable_or_placed(draft, staff):
    check_actor(staff)
    if not staff.is_admin and draft.location_id != staff.location_id:
        raise OutOfScope(_("That order draft does not exist (any more)."))
    # Only a dropped draft can be an erased customer's (an erase drops their open drafts); one still open here
    # may have been dropped meanwhile, and placing refuses it when it checks the customer under its lock.
    if draft.status == "abandoned":
        if customer_erased(draft) and draft.order_id is None:
            refuse_erased_customer()
        raise NotFound(_("That order draft does not exist (any more)."))


def existing_order(source, key, request_hash):
    if isinstance(source, OrderDraft):
        order_id = db.session.scalar(select(OrderDraft.order_id).where(OrderDraft.id == source.id))
        if order_id is not None:
            return db.session.get(Order, order_id)
    order = order_by_key(key)
    if order is not None and request_hash and _fingerprint_of(order) != request_hash:
        raise IdempotencyConflict(_("This Idempotency-Key was already used for a different order."), order=order.number)
    return order


def _no_longer_available(source, error, staff):
    if isinstance(source, OrderDraft):
        with transaction() as session:
            _lock_open_draft(session, source, staff)  # as every re-hold: its holds are then the draft's own
            state = rehold(session, source, staff)
        proposal = state.proposal
    else:
        try:
            proposal = sourcing.propose(api_sourcing_request(source))
        except (ValidationFailed, NotFound):
            proposal = None
    message = _(
        "Some items are no longer available as planned: someone else ordered them meanwhile. Check the new proposal."
    )
    if proposal is not None and not proposal.complete:
        message = _("Some items are no longer available: someone else ordered them meanwhile.")
        held_back = [line.reason for line in proposal.unavailable if line.reason_code not in ("short", "nowhere")]
        not_sold = [line.reason for line in proposal.unavailable if line.reason_code == "not_sold"]
        if not_sold:  # no price in the order's market: not a matter of stock
            message = not_sold[0]
        elif held_back:  # the network has the goods, a rule holds them back: say which
            message = _("Some items cannot be sent now: %(reason)s", reason=held_back[0])
    error = InsufficientStock(
        message,
        lines=[
            {"variant_id": line.variant_id, "quantity": line.quantity, "reason": line.reason}
            for line in (proposal.unavailable if proposal else ())
        ],
    )
    error.proposal = proposal  # the fresh plan (for a draft: already held again); not part of the JSON
    return error


def api_sourcing_request(place_order_):
    return SourcingRequest(
        lines=tuple(place_order_.lines),
        fulfilment=place_order_.fulfilment,
        pickup_location_id=place_order_.pickup_location_id,
        delivery_country=place_order_.delivery_address.country if place_order_.delivery_address else None,
        selling_location_id=place_order_.origin_location_id,
        market_code=place_order_.market_code,
    )


def _place_once(session, source, key, *, staff, api_client, credit=None):
    now = utcnow()
    actor = api_client if api_client is not None else staff
    if isinstance(source, OrderDraft):
        # The customer first (the lock an erase or a merge takes before it touches the drafts), then the draft,
        # claimed only if it still belongs to that customer: an erased customer's draft is never placed.
        customer_id = session.scalar(select(OrderDraft.customer_id).where(OrderDraft.id == source.id))
        if customer_id is not None:
            customer = lock_customer(session, customer_id, share=True)
            if customer is None or customer.erased_at is not None:
                refuse_erased_customer()
            if customer.merged_into_id is not None:
                raise InvalidTransition(
                    _("This customer's profile was merged into another one a moment ago. Choose the customer again.")
                )
        claimed = session.execute(
            update(OrderDraft)
            .where(
                OrderDraft.id == source.id,
                OrderDraft.status == "open",
                OrderDraft.customer_id == customer_id if customer_id is not None else OrderDraft.customer_id.is_(None),
            )
            .values(status="placed", updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.refresh(source)
        if claimed != 1:
            raise _AlreadyPlaced()
        if source.customer_id is None:
            raise ValidationFailed(_("Please choose the customer."), {"customer": _("Choose or add the customer.")})
        if source.fulfilment == "delivery" and not source.delivery_address:
            raise ValidationFailed(_("Enter the delivery address."), {"address": _("Enter the delivery address.")})
        holds = claim_holds(session, source)
        request = sourcing_request(source, holds, now)
        channel, customer_id = "store", source.customer_id
        fulfilment, payment_state = source.fulfilment, source.payment_state
        address = source.delivery_address if source.fulfilment == "delivery" else {}
        origin_id = source.location_id
        request_hash = ""
    else:
        holds = ()
        request = dataclasses.replace(api_sourcing_request(source), now=now)
        channel, customer_id = source.channel, source.customer_id
        if source.contact is not None:
            customer_id = _customer_for(session, source.contact, channel, sourcing.order_market(request))
        fulfilment, payment_state = source.fulfilment, source.payment_state
        address = source.delivery_address.as_dict() if source.delivery_address else {}
        origin_id = source.origin_location_id
        request_hash = source.request_fingerprint
    proposal = sourcing.propose(request)
    if not proposal.complete:
        raise InsufficientStock(_("Some items are not available."))
    waived = fulfilment == "delivery" and getattr(source, "waive_shipping", False)
    # Every source but the pickup store sends a transfer: its daily capacity is checked under its lock.
    transfer_capacity.claim_transfer_capacity(
        session,
        [loc for loc in proposal.sources if fulfilment == "delivery" or loc.id != request.pickup_location_id],
        now,
    )

    # The market's currency under a share lock: a change of the market's currency (stores.markets.save_market,
    # which locks the row for update and refuses once the market has orders) either came first and this order
    # is refused, or waits for it and sees this order.
    currency_now = session.scalar(
        select(Market.currency).where(Market.code == proposal.market_code).with_for_update(read=True)
    )
    if currency_now != proposal.currency:
        raise InvalidTransition(_("The market's currency changed a moment ago. Please check the order again."))
    order = Order(
        channel=channel,
        customer_id=customer_id,
        fulfilment=fulfilment,
        status="placed",
        payment_state=payment_state,
        pickup_location_id=request.pickup_location_id if fulfilment == "pickup" else None,
        origin_location_id=origin_id,
        delivery_address=address,
        market_code=proposal.market_code,
        currency=proposal.currency,
        total_minor=proposal.goods_minor if waived else proposal.total_minor,
        shipping_fee_waived=waived,
        idempotency_key=key,
        placed_by_staff_id=staff.id if staff is not None else None,
        placed_by_api_client_id=api_client.id if api_client is not None else None,
        promised_at=_promised_at(proposal),
        placed_at=now,
        updated_at=now,
        lines=[],  # known empty: filled below without a query for what a new order cannot have yet
        pickup=None,
    )
    session.add(order)
    session.flush()
    order.number = orders.order_number(order.id, now)
    session.flush()

    # Final allocations under the order number: per (variant, location), in a stable order, first giving
    # back what the draft held there, then allocating what the order needs (a conditional UPDATE).
    needed = proposal.allocations()
    keeping = proposal.keeping_safety_stock()
    held = {(h.variant_id, h.location_id): h.quantity for h in holds}
    reference = hold_reference(source) if isinstance(source, OrderDraft) else ""
    for variant_id, location_id in sorted(set(needed) | set(held), key=lambda k: (k[1], k[0])):
        if held.get((variant_id, location_id)):
            ledger.release(
                ledger.StockChange(
                    variant_id,
                    location_id,
                    held[(variant_id, location_id)],
                    _("Hold converted into order %(number)s", number=order.number),
                    reference,
                ),
                actor,
            )
        if needed.get((variant_id, location_id)):
            ledger.allocate(
                ledger.StockChange(
                    variant_id,
                    location_id,
                    needed[(variant_id, location_id)],
                    _("Order %(number)s", number=order.number),
                    order.number,
                ),
                actor,
                keep_safety_stock=location_id in keeping,
            )
    for hold in holds:
        session.delete(hold)

    transfers = {}
    for planned in proposal.lines:
        line = OrderLine(
            variant_id=planned.variant_id,
            quantity=planned.quantity,
            unit_price_minor=planned.unit_price_minor,
            source_location_id=planned.source.id,
            status="allocated",
            status_reason="",
            source_reason={"code": planned.reason_code, "params": planned.reason_params},
        )
        if fulfilment == "delivery" or planned.source.id != request.pickup_location_id:
            transfer = transfers.get(planned.source.id)
            if transfer is None:
                transfer = transfers[planned.source.id] = Transfer(
                    order_id=order.id,
                    source_location_id=planned.source.id,
                    destination_location_id=request.pickup_location_id if fulfilment == "pickup" else None,
                    status="requested",
                    created_at=now,
                )
                session.add(transfer)
                session.flush()
            line.transfer_id = transfer.id
        order.lines.append(line)
    session.flush()
    _redeem_offer(session, source, order, staff=staff, api_client=api_client, now=now)
    if credit is not None:
        _apply_credit(order, credit)
        session.flush()

    who = {"staff": staff, "api_client": api_client, "location_id": origin_id}
    orders.record_event(order, "placed", to_status="placed", channel=channel, request_fingerprint=request_hash, **who)
    orders.record_event(
        order,
        "sourced",
        split=proposal.split,
        split_reason=proposal.split_reason,
        shipping_fee_minor=0 if waived else proposal.shipping_fee_minor,
        shipping_fee_waived_minor=proposal.shipping_fee_minor if waived else 0,
        promised_date=proposal.promised_date.isoformat() if proposal.promised_date else None,
        lines=[
            {
                "variant_id": p.variant_id,
                "quantity": p.quantity,
                "source": p.source.code,
                "reason": p.reason,
                "reason_code": p.reason_code,
                "reason_params": p.reason_params,
                "promised_date": p.promised_date.isoformat(),
            }
            for p in proposal.lines
        ],
        **who,
    )
    if fulfilment == "pickup":
        pickup_codes.open_pickup(order)
    if isinstance(source, OrderDraft):
        source.order_id = order.id
    session.flush()
    notifications.order_confirmation(order)
    audit.record(
        "order.placed",
        entity=order,
        staff=staff,
        api_client=api_client,
        location_id=origin_id,
        number=order.number,
        channel=channel,
        total_minor=order.total_minor,
    )
    return order


def _redeem_offer(session, source, order, *, staff, api_client, now):
    """The draft's offer, or the API order's offer code: its discount on the lines, one use taken."""
    if isinstance(source, OrderDraft):
        issued_id = source.issued_offer_id  # as refreshed when the draft was claimed
        issued = session.get(IssuedOffer, issued_id) if issued_id is not None else None
        field = "offer"
    elif source.offer_code:
        issued = find_issued(source.offer_code)
        field = "offer_code"
    else:
        return
    if issued is None and field == "offer":
        return
    discounts.discount_order(session, order, issued, staff=staff, api_client=api_client, now=now, field=field)


def place_replacement(original, *, variant_id, quantity, pickup_location_id=None, delivery_address=None) -> Order:
    """A new order for units the original order's store could not supply, at the customer's choice on their
    order page (orders/rejection_choices.py): a pickup order at another store (`pickup_location_id`: "collect
    at another store"), or a home delivery to `delivery_address` (an order_rules.Address, checked) with its
    shipping fee waived ("ship home free"). Same customer, channel, payment and market as the original; sourced
    under the usual rules; its own confirmation. Inside the caller's transaction; InsufficientStock when nobody
    can supply them."""
    home = delivery_address is not None
    source = PlaceOrder(
        channel=original.channel,
        customer_id=original.customer_id,
        lines=(order_rules.LineRequest(variant_id, quantity),),
        fulfilment="delivery" if home else "pickup",
        payment_state=original.payment_state,
        pickup_location_id=None if home else pickup_location_id,
        delivery_address=delivery_address,
        origin_location_id=original.origin_location_id,
        market_code=original.market_code if home else None,
        waive_shipping=home,
    )
    with transaction() as session:
        order = _place_once(session, source, None, staff=None, api_client=None)
        orders.record_event(order, "replaces", replaces=original.number)
    return order


def _customer_for(session, contact, channel, market):
    """The id of the profile with the contact's email or phone, or of a new one (in the caller's transaction),
    whose language is the one asked for, else the default language of the order's market."""
    for _attempt in range(2):
        existing = customers.find_by_contact(email=contact.email, phone=contact.phone)
        if existing is None:
            break
        # Held until the order commits, so an erase or merge of this profile waits for it (or went first).
        locked = lock_customer(session, existing.id, share=True)
        if locked is not None and locked.active:
            return locked.id
    else:
        raise InvalidTransition(_("The customer's profile changed a moment ago. Please try again."))
    return customers.create_customer(
        customers.NewCustomer(
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone,
            locale=contact.locale or market.locale,
        ),
        channel=channel,
    ).id


def _promised_at(proposal):
    """The promised date as the start of that day, in UTC (shown in the location's zone)."""
    if proposal.promised_date is None:
        return None
    return datetime(proposal.promised_date.year, proposal.promised_date.month, proposal.promised_date.day, tzinfo=UTC)
