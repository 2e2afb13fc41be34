"""GDPR export: everything held about a customer, as JSON, with its timeline as CSV, in one ZIP download.

Managers of the customer's preferred store (any manager when there is none) and admins may export; the export
is logged in the profile's access log and the audit trail. Dates are written in UTC, ISO 8601 (`iso_utc`; a
merge record's snapshot, exported with it, uses the same).
"""

import io
import json
import zipfile
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.clienteling.models import CustomerStageChange, NearbyAlert, PurchaseFollowUp
from omnistore.core import audit, csvfile
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.models import (
    CustomerAccess,
    CustomerMerge,
    CustomerVisit,
    MarketingSend,
    NotifyRequest,
    WishlistItem,
)
from omnistore.customers.services import require_manage
from omnistore.offers import services as offers
from omnistore.orders.models import Order, OrderLine
from omnistore.returns.models import Return


def iso_utc(value):
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
    stage_changes = db.session.scalars(
        select(CustomerStageChange)
        .where(CustomerStageChange.customer_id == customer.id)
        .order_by(CustomerStageChange.since, CustomerStageChange.id)
    ).all()
    sends = db.session.scalars(
        select(MarketingSend).where(MarketingSend.customer_id == customer.id).order_by(MarketingSend.created_at)
    ).all()
    followups = db.session.scalars(
        select(PurchaseFollowUp)
        .where(PurchaseFollowUp.customer_id == customer.id)
        .options(selectinload(PurchaseFollowUp.order))
        .order_by(PurchaseFollowUp.created_at)
    ).all()
    code = {}

    returns_by_order = {}
    if orders:
        for ret in db.session.scalars(
            select(Return).where(Return.order_id.in_([o.id for o in orders])).order_by(Return.id)
        ):
            returns_by_order.setdefault(ret.order_id, []).append(ret)

    def location_code(location_id):
        from omnistore.stores.models import Location

        if location_id is None:
            return None
        if location_id not in code:
            code[location_id] = db.session.scalar(select(Location.code).where(Location.id == location_id))
        return code[location_id]

    return {
        "format": "omnistore customer export 1",
        "exported_at": iso_utc(utcnow()),
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
            "created_at": iso_utc(customer.created_at),
        },
        "consents": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "recorded_at": iso_utc(c.recorded_at),
                "source_channel": c.source_channel,
                "store": location_code(c.location_id),
                "staff_id": c.staff_id,
            }
            for c in customer.consents
        ],
        "notes": [
            {
                "created_at": iso_utc(n.created_at),
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
                "created_at": iso_utc(v.created_at),
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
                "added_at": iso_utc(w.created_at),
                "channel": w.channel,
            }
            for w in wishes
        ],
        "notify_requests": [
            {
                "sku": r.variant.sku,
                "product": r.variant.product.name,
                "size": r.variant.size,
                "colour": r.variant.colour,
                "asked_at": iso_utc(r.created_at),
                "store": location_code(r.location_id),
                "cancelled_at": iso_utc(r.cancelled_at) if r.cancelled_at else None,
            }
            for r in db.session.scalars(
                select(NotifyRequest).where(NotifyRequest.customer_id == customer.id).order_by(NotifyRequest.id)
            )
        ],
        "available_near_you_emails": [
            {
                "sku": a.variant.sku,
                "product": a.variant.product.name,
                "store": location_code(a.location_id),
                "why": a.source,
                "sent_at": iso_utc(a.sent_at),
                "sends": a.sends,
                "held_at": iso_utc(a.held_at) if a.held_at else None,
            }
            for a in db.session.scalars(
                select(NearbyAlert).where(NearbyAlert.customer_id == customer.id).order_by(NearbyAlert.id)
            )
        ],
        "orders": [
            {
                "number": o.number,
                "channel": o.channel,
                "fulfilment": o.fulfilment,
                "status": o.status,
                "payment_state": o.payment_state,
                "placed_at": iso_utc(o.placed_at),
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
                        "returned_quantity": li.returned_quantity,
                        "discount_minor": li.discount_minor,
                    }
                    for li in o.lines
                ],
                "returns": [
                    {
                        "id": r.id,
                        "store": location_code(r.location_id),
                        "status": r.status,
                        "reason": r.reason,
                        "note": r.note,
                        "received_at": iso_utc(r.created_at),
                        "refunded_at": iso_utc(r.refunded_at),
                        "currency": r.currency,
                        "refund_minor": r.total_refund_minor,
                        "refund_method": r.refund_method,
                        "lines": [
                            {"sku": rl.variant.sku, "quantity": rl.quantity, "grade": rl.grade} for rl in r.lines
                        ],
                    }
                    for r in returns_by_order.get(o.id, [])
                ],
                "events": [{"kind": e.kind, "at": iso_utc(e.created_at), "detail": e.detail or {}} for e in o.events],
                "pickup": None
                if o.pickup is None
                else {
                    "ready_at": iso_utc(o.pickup.ready_at),
                    "collected_at": iso_utc(o.pickup.collected_at),
                    "checked_in_at": iso_utc(o.pickup.checked_in_at),
                    "check_in_note": o.pickup.check_in_note,
                },
            }
            for o in orders
        ],
        "offers": offers.export_offers(customer.id),
        "merged_profiles": [
            {"merged_id": m.merged_id, "at": iso_utc(m.created_at), "profile": m.merged_snapshot, "moved": m.moved}
            for m in merges
        ],
        "lifecycle_stages": [
            {"stage": c.stage, "from_stage": c.from_stage, "since": iso_utc(c.since)} for c in stage_changes
        ],
        "marketing_emails": [
            {
                "kind": m.kind,
                "sent_at": iso_utc(m.created_at),
                "store": location_code(m.location_id),
                "staff_id": m.staff_id,
                "content": m.detail or {},
                "unsubscribed_at": iso_utc(m.unsubscribed_at),
            }
            for m in sends
        ],
        "purchase_followups": [
            {
                "order": f.order.number if f.order else None,
                "asked_at": iso_utc(f.created_at),
                "outcome": f.outcome,
                "rating": f.rating,
                "rated_at": iso_utc(f.rated_at),
                "comment": f.comment,
                "commented_at": iso_utc(f.commented_at),
                "store": location_code(f.location_id),
                "called_back_at": iso_utc(f.called_at),
                "call_note": f.call_note,
            }
            for f in followups
        ],
        "profile_views": [
            {
                "action": a.action,
                "at": iso_utc(a.created_at),
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
