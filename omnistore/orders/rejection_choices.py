"""What a pickup customer chooses when their store could not supply some units (orders/rejecting.py), and the
default when they do not choose in time.

A pickup order never changes store silently: the customer is e-mailed and chooses on their order page
(pickups/customer.py shows `choices(rejection)`):

    wait    another store sends the units to the same pickup store (orders/rejecting.resource), with the
            date they will be ready — while the order is still being prepared;
    store   collect them at another store that has them now (nearest first, with distance and hours): a new
            pickup order there for those units (orders/placing.place_replacement), with its own code and
            e-mail; the rest of the order stays where it is;
    ship    ship them home free (a paid order only): the customer types a delivery address, checked by the
            address rule (orders/order_rules.check_address, called in `_home_address` only); a new delivery order
            for those units, sourced under the usual rules (the rejecting store left out), its shipping fee
            waived and recorded so (Order.shipping_fee_waived: the order page, the e-mail and the API show it);
            nobody can send them there: the customer is told and chooses again, nothing changed;
    drop    leave them out (the customer is refunded for them if they paid; an order left with nothing is
            cancelled).

The choice is claimed by a conditional UPDATE of the rejection (outcome "pending" → decided), so a double tap,
two phones or the default job racing the customer decide once. The same "ship" sent again (a phone resending
the form) finds the units already on their way home and answers as the first did, placing nothing.

Default (`run(now)`, the `flask pickups rejections` command; every 15 minutes): a rejection still pending
OMNISTORE_REJECTION_CHOICE_HOURS after it was made is decided as "wait" when another store can send the units
and the order is still being prepared, otherwise "drop". Each rejection in its own transaction; one that fails
is logged and left for the next run.
"""

import logging
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select, update

from omnistore.core.db import transaction
from omnistore.core.errors import DomainError, InsufficientStock, InvalidTransition, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.statuses import HELD_LINE_STATUSES, PREPARING_STATUSES
from omnistore.core.types import utcnow
from omnistore.orders import cancelling, order_rules, placing, rejecting, sourcing
from omnistore.orders import services as orders
from omnistore.orders.models import LineRejection
from omnistore.stock.models import StockLevel

CHOICES = ("wait", "store", "ship", "drop")
MAX_STORES = 3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreOption:
    location: object
    km: float


@dataclass(frozen=True)
class Choices:
    rejection: LineRejection
    wait: object  # the PlannedLine of "wait for a transfer" (its promised_date), or None
    stores: list  # of StoreOption, nearest first
    ship: bool = False  # "ship home free" is offered (a paid order)

    @property
    def product(self):
        return self.rejection.variant.product.name


def moved_from(order) -> list:
    """The order's rejected units the customer chose to collect at another store or to have sent home (their
    new orders)."""
    return db.session.scalars(
        select(LineRejection)
        .where(LineRejection.order_id == order.id, LineRejection.outcome == "moved")
        .order_by(LineRejection.id)
    ).all()


def pending_for(order) -> list:
    """The order's rejections still waiting for the customer's choice."""
    return db.session.scalars(
        select(LineRejection)
        .where(LineRejection.order_id == order.id, LineRejection.outcome == "pending")
        .order_by(LineRejection.id)
    ).all()


def choices(rejection, *, now=None) -> Choices:
    """The options open to the customer now (see the module docstring)."""
    now = now or utcnow()
    order = rejection.order
    wait = rejecting.replacement_plan(rejection, now=now) if order.status in PREPARING_STATUSES else None
    return Choices(rejection, wait, _stores(rejection, now), ship=may_ship_home(order))


def may_ship_home(order) -> bool:
    """ "Ship home free" is for an order already paid: a delivery cannot be paid at the desk."""
    return order.payment_state == "paid"


def _home_address(address):
    """The delivery address the customer typed, by the one address rule (ValidationFailed per field)."""
    return order_rules.check_address(address if isinstance(address, dict) else {})


def _shipped_home(rejection):
    """The rejection was decided as "ship" already: its units are on a delivery order."""
    replacement = rejection.replacement_order
    return rejection.outcome == "moved" and replacement is not None and replacement.fulfilment == "delivery"


def carried_out(order, rejection_id, choice) -> bool:
    """Is this the choice already made for that rejection of `order` ("ship" sent again by the phone)? Then
    sending it again changes nothing and answers as the first time did."""
    rejection = db.session.get(LineRejection, rejection_id) if isinstance(rejection_id, int) else None
    return rejection is not None and rejection.order_id == order.id and choice == "ship" and _shipped_home(rejection)


def _stores(rejection, now):
    """Other stores with a desk that have the units available now (not the rejecting one, nor one that
    rejected the variant recently), nearest to the order's pickup store first."""
    order = rejection.order
    excluded = sourcing.rejected_recently([rejection.variant_id], now)
    available = dict(
        db.session.execute(
            select(StockLevel.location_id, StockLevel.on_hand - StockLevel.allocated).where(
                StockLevel.variant_id == rejection.variant_id
            )
        ).all()
    )
    options = []
    for location, km in sourcing.pickup_stores_by_distance(order.pickup_location):
        if location.id in (order.pickup_location_id, rejection.location_id):
            continue
        if (rejection.variant_id, location.id) in excluded or available.get(location.id, 0) < rejection.quantity:
            continue
        options.append(StoreOption(location, km))
        if len(options) == MAX_STORES:
            break
    return options


def _claim(rejection, decided_by, now):
    """Decide the rejection once: of two phones, a double tap or the default job, one wins."""
    claimed = db.session.execute(
        update(LineRejection)
        .where(LineRejection.id == rejection.id, LineRejection.outcome == "pending")
        .values(decided_at=now, decided_by=decided_by)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvalidTransition(_("This was decided already. The page shows what happens now."))
    db.session.refresh(rejection)


def choose(
    order, rejection_id, choice, *, store_id=None, address=None, decided_by="customer", now=None
) -> LineRejection:
    """Carry out the customer's `choice` ("wait", "store" with `store_id`, "ship" with `address` — a dict of
    name, street, postcode, city, country — or "drop") for one pending rejection of `order`; ValidationFailed /
    InvalidTransition with a message for the page otherwise."""
    now = now or utcnow()
    rejection = db.session.get(LineRejection, rejection_id) if isinstance(rejection_id, int) else None
    if rejection is None or rejection.order_id != order.id:
        raise NotFound(_("We could not find that item on your order."))
    if choice not in CHOICES:
        raise ValidationFailed(
            _("Please choose one of the options."), {"choice": _("Please choose one of the options.")}
        )
    if carried_out(order, rejection.id, choice):
        return rejection  # the same choice sent again: it was carried out the first time
    if choice == "ship":
        if not may_ship_home(order):
            raise InvalidTransition(
                _("Sending it home is possible for paid orders only. Please choose another option.")
            )
        home = _home_address(address)
    with transaction():
        _claim(rejection, decided_by, now)
        if choice == "wait":
            if order.status not in PREPARING_STATUSES:
                raise InvalidTransition(_("Your order is already ready: choose another store or leave the item out."))
            if rejecting.replacement_plan(rejection, now=now) is None:
                raise InvalidTransition(_("No other store can send it at the moment. Please choose another option."))
            rejecting.resource(rejection, decided_by=decided_by, now=now)
        elif choice == "store":
            option = next((o for o in _stores(rejection, now) if o.location.id == store_id), None)
            if order.status not in PREPARING_STATUSES + ("ready",):
                option = None
            if option is None:
                raise ValidationFailed(
                    _("That store cannot offer it any more. Please choose again."),
                    {"store": _("That store cannot offer it any more. Please choose again.")},
                )
            moved = placing.place_replacement(
                order, variant_id=rejection.variant_id, quantity=rejection.quantity, pickup_location_id=store_id
            )
            _replaced_by(
                order, rejection, moved, "line_moved", decided_by, location_id=store_id, store=option.location.code
            )
            _cancel_if_nothing_left(
                order,
                _(
                    "Everything is now collected at %(store)s: order %(number)s.",
                    store=option.location.name,
                    number=moved.number,
                ),
            )
        elif choice == "ship":
            _ship_home(order, rejection, home, decided_by)
        else:
            rejecting.drop(rejection, decided_by=decided_by, now=now)
    return rejection


def _ship_home(order, rejection, address, decided_by):
    """A delivery order for the rejected units, its shipping fee waived (inside the caller's transaction)."""
    try:
        shipped = placing.place_replacement(
            order, variant_id=rejection.variant_id, quantity=rejection.quantity, delivery_address=address
        )
    except InsufficientStock:
        message = _("No store can send it to that address at the moment. Please choose another option.")
        raise InvalidTransition(message) from None
    _replaced_by(order, rejection, shipped, "line_shipped_home", decided_by, shipping_fee_waived=True)
    _cancel_if_nothing_left(
        order,
        _("Everything is now sent to your home: order %(number)s.", number=shipped.number),
    )


def _replaced_by(order, rejection, new_order, event, decided_by, **detail):
    """The rejected units are now on `new_order` (another store's pickup, or a delivery): recorded on both."""
    rejection.outcome = "moved"
    rejection.replacement_order_id = new_order.id
    db.session.flush()
    orders.record_event(
        order, event, rejection=rejection.id, new_order=new_order.number, decided_by=decided_by, **detail
    )


def _cancel_if_nothing_left(order, reason):
    """The original order keeps nothing to collect: cancelled through the one cancel verb."""
    if not any(line.status in HELD_LINE_STATUSES for line in order.lines):
        cancelling.cancel(order, by_system=True, reason=reason)


# --- the default ------------------------------------------------------------------------------------------


@dataclass
class DefaultReport:
    waited: list = field(default_factory=list)  # order numbers
    dropped: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # (order number, message)

    def __str__(self):
        text = f"{len(self.waited)} rejected lines sent from another store, {len(self.dropped)} left out"
        if self.problems:
            text += f", {len(self.problems)} left for the next run"
        return text


def run(now=None) -> DefaultReport:
    """Decide every pickup rejection whose customer has not chosen in time (see the module docstring)."""
    now = now or utcnow()
    report = DefaultReport()
    due = db.session.scalars(
        select(LineRejection.id)
        .where(LineRejection.outcome == "pending", LineRejection.choice_due_at <= now)
        .order_by(LineRejection.id)
    ).all()
    db.session.rollback()
    for rejection_id in due:
        rejection = db.session.get(LineRejection, rejection_id)
        order = rejection.order
        try:
            with transaction():
                _claim(rejection, "default", now)
                if order.status in PREPARING_STATUSES and rejecting.replacement_plan(rejection, now=now):
                    rejecting.resource(rejection, decided_by="default", now=now)
                else:
                    rejecting.drop(rejection, decided_by="default", now=now)
            (report.waited if rejection.outcome == "resourced" else report.dropped).append(order.number)
        except InvalidTransition as decided:  # the customer chose a moment ago
            log.info("rejection %s: %s", rejection_id, decided.message)
        except DomainError as problem:
            log.warning("rejection %s of %s: %s", rejection_id, order.number, problem.message)
            report.problems.append((order.number, str(problem.message)))
        db.session.expire_all()
    return report
