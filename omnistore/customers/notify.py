""" "Tell me when it is available": a request a clerk records at the counter for a variant the store cannot
offer, for the customer chosen in the picker. It shows on the profile and can be cancelled there; while it is
open, clienteling/nearby.py e-mails the customer (with their marketing consent) when the variant is available
near them.

    request_notification(customer, variant_id, *, staff)   open (or open again) the request; one per variant
    cancel_notification(customer, request_id, *, staff)    close it (the row stays, with when)
    notification_requests(customer, *, include_cancelled)  the profile's list, newest first
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from omnistore.catalog.models import Variant
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.finding import MAX_ID
from omnistore.customers.models import NotifyRequest
from omnistore.customers.services import lock_customer

MAX_OPEN = 50  # open requests per customer: a wishlist of what the counter could not sell, not a catalogue


def _editable(customer):
    if customer is None or not customer.active:
        raise NotFound(_l("This profile can no longer be changed."))


def _an_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def request_notification(customer, variant_id, *, staff) -> NotifyRequest:
    """Open the request (or open a cancelled one again, from now); asking twice changes nothing."""
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        variant = session.get(Variant, variant_id) if _an_id(variant_id) else None
        if variant is None:
            message = _l("Choose a product size first.")
            raise ValidationFailed(message, {"variant": message})
        existing = session.scalar(
            select(NotifyRequest).where(
                NotifyRequest.customer_id == customer.id, NotifyRequest.variant_id == variant.id
            )
        )
        if existing is not None and existing.open:
            return existing
        opened = session.scalar(
            select(db.func.count())
            .select_from(NotifyRequest)
            .where(NotifyRequest.customer_id == customer.id, NotifyRequest.cancelled_at.is_(None))
        )
        if opened >= MAX_OPEN:
            message = _l("This customer already waits for %(count)d items: cancel one first.", count=MAX_OPEN)
            raise ValidationFailed(message, {"variant": message})
        if existing is None:
            existing = NotifyRequest(customer_id=customer.id, variant_id=variant.id)
            session.add(existing)
        existing.location_id = staff.location_id
        existing.staff_id = staff.id
        existing.created_at = utcnow()
        existing.cancelled_at = None
        session.flush()
        audit.record("customer.notify_requested", entity=customer, staff=staff, variant_id=variant.id)
    return existing


def cancel_notification(customer, request_id, *, staff) -> NotifyRequest:
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        found = session.get(NotifyRequest, request_id) if _an_id(request_id) else None
        if found is None or found.customer_id != customer.id:
            raise NotFound(_l("That request does not exist (any more)."))
        if found.cancelled_at is None:
            found.cancelled_at = utcnow()
            audit.record("customer.notify_cancelled", entity=customer, staff=staff, variant_id=found.variant_id)
    return found


def notification_requests(customer, *, include_cancelled=False) -> list[NotifyRequest]:
    query = (
        select(NotifyRequest)
        .where(NotifyRequest.customer_id == customer.id)
        .options(joinedload(NotifyRequest.variant).joinedload(Variant.product), joinedload(NotifyRequest.location))
        .order_by(NotifyRequest.created_at.desc(), NotifyRequest.id.desc())
    )
    if not include_cancelled:
        query = query.where(NotifyRequest.cancelled_at.is_(None))
    return db.session.scalars(query).all()
