"""What the stock is now and how it got there, read without changing anything: one level's figures (level_at), its
ledger a page at a time with the on-hand figure after each entry (history), and one SKU at every active location
(network_stock, for the API). Every change goes through the ledger's verbs."""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import pagination
from omnistore.core.errors import NotFound
from omnistore.core.extensions import db
from omnistore.core.pagination import Page
from omnistore.stock.inputs import SKU_MAX
from omnistore.stock.ledger import LevelState, _read, _state
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.models import ApiClient, Location

HISTORY_PER_PAGE = 20

_levels = StockLevel.__table__


def level_at(variant_id, location_id) -> LevelState:
    """The figures of a variant at a location now (zeros when nothing was ever received there)."""
    return _state(variant_id, location_id, _read(db.session, variant_id, location_id))


@dataclass(frozen=True)
class HistoryEntry:
    movement: StockMovement
    actor_name: str
    on_hand_after: int


def history(variant_id, location_id, page=1, per_page=HISTORY_PER_PAGE) -> Page:
    """The ledger of one level, newest first, a page at a time, with the on-hand figure after each entry."""
    where = and_(StockMovement.variant_id == variant_id, StockMovement.location_id == location_id)
    total, on_hand_sum = db.session.execute(
        select(func.count(), func.coalesce(func.sum(StockMovement.on_hand_delta), 0)).where(where)
    ).one()
    page = pagination.clamp(page, total, per_page)  # counted with the on-hand sum, so not by paginate()
    offset = (page - 1) * per_page
    newest_first = (StockMovement.created_at.desc(), StockMovement.id.desc())
    newer_sum = 0
    if offset:
        newer = select(StockMovement.on_hand_delta).where(where).order_by(*newest_first).limit(offset).subquery()
        newer_sum = db.session.scalar(select(func.coalesce(func.sum(newer.c.on_hand_delta), 0)))
    movements = db.session.scalars(
        select(StockMovement)
        .where(where)
        .order_by(*newest_first)
        .limit(per_page)
        .offset(offset)
        .options(selectinload(StockMovement.staff))
    ).all()
    client_ids = {m.api_client_id for m in movements if m.api_client_id}
    clients = (
        dict(db.session.execute(select(ApiClient.id, ApiClient.name).where(ApiClient.id.in_(client_ids))).all())
        if client_ids
        else {}
    )
    entries, after = [], on_hand_sum - newer_sum
    for movement in movements:
        if movement.staff is not None:
            name = movement.staff.name or movement.staff.email
        elif movement.api_client_id:
            name = _("Integration %(name)s", name=clients.get(movement.api_client_id, "?"))
        else:
            name = _("System")
        entries.append(HistoryEntry(movement, name, after))
        after -= movement.on_hand_delta
    return Page(entries, page, per_page, total)


@dataclass(frozen=True)
class LocationStock:
    location: Location
    on_hand: int
    allocated: int

    @property
    def available(self):
        return max(self.on_hand - self.allocated, 0)


def network_stock(sku):
    """(variant, [LocationStock for every active location, by code]) for an SKU; NotFound if unknown."""
    if not isinstance(sku, str) or not sku.strip() or len(sku) > SKU_MAX:
        raise NotFound(_("No variant with that SKU."))
    variant = db.session.scalar(select(Variant).where(Variant.sku == sku.strip()))
    if variant is None:
        raise NotFound(_("No variant with SKU %(sku)s.", sku=sku.strip()))
    levels = {
        row.location_id: row
        for row in db.session.execute(
            select(_levels.c.location_id, _levels.c.on_hand, _levels.c.allocated).where(
                _levels.c.variant_id == variant.id
            )
        )
    }
    result = []
    for location in db.session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.code)):
        level = levels.get(location.id)
        result.append(LocationStock(location, level.on_hand if level else 0, level.allocated if level else 0))
    return variant, result
