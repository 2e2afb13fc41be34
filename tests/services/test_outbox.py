"""Outbox delivery: real SMTP (aiosmtpd on localhost), real HTTP webhooks, retries, claims under concurrency."""

import email
import email.policy
import io
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from PIL import Image
from sqlalchemy import select

from omnistore.core import outbox, outbox_delivery, webhooks
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import notifications, pickup_codes

# --- a real SMTP server and a real webhook receiver -------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SMTP_PORT = _free_port()


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()


class Receiver:
    """Records each POST; answers the first `fail_first` with 500."""

    def __init__(self, fail_first=0):
        self.requests = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = 500 if len(receiver.requests) <= receiver.fail_first else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def start(fail_first=0):
        made.append(Receiver(fail_first))
        return made[-1]

    yield start
    for server in made:
        server.close()


@pytest.fixture
def app_config():
    return {
        "OMNISTORE_SMTP_HOST": "127.0.0.1",
        "OMNISTORE_SMTP_PORT": SMTP_PORT,
        "OMNISTORE_SMTP_STARTTLS": False,
        "OMNISTORE_SMTP_FROM": "Nordwind <shop@nordwind.example>",
        "OMNISTORE_OUTBOX_MAX_ATTEMPTS": 3,
        "OMNISTORE_OUTBOX_TIMEOUT_SECONDS": 3,
    }


def _ready_order(make, email_address="anna@example.test"):
    store = make.location("HAM", country="GB")
    customer = Customer(first_name="Anna", last_name="Berg", email=email_address, locale="en")
    db.session.add(customer)
    db.session.commit()
    order = make.order(store, [(make.variant(), 1, store)], status="ready", customer=customer)
    with transaction():
        pickup_codes.open_pickup(order).pickup_by = datetime.now(UTC) + timedelta(days=7)
    return order


def _all():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


# --- email -------------------------------------------------------------------------------------------------


def test_the_ready_email_reaches_an_smtp_server_with_an_inline_qr_that_decodes_to_the_status_url(smtp_server, make):
    order = _ready_order(make)
    with transaction():
        notifications.order_ready(order)
    report = outbox_delivery.deliver_pending()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)

    [(sender, recipients, raw)] = smtp_server.messages
    assert sender == "shop@nordwind.example" and recipients == ["anna@example.test"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == f"Your order {order.number} is ready for pickup"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",))
    assert order.pickup.short_code in text
    assert 'src="cid:pickup-qr"' in html_part.get_content()
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<pickup-qr>" and image.get_content_disposition() == "inline"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.get_content())))
    assert [code.text for code in decoded] == [pickup_codes.status_url(order.pickup)]

    [row] = _all()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert outbox_delivery.deliver_pending().sent == 0  # sent once, never again


@pytest.mark.parametrize("app_config", [{}])
def test_without_smtp_emails_stay_in_the_outbox(make, app_config):
    order = _ready_order(make)
    with transaction():
        notifications.order_ready(order)
    report = outbox_delivery.deliver_pending()
    assert (report.sent, report.retrying, report.failed) == (0, 0, 0)
    [row] = _all()
    assert row.status == "pending" and row.attempts == 0


def test_an_unreachable_smtp_server_is_retried_with_backoff_then_failed(make):
    # No server listens on SMTP_PORT in this test.
    order = _ready_order(make)
    with transaction():
        notifications.order_ready(order)
        notifications.pickup_reminder(order)
    started = datetime.now(UTC)
    report = outbox_delivery.deliver_pending()
    assert (report.sent, report.retrying) == (0, 2)
    first, second = _all()
    assert first.status == "pending" and first.attempts == 1 and "Connection refused" in first.last_error
    wait = first.next_attempt_at - started
    assert timedelta(seconds=59) <= wait <= timedelta(seconds=70)  # the first retry after about a minute
    assert outbox_delivery.deliver_pending().retrying == 0  # not due yet

    report = outbox_delivery.deliver_pending(started + timedelta(minutes=2))
    assert report.retrying == 2
    first = _all()[0]
    assert first.attempts == 2
    assert timedelta(seconds=119) <= first.next_attempt_at - datetime.now(UTC) <= timedelta(seconds=130)  # doubled

    report = outbox_delivery.deliver_pending(started + timedelta(minutes=10))
    assert report.failed == 2  # OMNISTORE_OUTBOX_MAX_ATTEMPTS = 3
    assert {(row.status, row.attempts) for row in _all()} == {("failed", 3)}
    assert outbox_delivery.deliver_pending(started + timedelta(days=1)).failed == 0


def test_a_refused_recipient_fails_at_once(make):
    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            return "550 No such user"

    controller = Controller(Refusing(), hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        order = _ready_order(make)
        with transaction():
            notifications.order_ready(order)
        assert outbox_delivery.deliver_pending().failed == 1
    finally:
        controller.stop()
    [row] = _all()
    assert row.status == "failed" and row.attempts == 1 and "refused" in row.last_error


def test_mime_structure_of_a_message_without_html():
    message = OutboxMessage(
        id=7,
        kind="email",
        topic="t",
        recipient="a@b.test",
        subject="Hi",
        body="Plain",
        payload={"html": "", "attachments": []},
        created_at=datetime.now(UTC),
    )
    built = outbox_delivery.build_email(message, "Shop <shop@shop.example>")
    assert built.get_content_type() == "text/plain" and built.get_content().strip() == "Plain"
    assert built["Message-ID"].startswith("<outbox-7.") and built["Message-ID"].endswith("@shop.example>")


# --- webhooks ----------------------------------------------------------------------------------------------


def test_a_webhook_is_signed_and_retried_with_backoff_after_a_failure(make, receiver):
    server = receiver(fail_first=1)
    endpoint = webhooks.add_endpoint("shop", server.url)
    order = _ready_order(make, email_address=None)
    with transaction():
        notifications.order_ready(order)
    started = datetime.now(UTC)

    report = outbox_delivery.deliver_pending()
    assert (report.sent, report.retrying) == (0, 1)
    [row] = _all()
    assert row.status == "pending" and "HTTP 500" in row.last_error
    assert row.next_attempt_at - started >= timedelta(seconds=59)

    report = outbox_delivery.deliver_pending(started + timedelta(minutes=2))
    assert report.sent == 1
    assert _all()[0].status == "sent"

    assert len(server.requests) == 2
    for headers, body in server.requests:
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Omnistore-Event"] == "order.ready"
        assert headers["X-Omnistore-Delivery"] == str(row.id)  # the same id on a retry: receivers de-duplicate
        assert webhooks.verify(endpoint.secret, headers["X-Omnistore-Signature"], body)
        assert not webhooks.verify("whsec_wrong", headers["X-Omnistore-Signature"], body)
        payload = json.loads(body)
        assert payload["event"] == "order.ready"
        assert payload["order"]["number"] == order.number and payload["order"]["status"] == "ready"
        assert payload["order"]["pickup_by"].endswith("Z") and payload["order"]["placed_at"].endswith("Z")


def test_a_webhook_without_an_endpoint_fails_at_once(app):
    with transaction():
        outbox.enqueue_webhook("order.ready", url="https://nobody.example.test/", payload={"a": 1})
    assert outbox_delivery.deliver_pending().failed == 1
    [row] = _all()
    assert row.status == "failed" and "secret" in row.last_error


def test_a_rotated_secret_applies_to_queued_deliveries(make, receiver):
    server = receiver()
    endpoint = webhooks.add_endpoint("shop", server.url)
    order = _ready_order(make, email_address=None)
    with transaction():
        notifications.order_webhook(order, "order.cancelled")
    with transaction():
        endpoint.secret = "whsec_rotated"
    assert outbox_delivery.deliver_pending().sent == 1
    [(headers, body)] = server.requests
    assert webhooks.verify("whsec_rotated", headers["X-Omnistore-Signature"], body)


def test_concurrent_deliverers_send_each_message_exactly_once(app, make, receiver):
    server = receiver()
    webhooks.add_endpoint("shop", server.url)
    with transaction():
        for n in range(30):
            outbox.enqueue_webhook("order.ready", url=server.url, payload={"n": n})
    errors = []
    start = threading.Barrier(4)

    def deliver():
        with app.app_context():
            try:
                start.wait()
                for _ in range(3):
                    outbox_delivery.deliver_pending(limit=5)
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    outbox_delivery.deliver_pending()  # whatever the rounds above left
    numbers = sorted(json.loads(body)["n"] for _headers, body in server.requests)
    assert numbers == list(range(30))
    assert {(row.status, row.attempts) for row in _all()} == {("sent", 1)}


@pytest.mark.parametrize(
    "app_config", [{"OMNISTORE_IN_PROCESS_WORKER": True, "OMNISTORE_IN_PROCESS_WORKER_IN_TESTS": True}]
)
def test_a_commit_that_queues_a_webhook_delivers_it_right_away(app, make, receiver, app_config):
    """The laptop mode: the web process's own worker is woken by the commit."""
    server = receiver()
    webhooks.add_endpoint("shop", server.url)
    in_process = app.extensions["omnistore_worker"]
    try:
        with transaction():
            outbox.enqueue_webhook("order.ready", url=server.url, payload={"n": 1})
        deadline = time.monotonic() + 5
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.requests) == 1
        with pytest.raises(RuntimeError), transaction():  # a rolled-back change sends nothing
            outbox.enqueue_webhook("order.ready", url=server.url, payload={"n": 2})
            raise RuntimeError
        time.sleep(0.5)
        assert len(server.requests) == 1
    finally:
        in_process.stop()
