"""Store scope for returns: any store of the network takes goods back, whoever sold them; the store that took
them back acts on the return (refund at its till), and the stores the order belongs to see it."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from omnistore.core.errors import Forbidden, NotFound, OutOfScope
from omnistore.core.extensions import db
from omnistore.returns.models import Return, ReturnLine


def check_may_act(ret: Return, staff):
    if staff is None or not (staff.is_admin or staff.location_id == ret.location_id):
        raise Forbidden(
            _l("Only %(store)s, where the goods came back, can change this return.", store=ret.location.name)
        )


def may_see(ret: Return, staff) -> bool:
    if staff is None:
        return False
    if staff.is_admin or staff.location_id == ret.location_id:
        return True
    order = ret.order
    places = {order.pickup_location_id, order.origin_location_id} | {line.source_location_id for line in order.lines}
    return staff.location_id in places


def get_return(return_id) -> Return:
    ret = (
        db.session.scalar(
            select(Return)
            .where(Return.id == return_id)
            .options(selectinload(Return.lines).selectinload(ReturnLine.variant), selectinload(Return.order))
        )
        if isinstance(return_id, int) and 0 < return_id < 2**31
        else None
    )
    if ret is None:
        raise NotFound(_l("No such return."))
    return ret


def get_return_for_staff(return_id, staff) -> Return:
    ret = get_return(return_id)
    if not may_see(ret, staff):
        raise OutOfScope(_l("No such return."))
    return ret
