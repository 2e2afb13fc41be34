"""After the purchase (clienteling/followups.py): one e-mail per order, days after collection or delivery, only
with consent, in the customer's language and size; one-tap ratings and a comment; the store's list to call back;
the job twice at once (real threads); the GDPR export, erase and merge of what it keeps."""

import json
import threading
import zipfile
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from omnistore.clienteling import erasure, export, followups, history, merging
from omnistore.clienteling.models import PurchaseFollowUp
from omnistore.core.audit import AuditEvent
from omnistore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import marketing
from omnistore.customers import services as customer_service
from omnistore.customers.models import Customer, MarketingSend
from omnistore.stores.models import Staff

DAY = timedelta(days=1)


@pytest.fixture
def world(make):
    shop = make.shop(
        "HAM",
        "CPH",
        team={"clerk": ("clerk", "HAM"), "manager": ("manager", "HAM"), "cph_manager": ("manager", "CPH")},
        variants={
            "parka": dict(product="Fjord Parka", category="Jackets", size="M", stock={"HAM": 5}),
            "tee_m": dict(product="Linen Tee", category="T-shirts", size="M", colour="White", stock={"HAM": 3}),
            "tee_l": dict(product="Linen Tee", category="T-shirts", size="L", colour="White", stock={"HAM": 3}),
            "scarf": dict(product="Wool Scarf", category="Accessories", size="One size", stock={"CPH": 2}),
        },
    )
    # Another customer bought the parka with the tee (both sizes) and the scarf: what goes with a parka.
    other = make.customer("Other", "Buyer")
    make.order(
        shop.ham,
        [(shop.parka, 1, shop.ham), (shop.tee_m, 1, shop.ham), (shop.tee_l, 1, shop.ham), (shop.scarf, 1, shop.ham)],
        status="collected",
        customer_id=other.id,
    )
    anna = make.customer("Anna", "Hansen", email="anna@example.dk", locale="da", preferred_location_id=shop.ham.id)
    customer_service.record_consent(anna, "email", True, staff=shop.clerk)
    shop["anna"] = anna
    return shop


def collected(make, world, customer=None, days_ago=8, status="collected"):
    customer = customer or world.anna
    fulfilment = "delivery" if status == "delivered" else "pickup"
    order = make.order(
        world.ham, [(world.parka, 1, world.ham)], status=status, customer_id=customer.id, fulfilment=fulfilment
    )
    make.event(order, status, utcnow() - days_ago * DAY)
    return order


def mails(topic="marketing.followup"):
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)).all()


def row_of(order):
    db.session.expire_all()
    return db.session.scalar(select(PurchaseFollowUp).where(PurchaseFollowUp.order_id == order.id))


def test_one_email_per_order_when_due_in_the_customers_language_with_what_goes_with_it_in_their_size(make, world):
    order = collected(make, world)
    report = followups.run()
    assert report.sent == 1 and "1 follow-up" in str(report)
    [mail] = mails()
    assert mail.recipient == "anna@example.dk" and mail.payload["locale"] == "da"
    assert order.number in mail.subject and "Hej Anna" in mail.body
    row = row_of(order)
    for rating in range(1, 6):
        assert followups.rating_url(row.token, rating) in mail.payload["html"]
    # What goes with the parka: the tee in her size (M: the size she bought in the tops group, jackets included),
    # not the scarf (not at her store).
    assert "Linen Tee (M" in mail.body and "Linen Tee (L" not in mail.body and "Wool Scarf" not in mail.body
    assert followups.run().sent == 0 and len(mails()) == 1  # once per order


def test_the_suggestion_is_in_the_customers_size(make, world):
    world.anna.sizes = {"tops": "L"}
    db.session.commit()
    collected(make, world)
    followups.run()
    [mail] = mails()
    assert "Linen Tee (L" in mail.body and "Linen Tee (M" not in mail.body


def test_not_before_the_set_days_nor_long_after_and_not_for_orders_still_open(make, world, app):
    early = collected(make, world, days_ago=3)
    old = collected(make, world, days_ago=8 + followups.CATCH_UP_DAYS)
    make.order(world.ham, [(world.parka, 1, world.ham)], status="ready", customer_id=world.anna.id)
    assert followups.run().sent == 0 and row_of(early) is None and row_of(old) is None
    app.config["OMNISTORE_FOLLOWUP_DAYS"], before = 2, app.config["OMNISTORE_FOLLOWUP_DAYS"]
    try:
        assert followups.run().sent == 1 and row_of(early).outcome == "sent"
    finally:
        app.config["OMNISTORE_FOLLOWUP_DAYS"] = before


def test_delivered_orders_are_asked_too(make, world):
    collected(make, world, status="delivered")
    assert followups.run().sent == 1


def test_without_consent_nothing_goes_and_nothing_goes_later(make, world):
    customer_service.record_consent(world.anna, "email", False, staff=world.clerk)
    order = collected(make, world)
    assert followups.run().skipped == 1
    assert row_of(order).outcome == "no_consent" and row_of(order).token is None and mails() == []
    customer_service.record_consent(world.anna, "email", True, staff=world.clerk)
    assert followups.run().sent == 0 and mails() == []


def test_two_orders_in_a_week_get_one_email(make, world):
    first, second = collected(make, world), collected(make, world, days_ago=9)
    report = followups.run()
    assert (report.sent, report.skipped) == (1, 1)
    assert sorted([row_of(first).outcome, row_of(second).outcome]) == ["capped", "sent"]


def test_a_low_rating_lands_on_the_stores_list_and_the_timeline_once(make, world):
    order = collected(make, world)
    followups.run()
    token = row_of(order).token
    followups.rate(token, 2)
    followups.rate(token, 5)  # a later tap changes nothing: the first rating stands
    row = row_of(order)
    assert (row.rating, row.callback) == (2, True)
    to_call, done = followups.callbacks(world.manager)
    assert [r.id for r in to_call] == [row.id] and done == []
    assert followups.callbacks(world.cph_manager) == ([], [])  # another store's list
    entries = history.timeline(world.anna).entries
    assert [e.kind for e in entries if e.kind == "feedback"] == ["feedback"]
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "followup.rated")) == 1


def test_a_good_rating_asks_for_no_call_but_a_comment_always_does(make, world):
    order = collected(make, world)
    followups.run()
    token = row_of(order).token
    followups.rate(token, 5)
    assert not row_of(order).callback and followups.callbacks(world.manager)[0] == []
    followups.add_comment(token, "  The zip was\r\nstiff  ")
    followups.add_comment(token, "The zip was\nstiff")  # the same form again
    row = row_of(order)
    assert row.comment == "The zip was\nstiff" and row.callback
    with pytest.raises(Conflict):
        followups.add_comment(token, "Something else")


@pytest.mark.parametrize("rating", [0, 6, -1, "3", None, True])
def test_a_rating_outside_one_to_five_is_refused(make, world, rating):
    order = collected(make, world)
    followups.run()
    with pytest.raises(ValidationFailed):
        followups.rate(row_of(order).token, rating)
    assert row_of(order).rating is None


@pytest.mark.parametrize("text", ["", "   ", "bell\x07", "x" * (followups.COMMENT_MAX + 1)])
def test_a_bad_comment_is_refused_at_its_field(make, world, text):
    order = collected(make, world)
    followups.run()
    with pytest.raises(ValidationFailed) as refused:
        followups.add_comment(row_of(order).token, text)
    assert "comment" in refused.value.fields and row_of(order).comment == ""


@pytest.mark.parametrize("token", ["", "nope", "x" * 65, "a\x00b", None])
def test_unknown_links_are_not_found(app, token):
    with pytest.raises(NotFound):
        followups.rate(token, 3)


def test_called_back_once_with_a_note_audited_by_the_stores_manager_only(make, world):
    order = collected(make, world)
    followups.run()
    followups.rate(row_of(order).token, 1)
    row_id = row_of(order).id
    with pytest.raises(Forbidden):
        followups.mark_called(row_id, staff=world.clerk)
    with pytest.raises(NotFound):
        followups.mark_called(row_id, staff=world.cph_manager)
    with pytest.raises(ValidationFailed):
        followups.mark_called(row_id, staff=world.manager, note="\x1b[31m")
    followups.mark_called(row_id, staff=world.manager, note="Sent a new zip")
    with pytest.raises(Conflict):
        followups.mark_called(row_id, staff=world.manager, note="again")
    row = row_of(order)
    assert (row.called_by_id, row.call_note) == (world.manager.id, "Sent a new zip")
    to_call, done = followups.callbacks(world.manager)
    assert to_call == [] and [r.id for r in done] == [row_id]
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "followup.called")) == 1


def test_two_workers_at_once_send_one_email_per_order(app, make, world):
    orders = [collected(make, world, days_ago=8)]
    bert = make.customer("Bert", "Berg", email="bert@example.de")
    customer_service.record_consent(bert, "email", True, staff=world.clerk)
    orders.append(collected(make, world, customer=bert))
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                outcomes[i] = followups.run()
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(o, followups.Report) for o in outcomes), outcomes
    assert sum(o.sent for o in outcomes) == 2
    assert len(mails()) == 2 and {m.recipient for m in mails()} == {"anna@example.dk", "bert@example.de"}
    assert db.session.scalar(select(func.count(PurchaseFollowUp.id))) == 2


# --- GDPR ---------------------------------------------------------------------------------------------------


def _answered(make, world):
    order = collected(make, world)
    followups.run()
    token = row_of(order).token
    followups.rate(token, 1)
    followups.add_comment(token, "Anna here: the parka leaks")
    followups.mark_called(row_of(order).id, staff=world.manager, note="Called Anna Hansen")
    return order, token


def test_the_export_holds_the_followup_and_the_marketing_emails(make, world):
    order, _token = _answered(make, world)
    admin = make.staff("admin", world.ham, email="admin@example.test")
    data = export.export_data(world.anna, staff=admin)
    [followup] = data["purchase_followups"]
    assert followup["order"] == order.number and followup["rating"] == 1
    assert followup["comment"] == "Anna here: the parka leaks" and followup["call_note"] == "Called Anna Hansen"
    assert [m["kind"] for m in data["marketing_emails"]] == ["followup"]
    archive = zipfile.ZipFile(BytesIO(export.export_zip(world.anna, staff=admin)))
    assert json.loads(archive.read("customer.json"))["purchase_followups"][0]["rating"] == 1


def test_erase_removes_what_was_said_and_kills_the_links(make, world):
    waiting = collected(make, world, days_ago=40)  # an older order, rated low, not called yet
    db.session.add(
        PurchaseFollowUp(
            order_id=waiting.id,
            customer_id=world.anna.id,
            location_id=world.ham.id,
            outcome="sent",
            rating=1,
            callback=True,
        )
    )
    db.session.commit()
    order, token = _answered(make, world)
    send_token = db.session.scalar(select(MarketingSend.token))
    admin = make.staff("admin", world.ham, email="admin@example.test")
    erasure.erase_customer(db.session.get(Customer, world.anna.id), staff=admin, confirmation="ERASE")
    row = row_of(order)
    assert (row.token, row.comment, row.call_note) == (None, "", "")
    to_call, done = followups.callbacks(world.manager)
    assert to_call == [] and done == [row]  # nobody left to call; the call made stays, without the note
    send = db.session.scalar(select(MarketingSend))
    assert send.token is None and send.detail == {}
    assert all(m.body == "" and m.recipient == "erased" for m in mails())
    with pytest.raises(NotFound):
        followups.rate(token, 3)
    with pytest.raises(NotFound):
        marketing.unsubscribe(send_token)


def test_merge_moves_followups_and_marketing_emails_to_the_survivor(make, world):
    order, _token = _answered(make, world)
    survivor = make.customer("Anna", "H.", email="anna.h@example.dk", preferred_location_id=world.ham.id)
    manager = db.session.get(Staff, world.manager.id)
    record = merging.merge_customers(survivor, db.session.get(Customer, world.anna.id), staff=manager)
    assert record.moved["purchase_followups"] == 1 and record.moved["marketing_emails"] == 1
    assert row_of(order).customer_id == survivor.id
    assert db.session.scalar(select(MarketingSend.customer_id)) == survivor.id
