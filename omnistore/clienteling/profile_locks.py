"""The lock a merge or an erase takes on the profiles it changes, and the refusal when one is no longer active.

Both verbs lock the profiles (`lock_profiles`) and decide on what they read after locking, so crossing merges,
or a merge and an erase of the same profile, never both go through: the second gets Conflict
(`refuse_unless_active`).
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from omnistore.core.errors import Conflict
from omnistore.customers.models import Customer


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


def refuse_unless_active(customer):
    if customer is None or customer.erased_at is not None:
        raise Conflict(_l("This customer's personal data was erased a moment ago."))
    if customer.merged_into_id is not None:
        raise Conflict(
            _l(
                "This profile was merged into profile #%(id)s a moment ago. Open that profile and try again.",
                id=customer.merged_into_id,
            )
        )
