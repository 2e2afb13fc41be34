"""The tablet's offline side on the server: the service worker's route, whose pages these are (the offline
scope), and forms sent again under an Idempotency-Key applying nothing twice — also at the same moment."""

import threading

import pytest
from sqlalchemy import func, select

from omnistore.core import idempotency
from omnistore.core.extensions import db
from omnistore.customers.models import CustomerNote
from omnistore.stock.models import StockMovement

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        team={"clerk": ("clerk", "HAM", "Jonas Weber"), "other": ("clerk", "HAM", "Ole Berg", "ole@example.test")},
        variants={"variant": dict(product="Fjord Parka", size="XL", colour="Navy", stock={"HAM": (5, 2)})},
    )


def receipts(variant, reason):
    db.session.rollback()
    return db.session.scalar(
        select(func.count())
        .select_from(StockMovement)
        .where(StockMovement.variant_id == variant.id, StockMovement.reason == reason)
    )


def receive(client, shop, key, reason="Delivery", quantity="3"):
    url = f"/stock/variants/{shop['variant'].id}/receive"
    headers = dict(HX, **({"Idempotency-Key": key} if key is not None else {}))
    return client.submit(url, {"quantity": quantity, "reason": reason}, headers=headers)


def test_the_service_worker_is_served_for_the_whole_app(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    assert body.startswith("self.OMNISTORE = {")
    assert '"/static/js/offline.js"' in body and '"offlinePage": "/offline"' in body
    offline = client.get("/offline")
    assert offline.status_code == 200
    assert "This page is not saved on this tablet" in offline.get_data(as_text=True)


def test_pages_say_whose_they_are_and_a_new_sign_in_is_someone_else(client, shop):
    assert client.get("/login").headers["X-Offline-Scope"] == ""
    client.login("clerk@example.test")
    page = client.get("/")
    scope = page.headers["X-Offline-Scope"]
    assert len(scope) == 24
    assert f'data-offline-scope="{scope}"' in page.get_data(as_text=True)
    assert client.get("/sw.js").headers.get("X-Offline-Scope") is None  # not a page
    client.submit("/logout")
    assert client.get("/login").headers["X-Offline-Scope"] == ""
    client.login("clerk@example.test")
    assert client.get("/").headers["X-Offline-Scope"] not in ("", scope)


def test_a_receipt_sent_again_with_its_key_is_applied_once(client, shop):
    client.login("clerk@example.test")
    first = receive(client, shop, "k-1", reason="Delivery LS-1")
    assert first.status_code == 200
    assert "Received 3. On hand now: 8." in first.get_data(as_text=True)
    again = receive(client, shop, "k-1", reason="Delivery LS-1")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data(as_text=True) == ""
    assert receipts(shop["variant"], "Delivery LS-1") == 1
    # Another key is another receipt; without a key the form works as it always did.
    assert receive(client, shop, "k-2", reason="Delivery LS-1").status_code == 200
    assert receive(client, shop, None, reason="Delivery LS-1").status_code == 200
    assert receipts(shop["variant"], "Delivery LS-1") == 3
    stored = db.session.scalars(select(idempotency.FormSubmission)).all()
    assert len(stored) == 2 and {row.endpoint for row in stored} == {"stock.receive"}
    assert all("k-1" not in row.key_hash and len(row.key_hash) == 64 for row in stored)


def test_a_key_is_per_staff_member(client, app, shop):
    client.login("clerk@example.test")
    assert receive(client, shop, "same-key", reason="Per staff").status_code == 200
    other = type(client)(app.test_client())
    other.login("ole@example.test")
    assert receive(other, shop, "same-key", reason="Per staff").headers.get("Idempotent-Replayed") is None
    assert receipts(shop["variant"], "Per staff") == 2


def test_a_refused_form_keeps_nothing_and_can_be_sent_again_corrected(client, shop):
    client.login("clerk@example.test")
    refused = receive(client, shop, "k-fix", reason="Delivery", quantity="0")
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(idempotency.FormSubmission)) == 0
    assert receive(client, shop, "k-fix", reason="Delivery fixed").status_code == 200
    assert receipts(shop["variant"], "Delivery fixed") == 1


@pytest.mark.parametrize("key", ["has space", "x" * 151, "ümlaut"])
def test_a_key_out_of_shape_is_refused_with_a_message_and_changes_nothing(client, shop, key):
    client.login("clerk@example.test")
    response = receive(client, shop, key, reason="Bad key")
    assert response.status_code == 422
    assert "idempotency key is not valid" in response.get_data(as_text=True)
    assert receipts(shop["variant"], "Bad key") == 0


def test_a_note_sent_again_is_added_once(client, make, shop):
    customer = make.customer()
    client.login("clerk@example.test")
    url = f"/customers/{customer.id}/notes"
    for _ in range(3):
        response = client.submit(url, {"body": "Prefers navy"}, headers=dict(HX, **{"Idempotency-Key": "note-1"}))
        assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(CustomerNote)) == 1


def test_the_same_key_at_the_same_moment_is_applied_once(app, client, shop):
    """Four connections deliver the same queued receipt at once (a tablet retrying while the first answer is
    still on its way): one applies it, the others are told it is done."""
    client.login("clerk@example.test")
    token = client.csrf_token()
    cookie = client.http.get_cookie("session").value
    barrier, outcomes = threading.Barrier(4), []
    url = f"/stock/variants/{shop['variant'].id}/receive"

    def deliver():
        http = app.test_client()
        http.set_cookie("session", cookie)
        barrier.wait()
        response = http.post(
            url,
            data={"quantity": "2", "reason": "Concurrent", "csrf_token": token},
            headers=dict(HX, **{"Idempotency-Key": "same-moment"}),
        )
        outcomes.append((response.status_code, response.headers.get("Idempotent-Replayed")))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == sorted([(200, None)] + [(200, "true")] * 3, key=str)
    assert receipts(shop["variant"], "Concurrent") == 1


def test_old_submissions_are_forgotten(client, shop):
    from datetime import timedelta

    from omnistore.core.types import utcnow

    client.login("clerk@example.test")
    receive(client, shop, "old-key")
    assert idempotency.forget_old(utcnow() + timedelta(days=29)) == 0
    assert idempotency.forget_old(utcnow() + timedelta(days=31)) == 1
