"""GDPR for customer profiles: the access log, export, erase and merge.

Every view of a profile is logged (who, when, which store). Managers of the customer's preferred store (any
manager when there is none) and admins see the log, export everything held about the customer (JSON, and CSV
for the timeline), erase (pseudonymise) the profile and merge two profiles into one.
"""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import CustomerAccess
from .db import transaction

ACCESS_LOG_PAGE = 50


def record_access(customer, *, staff, action="view"):
    """Log that `staff` opened (or exported, merged, erased) the profile, in a transaction of its own."""
    with transaction() as session:
        session.add(CustomerAccess(customer_id=customer.id, action=action, staff_id=staff.id,
                                   location_id=staff.location_id))


def access_log(customer, *, limit=ACCESS_LOG_PAGE):
    return db.session.scalars(
        select(CustomerAccess).where(CustomerAccess.customer_id == customer.id)
        .options(selectinload(CustomerAccess.staff), selectinload(CustomerAccess.location))
        .order_by(CustomerAccess.created_at.desc(), CustomerAccess.id.desc()).limit(limit)
    ).all()
