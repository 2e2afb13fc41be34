"""The live stream (pickups/views/live.py): an open panel or desk hears of a committed change of its own variant
or store, and nothing else; the same sign-in, store scope and session rules as every request; a sign-out ends
it at once. On PostgreSQL (LISTEN/NOTIFY); SQLite and servers that cannot hold streams answer 204 (poll)."""

import queue
import threading
import time
import uuid

import pytest

from omnistore.core import live
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.orders.models import Order, OrderEvent
from omnistore.orders.services import record_event
from omnistore.stock import ledger
from tests.helpers import count_statements

THREADED = {"wsgi.multithread": True, "wsgi.multiprocess": False}  # as `flask run`; gunicorn's gevent is the other


@pytest.fixture
def app_config():
    # A stream ends by itself after 4 s (the browser opens it again), so each test's streams end with it.
    return {"OMNISTORE_LIVE_STREAM_CHECK_SECONDS": 0.5, "OMNISTORE_LIVE_STREAM_SECONDS": 4}


@pytest.fixture
def store(make):
    ham, cph = make.location("HAM"), make.location("CPH")
    clerk = make.staff("clerk", ham, email="clerk@example.test")
    cph_clerk = make.staff("clerk", cph, email="cph@example.test")
    admin = make.staff("admin", cph, email="admin@example.test")
    manager = make.staff("manager", ham, email="manager@example.test")
    jacket, boots = make.variant(), make.variant(size="L")
    make.stock(jacket, ham, 3)
    make.stock(boots, cph, 2)
    return {
        "ham": ham,
        "cph": cph,
        "clerk": clerk,
        "cph_clerk": cph_clerk,
        "admin": admin,
        "manager": manager,
        "jacket": jacket,
        "boots": boots,
    }


class Stream:
    """An open stream read in a thread of its own: its events, one (name, data) at a time."""

    def __init__(self, response):
        self.response = response
        self.events = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buffer = ""
        try:
            for chunk in self.response.response:
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and line[0] != ":")
                    if "event" in fields:
                        self.events.put((fields["event"], fields.get("data", "")))
        except Exception as error:  # noqa: BLE001 — the test sees it as the stream's last event
            self.events.put(("error", repr(error)))
        finally:
            self.events.put(("closed", ""))

    def close(self):
        self.thread.join(timeout=10)  # the stream ends by itself (OMNISTORE_LIVE_STREAM_SECONDS)

    def next(self, timeout=10):
        return self.events.get(timeout=timeout)

    def until(self, name, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event[0] == name:
                return event


@pytest.fixture(autouse=True)
def same_clock(monkeypatch):
    """The page and the hub share this process's clock: no margin for another machine's."""
    from omnistore.core import live

    monkeypatch.setattr(live, "CLOCK_MARGIN_SECONDS", 0.0)


def heard_everything(app):
    """The process's hub listening and every notice sent so far heard by it (a barrier of our own, sent last:
    notices arrive in commit order); then the time (ms), as a page rendered now would give it."""
    from omnistore.core import live

    hub = live.hub(app)
    hub.start()
    assert hub.connected.wait(5)
    barrier = f"barrier:{uuid.uuid4().hex}"
    with transaction() as session:
        live.note(session, barrier)
    deadline = time.monotonic() + 5
    while barrier not in hub.heard:
        assert time.monotonic() < deadline, "the hub never heard the barrier"
        time.sleep(0.005)
    return int(time.time() * 1000) + 1


def open_stream(client, query, since=None):
    """The stream as a page rendered at `since` (ms) opens it; by default a page rendered just now, with nothing
    missed (on PostgreSQL), so the stream tells only of what changes from here on."""
    app = client.application
    if since is None and app.database_kind == "postgresql":
        since = heard_everything(app)
    if since is not None:
        query = f"{query}&since={since}"
    return client.get(f"/live/stream?{query}", buffered=False, environ_overrides=THREADED)


def postgres_only(app):
    if app.database_kind != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")


def receive(variant, location, quantity=1):
    with transaction():
        ledger.receive(ledger.StockChange(variant.id, location.id, quantity, reason="delivery"), None)


def test_a_panel_hears_a_stock_change_of_its_variant_and_not_of_another(app, client, store):
    postgres_only(app)
    client.login(store["clerk"].email)
    response = open_stream(client, f"variant={store['jacket'].id}")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    stream = Stream(response)
    assert stream.next() == ("ready", f"variant:{store['jacket'].id}")
    receive(store["boots"], store["cph"])  # another variant: nothing
    receive(store["jacket"], store["cph"])  # another store's level of this variant: the panel shows it too
    assert stream.until("change") == ("change", f"variant:{store['jacket'].id}")
    stream.close()


def test_a_rolled_back_change_is_not_pushed(app, client, store):
    postgres_only(app)
    client.login(store["clerk"].email)
    response = open_stream(client, f"variant={store['jacket'].id}")
    stream = Stream(response)
    stream.until("ready")
    with pytest.raises(RuntimeError), transaction():
        ledger.receive(ledger.StockChange(store["jacket"].id, store["ham"].id, 1, reason="delivery"), None)
        raise RuntimeError("no")
    receive(store["boots"], store["cph"])
    with pytest.raises(queue.Empty):
        stream.until("change", timeout=1.5)
    stream.close()


def test_the_desk_hears_its_own_store_only(app, client, store, make):
    postgres_only(app)
    client.login(store["clerk"].email)
    response = open_stream(client, "desk=1")
    stream = Stream(response)
    assert stream.next() == ("ready", f"desk:{store['ham'].id}")
    make.order(store["cph"], lines=[(store["boots"], 1, store["cph"])])  # another store's desk
    make.order(store["ham"], lines=[(store["jacket"], 1, store["ham"])])
    assert stream.until("change") == ("change", f"desk:{store['ham'].id}")
    stream.close()


def test_a_clerk_or_manager_may_not_listen_to_another_stores_desk_but_an_admin_may(app, client, store):
    client.login(store["clerk"].email)
    assert open_stream(client, "desk=1&location=CPH").status_code == 403
    client.submit("/logout")
    client.login(store["manager"].email)
    assert open_stream(client, "desk=1&location=CPH").status_code == 403
    client.submit("/logout")
    client.login(store["admin"].email)
    response = open_stream(client, "desk=1&location=HAM")
    assert response.status_code == (200 if app.database_kind == "postgresql" else 204)
    if response.status_code == 200:
        stream = Stream(response)
        assert stream.next() == ("ready", f"desk:{store['ham'].id}")
        stream.close()


def test_without_a_session_there_is_no_stream(client, store):
    response = open_stream(client, f"variant={store['jacket'].id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = client.get(f"/live/stream?variant={store['jacket'].id}", headers={"HX-Request": "true"})
    assert response.status_code == 401


@pytest.mark.parametrize("query", ["", "variant=abc", "variant=0", "variant=99999999999", "variant=1&" * 5, "desk=x"])
def test_a_stream_asking_for_nothing_sensible_is_refused(client, store, query):
    client.login(store["clerk"].email)
    assert open_stream(client, query).status_code == 400


def test_signing_out_ends_the_stream_at_once(app, client, store):
    postgres_only(app)
    app.config["OMNISTORE_LIVE_STREAM_CHECK_SECONDS"] = 60  # the sign-out's notice, not the periodic check
    client.login(store["clerk"].email)
    other = type(client)(app.test_client())
    other.login(store["clerk"].email)  # the same clerk on a second tablet
    response = open_stream(client, f"variant={store['jacket'].id}")
    stream = Stream(response)
    stream.until("ready")
    kept = open_stream(other, f"variant={store['jacket'].id}")
    kept_stream = Stream(kept)
    kept_stream.until("ready")
    started = time.monotonic()
    client.submit("/logout")
    assert stream.until("end", timeout=3) == ("end", "signed-out")
    assert time.monotonic() - started < 5
    assert stream.next() == ("closed", "")
    receive(store["jacket"], store["ham"])
    assert kept_stream.until("change")[0] == "change"  # the other tablet's session still listens
    kept_stream.close()


def test_disabling_the_staff_member_ends_their_streams(app, client, store):
    postgres_only(app)
    from omnistore.stores.staff import disable_staff

    app.config["OMNISTORE_LIVE_STREAM_CHECK_SECONDS"] = 60
    client.login(store["clerk"].email)
    stream = Stream(open_stream(client, "desk=1"))
    stream.until("ready")
    disable_staff(store["clerk"].email)
    assert stream.until("end", timeout=3) == ("end", "signed-out")


def test_an_idle_session_ends_the_stream_at_its_next_check(app, client, store, make):
    postgres_only(app)
    client.login(store["clerk"].email)
    stream = Stream(open_stream(client, f"variant={store['jacket'].id}"))
    stream.until("ready")
    make.age_sessions(minutes=31)  # past the idle timeout: holding a stream open is not activity
    assert stream.until("end", timeout=3) == ("end", "signed-out")


def test_a_server_that_cannot_hold_streams_says_so_and_the_page_polls(app, client, store):
    client.login(store["clerk"].email)
    # gunicorn's sync workers: one request per process at a time
    response = client.get(
        f"/live/stream?variant={store['jacket'].id}",
        environ_overrides={"wsgi.multithread": False, "wsgi.multiprocess": True},
    )
    assert response.status_code == 204
    app.config["OMNISTORE_LIVE_PUSH"] = False
    assert open_stream(client, f"variant={store['jacket'].id}").status_code == 204


def test_pages_name_the_stream_and_their_live_topics(app, client, store):
    client.login(store["clerk"].email)
    page = client.get(f"/stock/products/{store['jacket'].product_id}?variant={store['jacket'].id}").get_data(
        as_text=True
    )
    assert 'data-live-stream-url="/live/stream"' in page
    assert f'data-live-topic="variant:{store["jacket"].id}"' in page
    desk = client.get("/pickups/").get_data(as_text=True)
    assert f'data-live-topic="desk:{store["ham"].id}"' in desk and 'data-live-stream="desk=1"' in desk
    app.config["OMNISTORE_LIVE_PUSH"] = False
    assert "data-live-stream-url" not in client.get("/pickups/").get_data(as_text=True)


def test_a_lost_listen_connection_is_made_again_and_the_open_panels_catch_up(app, client, store):
    postgres_only(app)
    import sqlalchemy as sa

    from omnistore.core import live
    from omnistore.core.extensions import db

    client.login(store["clerk"].email)
    stream = Stream(open_stream(client, f"variant={store['jacket'].id}"))
    stream.until("ready")
    hub = live.hub(app)
    db.session.execute(
        sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN omnistore_live%'"
        )
    )
    db.session.commit()
    # nothing changed, but nobody listened for a moment: the panel is told to look again
    assert stream.until("change", timeout=3.5) == ("change", f"variant:{store['jacket'].id}")
    assert hub.connected.wait(1)
    stream.close()


def test_a_change_flushed_only_by_the_commit_is_heard_too(app, client, store, make):
    postgres_only(app)
    from omnistore.core.extensions import db
    from omnistore.core.types import utcnow
    from omnistore.orders.models import Order

    order = make.order(store["ham"], lines=[(store["jacket"], 1, store["ham"])])
    make.pickup(order)
    client.login(store["clerk"].email)
    stream = Stream(open_stream(client, "desk=1"))
    stream.until("ready")
    with transaction():  # the customer taps "I'm here": the pickup row changes, flushed at commit
        db.session.get(Order, order.id).pickup.checked_in_at = utcnow()
    assert stream.until("change") == ("change", f"desk:{store['ham'].id}")
    stream.close()


def test_an_opening_stream_says_change_only_when_the_page_may_have_missed_something(app, client, store):
    postgres_only(app)
    app.config["OMNISTORE_LIVE_STREAM_SECONDS"] = 2  # five streams, each ending by itself
    client.login(store["clerk"].email)
    jacket = f"variant={store['jacket'].id}"
    rendered = heard_everything(app)  # a product page rendered now …
    receive(store["jacket"], store["cph"])  # … then the stock changes before its stream opens
    heard_everything(app)
    missed = Stream(open_stream(client, jacket, since=rendered))
    assert missed.next() == ("change", f"variant:{store['jacket'].id}")  # fetch: the page is behind …
    assert missed.next() == ("ready", f"variant:{store['jacket'].id}")  # … asked before the page sees it open
    missed.close()

    fresh = Stream(open_stream(client, jacket))  # rendered after the change: nothing to fetch
    assert fresh.next()[0] == "ready"
    with pytest.raises(queue.Empty):
        fresh.until("change", timeout=1)
    fresh.close()

    for since in ("", "&since=1", "&since=not-a-time"):  # no time, or older than the hub remembers: fetch
        response = client.get(f"/live/stream?{jacket}{since}", buffered=False, environ_overrides=THREADED)
        unsure = Stream(response)
        assert unsure.next() == ("change", f"variant:{store['jacket'].id}")
        assert unsure.next()[0] == "ready"
        unsure.close()


def test_the_hub_is_sure_only_of_what_it_heard_while_it_listened():
    from omnistore.core import live

    hub = live.Hub("postgresql://nowhere")
    now = time.time()
    assert not hub.caught_up(["variant:1"], now)  # it never listened
    hub.heard_from = now - 10  # listening for 10 s
    assert hub.caught_up(["variant:1"], now) and hub.caught_up(["variant:1"], now - 10)
    assert not hub.caught_up(["variant:1"], now - 11)  # a page older than the listening
    hub.deliver("variant:1 desk:2")
    assert not hub.caught_up(["variant:1"], now) and not hub.caught_up(["desk:2", "variant:3"], now)
    assert hub.caught_up(["variant:3"], now) and hub.caught_up(["variant:1"], time.time() + 1)
    hub.heard["variant:4"] = now - live.HEARD_SECONDS - 60  # long ago: forgotten at the next notice
    hub.forget_at = 0
    hub.deliver("variant:5")
    assert "variant:4" not in hub.heard
    assert not hub.caught_up(["variant:4"], now - live.HEARD_SECONDS - 30)  # that far back it no longer knows


def test_an_orders_history_names_its_desk_whether_or_not_the_session_holds_the_order(app, store, make, monkeypatch):
    """The order a verb acts on says its pickup store itself; only an order the session does not hold is read."""
    postgres_only(app)
    order_id = make.order(store["ham"], lines=[(store["jacket"], 1, store["ham"])]).id
    noted = []
    monkeypatch.setattr(live, "note", lambda _session, *topics: noted.extend(topics))
    db.session.expunge_all()
    with count_statements("SELECT orders.pickup_location_id") as read:
        with transaction():
            db.session.add(OrderEvent(order_id=order_id, kind="note", detail={}))  # the order not held: read
        with transaction() as session:
            order = session.get(Order, order_id)
            record_event(order, "note")  # held: not read again
    assert noted == [f"desk:{store['ham'].id}"] * 2
    assert len(read) == 1


def test_a_transaction_sends_its_live_topics_and_the_outbox_wake_in_one_statement_at_commit(app, client, store):
    """Each round trip to the database waits its turn on a busy server: the notices of one commit go together,
    the panel hears its variant, the outbox's workers are woken, and a rollback sends neither."""
    postgres_only(app)
    import psycopg
    from sqlalchemy.engine import make_url

    from omnistore.core import outbox

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    worker = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    try:
        worker.execute(f"LISTEN {outbox.WAKE_CHANNEL}")
        client.login(store["clerk"].email)
        stream = Stream(open_stream(client, f"variant={store['jacket'].id}"))
        stream.until("ready")

        def change_and_queue():
            ledger.receive(ledger.StockChange(store["jacket"].id, store["ham"].id, 1, reason="delivery"), None)
            outbox.enqueue_email("test", to="a@example.test", subject="Hello", text="Hello")

        with pytest.raises(RuntimeError), transaction():
            change_and_queue()
            raise RuntimeError("rolled back")
        assert not list(worker.notifies(timeout=0.5, stop_after=1))

        with count_statements() as seen, transaction():
            change_and_queue()
        notices = [statement for statement in seen if "pg_notify" in statement]
        assert len(notices) == 1, notices
        assert len(list(worker.notifies(timeout=5, stop_after=1))) == 1
        assert stream.until("change") == ("change", f"variant:{store['jacket'].id}")
        stream.close()
    finally:
        worker.close()


def test_an_open_streams_session_check_agrees_with_the_sign_in_check_and_reads_two_columns(app, store):
    """The stream checks its session again every few seconds (Checks.holds): the same open session as every
    request's load, read as its two times, with no staff member, store and market made each time."""
    from omnistore.stores import login
    from omnistore.stores import sessions as staff_sessions
    from omnistore.stores.models import Staff
    from omnistore.stores.staff import disable_staff

    clerk = store["clerk"]
    limits = login.limits()
    key, other = staff_sessions.start(clerk, limits), staff_sessions.start(clerk, limits)
    generation = clerk.session_generation

    def both(staff_id=clerk.id, generation=generation, key=key):
        db.session.expunge_all()
        with count_statements("SELECT") as seen:
            times = staff_sessions.times(staff_id, generation, key)
        assert len(seen) == (1 if key else 0)
        assert not any(isinstance(obj, Staff) for obj in db.session.identity_map.values())
        return staff_sessions.load(staff_id, generation, key), times

    loaded, times = both()
    assert times == (loaded[1].started_at, loaded[1].last_seen_at)
    assert both(key="not-the-key") == (None, None)
    assert both(key="") == (None, None)
    assert both(generation=generation + 1) == (None, None)
    assert both(staff_id=store["cph_clerk"].id) == (None, None)
    staff_sessions.end(key)
    assert both() == (None, None)
    assert both(key=other)[1] is not None  # the other tablet's session holds
    disable_staff(clerk.email)
    assert both(key=other) == (None, None)
