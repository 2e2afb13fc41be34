"""GDPR for customer profiles: the access log, export, erase and merge.

Every view of a profile is logged (who, when, which store). Managers of the customer's preferred store (any
manager when there is none) and admins see the log, export everything held about the customer (JSON, and CSV
for the timeline, in one ZIP), erase (pseudonymise) the profile and merge two profiles into one.

Erase keeps the rows accounting needs (orders, their lines and totals, consent records as proof) but removes
everything that identifies the person, in this profile and every profile merged into it: name, email, phone,
loyalty number, sizes and preferences, notes, visits, wishlist, what merge records kept, delivery addresses on
orders and drafts (open drafts are dropped and their holds released by the ordering service), check-in notes,
names and addresses in order events (a resent confirmation's "to"), emails to the customer in the outbox
(unsent ones dropped, sent ones blanked, whichever address they went to), and any audit detail mentioning
them. Marketing consent is withdrawn (a new record), and the erasure is logged.

Erase and merge lock the profiles (lock_profiles) and decide on what they read after locking, so crossing
merges, or a merge and an erase of the same profile, never both go through: the second gets Conflict.
"""

import io
import json
import zipfile
from datetime import UTC

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import audit, csvfile
from omnistore.core.audit import AuditEvent
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers.models import (
    Consent,
    Customer,
    CustomerAccess,
    CustomerMerge,
    CustomerNote,
    CustomerVisit,
    WishlistItem,
)
from omnistore.customers.services import require_manage
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order, OrderDraft, OrderEvent, OrderLine, Pickup

ACCESS_LOG_PAGE = 50
ERASE_WORD = "ERASE"
_TIERS = ("basic", "silver", "gold")


def record_access(customer, *, staff, action="view"):
    """Log that `staff` opened (or exported, merged, erased) the profile, in a transaction of its own."""
    with transaction() as session:
        session.add(
            CustomerAccess(customer_id=customer.id, action=action, staff_id=staff.id, location_id=staff.location_id)
        )


def access_log(customer, *, staff, limit=ACCESS_LOG_PAGE):
    require_manage(staff, customer)
    return db.session.scalars(
        select(CustomerAccess)
        .where(CustomerAccess.customer_id == customer.id)
        .options(selectinload(CustomerAccess.staff), selectinload(CustomerAccess.location))
        .order_by(CustomerAccess.created_at.desc(), CustomerAccess.id.desc())
        .limit(limit)
    ).all()


# --- export -------------------------------------------------------------------------------------------------


def _iso(value):
    return value.astimezone(UTC).isoformat() if value is not None else None


def export_data(customer, *, staff) -> dict:
    """Everything held about the customer, as plain JSON-ready data."""
    require_manage(staff, customer)
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.placed_at, Order.id)
        .options(
            selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
            selectinload(Order.events),
            selectinload(Order.pickup),
        )
    ).all()
    merges = db.session.scalars(select(CustomerMerge).where(CustomerMerge.survivor_id == customer.id)).all()
    visits = db.session.scalars(
        select(CustomerVisit).where(CustomerVisit.customer_id == customer.id).order_by(CustomerVisit.created_at)
    ).all()
    wishes = db.session.scalars(
        select(WishlistItem)
        .where(WishlistItem.customer_id == customer.id)
        .options(selectinload(WishlistItem.variant).selectinload(Variant.product))
    ).all()
    accesses = db.session.scalars(
        select(CustomerAccess).where(CustomerAccess.customer_id == customer.id).order_by(CustomerAccess.created_at)
    ).all()
    code = {}

    def location_code(location_id):
        from omnistore.stores.models import Location

        if location_id is None:
            return None
        if location_id not in code:
            code[location_id] = db.session.scalar(select(Location.code).where(Location.id == location_id))
        return code[location_id]

    return {
        "format": "omnistore customer export 1",
        "exported_at": _iso(utcnow()),
        "customer": {
            "id": customer.id,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "loyalty_number": customer.loyalty_number,
            "loyalty_tier": customer.loyalty_tier,
            "loyalty_points": customer.loyalty_points,
            "preferred_store": location_code(customer.preferred_location_id),
            "sizes": customer.sizes or {},
            "preferences": customer.preferences or {},
            "language": customer.locale,
            "created_channel": customer.created_channel,
            "created_at": _iso(customer.created_at),
        },
        "consents": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "recorded_at": _iso(c.recorded_at),
                "source_channel": c.source_channel,
                "store": location_code(c.location_id),
                "staff_id": c.staff_id,
            }
            for c in customer.consents
        ],
        "notes": [
            {
                "created_at": _iso(n.created_at),
                "store": location_code(n.location_id),
                "staff_id": n.staff_id,
                "body": n.body,
            }
            for n in sorted(customer.notes, key=lambda n: n.created_at)
        ],
        "visits": [
            {
                "kind": v.kind,
                "channel": v.channel,
                "created_at": _iso(v.created_at),
                "store": location_code(v.location_id),
                "note": v.note,
            }
            for v in visits
        ],
        "wishlist": [
            {
                "sku": w.variant.sku,
                "product": w.variant.product.name,
                "size": w.variant.size,
                "colour": w.variant.colour,
                "added_at": _iso(w.created_at),
                "channel": w.channel,
            }
            for w in wishes
        ],
        "orders": [
            {
                "number": o.number,
                "channel": o.channel,
                "fulfilment": o.fulfilment,
                "status": o.status,
                "payment_state": o.payment_state,
                "placed_at": _iso(o.placed_at),
                "currency": o.currency,
                "total_minor": o.total_minor,
                "pickup_store": location_code(o.pickup_location_id),
                "sold_by_store": location_code(o.origin_location_id),
                "delivery_address": o.delivery_address or {},
                "tracking_reference": o.tracking_reference,
                "lines": [
                    {
                        "sku": li.variant.sku,
                        "product": li.variant.product.name,
                        "size": li.variant.size,
                        "colour": li.variant.colour,
                        "quantity": li.quantity,
                        "unit_price_minor": li.unit_price_minor,
                        "status": li.status,
                    }
                    for li in o.lines
                ],
                "events": [{"kind": e.kind, "at": _iso(e.created_at), "detail": e.detail or {}} for e in o.events],
                "pickup": None
                if o.pickup is None
                else {
                    "ready_at": _iso(o.pickup.ready_at),
                    "collected_at": _iso(o.pickup.collected_at),
                    "checked_in_at": _iso(o.pickup.checked_in_at),
                    "check_in_note": o.pickup.check_in_note,
                },
            }
            for o in orders
        ],
        "merged_profiles": [
            {"merged_id": m.merged_id, "at": _iso(m.created_at), "profile": m.merged_snapshot, "moved": m.moved}
            for m in merges
        ],
        "profile_views": [
            {
                "action": a.action,
                "at": _iso(a.created_at),
                "store": location_code(a.location_id),
                "staff_id": a.staff_id,
            }
            for a in accesses
        ],
    }


TIMELINE_COLUMNS = ("at", "kind", "channel", "reference", "status", "store", "amount_minor", "detail")


def timeline_csv(data) -> bytes:
    """The export's timeline as CSV: orders, their milestones, notes and visits, oldest first."""
    rows = []
    for order in data["orders"]:
        items = "; ".join(f"{li['quantity']} × {li['product']} {li['size']}".strip() for li in order["lines"])
        rows.append(
            (
                order["placed_at"],
                "order",
                order["channel"],
                order["number"],
                order["status"],
                order["pickup_store"] or order["sold_by_store"] or "",
                order["total_minor"],
                items,
            )
        )
        for event in order["events"]:
            if event["kind"] != "placed":
                rows.append((event["at"], event["kind"], order["channel"], order["number"], "", "", "", ""))
    for note in data["notes"]:
        rows.append((note["created_at"], "note", "store", "", "", note["store"] or "", "", note["body"]))
    for visit in data["visits"]:
        rows.append(
            (visit["created_at"], visit["kind"], visit["channel"], "", "", visit["store"] or "", "", visit["note"])
        )
    rows.sort(key=lambda row: row[0] or "")
    return csvfile.write(TIMELINE_COLUMNS, rows)


def export_zip(customer, *, staff) -> bytes:
    """One download: customer.json (everything) and timeline.csv; the export is logged."""
    data = export_data(customer, staff=staff)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("customer.json", json.dumps(data, ensure_ascii=False, indent=2))
        archive.writestr("timeline.csv", timeline_csv(data))
    with transaction() as session:
        session.add(
            CustomerAccess(customer_id=customer.id, action="export", staff_id=staff.id, location_id=staff.location_id)
        )
        audit.record("customer.exported", entity=("customer", customer.id), staff=staff)
    return buffer.getvalue()


# --- erase --------------------------------------------------------------------------------------------------

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


def lock_profiles(session, ids):
    """Lock the profiles with these ids in ascending id order (PostgreSQL: SELECT … FOR UPDATE; SQLite: the
    write transaction's BEGIN IMMEDIATE serialises writers already) and read them afresh: a merge or an erase
    decides on what is committed now, never on what the session remembered."""
    return {
        c.id: c
        for c in session.scalars(
            select(Customer)
            .where(Customer.id.in_(sorted(set(ids))))
            .order_by(Customer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
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


def _refuse_unless_active(customer):
    if customer is None or customer.erased_at is not None:
        raise Conflict(_l("This customer's personal data was erased a moment ago."))
    if customer.merged_into_id is not None:
        raise Conflict(
            _l(
                "This profile was merged into profile #%(id)s a moment ago. Open that profile and try again.",
                id=customer.merged_into_id,
            )
        )


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
        _refuse_unless_active(customer)
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
        for model in (CustomerNote, CustomerVisit, WishlistItem):
            session.execute(delete(model).where(model.customer_id.in_(ids)))
        # Open drafts cancelled (holds released by the ordering verbs); every draft forgets its address.
        order_drafts.forget_customer_drafts(session, ids, staff=staff)
        for order in orders:
            order.delivery_address = {}
        if order_ids:
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


# --- merge --------------------------------------------------------------------------------------------------


def merge_customers(survivor, merged, *, staff) -> CustomerMerge:
    """Move everything of `merged` to `survivor`: orders, drafts, notes, consents, visits, wishlist, views,
    emails, points; contact data the survivor lacks. `merged` stays as a stub pointing at the survivor; the
    merge is recorded with what the merged profile held.

    Both profiles are locked in ascending id order and read again first: of two merges of the same pair
    (A into B and B into A), of a merge and an erase, exactly one goes through; the other is refused with
    Conflict, so no profile ever points at itself through others."""
    if survivor.id == merged.id:
        message = _l("Choose two different profiles.")
        raise ValidationFailed(message, {"customer_id": message})
    require_manage(staff, survivor)
    require_manage(staff, merged)
    with transaction() as session:
        rows = lock_profiles(session, (survivor.id, merged.id))
        survivor, merged = rows.get(survivor.id), rows.get(merged.id)
        _refuse_unless_active(survivor)
        _refuse_unless_active(merged)
        require_manage(staff, survivor)  # again: the preferred store may have changed meanwhile
        require_manage(staff, merged)
        snapshot = {
            key: getattr(merged, key)
            for key in (
                "first_name",
                "last_name",
                "email",
                "phone",
                "loyalty_number",
                "loyalty_tier",
                "loyalty_points",
                "sizes",
                "preferences",
                "created_channel",
                "locale",
            )
        }
        snapshot["created_at"] = _iso(merged.created_at)
        snapshot["preferred_location_id"] = merged.preferred_location_id
        moved = {}
        # Drafts before orders: a placement holds the draft until its order is committed, so the orders moved
        # next include one placed from a draft a moment ago.
        for name, model in (
            ("drafts", OrderDraft),
            ("orders", Order),
            ("notes", CustomerNote),
            ("consents", Consent),
            ("visits", CustomerVisit),
            ("profile_views", CustomerAccess),
            ("emails", OutboxMessage),
        ):
            moved[name] = session.execute(
                update(model)
                .where(model.customer_id == merged.id)
                .values(customer_id=survivor.id)
                .execution_options(synchronize_session=False)
            ).rowcount
        have = set(session.scalars(select(WishlistItem.variant_id).where(WishlistItem.customer_id == survivor.id)))
        moved["wishlist"] = 0
        for item in session.scalars(select(WishlistItem).where(WishlistItem.customer_id == merged.id)):
            if item.variant_id in have:
                session.delete(item)
            else:
                item.customer_id = survivor.id
                moved["wishlist"] += 1
        identifiers = {key: getattr(merged, key) for key in ("email", "phone", "loyalty_number")}
        merged.email = merged.phone = merged.loyalty_number = None
        merged.merged_into_id = survivor.id
        session.flush()  # free the unique identifiers before the survivor takes any of them
        for key, value in identifiers.items():
            if value and not getattr(survivor, key):
                setattr(survivor, key, value)
        survivor.loyalty_points += merged.loyalty_points
        moved["loyalty_points"] = merged.loyalty_points
        merged.loyalty_points = 0
        survivor.loyalty_tier = max(survivor.loyalty_tier, merged.loyalty_tier, key=_TIERS.index)
        survivor.sizes = {**(merged.sizes or {}), **(survivor.sizes or {})}
        survivor.preferences = {**(merged.preferences or {}), **(survivor.preferences or {})}
        if survivor.preferred_location_id is None:
            survivor.preferred_location_id = merged.preferred_location_id
        if merged.created_at and survivor.created_at and merged.created_at < survivor.created_at:
            survivor.created_at = merged.created_at
        record = CustomerMerge(
            survivor_id=survivor.id,
            merged_id=merged.id,
            staff_id=staff.id,
            location_id=staff.location_id,
            merged_snapshot=snapshot,
            moved=moved,
        )
        session.add(record)
        session.add(
            CustomerAccess(customer_id=survivor.id, action="merge", staff_id=staff.id, location_id=staff.location_id)
        )
        audit.record("customer.merged", entity=survivor, staff=staff, merged_id=merged.id, moved=moved)
    session.expire_all()
    return record


def merges_into(customer):
    return db.session.scalars(
        select(CustomerMerge).where(CustomerMerge.survivor_id == customer.id).order_by(CustomerMerge.created_at.desc())
    ).all()


def profile_view_count(customer):
    return db.session.scalar(
        select(func.count()).select_from(CustomerAccess).where(CustomerAccess.customer_id == customer.id)
    )
