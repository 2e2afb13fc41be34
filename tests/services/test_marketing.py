"""The one consent gate for marketing e-mails (customers/marketing.py): consent in force, frequency caps under
the customer's lock (real threads), the customer's language, the one-tap unsubscribe and its replay."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import NotFound
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import marketing
from omnistore.customers import services as customer_service
from omnistore.customers.models import Consent, Customer, MarketingSend
from omnistore.stores.models import Staff


@pytest.fixture
def kinds(monkeypatch):
    """Two kinds only this test knows: one capped per customer (2 a week), one capped per key (1 a month)."""
    week = marketing.MarketingKind("test.week", "a test kind", cap=lambda config: marketing.Cap(2, timedelta(days=7)))
    per_key = marketing.MarketingKind(
        "test.key", "a test kind by key", cap=lambda config: marketing.Cap(1, timedelta(days=30)), per_key=True
    )
    for kind in (week, per_key):
        monkeypatch.setitem(marketing.KINDS, kind.name, kind)
    return week, per_key


@pytest.fixture
def people(make):
    ham = make.location("HAM")
    clerk = make.staff("clerk", ham, email="clerk@example.test")
    anna = make.customer("Anna", "Hansen", email="anna@example.dk", locale="da")
    return {"ham": ham, "clerk": clerk, "anna": anna}


def email(kind="test.week", key="", **extra):
    return marketing.MarketingEmail(
        kind=kind,
        template="message",
        subject="News for you",
        context={"message": "Line one\nLine two", "products": [{"name": "Fjord Parka", "detail": "M", "price": "€89"}]},
        key=key,
        **extra,
    )


def outbox():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def grant(people, granted=True):
    customer_service.record_consent(people["anna"], "email", granted, staff=people["clerk"])


def test_nothing_goes_without_consent_on_record_or_after_a_withdrawal(people, kinds):
    assert marketing.send(people["anna"], email()).reason == "no_consent"
    grant(people, True)
    grant(people, False)
    assert marketing.send(people["anna"], email()).reason == "no_consent"
    customer_service.record_consent(people["anna"], "sms", True, staff=people["clerk"])  # another channel's
    assert marketing.send(people["anna"], email()).reason == "no_consent"
    assert outbox() == [] and db.session.scalar(select(func.count(MarketingSend.id))) == 0


def test_with_consent_one_email_in_the_customers_language_with_a_working_unsubscribe_link(people, kinds):
    grant(people)
    outcome = marketing.send(people["anna"], email(location=people["ham"]))
    assert outcome.sent
    [message] = outbox()
    assert message.topic == "marketing.test.week" and message.recipient == "anna@example.dk"
    assert message.customer_id == people["anna"].id and message.payload["locale"] == "da"
    assert "Hej Anna" in message.body and "Fjord Parka" in message.body and "Line two" in message.body
    assert '<html lang="da">' in message.payload["html"]
    url = marketing.unsubscribe_url(outcome.send.token)
    assert url in message.body and url in message.payload["html"]
    assert db.session.get(MarketingSend, outcome.send.id).outbox_message_id == message.id


def test_no_address_and_erased_profiles_get_nothing(people, kinds, make):
    grant(people)
    no_mail = make.customer("Bo", "Berg", email="", phone="+4520000001")
    no_mail.email = None
    db.session.commit()
    assert marketing.send(no_mail, email()).reason == "no_address"
    anna = db.session.get(Customer, people["anna"].id)
    anna.erased_at = utcnow()
    db.session.commit()
    assert marketing.send(anna, email()).reason == "inactive"
    assert outbox() == []


def test_the_cap_counts_per_customer_and_kind_within_the_period(people, kinds):
    grant(people)
    now = utcnow()
    assert marketing.send(people["anna"], email(), now=now - timedelta(days=8)).sent  # outside the week
    assert marketing.send(people["anna"], email(), now=now - timedelta(days=1)).sent
    assert marketing.send(people["anna"], email(), now=now).sent
    assert marketing.send(people["anna"], email(), now=now).reason == "capped"
    # Per key: one a month for each key.
    assert marketing.send(people["anna"], email("test.key", key="v1"), now=now).sent
    assert marketing.send(people["anna"], email("test.key", key="v1"), now=now).reason == "capped"
    assert marketing.send(people["anna"], email("test.key", key="v2"), now=now).sent
    assert len(outbox()) == 5


def test_unsubscribe_records_a_withdrawal_once_and_stops_the_next_email(people, kinds):
    grant(people)
    outcome = marketing.send(people["anna"], email())
    done = marketing.unsubscribe(outcome.send.token)
    assert done.first_time and done.locale == "da" and done.channel == "email"
    again = marketing.unsubscribe(outcome.send.token)  # replayed: the same answer, nothing recorded
    assert not again.first_time
    db.session.expire_all()
    rows = db.session.scalars(
        select(Consent).where(Consent.customer_id == people["anna"].id).order_by(Consent.id)
    ).all()
    assert [(c.granted, c.source_channel) for c in rows] == [(True, "store"), (False, "web")]
    assert marketing.send(people["anna"], email()).reason == "no_consent"
    # Given again in the store, the old link replayed does not withdraw the new consent.
    grant(people)
    assert not marketing.unsubscribe(outcome.send.token).first_time
    assert marketing.send(people["anna"], email()).sent


@pytest.mark.parametrize("token", ["", "nope", "x" * 65, "ü" * 10, "a\x00b", None])
def test_an_unknown_or_malformed_token_is_not_found(app, token):
    with pytest.raises(NotFound):
        marketing.unsubscribe(token)


def test_the_unsubscribe_page_answers_in_the_customers_language_and_a_replay_the_same(people, kinds, client):
    grant(people)
    token = marketing.send(people["anna"], email()).send.token
    first = client.get(f"/m/{token}/unsubscribe", headers={"Accept-Language": "en"})
    assert first.status_code == 200 and 'id="unsubscribed"' in first.text
    assert '<html lang="da"' in first.text and first.headers["Cache-Control"] == "no-store"
    assert "Du er afmeldt" in first.text  # written in Danish, though the phone asked for English
    replay = client.get(f"/m/{token}/unsubscribe")
    assert replay.status_code == 200 and 'id="unsubscribed"' in replay.text
    assert db.session.scalar(select(func.count(Consent.id)).where(Consent.granted.is_(False))) == 1
    missing = client.get("/m/not-a-token/unsubscribe")
    assert missing.status_code == 404 and "could not open this link" in missing.text


def test_two_senders_at_once_never_pass_the_cap_together(app, people, monkeypatch):
    monkeypatch.setitem(
        marketing.KINDS,
        "test.once",
        marketing.MarketingKind("test.once", "once", cap=lambda config: marketing.Cap(1, timedelta(days=1))),
    )
    grant(people)
    barrier = threading.Barrier(4)
    outcomes = [None] * 4

    def run(i):
        with app.app_context():
            try:
                customer = db.session.get(Customer, people["anna"].id)
                staff = db.session.get(Staff, people["clerk"].id)
                db.session.commit()
                barrier.wait(timeout=60)
                outcomes[i] = marketing.send(customer, email("test.once", staff=staff)).reason
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["capped", "capped", "capped", "sent"], outcomes
    assert len(outbox()) == 1


def test_a_kind_is_registered_once_with_a_known_channel():
    with pytest.raises(ValueError):
        marketing.register_kind(marketing.MarketingKind("test.fax", "fax", channel="fax"))
    first = marketing.MarketingKind("test.twice", "twice")
    try:
        marketing.register_kind(first)
        with pytest.raises(ValueError):
            marketing.register_kind(marketing.MarketingKind("test.twice", "other"))
    finally:
        marketing.KINDS.pop("test.twice", None)
