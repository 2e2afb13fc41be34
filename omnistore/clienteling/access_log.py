"""A customer's access log: every view of the profile is logged (who, when, which store), and so are its
export, merge and erase. Managers of the customer's preferred store (any manager when there is none) and
admins read it.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.customers.models import CustomerAccess
from omnistore.customers.services import require_manage

ACCESS_LOG_PAGE = 50


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


def profile_view_count(customer):
    return db.session.scalar(
        select(func.count()).select_from(CustomerAccess).where(CustomerAccess.customer_id == customer.id)
    )
