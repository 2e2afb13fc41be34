""" "Available near you" (clienteling/nearby.py): who is e-mailed when a variant comes back in a store near them
(consent, distance, safety stock, the cap and its period, the three sources), the hold behind the e-mail's
button, the job under two processes and the cap under threads on PostgreSQL, and the GDPR export/erase/merge of
what it keeps."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from omnistore.clienteling import erasure, export, merging, nearby
from omnistore.clienteling.models import NearbyAlert
from omnistore.core.db import transaction
from omnistore.core.errors import InsufficientStock, NotFound
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import notify
from omnistore.customers import services as customers
from omnistore.customers.models import MarketingSend, NotifyRequest
from omnistore.orders import drafts
from omnistore.orders.models import DraftHold, OrderDraft
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel

ROOT = Path(__file__).resolve().parents[2]
LATER = timedelta(minutes=1)  # the job leaves movements younger than nearby.LAG for its next run


@pytest.fixture
def world(make):
    """Hamburg (the customer's store), Altona (7 km away), Berlin (255 km), a clerk in Hamburg, a jacket in M
    that is nowhere yet, and Anna: preferred store Hamburg, marketing e-mail consent given, the jacket wished."""
    ham = make.location("HAM")
    alt = make.location("ALT", name="Altona", latitude=53.5503, longitude=9.8900)
    ber = make.location("BER")
    clerk = make.staff("clerk", ham, name="Jonas Weber")
    manager = make.staff("manager", ham)
    product = make.product(name="Fjord Parka")
    jacket = make.variant(product, size="M", colour="Navy")
    anna = make.customer("Anna", "Berg", email="anna@example.test", preferred_location_id=ham.id, locale="en")
    customers.record_consent(anna, "email", True, staff=clerk)
    customers.add_to_wishlist(anna, jacket.id, staff=clerk)
    return type("World", (), dict(ham=ham, alt=alt, ber=ber, clerk=clerk, manager=manager, jacket=jacket, anna=anna))


def receive(world, location, quantity=1, variant=None):
    """Goods arrive through the stock's own receipt verb."""
    ledger.receive(ledger.StockChange((variant or world.jacket).id, location.id, quantity, "delivery"), world.clerk)


def mails():
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == nearby.TOPIC).order_by(OutboxMessage.id)
    ).all()


def run(now=None):
    return nearby.run((now or utcnow()) + LATER)


def token_of(message):
    body = message.body
    start = body.index("/n/") + 3
    return body[start:].split()[0]


# --- who gets one --------------------------------------------------------------------------------------------


def test_a_wished_variant_arriving_at_the_preferred_store_sends_one_email_with_store_hours_and_button(world):
    receive(world, world.ham)
    report = run()
    assert report.sent == 1, str(report)
    [mail] = mails()
    assert mail.recipient == "anna@example.test"
    assert "Fjord Parka is available at Hamburg" in mail.subject
    assert "Hamburg" in mail.body and "Teststraße 1" in mail.body
    assert "Monday: 09:30–20:00" in mail.body and "Sunday: closed" in mail.body
    assert "/n/" in mail.body and "Hold it for me" in mail.payload["html"]
    assert "/m/" in mail.body and "unsubscribe" in mail.body  # the gate's one-tap unsubscribe
    # The job read the ledger to its end: a second run has nothing to do.
    assert run().sent == 0 and len(mails()) == 1


def test_no_email_without_marketing_consent_and_none_after_it_is_withdrawn(world):
    customers.record_consent(world.anna, "email", False, staff=world.clerk)
    receive(world, world.ham)
    report = run()
    assert (report.sent, report.no_consent) == (0, 1)
    assert mails() == []


def test_distance_a_store_within_the_setting_counts_one_far_away_does_not(world):
    receive(world, world.ber)  # 255 km away
    assert run().sent == 0
    receive(world, world.alt)  # 7 km away
    assert run().sent == 1
    [mail] = mails()
    assert "available at Altona" in mail.subject


def test_the_distance_is_a_setting(world, app):
    app.config["OMNISTORE_NEARBY_KM"] = 5
    receive(world, world.alt)  # 7 km from Hamburg
    assert run().sent == 0
    receive(world, world.ham)
    assert run().sent == 1
    assert "available at Hamburg" in mails()[0].subject


def test_safety_stock_units_kept_by_the_store_do_not_count(world):
    with transaction():
        db.session.get(type(world.ham), world.ham.id).safety_stock = 1
    receive(world, world.ham)  # its one unit is its safety stock
    assert run().sent == 0
    receive(world, world.ham)  # now one beyond it
    assert run().sent == 1


def test_one_email_per_customer_and_variant_per_period(world):
    receive(world, world.ham)
    assert run().sent == 1
    # Sold, then back again within the period: no second e-mail.
    ledger.allocate(ledger.StockChange(world.jacket.id, world.ham.id, 1), world.clerk)
    ledger.release(ledger.StockChange(world.jacket.id, world.ham.id, 1), world.clerk)
    report = run()
    assert (report.sent, report.capped) == (0, 1)
    # After the period (14 days by default) it may be told again.
    with transaction():  # as if the e-mail had gone 15 days ago
        for send in db.session.scalars(select(MarketingSend)):
            send.created_at -= timedelta(days=15)
    receive(world, world.ham)
    assert run().sent == 1
    assert len(mails()) == 2
    assert db.session.scalar(select(NearbyAlert.sends)) == 2


def test_a_notify_me_request_is_a_source_and_cancelling_it_stops_it(world, make):
    bob = make.customer("Bob", "Lund", email="bob@example.test", preferred_location_id=world.ham.id)
    customers.record_consent(bob, "email", True, staff=world.clerk)
    request = notify.request_notification(bob, world.jacket.id, staff=world.clerk)
    assert notify.request_notification(bob, world.jacket.id, staff=world.clerk).id == request.id  # asked twice
    notify.cancel_notification(bob, request.id, staff=world.clerk)
    receive(world, world.ham)
    run()
    assert [m.recipient for m in mails()] == ["anna@example.test"]
    notify.request_notification(bob, world.jacket.id, staff=world.clerk)  # open again
    receive(world, world.ham)
    run()
    assert sorted(m.recipient for m in mails()) == ["anna@example.test", "bob@example.test"]
    assert db.session.scalar(select(NearbyAlert.source).where(NearbyAlert.customer_id == bob.id)) == "notify"


def test_notify_me_refuses_bad_input_and_other_customers_requests(world, make):
    for bad in (None, "1", -1, 0, 2**40, True, world.jacket.id + 999):
        with pytest.raises(Exception) as refused:
            notify.request_notification(world.anna, bad, staff=world.clerk)
        assert getattr(refused.value, "fields", {}).get("variant")
    other = make.customer("Carl", "Holm")
    mine = notify.request_notification(world.anna, world.jacket.id, staff=world.clerk)
    with pytest.raises(NotFound):
        notify.cancel_notification(other, mine.id, staff=world.clerk)
    db.session.expire_all()
    assert db.session.get(NotifyRequest, mine.id).open


def test_a_variant_left_in_a_draft_whose_holds_ran_out_is_a_source(world, make):
    dora = make.customer("Dora", "Kjær", email="dora@example.test", preferred_location_id=world.ham.id)
    customers.record_consent(dora, "email", True, staff=world.clerk)
    other = make.variant(world.jacket.product, size="L")
    receive(world, world.ber, variant=other)
    draft = drafts.start_draft(world.clerk, customer_id=dora.id)
    drafts.set_line(draft, other.id, 1, staff=world.clerk)  # held in Berlin for 15 minutes
    assert drafts.release_expired_holds(utcnow() + timedelta(minutes=20)) == 1  # ran out, never placed
    run()  # the release in Berlin is far away: nothing
    assert mails() == []
    receive(world, world.ham, variant=other)
    run()
    assert [m.recipient for m in mails()] == ["dora@example.test"]


def test_erased_and_merged_away_customers_get_nothing(world, make):
    erasure.erase_customer(world.anna, confirmation=erasure.ERASE_WORD, staff=world.manager)
    receive(world, world.ham)
    assert run().sent == 0 and mails() == []


# --- the button: the hold ----------------------------------------------------------------------------------


def test_the_button_holds_one_unit_through_the_counter_hold_and_a_second_tap_holds_nothing_more(world):
    receive(world, world.ham, 2)
    run()
    token = token_of(mails()[0])
    first = nearby.hold(token)
    assert first.held and first.held_until is not None
    second = nearby.hold(token)
    assert second.draft.id == first.draft.id
    db.session.expire_all()
    level = db.session.scalar(select(StockLevel).where(StockLevel.location_id == world.ham.id))
    assert (level.on_hand, level.allocated) == (2, 1)
    draft = db.session.get(OrderDraft, first.draft.id)
    assert draft.customer_id == world.anna.id and draft.location_id == world.ham.id and draft.status == "open"
    [held] = db.session.scalars(select(DraftHold)).all()
    assert held.quantity == 1 and held.expires_at > utcnow() + timedelta(hours=47)
    # The clerk sees it among the store's open drafts; holds.release gives the unit back when the time is up.
    assert draft in drafts.open_drafts(world.clerk)
    assert drafts.release_expired_holds(utcnow() + timedelta(hours=49)) == 1


def test_the_button_when_the_unit_went_meanwhile_holds_nothing_and_says_so(world):
    receive(world, world.ham)
    run()
    token = token_of(mails()[0])
    ledger.allocate(ledger.StockChange(world.jacket.id, world.ham.id, 1), world.clerk)  # sold at the counter
    with pytest.raises(InsufficientStock) as gone:
        nearby.hold(token)
    assert "Hamburg" in gone.value.message
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(OrderDraft)) == 0
    assert db.session.scalar(select(NearbyAlert.held_at)) is None  # a later tap may still hold one
    ledger.release(ledger.StockChange(world.jacket.id, world.ham.id, 1), world.clerk)
    assert nearby.hold(token).held


@pytest.mark.parametrize("token", ["", "x", "a" * 500, "ünïcödé-ünïcödé-ünïcödé", "\x00" * 30, None, 12])
def test_a_bad_or_unknown_token_is_not_found(world, token):
    with pytest.raises(NotFound):
        nearby.hold(token)
    with pytest.raises(NotFound):
        nearby.offer(token)


def test_an_old_link_has_ended(world):
    receive(world, world.ham)
    run()
    token = token_of(mails()[0])
    with pytest.raises(nearby.LinkExpired):
        nearby.hold(token, utcnow() + timedelta(days=20))


# --- two workers, and the cap under threads (PostgreSQL) ------------------------------------------------------


def _run_in_threads(app, count, work):
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def go(i):
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                outcomes[i] = work(i)
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks between threads: PostgreSQL (SQLite has one writer at a time)")


def test_the_cap_is_one_send_however_many_threads_send_at_once(app, world):
    _postgres_only(app)
    receive(world, world.ham)
    now = utcnow()

    def work(_i):
        anna = db.session.get(type(world.anna), world.anna.id)
        store = db.session.get(type(world.ham), world.ham.id)
        return nearby.send(anna, world.jacket.id, store, "wishlist", now=now)

    outcomes = _run_in_threads(app, 8, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(o.reason for o in outcomes) == ["capped"] * 7 + ["sent"]
    assert len(mails()) == 1


def test_two_taps_at_once_hold_one_unit(app, world):
    _postgres_only(app)
    receive(world, world.ham, 3)
    run()
    token = token_of(mails()[0])
    outcomes = _run_in_threads(app, 6, lambda _i: nearby.hold(token).draft.id)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len(set(outcomes)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(StockLevel.allocated)) == 1


def test_the_job_run_by_two_processes_at_once_sends_each_email_once(app, world, make, database_url):
    """Two real processes call the job's verb itself at the same moment (no worker claim around it): the ledger
    cursor's lock and the cap's conditional write keep it to one e-mail per customer."""
    others = []
    for n in range(6):
        person = make.customer(f"P{n}", "Test", email=f"p{n}@example.test", preferred_location_id=world.ham.id)
        customers.record_consent(person, "email", True, staff=world.clerk)
        customers.add_to_wishlist(person, world.jacket.id, staff=world.clerk)
        others.append(person)
    receive(world, world.ham, 5)
    now = (utcnow() + LATER).isoformat()
    script = (
        "import sys; from datetime import datetime\n"
        "from omnistore import create_app\n"
        "from omnistore.clienteling import nearby\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    print(nearby.run(datetime.fromisoformat(sys.argv[1])).sent)\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISTORE_")}
    env.update(PYTHONPATH=str(ROOT), OMNISTORE_DATABASE_URL=database_url, OMNISTORE_SECRET_KEY="test-secret-key")
    processes = [
        subprocess.Popen([sys.executable, "-c", script, now], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    sent = []
    for process in processes:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
        sent.append(int(output.strip().splitlines()[-1]))
    assert sum(sent) == 7
    assert sorted(m.recipient for m in mails()) == sorted(["anna@example.test"] + [p.email for p in others])


# --- GDPR ----------------------------------------------------------------------------------------------------


def test_export_erase_and_merge_cover_notify_requests_and_the_emails_sent(world, make):
    notify.request_notification(world.anna, world.jacket.id, staff=world.clerk)
    receive(world, world.ham)
    run()
    data = export.export_data(world.anna, staff=world.manager)
    assert data["notify_requests"][0]["sku"] == world.jacket.sku
    assert data["available_near_you_emails"][0]["store"] == "HAM"
    assert data["available_near_you_emails"][0]["why"] == "notify"

    # Merge: Anna's second profile (a web sign-up) also asked; the survivor keeps one of each, the newer e-mail.
    twin = make.customer("Anna", "Berg", email="anna.b@example.test", preferred_location_id=world.ham.id)
    notify.request_notification(twin, world.jacket.id, staff=world.clerk)
    merging.merge_customers(world.anna, twin, staff=world.manager)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(NotifyRequest)) == 1
    assert db.session.scalar(select(NotifyRequest.customer_id)) == world.anna.id
    assert db.session.scalar(select(NearbyAlert.customer_id)) == world.anna.id

    erasure.erase_customer(db.session.get(type(world.anna), world.anna.id), confirmation="ERASE", staff=world.manager)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(NotifyRequest)) == 0
    assert db.session.scalar(select(func.count()).select_from(NearbyAlert)) == 0


# --- the consent sweep for this kind (the same steps as tests/services/test_marketing_sweep.py on journey-followup:
# at merge, its SCENARIOS gets "nearby": receive a unit of the wished-for variant at the customer's store, run) ---


def test_the_consent_sweep_for_nearby_nothing_without_consent_and_the_unsubscribe_link_stops_the_next(
    world, client, monkeypatch
):
    import dataclasses
    import re

    from omnistore.customers import marketing

    monkeypatch.setitem(marketing.KINDS, nearby.KIND, dataclasses.replace(marketing.KINDS[nearby.KIND], cap=None))

    def trigger():
        receive(world, world.ham)
        return run()

    customers.record_consent(world.anna, "email", False, staff=world.clerk)
    customers.record_consent(world.anna, "sms", True, staff=world.clerk)  # another channel's consent
    assert trigger().no_consent == 1 and mails() == []
    customers.record_consent(world.anna, "email", True, staff=world.clerk)
    assert trigger().sent == 1
    [mail] = mails()
    [path] = set(re.findall(r"https?://[^/\s]+(/m/[A-Za-z0-9_-]+/unsubscribe)", mail.body))
    assert path in mail.payload["html"]
    assert client.get(path).status_code == 200  # the customer taps it: a consent change
    assert trigger().no_consent == 1 and len(mails()) == 1


def test_the_job_reads_by_what_moved_not_by_every_customer_and_variant(world, make):
    """The statements one run makes do not grow with the customers and wishes that have nothing to do with the
    stock that moved: the job starts from the ledger's new movements."""
    from sqlalchemy import event

    def statements_for_one_run():
        seen = []

        def count(*_args):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            receive(world, world.ber)  # far from everyone: read, and nobody is near
            run()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    before = statements_for_one_run()
    for n in range(30):  # people waiting for other things
        person = make.customer(f"Other{n}", "Person", preferred_location_id=world.ham.id)
        customers.add_to_wishlist(person, make.variant(world.jacket.product, size=f"X{n}").id, staff=world.clerk)
    assert statements_for_one_run() == before


def test_the_clerk_turns_the_hold_into_an_order_at_the_counter_with_the_same_unit(world):
    from omnistore.orders import placing

    receive(world, world.ham)
    run()
    token = token_of(mails()[0])
    held = nearby.hold(token)
    draft = drafts.draft_for(held.draft.token, world.clerk)
    order = placing.place(draft, staff=world.clerk)
    assert order.customer_id == world.anna.id and order.pickup_location_id == world.ham.id
    db.session.expire_all()
    level = db.session.scalar(select(StockLevel).where(StockLevel.location_id == world.ham.id))
    assert (level.on_hand, level.allocated) == (1, 1)  # the held unit became the order's, not a second one
    assert nearby.offer(token).ordered
