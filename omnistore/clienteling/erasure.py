"""GDPR erase: pseudonymise a customer's profile, everywhere their personal data is kept.

Only managers of the customer's preferred store (any manager when there is none) and admins may erase. Erase
keeps the rows accounting needs (orders, their lines and totals, consent records as proof) but removes
everything that identifies the person, in this profile and every profile merged into it: name, email, phone,
loyalty number, sizes and preferences, notes, visits, wishlist, unused offers (used ones lose their uses),
the lifecycle stage history, notify-me requests and the "available near you" e-mails sent (nearby_alert),
what merge records kept, delivery addresses on
orders and drafts (open drafts are dropped and their holds released by the ordering service), check-in notes,
names and addresses in order events (a resent confirmation's "to"), marketing e-mails' content and unsubscribe
links, after-purchase comments, their rating links and call notes, emails to the customer in the outbox
(unsent ones dropped, sent ones blanked, whichever address they went to), and any audit detail mentioning
them. Marketing consent is withdrawn (a new record), and the erasure is logged.

That list of places is `erase_customer`, in one function here: a new place personal data is kept is added
there, so the erase can be checked by reading it.

Erase locks the profile (`profile_locks.lock_profiles`) and decides on what it reads after locking, so a merge
and an erase of the same profile never both go through: the second gets Conflict.
"""

import json

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, delete, or_, select, update

from omnistore.clienteling.models import CustomerStageChange, NearbyAlert, PurchaseFollowUp
from omnistore.clienteling.profile_locks import lock_profiles, refuse_unless_active
from omnistore.core import audit
from omnistore.core.audit import AuditEvent
from omnistore.core.db import transaction
from omnistore.core.errors import ValidationFailed
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers.models import (
    Consent,
    Customer,
    CustomerAccess,
    CustomerMerge,
    CustomerNote,
    CustomerVisit,
    MarketingSend,
    NotifyRequest,
    WishlistItem,
)
from omnistore.customers.services import require_manage
from omnistore.offers import services as offers
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order, OrderDraft, OrderEvent, Pickup
from omnistore.returns.models import Return

ERASE_WORD = "ERASE"


# Keys of an order event's or audit event's detail that hold what a customer or a clerk typed about the person.
PERSONAL_DETAIL_KEYS = ("note", "name", "email", "phone", "address", "to")
_ADDRESS_KEYS = ("name", "street")


def _long_enough(values):
    return {v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= 4}


def _personal_strings(customer):
    return _long_enough(
        [customer.email, customer.phone, customer.loyalty_number, f"{customer.first_name} {customer.last_name}"]
    )


def _mentions(column, strings):
    return or_(*(column.contains(value, autoescape=True) for value in sorted(strings))) if strings else None


def _mentioning(value, strings):
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    folded = text.lower()
    return any(s.lower() in folded for s in strings)


def _redacted(detail, strings):
    """An event's detail without the personal keys, and without any value that mentions the person."""
    return {
        key: value
        for key, value in (detail or {}).items()
        if key not in PERSONAL_DETAIL_KEYS and not _mentioning(value, strings)
    }


def _merged_into(session, customer_id):
    """Every profile merged into this one, directly or through another merged profile."""
    found, frontier = [], [customer_id]
    while frontier:
        stubs = session.scalars(
            select(Customer).where(Customer.merged_into_id.in_(frontier)).execution_options(populate_existing=True)
        ).all()
        stubs = [stub for stub in stubs if stub not in found]
        found += stubs
        frontier = [stub.id for stub in stubs]
    return found


def erase_customer(customer, *, staff, confirmation) -> Customer:
    """Pseudonymise the profile (see the module's docstring). `confirmation` must be "ERASE"."""
    require_manage(staff, customer)
    if (confirmation or "").strip().upper() != ERASE_WORD:
        message = _l("Type ERASE to confirm.")
        raise ValidationFailed(message, {"confirm": message})
    from omnistore.customers.services import current_consents

    with transaction() as session:
        # The same lock a merge, an edit or a placement for this customer takes: whoever comes second sees
        # the outcome of the first. Profiles merged into this one can only change through it, so its lock
        # covers them.
        customer = lock_profiles(session, [customer.id]).get(customer.id)
        refuse_unless_active(customer)
        require_manage(staff, customer)
        stubs = _merged_into(session, customer.id)
        people = [customer, *stubs]
        ids = [person.id for person in people]
        merges = session.scalars(select(CustomerMerge).where(CustomerMerge.survivor_id.in_(ids))).all()
        orders = session.scalars(select(Order).where(Order.customer_id.in_(ids))).all()
        order_ids = [order.id for order in orders]
        events = (
            session.scalars(select(OrderEvent).where(OrderEvent.order_id.in_(order_ids))).all() if order_ids else []
        )
        drafts = session.scalars(select(OrderDraft).where(OrderDraft.customer_id.in_(ids))).all()
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id.in_(ids))).all()

        # Everything that names the person, wherever it was copied to: the profiles, what merged profiles held,
        # addresses on orders and drafts, addresses the emails went to (an old address too).
        strings = set()
        for person in people:
            strings |= _personal_strings(person)
        for merge in merges:
            strings |= _snapshot_strings(merge)
        for address in [o.delivery_address for o in orders] + [d.delivery_address for d in drafts]:
            strings |= _long_enough((address or {}).get(key) for key in _ADDRESS_KEYS)
        for event in events:
            strings |= _long_enough((event.detail or {}).get(key) for key in ("to", "email", "phone", "name"))
        strings |= _long_enough(m.recipient for m in mails if m.kind == "email")

        # Marketing consent withdrawn (proof kept: consent rows name no person).
        for name, state in current_consents(customer).items():
            if state["granted"]:
                session.add(
                    Consent(
                        customer_id=customer.id,
                        channel=name,
                        granted=False,
                        source_channel="store",
                        location_id=staff.location_id,
                        staff_id=staff.id,
                    )
                )
        # Marketing e-mails and after-purchase answers: their links die, what they said goes; that they were
        # sent, the rating and who called back stay (the figures count them; they name no one now).
        session.execute(
            update(MarketingSend)
            .where(MarketingSend.customer_id.in_(ids))
            .values(token=None, detail={})
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PurchaseFollowUp)
            .where(PurchaseFollowUp.customer_id.in_(ids))
            .values(token=None, comment="", call_note="")
            .execution_options(synchronize_session=False)
        )
        session.execute(  # nobody left to call: off the store's list
            update(PurchaseFollowUp)
            .where(PurchaseFollowUp.customer_id.in_(ids), PurchaseFollowUp.called_at.is_(None))
            .values(callback=False)
            .execution_options(synchronize_session=False)
        )
        for model in (CustomerNote, CustomerVisit, WishlistItem, CustomerStageChange, NotifyRequest, NearbyAlert):
            session.execute(delete(model).where(model.customer_id.in_(ids)))
        # Open drafts cancelled (holds released by the ordering verbs); every draft forgets its address.
        order_drafts.forget_customer_drafts(session, ids, staff=staff)
        # Offers: the drafts forget them, unused ones go, used ones stay without uses (offers/services.py).
        session.execute(
            update(OrderDraft)
            .where(OrderDraft.customer_id.in_(ids))
            .values(issued_offer_id=None)
            .execution_options(synchronize_session=False)
        )
        offers.erase_offers(session, ids)
        for order in orders:
            order.delivery_address = {}
        if order_ids:
            # What a clerk typed about the customer's returns (the goods, the grades and the amounts stay).
            session.execute(
                update(Return)
                .where(Return.order_id.in_(order_ids))
                .values(note="", window_override_reason="")
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(Pickup)
                .where(Pickup.order_id.in_(order_ids), Pickup.check_in_note != "")
                .values(check_in_note="")
                .execution_options(synchronize_session=False)
            )
        for event in events:
            if event.detail and _redacted(event.detail, strings) != event.detail:
                event.detail = _redacted(event.detail, strings)
        for merge in merges:
            merge.merged_snapshot = {}
        # Emails to the customer: unsent ones are dropped, sent (or failed) ones keep only that they existed.
        session.execute(
            delete(OutboxMessage).where(OutboxMessage.customer_id.in_(ids), OutboxMessage.status == "pending")
        )
        blank = dict(recipient="erased", subject="", body="", payload={}, last_error="")
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.customer_id.in_(ids))
            .values(**blank)
            .execution_options(synchronize_session=False)
        )
        if strings:  # messages from before the outbox knew its customers, and anything else that names them
            outbox = (
                _mentions(OutboxMessage.recipient, strings)
                | _mentions(OutboxMessage.body, strings)
                | _mentions(OutboxMessage.subject, strings)
                | _mentions(cast(OutboxMessage.payload, String), strings)
            )
            session.execute(
                update(OutboxMessage).where(outbox).values(**blank).execution_options(synchronize_session=False)
            )
            session.execute(
                update(AuditEvent)
                .where(_mentions(cast(AuditEvent.detail, String), strings))
                .values(detail={"erased": True})
                .execution_options(synchronize_session=False)
            )
        for person in people:
            person.first_name = person.last_name = person.search_name = ""
            person.email = person.phone = person.loyalty_number = None
            person.sizes, person.preferences = {}, {}
            person.preferred_location_id = None
            person.loyalty_points = 0
            person.erased_at = utcnow()
        session.add(
            CustomerAccess(customer_id=customer.id, action="erase", staff_id=staff.id, location_id=staff.location_id)
        )
        audit.record("customer.erased", entity=customer, staff=staff, merged_profiles=len(stubs))
    return customer


def _snapshot_strings(merge):
    snapshot = merge.merged_snapshot or {}
    values = [snapshot.get(key) for key in ("email", "phone", "loyalty_number")]
    values.append(f"{snapshot.get('first_name', '')} {snapshot.get('last_name', '')}")
    return _long_enough(values)
