"""After the purchase: a set number of days (OMNISTORE_FOLLOWUP_DAYS) after an order was collected or delivered,
one e-mail per order asks whether everything was as expected — five one-tap rating links to a public page where
a comment can be added — and shows what goes with the purchase, in the customer's size, available at their
store. A low rating (OMNISTORE_FOLLOWUP_LOW_RATING or less) or any comment puts the customer on the store
manager's list to call back (the recovery stage), and on the customer's timeline.

The e-mail is marketing (it sells what goes with the purchase), so it goes through the consent gate
(customers/marketing.py): no e-mail marketing consent, no follow-up. One per customer per FOLLOWUP_DAYS at most.

    run(now)                         the job (omnistore/jobs.py): each due order once, whichever worker gets it
    rate(token, rating)              a tap on a rating link: the first rating stands, a replay changes nothing
    add_comment(token, text)         the optional comment (once)
    callbacks(staff, location_id)    the manager's "to call back" list, store-scoped
    mark_called(id, staff, note)     called, with a note; audited; a second mark is refused
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select, update
from sqlalchemy.orm import joinedload

from omnistore.clienteling.history import recommendations
from omnistore.clienteling.models import PurchaseFollowUp
from omnistore.core import audit, validation
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.formatting import money
from omnistore.core.public_url import public_url
from omnistore.core.types import utcnow
from omnistore.customers import marketing
from omnistore.customers.services import lock_customer
from omnistore.orders.models import Order, OrderEvent
from omnistore.orders.notifications import line_rows
from omnistore.stores.models import Location

KIND = marketing.register_kind(
    marketing.MarketingKind(
        "followup",
        _l("the question after a purchase"),
        cap=lambda config: marketing.Cap(1, timedelta(days=config["OMNISTORE_FOLLOWUP_DAYS"])),
    )
)
FINISHED = ("collected", "delivered")  # the order's status and the event that finished it
CATCH_UP_DAYS = 14  # orders finished longer ago than FOLLOWUP_DAYS + this are never asked about (a new install)
BATCH = 200
SUGGESTIONS = 3
COMMENT_MAX = 1000
NOTE_MAX = 1000
RATINGS = (1, 2, 3, 4, 5)


def _days():
    return timedelta(days=current_app.config["OMNISTORE_FOLLOWUP_DAYS"])


def low_rating():
    return current_app.config["OMNISTORE_FOLLOWUP_LOW_RATING"]


def rating_url(token, rating):
    return f"{public_url()}/m/r/{token}/{rating}"


@dataclass
class Report:
    sent: int = 0
    skipped: int = 0

    def __str__(self):
        return f"{self.sent} follow-up e-mails sent, {self.skipped} orders without one (no consent, capped, …)"


def due_orders(now, *, limit=BATCH):
    """Ids of orders finished between FOLLOWUP_DAYS (+ the catch-up window) ago that have no follow-up yet."""
    latest = now - _days()
    earliest = latest - timedelta(days=CATCH_UP_DAYS)
    return db.session.scalars(
        select(Order.id)
        .join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(
            Order.status.in_(FINISHED),
            Order.customer_id.is_not(None),
            OrderEvent.kind == Order.status,
            OrderEvent.created_at <= latest,
            OrderEvent.created_at > earliest,
            ~exists().where(PurchaseFollowUp.order_id == Order.id),
        )
        .group_by(Order.id)
        .order_by(Order.id)
        .limit(limit)
    ).all()


def run(now=None) -> Report:
    """The job: each due order considered once. Two workers at once take the customer's lock (the gate's) before
    looking for the order's follow-up, so the second sees the first's row and skips it."""
    now = now or utcnow()
    report = Report()
    for order_id in due_orders(now):
        outcome = follow_up(order_id, now=now)
        if outcome == "sent":
            report.sent += 1
        elif outcome is not None:
            report.skipped += 1
    return report


def _store(order, customer):
    return order.pickup_location or customer.preferred_location or order.origin_location


def suggestions(customer, store, locale):
    """What goes with what they bought, in their size, available at `store` (their store or the order's)."""
    if store is None:
        return []
    return [
        {
            "name": r.product.name,
            "detail": " · ".join(part for part in (r.variant.size, r.variant.colour) if part),
            "price": money(r.price_minor, r.currency, locale),
            "store": store.name,
        }
        for r in recommendations(customer, store.id)
        if r.here > 0
    ][:SUGGESTIONS]


def follow_up(order_id, *, now=None):
    """Write the order's follow-up and send its e-mail through the gate; None if another worker did it first."""
    now = now or utcnow()
    with transaction() as session:
        order = session.get(Order, order_id)
        if order is None or order.customer_id is None:
            return None
        customer = lock_customer(session, order.customer_id)
        if session.scalar(select(exists().where(PurchaseFollowUp.order_id == order_id))):
            return None
        store = _store(order, customer)
        row = PurchaseFollowUp(
            order_id=order.id,
            customer_id=customer.id,
            location_id=(order.pickup_location_id or order.origin_location_id or customer.preferred_location_id),
            outcome="pending",
            token=marketing.new_token(),
            created_at=now,
        )
        session.add(row)
        session.flush()
        locale = marketing.customer_locale(customer)
        outcome = marketing.send(
            customer,
            marketing.MarketingEmail(
                kind=KIND.name,
                template="followup",
                subject=_l("Was everything as expected with your order %(number)s?", number=order.number),
                context={
                    "order": order,
                    "lines": line_rows(order),
                    "currency": order.currency,
                    "ratings": [(n, rating_url(row.token, n)) for n in RATINGS],
                    "suggestions": suggestions(customer, store, locale),
                },
                key=str(order.id),
                location=store,
                detail={"order": order.number},
            ),
            now=now,
        )
        row.outcome = outcome.reason
        if not outcome.sent:
            row.token = None
    return row.outcome


# --- the customer's answer ---------------------------------------------------------------------------------


def _by_token(session, token, *, lock=True):
    query = select(PurchaseFollowUp).where(PurchaseFollowUp.token == token)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query) if marketing.well_formed(token) else None
    if row is None or row.customer is None or not row.customer.active:
        raise NotFound(_l("This link is no longer valid."))
    return row


def find(token) -> PurchaseFollowUp:
    """The follow-up a link names (for its page); NotFound for an unknown or erased one."""
    return _by_token(db.session, token, lock=False)


def rate(token, rating, *, now=None) -> PurchaseFollowUp:
    """A tap on a rating link. The first rating stands; a replay (or another star tapped later) changes nothing."""
    if isinstance(rating, bool) or rating not in RATINGS:
        raise ValidationFailed(_l("Choose from 1 to 5."), {"rating": _l("Choose from 1 to 5.")})
    now = now or utcnow()
    with transaction() as session:
        row = _by_token(session, token)
        if row.rating is None:
            row.rating, row.rated_at = rating, now
            if rating <= low_rating():
                row.callback = True
            audit.record("followup.rated", entity=row, location_id=row.location_id, rating=rating)
    return row


def add_comment(token, text, *, now=None) -> PurchaseFollowUp:
    """The optional comment, once; it always puts the customer on the store's list to call back."""
    errors = {}
    text = validation.text(
        text,
        field="comment",
        errors=errors,
        max_length=COMMENT_MAX,
        required=True,
        multiline=True,
        missing=_l("Write a few words, or close this page."),
    )
    if errors:
        raise ValidationFailed(_l("Please check your comment."), errors)
    now = now or utcnow()
    with transaction() as session:
        row = _by_token(session, token)
        if row.comment:
            if row.comment == text:
                return row  # the same form sent twice
            raise Conflict(_l("Thank you — we already have your comment."))
        row.comment, row.commented_at, row.callback = text, now, True
        audit.record("followup.commented", entity=row, location_id=row.location_id)
    return row


# --- the store's call back -----------------------------------------------------------------------------------


def _scope(staff, location_id):
    """The store whose list a manager sees: their own; an admin any (or all with None)."""
    if staff.is_admin:
        return location_id
    if not staff.is_manager:
        raise Forbidden(_l("Only managers see the list to call back."))
    return staff.location_id


def callbacks(staff, *, location_id=None):
    """(to call, called recently): customers whose follow-up asks for a call, oldest first; the last 20 done."""
    store = _scope(staff, location_id)
    base = select(PurchaseFollowUp).where(PurchaseFollowUp.callback.is_(True))
    if store is not None:
        base = base.where(PurchaseFollowUp.location_id == store)
    base = base.options(
        joinedload(PurchaseFollowUp.customer),
        joinedload(PurchaseFollowUp.order),
        joinedload(PurchaseFollowUp.called_by),
    )
    open_ = db.session.scalars(
        base.where(PurchaseFollowUp.called_at.is_(None)).order_by(
            PurchaseFollowUp.rated_at, PurchaseFollowUp.commented_at, PurchaseFollowUp.id
        )
    ).all()
    done = db.session.scalars(
        base.where(PurchaseFollowUp.called_at.is_not(None)).order_by(PurchaseFollowUp.called_at.desc()).limit(20)
    ).all()
    return open_, done


def stores_for(staff):
    if staff.is_admin:
        return db.session.scalars(select(Location).order_by(Location.code)).all()
    return [staff.location]


def mark_called(followup_id, *, staff, note="", now=None) -> PurchaseFollowUp:
    """The manager called the customer back: who, when and what was said; only once (a second is refused)."""
    errors = {}
    note = validation.text(note, field="note", errors=errors, max_length=NOTE_MAX, multiline=True)
    if errors:
        raise ValidationFailed(_l("Please check the note."), errors)
    now = now or utcnow()
    with transaction() as session:
        row = session.get(PurchaseFollowUp, followup_id) if isinstance(followup_id, int) else None
        if row is None or not row.callback:
            raise NotFound(_l("No such customer to call back."))
        store = _scope(staff, row.location_id)
        if store is not None and store != row.location_id:
            raise NotFound(_l("No such customer to call back."))
        changed = session.execute(
            update(PurchaseFollowUp)
            .where(PurchaseFollowUp.id == row.id, PurchaseFollowUp.called_at.is_(None))
            .values(called_at=now, called_by_id=staff.id, call_note=note)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise Conflict(_l("Someone already marked this customer as called."))
        audit.record("followup.called", entity=row, staff=staff, location_id=row.location_id)
    db.session.expire(row)
    return row
