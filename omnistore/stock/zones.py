"""Zones: where a variant sits within a location ("A3", "Shoe wall", "Stockroom 2") — one zone per stock level
(StockLevel.zone, "" = none), so a count can cover one zone (stock/counts.py, scope "zone").

A zone is set on the stock screen of the variant at the store (`set_zone`) or by the ERP's stock feed and CSV
import (an optional `zone` column; stock/bulk_import.py). `clean_zone` is the one rule for a zone's text, for
all of them. Setting a zone is not a stock movement: the figures and the ledger stay as they are; it is audited.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from omnistore.core import audit, validation
from omnistore.core.db import transaction
from omnistore.core.errors import Forbidden, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock.models import StockLevel
from omnistore.stores.models import Staff
from omnistore.stores.staff import can_act_at

ZONE_MAX = 40


def clean_zone(value, errors, *, field="zone") -> str:
    """A zone's name as typed: spaces squeezed, no control characters, at most ZONE_MAX characters; "" (no
    zone) allowed. A problem goes into `errors[field]` (nothing raised: callers collect)."""
    zone = validation.text(value, field=field, errors=errors, max_length=ZONE_MAX)
    if errors.get(field) is validation.BAD_CHARACTER or errors.get(field) is validation.NOT_TEXT:
        errors[field] = _l("A zone is a short name, like A3 or Shoe wall, without control characters.")
    return "" if field in errors else zone


def set_zone(variant_id, location_id, zone, actor) -> str:
    """Put the variant at `location_id` into `zone` ("" takes it out of any). The level must exist (goods were
    received or imported there). Staff of that store (an admin anywhere); returns the zone as stored."""
    errors = {}
    zone = clean_zone(zone, errors)
    if errors:
        raise ValidationFailed(_("Please check the zone."), errors)
    if not isinstance(actor, Staff) or not can_act_at(actor, location_id):
        raise Forbidden(_("You can change stock at your own store only."))
    with transaction() as session:
        level = session.scalar(
            select(StockLevel)
            .where(StockLevel.variant_id == variant_id, StockLevel.location_id == location_id)
            .with_for_update()
        )
        if level is None:
            message = _("This item was never stocked here. Receive it first, then give it a zone.")
            raise ValidationFailed(message, {"zone": message})
        before = level.zone
        if before == zone:
            return zone
        session.execute(
            update(StockLevel)
            .where(StockLevel.id == level.id)
            .values(zone=zone)
            .execution_options(synchronize_session=False)
        )
        session.refresh(level)
        audit.record(
            "stock.zone_set",
            entity=("variant", variant_id),
            location_id=location_id,
            before=before,
            after=zone,
            staff=actor,
        )
    return zone


def zone_of(variant_id, location_id) -> str:
    return (
        db.session.scalar(
            select(StockLevel.zone).where(StockLevel.variant_id == variant_id, StockLevel.location_id == location_id)
        )
        or ""
    )


def zones_here(location_id) -> list:
    """The zones the store's levels are in, by name (for choosing what to count)."""
    return db.session.scalars(
        select(StockLevel.zone)
        .where(StockLevel.location_id == location_id, StockLevel.zone != "")
        .group_by(StockLevel.zone)
        .order_by(StockLevel.zone)
    ).all()


def in_zone(session, location_id, zone, variant_id) -> bool:
    """Is the variant's level at the location in `zone`?"""
    found = session.scalar(
        select(StockLevel.id).where(
            StockLevel.location_id == location_id, StockLevel.variant_id == variant_id, StockLevel.zone == zone
        )
    )
    return found is not None
