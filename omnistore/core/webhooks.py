"""Where the integration webhooks go: one endpoint per receiving system, each with its own signing secret."""

import hashlib
import hmac
import secrets
import time
from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, String, select
from sqlalchemy.orm import Mapped, mapped_column

from omnistore.core.db import transaction
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, utcnow

WEBHOOK_EVENTS = (
    "order.ready",
    "order.collected",
    "order.expired",
    "order.cancelled",
    "stock.counted",  # a count posted figures at a store (stock/counts.py)
    "order.line_rejected",
    "order.line_dropped",
    "return.refund_requested",
    "return.refund_changed",  # an exchange order took part of the credit: refund_due_minor is what is left
)


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    # Kept in clear: the receiver verifies the HMAC with the same secret, so we must be able to sign with it.
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list] = mapped_column(db.JSON, default=list)  # empty: every event
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def wants(self, event):
        return self.active and (not self.events or event in self.events)

    def __repr__(self):
        return f"<WebhookEndpoint {self.name}>"


SIGNATURE_HEADER = "X-Omnistore-Signature"
EVENT_HEADER = "X-Omnistore-Event"
DELIVERY_HEADER = "X-Omnistore-Delivery"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now=None, tolerance=TOLERANCE_SECONDS) -> bool:
    """What a receiver does: True if `header` signs `body` with `secret` and is recent enough."""
    try:
        parts = dict(item.split("=", 1) for item in (header or "").split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def new_secret():
    return "whsec_" + secrets.token_urlsafe(32)


def _valid_url(url):
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= 500


def add_endpoint(name, url, events=()):
    """Register an endpoint; returns it with its freshly generated secret (show it to the operator once)."""
    name, url, events = (name or "").strip(), (url or "").strip(), list(dict.fromkeys(events or ()))
    errors = {}
    if not name or len(name) > 80:
        errors["name"] = _l("Give the endpoint a name of at most 80 characters.")
    elif db.session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.name == name)):
        errors["name"] = _l("An endpoint with that name exists already.")
    if not _valid_url(url):
        errors["url"] = _l("Enter an http:// or https:// address.")
    unknown = [event for event in events if event not in WEBHOOK_EVENTS]
    if unknown:
        errors["events"] = _l("Unknown event: %(events)s.", events=", ".join(unknown))
    if errors:
        raise ValidationFailed(_l("The webhook endpoint was not added."), errors)
    with transaction():
        endpoint = WebhookEndpoint(name=name, url=url, secret=new_secret(), events=events, active=True)
        db.session.add(endpoint)
    return endpoint


def list_endpoints():
    return db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.name)).all()


def disable_endpoint(name):
    with transaction():
        endpoint = db.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.name == name))
        if endpoint is None:
            raise NotFound(_l("No webhook endpoint with that name."))
        endpoint.active = False
    return endpoint


def endpoints_for(event):
    """Active endpoints that asked for `event`."""
    return [
        e for e in db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))) if e.wants(event)
    ]
