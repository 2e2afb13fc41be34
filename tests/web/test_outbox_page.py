"""The admin's Outbox page: every queued email readable as the customer sees it (QR included), webhooks too."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omnistore.core import outbox
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import notifications, pickup_codes


@pytest.fixture
def queued(make):
    store = make.location("HAM", country="GB")
    customer = Customer(first_name="Anna", email="anna@example.test", locale="en")
    db.session.add(customer)
    db.session.commit()
    order = make.order(store, [(make.variant(), 1, store)], status="ready", customer=customer)
    with transaction():
        pickup_codes.open_pickup(order).pickup_by = datetime.now(UTC) + timedelta(days=7)
        notifications.order_ready(order)
        outbox.enqueue_webhook("order.ready", url="https://shop.example.test/hooks", payload={"order": "x"})
    return order


def _signed_in(client, make, role):
    member = make.staff(role)
    client.login(member.email)
    return client


def test_admins_read_each_email_with_its_inline_qr(client, make, queued):
    client = _signed_in(client, make, "admin")
    listing = client.get("/outbox/").get_data(as_text=True)
    assert f"Your order {queued.number} is ready for pickup" in listing and "anna@example.test" in listing
    assert "No mail server is configured" in listing
    email = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    detail = client.get(f"/outbox/{email.id}").get_data(as_text=True)
    assert f'src="/outbox/{email.id}/preview"' in detail and 'sandbox=""' in detail
    assert queued.pickup.short_code in detail  # the plain text part
    preview = client.get(f"/outbox/{email.id}/preview")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert 'src="data:image/png;base64,' in html and "cid:" not in html
    policy = preview.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy and "script-src" not in policy
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_webhooks_show_their_payload_and_filters_work(client, make, queued):
    client = _signed_in(client, make, "admin")
    hook = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "webhook"))
    detail = client.get(f"/outbox/{hook.id}").get_data(as_text=True)
    assert "https://shop.example.test/hooks" in detail and "&#34;order&#34;" in detail or '"order"' in detail
    only_hooks = client.get("/outbox/?kind=webhook").get_data(as_text=True)
    assert "shop.example.test" in only_hooks and "anna@example.test" not in only_hooks
    for bad in ("?kind=<x>", "?status=nope", "?page=-5", "?page=abc", "?page=99999999999999999999"):
        assert client.get(f"/outbox/{bad}").status_code == 200


@pytest.mark.parametrize("role", ["clerk", "manager"])
def test_only_admins_see_the_outbox(client, make, queued, role):
    client = _signed_in(client, make, role)
    email = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    for path in ("/outbox/", f"/outbox/{email.id}", f"/outbox/{email.id}/preview"):
        assert client.get(path).status_code == 403
    assert "/outbox/" not in client.get("/").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client, queued):
    response = client.get("/outbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_messages_are_not_found(client, make, queued):
    client = _signed_in(client, make, "admin")
    for path in ("/outbox/999999", "/outbox/0", "/outbox/999999/preview", "/outbox/abc"):
        assert client.get(path).status_code == 404


def test_the_outbox_page_says_when_no_worker_runs_and_how_each_job_went(client, make):
    from omnistore.core import periodic
    from omnistore.core.periodic import Job
    from omnistore.jobs import JOBS

    client = _signed_in(client, make, "admin")
    page = client.get("/outbox/").get_data(as_text=True)
    assert "Not running" in page and "No worker has ever run." in page and "flask --app app worker" in page
    assert all(job.name in page for job in JOBS) and "Never" in page

    periodic.beat("shop-1:4242:abc123", "worker")
    assert periodic.run_job(JOBS[0], worker_id="shop-1:4242:abc123") == "ok"

    def broken(now):
        raise RuntimeError("the ERP is down")

    assert periodic.run_job(Job(JOBS[1].name, JOBS[1].every, broken)) == "failed"
    page = client.get("/outbox/").get_data(as_text=True)
    assert "1 worker running" in page and "shop-1:4242:abc123 (worker process)" in page
    assert "No worker" not in page
    assert "0 held unit(s) released" in page  # the last run's report
    assert "RuntimeError: the ERP is down" in page and "Failed" in page

    with transaction():  # the worker was last heard from 5 minutes ago: it is taken for dead
        db.session.get(periodic.WorkerBeat, "shop-1:4242:abc123").seen_at = datetime.now(UTC) - timedelta(minutes=5)
    page = client.get("/outbox/").get_data(as_text=True)
    assert "Not running" in page and "No worker has been heard from since" in page
