"""The click-and-collect desk of a store."""
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import qrcode
from flask import current_app
from sqlalchemy import and_, exists, func, select

from ..extensions import db
from ..models import Location, Order, Pickup
from ..models._types import utcnow


@dataclass(frozen=True)
class QueueSummary:
    to_prepare: int  # placed, goods in this store: pick and mark ready
    arriving: int  # in transit from another location
    ready: int  # waiting on the shelf
    checked_in: int  # the customer says "I'm here"
    overdue: int  # ready past the pickup-by date
    collected_today: int

    @property
    def waiting(self):
        return self.to_prepare + self.arriving + self.ready


def start_of_local_day(location: Location, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(location.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def queue_summary(location: Location, now: datetime | None = None) -> QueueSummary:
    """Today's figures for the pickup desk of `location`, in one query."""
    now = now or utcnow()
    status = Order.status
    ready = status == "ready"
    row = db.session.execute(
        select(
            func.count().filter(status == "placed"),
            func.count().filter(status == "in_transit"),
            func.count().filter(ready),
            func.count().filter(and_(ready, Pickup.checked_in_at.is_not(None))),
            func.count().filter(and_(ready, Pickup.pickup_by < now)),
            func.count().filter(
                and_(status == "collected", Pickup.collected_at >= start_of_local_day(location, now))
            ),
        )
        .select_from(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(Order.pickup_location_id == location.id, Order.fulfilment == "pickup")
    ).one()
    return QueueSummary(*(int(value or 0) for value in row))


# Eight characters a clerk can read aloud and type without confusion: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
SHORT_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
SHORT_CODE_LENGTH = 8


def new_short_code():
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def open_pickup(order: Order) -> Pickup:
    """Give a (flushed) pickup order its collect side: an unguessable QR token and a short code."""
    while True:  # a clash among 25^8 codes is rare; try again rather than fail the order
        code = new_short_code()
        if not db.session.scalar(select(exists().where(Pickup.short_code == code))):
            break
    pickup = Pickup(order_id=order.id, token=secrets.token_urlsafe(24), short_code=code)  # 192 random bits
    db.session.add(pickup)
    order.pickup = pickup
    return pickup


def status_url(pickup: Pickup) -> str:
    """The customer's status page for this pickup: what the email links to and the QR code encodes."""
    return f"{current_app.config['OMNISTORE_PUBLIC_URL']}/o/{pickup.token}"


def qr_png(data: str, *, box_size=8) -> bytes:
    """A QR code of `data` as a PNG, with the quiet zone phone cameras need."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()
