"""The outbox: emails and webhooks are written in the same transaction as the change that causes them,
and delivered after commit by the outbox delivery (so a rolled-back change never emails anybody)."""
import base64
from dataclasses import dataclass

from ..extensions import db
from ..models import OutboxMessage
from ..models._types import utcnow


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    content: bytes
    content_id: str = ""  # set for an inline image the HTML refers to as cid:<content_id>


def enqueue_email(topic, *, to, subject, text, html="", attachments=(), **meta):
    """Queue an email to `to` (one address). `topic` names why ("order.confirmation", "order.ready")."""
    payload = {
        "html": html,
        "attachments": [
            {"filename": a.filename, "mimetype": a.mimetype, "content_id": a.content_id,
             "content": base64.b64encode(a.content).decode("ascii")}
            for a in attachments
        ],
        **meta,
    }
    return _enqueue("email", topic, to, subject=subject, body=text, payload=payload)


def enqueue_webhook(topic, *, url, payload, endpoint=None):
    """Queue a webhook POST of `payload` (JSON) to `url`; delivery signs it with the secret of `endpoint`
    (a WebhookEndpoint; without one, the active endpoint with this URL) and retries with backoff."""
    return _enqueue("webhook", topic, url, payload=payload,
                    webhook_endpoint_id=endpoint.id if endpoint is not None else None)


def _enqueue(kind, topic, recipient, *, subject="", body="", payload, webhook_endpoint_id=None):
    message = OutboxMessage(
        kind=kind, topic=topic, recipient=recipient, subject=subject[:300], body=body, payload=payload,
        status="pending", next_attempt_at=utcnow(), created_at=utcnow(), webhook_endpoint_id=webhook_endpoint_id,
    )
    db.session.add(message)
    return message
