"""The screens of the follow-up and outreach: the public rating page in the customer's language (bad links a
friendly 404, never a 500), the comment form, the manager's list to call back (role and store), and the outreach
panel on the profile (offered only with consent; capped; bad input at the field)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from omnistore.clienteling import followups
from omnistore.clienteling.models import PurchaseFollowUp
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import services as customer_service

HX = {"HX-Request": "true"}


@pytest.fixture
def world(make):
    shop = make.shop(
        "HAM",
        "CPH",
        team={"clerk": ("clerk", "HAM"), "manager": ("manager", "HAM"), "cph_manager": ("manager", "CPH")},
        variants={
            "scarf": dict(product="Wool Scarf", category="Accessories", size="One size", stock={"HAM": 4}),
            "beanie": dict(product="Rib Beanie", category="Accessories", size="One size", stock={"HAM": 2}),
        },
    )
    anna = make.customer("Anna", "Hansen", email="anna@example.dk", phone="+4520123456", locale="da")
    customer_service.record_consent(anna, "email", True, staff=shop.clerk)
    customer_service.add_to_wishlist(anna, shop.scarf.id, staff=shop.clerk)
    customer_service.add_to_wishlist(anna, shop.beanie.id, staff=shop.clerk)
    order = make.order(shop.ham, [(shop.scarf, 1, shop.ham)], status="collected", customer_id=anna.id)
    make.event(order, "collected", utcnow() - timedelta(days=8))
    followups.run()
    shop["anna"], shop["order"] = anna, order
    shop["token"] = db.session.scalar(select(PurchaseFollowUp.token))
    return shop


def test_the_rating_link_keeps_the_rating_and_answers_in_the_customers_language(client, world):
    page = client.get(f"/m/r/{world.token}/2", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and '<html lang="da"' in page.text and 'data-rating="2"' in page.text
    assert "Tak for dit svar" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    again = client.get(f"/m/r/{world.token}/5")
    assert 'data-rating="2"' in again.text  # the first tap stands


@pytest.mark.parametrize("path", ["/m/r/nope/2", "/m/r/{token}/9", "/m/r/{token}/0", "/m/r/" + "x" * 300 + "/1"])
def test_bad_rating_links_are_a_friendly_404(client, world, path):
    page = client.get(path.format(token=world.token))
    assert page.status_code == 404 and "could not open this link" in page.text


def test_a_comment_is_kept_once_and_a_bad_one_is_shown_at_the_field(client, world):
    client.get(f"/m/r/{world.token}/4")
    bad = client.submit(f"/m/r/{world.token}/comment", {"comment": "bell\x07"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    good = client.submit(f"/m/r/{world.token}/comment", {"comment": "Lovely scarf, slow desk"})
    assert good.status_code == 303
    assert 'id="comment-saved"' in client.get(good.headers["Location"]).text
    row = db.session.scalar(select(PurchaseFollowUp))
    db.session.refresh(row)
    assert row.comment == "Lovely scarf, slow desk" and row.callback


def test_the_call_back_list_is_for_the_stores_manager(client, world, make):
    client.get(f"/m/r/{world.token}/1")
    client.login("clerk@example.test")
    assert client.get("/customers/callbacks").status_code == 403
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login("cph_manager@example.test")
    assert "Anna Hansen" not in client.get("/customers/callbacks").text
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login("manager@example.test")
    page = client.get("/customers/callbacks")
    assert page.status_code == 200 and "Anna Hansen" in page.text and "+4520123456" in page.text
    row_id = db.session.scalar(select(PurchaseFollowUp.id))
    bad = client.submit(f"/customers/callbacks/{row_id}/called", {"note": "\x1b"}, headers=HX)
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    done = client.submit(f"/customers/callbacks/{row_id}/called", {"note": "Will exchange it"}, headers=HX)
    assert done.status_code == 200 and 'id="callbacks-empty"' in done.text and "Will exchange it" in done.text
    twice = client.submit(f"/customers/callbacks/{row_id}/called", {"note": ""}, headers=HX)
    assert twice.status_code == 422 and "already marked" in twice.text
    assert client.submit("/customers/callbacks/999999/called", {"note": ""}, headers=HX).status_code == 422


def test_the_outreach_panel_offers_the_button_only_with_consent(client, world, make):
    client.login("clerk@example.test")
    bert = make.customer("Bert", "Berg", email="bert@example.de")
    panel = client.get(f"/customers/{bert.id}/outreach", headers=HX)
    assert 'id="outreach-no-consent"' in panel.text and "Send by e-mail" not in panel.text
    refused = client.submit(
        f"/customers/{bert.id}/outreach", {"message": "Hi", "variant_id": world.scarf.id}, headers=HX
    )
    assert refused.status_code == 422
    panel = client.get(f"/customers/{world.anna.id}/outreach", headers=HX)
    assert "Send by e-mail" in panel.text and "Wool Scarf" in panel.text


def test_outreach_sends_once_then_the_cap_says_why(client, world):
    client.login("clerk@example.test")
    url = f"/customers/{world.anna.id}/outreach"
    empty = client.submit(url, {"message": "", "variant_id": world.scarf.id}, headers=HX)
    assert empty.status_code == 422 and 'id="outreach-message-error"' in empty.text
    two = [world.scarf.id, world.beanie.id]  # ticked boxes: the field comes twice
    sent = client.submit(url, {"message": "Back in stock!", "variant_id": two}, headers={**HX, "HX-Boosted": "true"})
    assert sent.status_code == 200 and sent.text.startswith("<section") and 'id="outreach-sent"' in sent.text
    capped = client.submit(url, {"message": "Again", "variant_id": world.scarf.id}, headers=HX)
    assert capped.status_code == 409 and "already got a message" in capped.text
    topics = db.session.scalars(select(OutboxMessage.topic).where(OutboxMessage.topic == "marketing.outreach")).all()
    assert topics == ["marketing.outreach"]
    profile = client.get(f"/customers/{world.anna.id}")
    assert "Back in stock!" in profile.text  # on the timeline
