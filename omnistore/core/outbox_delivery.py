"""Delivering the outbox: claiming what is due, sending emails over SMTP and signed webhooks, recording the
outcome with retries and backoff. The messages and their queueing are in outbox.py; the worker (worker.py)
calls `deliver_all_due` when something was queued and on its sweep."""

import contextlib
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app
from sqlalchemy import and_, select, update

from omnistore.core import webhooks
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage, attachment_content
from omnistore.core.types import utcnow
from omnistore.core.webhooks import WebhookEndpoint

# --- delivery ----------------------------------------------------------------------------------------------
#
# At-least-once: a message is claimed (a lease: attempts + 1, next_attempt_at pushed LEASE ahead) in a short
# committed transaction, delivered outside any transaction, and its outcome recorded in another. Several
# deliverers (workers on several machines, a laptop's web processes, `flask outbox deliver`) may run at once:
# PostgreSQL hands each its own rows with FOR UPDATE SKIP LOCKED, and on both databases the claim is a
# conditional UPDATE whose row count says who won. A deliverer that dies mid-way leaves its claim to expire;
# the message is then tried again.
# Webhook receivers de-duplicate by the X-Omnistore-Delivery header (the message id).

LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self):
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"


class PermanentFailure(Exception):
    """Trying again cannot help (no signing secret, every recipient refused): fail the message now."""


def smtp_configured(app=None):
    return bool((app or current_app).config["OMNISTORE_SMTP_HOST"])


def backoff(attempts, base_seconds):
    """Wait before attempt `attempts + 1`: base, 2×base, 4×base… capped at MAX_BACKOFF."""
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def deliver_pending(now=None, *, limit=100) -> DeliveryReport:
    """Deliver what is due: webhooks always, emails when SMTP is configured (in development they stay in
    the outbox, to be read on the admin's Outbox page). Returns what happened."""
    report = DeliveryReport()
    kinds = ("email", "webhook") if smtp_configured() else ("webhook",)
    claimed = _claim(now or utcnow(), kinds, limit)
    mailer = unreachable = None
    try:
        for message in claimed:
            try:
                if message.kind == "email":
                    if unreachable is not None:  # the server did not answer a moment ago: don't wait again
                        raise unreachable
                    try:
                        mailer = mailer or _Mailer(current_app.config)
                    except (OSError, smtplib.SMTPException) as error:
                        unreachable = error
                        raise
                    mailer.send(message)
                else:
                    _post_webhook(message)
            except Exception as error:  # noqa: BLE001 — any failure is recorded on the message and retried
                if mailer is not None and isinstance(error, smtplib.SMTPServerDisconnected):
                    mailer = None
                report_failure = _record_failure(message, error)
                setattr(report, report_failure, getattr(report, report_failure) + 1)
            else:
                _record_success(message)
                report.sent += 1
    finally:
        if mailer is not None:
            mailer.close()
    return report


def deliver_all_due(now=None, *, limit=500) -> DeliveryReport:
    """Rounds of `deliver_pending` until nothing due is left: what the worker and `flask outbox deliver` run."""
    total = DeliveryReport()
    while True:
        report = deliver_pending(now, limit=limit)
        total.sent, total.retrying, total.failed = (
            total.sent + report.sent,
            total.retrying + report.retrying,
            total.failed + report.failed,
        )
        if report.sent + report.retrying + report.failed < limit:
            return total


def _claim(now, kinds, limit):
    """Take up to `limit` due messages for this deliverer (committed before anything is sent)."""
    due = and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now, OutboxMessage.kind.in_(kinds))
    claimed = []
    with transaction() as session:
        query = (
            select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
        )
        if db.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for message_id in session.scalars(query).all():
            won = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, due)
                .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won == 1:
                claimed.append(message_id)
    if not claimed:
        return []
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(claimed))
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    db.session.commit()  # end the read: nothing is held open while we talk to the outside world
    return messages


def _finish(message, **values):
    """Record the outcome, unless the claim expired and someone else owns the message by now."""
    with transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.attempts == message.attempts,
                OutboxMessage.status == "pending",
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    db.session.expire(message)


def _record_success(message):
    _finish(message, status="sent", sent_at=utcnow(), last_error="")


def _record_failure(message, error):
    config = current_app.config
    text = f"{type(error).__name__}: {error}"[:2000]
    permanent = isinstance(error, PermanentFailure)
    if permanent or message.attempts >= config["OMNISTORE_OUTBOX_MAX_ATTEMPTS"]:
        log.warning(
            "outbox message %s (%s to %s) failed for good: %s", message.id, message.topic, message.recipient, text
        )
        _finish(message, status="failed", last_error=text)
        return "failed"
    wait = backoff(message.attempts, config["OMNISTORE_OUTBOX_RETRY_SECONDS"])
    log.info("outbox message %s attempt %s failed, next in %s: %s", message.id, message.attempts, wait, text)
    _finish(message, next_attempt_at=utcnow() + wait, last_error=text)
    return "retrying"


# --- email -------------------------------------------------------------------------------------------------


def build_email(message, sender):
    """The MIME message: text, and HTML with its inline images (multipart/related) as an alternative."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "omnistore.local"
    email["Message-ID"] = f"<outbox-{message.id}.{int(message.created_at.timestamp())}@{domain}>"
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    payload = message.payload or {}
    attachments = [(a, attachment_content(a)) for a in payload.get("attachments", [])]
    if payload.get("html"):
        email.add_alternative(payload["html"], subtype="html")
        html_part = email.get_payload()[1]
        for attachment, content in attachments:
            if attachment.get("content_id"):
                maintype, _slash, subtype = attachment["mimetype"].partition("/")
                html_part.add_related(
                    content,
                    maintype=maintype,
                    subtype=subtype,
                    cid=f"<{attachment['content_id']}>",
                    filename=attachment["filename"],
                    disposition="inline",
                )
    for attachment, content in attachments:
        if not (payload.get("html") and attachment.get("content_id")):
            maintype, _slash, subtype = attachment["mimetype"].partition("/")
            email.add_attachment(content, maintype=maintype, subtype=subtype, filename=attachment["filename"])
    return email


class _Mailer:
    """One SMTP connection for a batch (opened on the first email)."""

    def __init__(self, config):
        self.config = config
        host, port = config["OMNISTORE_SMTP_HOST"], config["OMNISTORE_SMTP_PORT"]
        timeout = config["OMNISTORE_OUTBOX_TIMEOUT_SECONDS"]
        if port == 465:  # implicit TLS (SMTPS)
            self.smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            self.smtp = smtplib.SMTP(host, port, timeout=timeout)
            if config["OMNISTORE_SMTP_STARTTLS"]:
                self.smtp.starttls(context=ssl.create_default_context())
        if config["OMNISTORE_SMTP_USER"]:
            self.smtp.login(config["OMNISTORE_SMTP_USER"], config["OMNISTORE_SMTP_PASSWORD"])

    def send(self, message):
        try:
            self.smtp.send_message(build_email(message, self.config["OMNISTORE_SMTP_FROM"]))
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(f"recipient refused: {error.recipients}") from error

    def close(self):
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.smtp.quit()


# --- webhooks ----------------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an error: a signed POST is never replayed somewhere else


_opener = urllib.request.build_opener(_NoRedirects)


def _webhook_secret(message):
    endpoint = None
    if message.webhook_endpoint_id is not None:
        endpoint = db.session.get(WebhookEndpoint, message.webhook_endpoint_id)
    if endpoint is None:
        endpoint = db.session.scalar(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.url == message.recipient, WebhookEndpoint.active.is_(True))
            .limit(1)
        )
    db.session.commit()
    if endpoint is None:
        raise PermanentFailure("no webhook endpoint (and so no signing secret) for this URL")
    return endpoint.secret


def _post_webhook(message):
    body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "omnistore-webhooks/1",
        webhooks.EVENT_HEADER: message.topic,
        webhooks.DELIVERY_HEADER: str(message.id),
        webhooks.SIGNATURE_HEADER: webhooks.sign(_webhook_secret(message), int(time.time()), body),
    }
    request = urllib.request.Request(message.recipient, data=body, headers=headers, method="POST")
    timeout = current_app.config["OMNISTORE_OUTBOX_TIMEOUT_SECONDS"]
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as error:
        raise WebhookRefused(f"HTTP {error.code} from the receiver") from None


class WebhookRefused(Exception):
    pass
