"""Sending returned goods on: units graded resell went back on hand at the store that took them back (a
`return` movement); from the return's page the clerk may send them on to the warehouse or another store. That
is an ordinary stock transfer (orders/transfers.send_stock: reserved here at once, on this store's "to pick &
send" list and the destination's incoming list, dispatched on ship, free stock there once received), and the
return line remembers how many of its units went, so no unit is sent twice: the line's `sent_on_quantity`
rises in one conditional UPDATE that never lets it pass the units that came back (two tablets at once: one
wins, the other is told), in the same transaction as the transfer and its reservation."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import InvalidTransition, ValidationFailed
from omnistore.core.extensions import db
from omnistore.orders import transfers
from omnistore.orders.services import record_event
from omnistore.returns.access import check_may_act
from omnistore.returns.models import Return, ReturnLine, ReturnSending
from omnistore.stores.models import Location


def destinations(ret: Return) -> list[Location]:
    """Where returned goods may go from the store that took them back: the warehouse(s) first, then the other
    active stores, by name."""
    rows = db.session.scalars(
        select(Location).where(Location.active.is_(True), Location.id != ret.location_id).order_by(Location.name)
    ).all()
    return sorted(rows, key=lambda loc: loc.is_store)


def _units(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = (value if isinstance(value, str) else "").strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def send_on(ret: Return, line_id, destination_id, quantity, *, staff) -> ReturnSending:
    """Send `quantity` restocked units of the return's line `line_id` to `destination_id` (see the module
    docstring). Only the store that took the goods back (admin anywhere)."""
    check_may_act(ret, staff)
    line = next((item for item in ret.lines if item.id == line_id), None) if isinstance(line_id, int) else None
    units = _units(quantity)
    errors = {}
    if line is None:
        errors["line"] = _l("That line is not part of this return.")
    elif line.disposition != "restocked":
        errors["line"] = _l("Only goods back in stock here can be sent on.")
    if units is None or units < 1:
        errors["quantity"] = _l("A whole number of units, like 1.")
    elif line is not None and units > line.sendable:
        errors["quantity"] = _l("Only %(left)d of these units are still here to send.", left=line.sendable)
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    with transaction() as session:
        claimed = session.execute(
            update(ReturnLine)
            .where(
                ReturnLine.id == line.id,
                ReturnLine.disposition == "restocked",
                ReturnLine.sent_on_quantity + units <= ReturnLine.quantity,
            )
            .values(sent_on_quantity=ReturnLine.sent_on_quantity + units)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            raise InvalidTransition(_l("These units were sent on a moment ago: look at the return again."))
        transfer = transfers.send_stock(
            ret.location_id,
            destination_id,
            {line.variant_id: units},
            staff=staff,
            reason=str(_l("Returned goods, return #%(id)d (order %(number)s)", id=ret.id, number=ret.order.number)),
        )
        sending = ReturnSending(return_line_id=line.id, transfer_id=transfer.id, quantity=units, staff_id=staff.id)
        session.add(sending)
        session.flush()
        record_event(
            ret.order,
            "return_sent_on",
            staff=staff,
            location_id=ret.location_id,
            return_id=ret.id,
            transfer=transfer.id,
            destination=transfer.destination_location.code,
            units=units,
        )
        audit.record(
            "return.sent_on",
            entity=ret,
            staff=staff,
            location_id=ret.location_id,
            transfer=transfer.id,
            destination=transfer.destination_location.code,
            units=units,
        )
    session.expire(line)
    return sending
