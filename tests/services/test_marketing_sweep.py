"""The consent sweep: every registered marketing kind (customers/marketing.py KINDS) is driven through its real
send path — never the gate alone — and nothing is queued without the matching consent: not before any is on
record, not after a withdrawal, and not after the customer used the e-mail's own unsubscribe link. A new kind
without a scenario here fails the first test; a module other than the gate queueing e-mails fails the last.

A new marketing path adds one function to SCENARIOS: it makes what triggers one e-mail of its kind for the
customer (an order, a wished-for variant arriving…) and runs the verb or job that sends it."""

import ast
import contextlib
import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from omnistore.clienteling import followups, nearby, outreach
from omnistore.core.errors import DomainError
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import marketing
from omnistore.customers import services as customer_service
from omnistore.stock import ledger

PACKAGE = Path(__file__).resolve().parents[2] / "omnistore"


@pytest.fixture
def world(make):
    shop = make.shop(
        "HAM",
        team={"clerk": ("clerk", "HAM", "Jonas Weber")},
        variants={"scarf": dict(product="Wool Scarf", category="Accessories", size="One size", stock={"HAM": 4})},
    )
    shop["anna"] = make.customer("Anna", "Hansen", email="anna@example.de", preferred_location_id=shop.ham.id)
    customer_service.add_to_wishlist(shop.anna, shop.scarf.id, staff=shop.clerk)
    shop["make"] = make
    return shop


def _followup(world):
    order = world.make.order(world.ham, [(world.scarf, 1, world.ham)], status="collected", customer_id=world.anna.id)
    world.make.event(order, "collected", utcnow() - timedelta(days=8))
    followups.run()


def _outreach(world):
    # Refused without consent (ValidationFailed): what the sweep checks is that nothing was queued.
    with contextlib.suppress(DomainError):
        outreach.send_outreach(world.anna, staff=world.clerk, message="Hello", variant_ids=[world.scarf.id])


def _nearby(world):
    # A unit of the wished-for scarf arrives at Anna's store; the job runs once the movement has settled.
    ledger.receive(ledger.StockChange(world.scarf.id, world.ham.id, 1, "delivery"), world.clerk)
    nearby.run(utcnow() + timedelta(minutes=1))


SCENARIOS = {"followup": _followup, "nearby": _nearby, "outreach": _outreach}


def test_every_marketing_kind_has_a_sweep_scenario(app):
    assert set(marketing.KINDS) == set(SCENARIOS)


def _mails(kind):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == marketing.TOPIC_PREFIX + kind).order_by(OutboxMessage.id)
    ).all()


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_no_marketing_email_without_consent_and_the_unsubscribe_link_stops_the_next(kind, world, client, monkeypatch):
    # Caps off: only consent may stop an e-mail here, so each "nothing sent" below is the consent's doing.
    for name, registered in list(marketing.KINDS.items()):
        monkeypatch.setitem(marketing.KINDS, name, dataclasses.replace(registered, cap=None))
    decided = []
    real_send = marketing.send
    monkeypatch.setattr(marketing, "send", _recording(real_send, decided))
    trigger = SCENARIOS[kind]

    trigger(world)  # no consent on record
    assert _mails(kind) == []
    customer_service.record_consent(world.anna, "email", True, staff=world.clerk)
    customer_service.record_consent(world.anna, "email", False, staff=world.clerk)
    customer_service.record_consent(world.anna, "sms", True, staff=world.clerk)  # another channel's consent
    trigger(world)
    assert _mails(kind) == []
    assert all(reason == "no_consent" for reason in decided)

    customer_service.record_consent(world.anna, "email", True, staff=world.clerk)
    trigger(world)
    [mail] = _mails(kind)
    assert decided[-1] == "sent"
    [path] = set(re.findall(r"https?://[^/\s]+(/m/[A-Za-z0-9_-]+/unsubscribe)", mail.body))
    assert path in mail.payload["html"]
    assert client.get(path).status_code == 200  # the customer taps it

    trigger(world)
    assert len(_mails(kind)) == 1 and decided[-1] == "no_consent"


def _recording(real_send, decided):
    def send(*args, **kwargs):
        outcome = real_send(*args, **kwargs)
        decided.append(outcome.reason)
        return outcome

    return send


def test_only_the_gate_and_the_order_emails_queue_emails():
    """Every other module that wants to e-mail a customer goes through the gate (or is an order's e-mail)."""
    allowed = {"customers/marketing.py", "orders/notifications.py", "core/outbox.py"}
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = str(path.relative_to(PACKAGE))
        if relative.startswith("migrations/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name == "enqueue_email" and relative not in allowed:
                found.add(relative)
    assert found == set()
