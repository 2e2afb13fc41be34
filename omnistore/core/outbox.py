"""Side effects (emails, webhooks) written in the same transaction as the change, delivered after commit: the
messages, queueing them, and reading them for the admin's Outbox page. Delivery is in outbox_delivery.py."""

import base64
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from omnistore.core import live
from omnistore.core.errors import NotFound
from omnistore.core.extensions import db
from omnistore.core.pagination import Page, paginate
from omnistore.core.qr import qr_png
from omnistore.core.types import UTCDateTime, one_of, utcnow

OUTBOX_KINDS = ("email", "webhook")
WAKE_CHANNEL = "omnistore_outbox"  # NOTIFY'd by each transaction that queues a message (core/worker.py listens)
OUTBOX_STATUSES = ("pending", "sent", "failed")


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        one_of("kind", OUTBOX_KINDS, "kind"),
        one_of("status", OUTBOX_STATUSES, "status"),
        Index("ix_outbox_message_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str] = mapped_column(String(64))  # "order.confirmation", "order.ready", …
    recipient: Mapped[str] = mapped_column(String(500))  # an email address or a webhook URL
    # A webhook's endpoint: its secret signs the delivery (looked up then, so a rotated secret applies).
    webhook_endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="SET NULL"))
    # The customer an email is written to: erasing the customer drops what is unsent and blanks what was sent.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(db.JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    content: bytes = b""
    content_id: str = ""  # set for an inline image the HTML refers to as cid:<content_id>
    # Instead of content: the text of a QR code, drawn as a PNG when the e-mail is built or previewed, so the
    # request that queues it (placing an order) does not wait for the drawing.
    qr: str = ""


def _stored(attachment):
    stored = {"filename": attachment.filename, "mimetype": attachment.mimetype, "content_id": attachment.content_id}
    if attachment.qr:
        stored["qr"] = attachment.qr
    else:
        stored["content"] = base64.b64encode(attachment.content).decode("ascii")
    return stored


def attachment_content(stored) -> bytes:
    """A queued attachment's bytes: its content, or the QR code it names, drawn now."""
    if "qr" in stored:
        return qr_png(stored["qr"])
    return base64.b64decode(stored["content"])


def enqueue_email(topic, *, to, subject, text, html="", attachments=(), customer_id=None, **meta):
    """Queue an email to `to` (one address). `topic` names why ("order.confirmation", "order.ready");
    `customer_id` the customer it is written to (so erasing the customer finds it)."""
    payload = {
        "html": html,
        "attachments": [_stored(a) for a in attachments],
        **meta,
    }
    message = _enqueue("email", topic, to, subject=subject, body=text, payload=payload)
    message.customer_id = customer_id
    return message


def enqueue_webhook(topic, *, url, payload, endpoint=None):
    """Queue a webhook POST of `payload` (JSON) to `url`; delivery signs it with the secret of `endpoint`
    (a WebhookEndpoint; without one, the active endpoint with this URL) and retries with backoff."""
    return _enqueue(
        "webhook", topic, url, payload=payload, webhook_endpoint_id=endpoint.id if endpoint is not None else None
    )


def _enqueue(kind, topic, recipient, *, subject="", body="", payload, webhook_endpoint_id=None):
    message = OutboxMessage(
        kind=kind,
        topic=topic,
        recipient=recipient,
        subject=subject[:300],
        body=body,
        payload=payload,
        status="pending",
        next_attempt_at=utcnow(),
        created_at=utcnow(),
        webhook_endpoint_id=webhook_endpoint_id,
    )
    db.session.add(message)
    live.wake(db.session, WAKE_CHANNEL)  # the workers are woken on commit (nothing on a rollback)
    db.session.info["outbox_queued"] = True  # a laptop's in-process worker is woken when this commits
    return message


# --- reading the outbox (the admin's Outbox page) -----------------------------------------------------------

OUTBOX_PAGE_SIZE = 50


def list_messages(*, kind=None, status=None, page=1) -> Page:
    """Newest first; `kind`/`status` filter when they are known values (anything else is ignored)."""
    query = select(OutboxMessage)
    if kind in OUTBOX_KINDS:
        query = query.where(OutboxMessage.kind == kind)
    if status in OUTBOX_STATUSES:
        query = query.where(OutboxMessage.status == status)
    return paginate(query.order_by(OutboxMessage.id.desc()), page, OUTBOX_PAGE_SIZE)


def get_message(message_id) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id) if isinstance(message_id, int) and message_id > 0 else None
    if message is None:
        raise NotFound(_l("No such message in the outbox."))
    return message


def html_for_preview(message) -> str:
    """The email's HTML with its inline images (cid:…) turned into data: URLs, for a sandboxed preview."""
    html = (message.payload or {}).get("html", "")
    for attachment in (message.payload or {}).get("attachments", []):
        if attachment.get("content_id"):
            content = base64.b64encode(attachment_content(attachment)).decode("ascii")
            html = html.replace(f"cid:{attachment['content_id']}", f"data:{attachment['mimetype']};base64,{content}")
    return html
