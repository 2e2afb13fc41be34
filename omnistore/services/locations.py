"""The network: stores and warehouses."""
from sqlalchemy import select

from ..extensions import db
from ..models import Location


def list_locations(*, include_inactive=False):
    """Locations ordered by code; only active ones unless asked otherwise."""
    query = select(Location).order_by(Location.code)
    if not include_inactive:
        query = query.where(Location.active.is_(True))
    return db.session.scalars(query).all()


def get_location(code, *, include_inactive=False):
    """The location with this code (case-insensitive), or None."""
    if not isinstance(code, str) or not code.strip() or len(code) > 16:
        return None
    query = select(Location).where(Location.code == code.strip().upper())
    if not include_inactive:
        query = query.where(Location.active.is_(True))
    return db.session.scalar(query)
