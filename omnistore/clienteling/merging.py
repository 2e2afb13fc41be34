"""Merging two profiles of one customer into one: everything of one moves to the other, which keeps a record of
what the merged profile held. Both profiles are locked in a stable order first (`profile_locks`).
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from omnistore.clienteling.export import iso_utc
from omnistore.clienteling.models import CustomerStageChange, NearbyAlert, PurchaseFollowUp
from omnistore.clienteling.profile_locks import lock_profiles, refuse_unless_active
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import (
    Consent,
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
from omnistore.orders.models import Order, OrderDraft

_TIERS = ("basic", "silver", "gold")


def _move_per_variant(session, model, survivor, merged, *, keep):
    """Move `merged`'s rows of a one-per-variant table to `survivor`; where both have one, `keep(mine, theirs)`
    says whether the survivor's stays (else the merged one replaces it). Returns how many moved."""
    mine = {row.variant_id: row for row in session.scalars(select(model).where(model.customer_id == survivor.id))}
    count = 0
    for row in session.scalars(select(model).where(model.customer_id == merged.id)).all():
        existing = mine.get(row.variant_id)
        if existing is not None and keep(existing, row):
            session.delete(row)
            continue
        if existing is not None:
            session.delete(existing)
            session.flush()
        row.customer_id = survivor.id
        count += 1
    session.flush()
    return count


def merge_customers(survivor, merged, *, staff) -> CustomerMerge:
    """Move everything of `merged` to `survivor`: orders, drafts, notes, consents, visits, wishlist, views,
    lifecycle stage history, emails, points, offers; contact data the survivor lacks. `merged` stays as a stub pointing
    at the survivor; the merge is recorded with what the merged profile held.

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
        refuse_unless_active(survivor)
        refuse_unless_active(merged)
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
        snapshot["created_at"] = iso_utc(merged.created_at)
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
            ("stage_history", CustomerStageChange),
            ("emails", OutboxMessage),
            ("marketing_emails", MarketingSend),
            ("purchase_followups", PurchaseFollowUp),
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
        moved["offers"] = offers.merge_offers(session, survivor.id, merged.id)
        moved["notify_requests"] = _move_per_variant(
            session, NotifyRequest, survivor, merged, keep=lambda mine, theirs: mine.open or not theirs.open
        )
        # The "available near you" cap moves with the person: the newer e-mail of the two stays.
        moved["nearby_emails"] = _move_per_variant(
            session, NearbyAlert, survivor, merged, keep=lambda mine, theirs: mine.sent_at >= theirs.sent_at
        )
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
