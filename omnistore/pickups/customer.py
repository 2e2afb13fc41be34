"""The customer's side of a pickup, reached by the token in the email link and the QR code (no login):
what the status page shows, and what the customer may do there — "I'm on my way", "I'm here" (with an
optional note such as a parking spot), cancelling while the order is not yet ready, and choosing what happens
to units the store could not supply (orders/rejection_choices.py) — sent home free among them, shown here with
the delivery order, its address and the waived fee.

The page shows the least personal data that serves: the first name, the items, the store. A token is
useless after collection, expiry or cancellation except to show that final status, and only for
FINAL_VISIBLE_DAYS after it; then, like an unknown token, it is simply not found.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import validation
from omnistore.core.db import transaction
from omnistore.core.errors import InvalidTransition, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.statuses import OPEN_PICKUP_STATUSES, PREPARING_STATUSES, order_word
from omnistore.core.types import utcnow
from omnistore.orders import cancelling, notifications, pickup_codes, rejection_choices
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderLine, Pickup

FINAL_VISIBLE_DAYS = 30
NOTE_MAX_LENGTH = 200
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ACTIVE = OPEN_PICKUP_STATUSES
CANCELLABLE = PREPARING_STATUSES  # here: not once it is ready


@dataclass(frozen=True)
class CustomerView:
    """Everything the status page may show, and nothing more."""

    order: Order
    pickup: Pickup
    store: object
    first_name: str
    lines: list
    status: str
    choices: list = ()  # orders.rejection_choices.Choices for units the store could not supply
    moved: list = ()  # (product, store, the new order's number, its page) for units collected elsewhere
    shipped: list = ()  # ShippedHome: units sent home free instead (their delivery order)

    @property
    def active(self):
        return self.status in ACTIVE

    @property
    def ready(self):
        return self.status == "ready"

    @property
    def can_cancel(self):
        return self.status in CANCELLABLE

    @property
    def show_code(self):  # the QR and the short code are for the desk: only while there is something to collect
        return self.status in ACTIVE


@dataclass(frozen=True)
class ShippedHome:
    """Rejected units the customer chose to have sent home: the delivery order, to where, and that it is free."""

    product: str
    quantity: int
    number: str
    address: str  # one line: name, street, postcode city, country
    fee_waived: bool
    status: str


def _shipped(rejection):
    shipped = rejection.replacement_order
    address = shipped.delivery_address or {}
    return ShippedHome(
        product=rejection.variant.product.name,
        quantity=rejection.quantity,
        number=shipped.number,
        address=", ".join(
            part
            for part in (
                address.get("name", ""),
                address.get("street", ""),
                f"{address.get('postcode', '')} {address.get('city', '')}".strip(),
                address.get("country", ""),
            )
            if part
        ),
        fee_waived=shipped.shipping_fee_waived,
        status=shipped.status,
    )


def _not_found():
    return NotFound(_l("We could not find this order. The link may be mistyped, or it is no longer valid."))


def _load(token, *, for_update=False):
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise _not_found()
    query = (
        select(Order)
        .join(Pickup, Pickup.order_id == Order.id)
        .where(Pickup.token == token)
        .options(
            selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
            selectinload(Order.pickup),
            selectinload(Order.pickup_location),
            selectinload(Order.customer),
        )
    )
    order = db.session.scalar(query.execution_options(populate_existing=True) if for_update else query)
    if order is None or order.fulfilment != "pickup":
        raise _not_found()
    if order.status not in ACTIVE and orders.ended_at(order) < utcnow() - timedelta(days=FINAL_VISIBLE_DAYS):
        raise _not_found()
    return order


def view(token) -> CustomerView:
    """The status page's content for `token`; NotFound for an unknown or no longer valid token."""
    order = _load(token)
    replaced = [r for r in rejection_choices.moved_from(order) if r.replacement_order is not None]
    return CustomerView(
        order=order,
        pickup=order.pickup,
        store=order.pickup_location,
        first_name=order.customer.first_name if order.customer is not None else "",
        lines=notifications.line_rows(order),
        status=order.status,
        choices=[rejection_choices.choices(r) for r in rejection_choices.pending_for(order)]
        if order.status in ACTIVE
        else [],
        moved=[
            (
                r.variant.product.name,
                r.replacement_order.pickup_location.name,
                r.replacement_order.number,
                pickup_codes.status_url(r.replacement_order.pickup),
            )
            for r in replaced
            if r.replacement_order.pickup is not None
        ],
        shipped=[_shipped(r) for r in replaced if r.replacement_order.fulfilment == "delivery"],
    )


def clean_note(note):
    """A one-line note (parking spot, "blue car"): the text rule of core/validation.py (control characters
    refused, spaces squeezed, emoji kept whole), at most NOTE_MAX_LENGTH characters."""
    errors = {}
    note = validation.text(note, field="note", errors=errors, max_length=NOTE_MAX_LENGTH)
    if errors.get("note") is validation.BAD_CHARACTER or errors.get("note") is validation.NOT_TEXT:
        raise ValidationFailed(_l("Please check the note."), errors)
    if errors:
        raise ValidationFailed(
            _l("Please keep the note to %(max)d characters.", max=NOTE_MAX_LENGTH),
            {"note": _l("Please keep the note to %(max)d characters.", max=NOTE_MAX_LENGTH)},
        )
    return note


def _refuse_unless_ready(order):
    if order.status != "ready":
        raise InvalidTransition(_l("This works once your order is ready for pickup."), status=order.status)


def on_the_way(token) -> CustomerView:
    """ "I'm on my way": noted once (a second tap changes nothing) for the store's queue."""
    with transaction():
        order = _load(token, for_update=True)
        _refuse_unless_ready(order)
        now = utcnow()
        changed = db.session.execute(
            update(Pickup)
            .where(Pickup.id == order.pickup.id, Pickup.on_the_way_at.is_(None), Pickup.checked_in_at.is_(None))
            .values(on_the_way_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            orders.record_event(order, "on_the_way", location_id=order.pickup_location_id)
    db.session.expire_all()
    return view(token)


def check_in(token, note="") -> CustomerView:
    """ "I'm here", optionally with a note; a later check-in only changes the note (and says so once)."""
    note = clean_note(note)
    with transaction():
        order = _load(token, for_update=True)
        _refuse_unless_ready(order)
        pickup = order.pickup
        first = pickup.checked_in_at is None
        if not first and note == pickup.check_in_note:
            return view(token)
        values = {"check_in_note": note}
        if first:
            values["checked_in_at"] = utcnow()
        db.session.execute(
            update(Pickup).where(Pickup.id == pickup.id).values(**values).execution_options(synchronize_session=False)
        )
        orders.record_event(order, "checked_in", location_id=order.pickup_location_id, note=note)
    db.session.expire_all()
    return view(token)


def cancel(token) -> CustomerView:
    """Cancel while the order is not yet ready (this page's rule); orders/cancelling.cancel does the rest:
    allocations released, the customer and webhooks told."""
    with transaction():
        order = _load(token, for_update=True)
        if order.status not in CANCELLABLE:
            raise InvalidTransition(
                _l("This order can no longer be cancelled here: it is %(status)s.", status=order_word(order.status)),
                status=order.status,
            )
        cancelling.cancel(order, by_customer=True, reason=str(_l("Cancelled by the customer")))
    db.session.expire_all()
    return view(token)


def choose(token, rejection_id, choice, store_id=None, address=None) -> CustomerView:
    """The customer's choice for units the store could not supply (orders/rejection_choices.choose); `address`
    (a dict) for "ship home free"."""
    with transaction():
        order = _load(token, for_update=True)
        if rejection_choices.carried_out(order, rejection_id, choice):
            return view(token)  # sent again (the order may have ended by it): nothing more to do
        if order.status not in ACTIVE:
            raise InvalidTransition(
                _l("This order can no longer change: it is %(status)s.", status=order_word(order.status)),
                status=order.status,
            )
        rejection_choices.choose(order, rejection_id, choice, store_id=store_id, address=address)
    db.session.expire_all()
    return view(token)
