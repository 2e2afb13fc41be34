"""Live changes pushed to open screens: PostgreSQL NOTIFY on commit, one LISTEN per web process, fanned out.

A verb that changes what an open screen shows names the *topics* it touched (`note(session, "variant:12")`):
the stock ledger's variants (stock/summaries.py), a store's pickup desk (pickups/live.py), an ended session
(stores/sessions.py). Just before the transaction commits, the topics go out in `pg_notify(CHANNEL, …)` — in the
same transaction, so a rolled-back change pushes nothing, and a listener hears of a change only once it is
committed (a screen fetching after the notice sees it).

Each web process keeps one LISTEN connection (`hub()`, started by the first stream) and hands every notice to the
streams subscribed to its topics (a queue each); the stream (pickups/views/live.py) tells the tablet, which
fetches the changed panel or desk queue. A stream that opens tells the page to fetch only if it may have missed
something since the page was rendered (`Hub.caught_up`: the hub remembers when it last heard each topic), not
on every page a clerk opens. A stream holds no database connection while it waits. This needs a
server whose open connections do not each hold a worker: gunicorn's gevent worker (README, Production), or
`flask run`'s threads. Under sync workers `available()` is False and the tablets keep polling.

SQLite has no NOTIFY: there is no stream, the tablets poll.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import sys
import threading
import time

from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger("omnistore.live")

CHANNEL = "omnistore_live"
PAYLOAD_MAX = 7000  # NOTIFY payloads must stay below 8,000 bytes
RECONNECT_SECONDS = 2.0
HEARD_SECONDS = 120.0  # how long a hub remembers when it last heard each topic (for streams that open: caught_up)
CLOCK_MARGIN_SECONDS = 2.0  # the page may come from another machine: its clock may differ a little from the hub's
_PENDING = "omnistore.live.topics"  # session.info: the topics this transaction touched
_WAKE = "omnistore.live.wake"  # session.info: other channels this transaction wakes (core/outbox.py's)


# --- sending -----------------------------------------------------------------------------------------------


def note(session, *topics):
    """This transaction changed what screens showing `topics` show (sent when it commits, dropped on rollback)."""
    session.info.setdefault(_PENDING, set()).update(topics)


def _payloads(topics):
    """The topics as few NOTIFY payloads as fit ("variant:1 variant:2 desk:3"), each under PAYLOAD_MAX."""
    payload = ""
    for topic in sorted(topics):
        if payload and len(payload) + 1 + len(topic) > PAYLOAD_MAX:
            yield payload
            payload = ""
        payload = f"{payload} {topic}" if payload else topic
    if payload:
        yield payload


def wake(session, channel):
    """NOTIFY `channel` (no payload) when this transaction commits, in the same statement as its topics."""
    session.info.setdefault(_WAKE, set()).add(channel)


@event.listens_for(Session, "before_commit")
def _send(session):
    if session.get_bind().dialect.name == "postgresql" and (session.new or session.dirty or session.deleted):
        session.flush()  # commit's own flush comes after this hook: what it would note must be noted now
    topics, channels = session.info.pop(_PENDING, ()), session.info.pop(_WAKE, ())
    if not (topics or channels) or session.get_bind().dialect.name != "postgresql":
        return
    # One statement, so one round trip, however many notices: on a busy server each round trip waits its turn.
    notices = [func.pg_notify(CHANNEL, payload) for payload in _payloads(topics)]
    notices += [func.pg_notify(channel, "") for channel in sorted(channels)]
    session.execute(select(*notices))


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction):
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_WAKE, None)


# --- receiving ---------------------------------------------------------------------------------------------


def cooperative():
    """Whether this process serves open connections without a worker each: gevent's patched sockets (gunicorn's
    gevent worker) or a threaded server (`flask run`); not gunicorn's sync workers."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


class Subscription:
    """One open stream's topics and the notices for it, as a queue (a gevent queue when gevent patched it)."""

    def __init__(self, hub, topics):
        self.hub = hub
        self.topics = frozenset(topics)
        self.notices = queue.SimpleQueue()

    def get(self, timeout):
        """The topics changed since the last call (waiting up to `timeout` seconds for the first), or set()."""
        changed = set()
        try:
            changed.add(self.notices.get(timeout=max(0.0, timeout)))
            while True:
                changed.add(self.notices.get_nowait())
        except queue.Empty:
            pass
        return changed

    def close(self):
        self.hub.unsubscribe(self)


class Hub:
    """One LISTEN connection per process and the streams subscribed to its topics."""

    def __init__(self, url):
        self.url = url
        self.subscribers = {}  # topic → set of Subscription
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.thread = None
        self.stopping = threading.Event()
        self.heard = {}  # topic → when this hub last heard it (time.time())
        self.heard_from = math.inf  # since when `heard` is complete: the LISTEN's start or the last forgetting
        self.forget_at = 0.0

    def start(self):
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._listen, name="omnistore-live", daemon=True)
                self.thread.start()

    def subscribe(self, topics):
        subscription = Subscription(self, topics)
        with self.lock:
            for topic in subscription.topics:
                self.subscribers.setdefault(topic, set()).add(subscription)
        self.start()
        return subscription

    def unsubscribe(self, subscription):
        with self.lock:
            for topic in subscription.topics:
                subscribers = self.subscribers.get(topic)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self.subscribers[topic]

    def streams(self):
        with self.lock:
            return len({s for subscribers in self.subscribers.values() for s in subscribers})

    def deliver(self, payload):
        topics = payload.split()
        now = time.time()
        with self.lock:
            for topic in topics:
                self.heard[topic] = now
                for subscription in self.subscribers.get(topic, ()):
                    subscription.notices.put(topic)
            if now >= self.forget_at:
                cutoff = now - HEARD_SECONDS
                self.heard = {topic: at for topic, at in self.heard.items() if at >= cutoff}
                self.heard_from = max(self.heard_from, cutoff)
                self.forget_at = now + HEARD_SECONDS / 4

    def caught_up(self, topics, since):
        """Whether a page rendered at `since` (time.time() when its request began) has missed nothing of `topics`:
        this hub listened all along since then and heard none of them. A change committed after the page read
        its data is heard after `since`; until a stream subscribes, only this record tells of it. False when
        unsure (the hub came up later, lost its connection meanwhile, or forgot that far back): fetch."""
        since -= CLOCK_MARGIN_SECONDS
        with self.lock:
            return since >= self.heard_from and all(self.heard.get(topic, -math.inf) < since for topic in topics)

    def resync(self):
        """Every open stream hears that all its topics may have changed (nobody listened for a while)."""
        with self.lock:
            for topic, subscribers in self.subscribers.items():
                for subscription in subscribers:
                    if not topic.startswith(("session:", "staff:")):
                        subscription.notices.put(topic)

    def _listen(self):
        import psycopg

        lost = False
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    with self.lock:
                        self.heard_from = time.time()  # what was said before this LISTEN went unheard
                    self.connected.set()
                    if lost:  # changes committed while the connection was down were told to no one
                        self.resync()
                        lost = False
                    while not self.stopping.is_set():
                        for notice in connection.notifies(timeout=5.0):
                            self.deliver(notice.payload)
            except psycopg.Error as error:
                self.connected.clear()
                with self.lock:
                    self.heard_from = math.inf
                lost = True
                log.warning("live: lost the LISTEN connection (%s); again in %s s", error, RECONNECT_SECONDS)
                time.sleep(RECONNECT_SECONDS)
        self.connected.clear()

    def stop(self):
        self.stopping.set()


_hubs = {}
_hubs_lock = threading.Lock()


def hub(app):
    """The process's hub for `app`'s database (PostgreSQL only)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    key = url.render_as_string(hide_password=False)
    with _hubs_lock:
        found = _hubs.get(key)
        if found is None:
            found = _hubs[key] = Hub(key)
    return found


def available(app, environ):
    """Whether this server can hold a stream open: PostgreSQL, and gevent or a threaded server."""
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "postgresql":
        return False
    return cooperative() or bool(environ.get("wsgi.multithread")) and not environ.get("wsgi.multiprocess")


@contextlib.contextmanager
def subscribed(app, topics, wait=5.0):
    """Subscribe `topics` on this process's hub (started if it is not), waiting up to `wait` seconds for its
    LISTEN; unsubscribed on exit."""
    found = hub(app)
    subscription = found.subscribe(topics)
    try:
        found.connected.wait(wait)
        yield subscription
    finally:
        subscription.close()
