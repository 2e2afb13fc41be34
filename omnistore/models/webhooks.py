"""Where the integration webhooks go: one endpoint per receiving system, each with its own signing secret."""
from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._types import UTCDateTime, utcnow

WEBHOOK_EVENTS = ("order.ready", "order.collected", "order.expired", "order.cancelled")


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
