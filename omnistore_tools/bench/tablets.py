"""The store day's load generator: N simulated tablets and the ERP's stock feed, as locust users.

`flask bench-capacity` (capacity.py) runs this in a process of its own, because locust's gevent patches the
standard library and the app's process must not be patched:

    python -m omnistore_tools.bench.tablets PLAN.json RESULT.json

The plan (written by capacity.py from the seeded network) names the server, the stores with their clerk, the
sample of variants, search words and customers, the API token of the ERP, the think times and how long to run.
It imports nothing of the app: it is a client, like a tablet's browser.

A tablet is one locust user signed in as its store's clerk (its own address, as behind the proxy the README
recommends). The first tablet of each store stands at the pickup desk: the desk page is open and its queue
polls, as htmx does in the browser; it picks, readies and hands over the orders the store's other tablets place
for collection here. The others are on the shop floor: between actions (searches, scans, product pages, a tap
on a size for the network panel, a customer search and profile, a counter order) the clerk thinks, and while a
product page or a panel is open, the panel polls with its fingerprint (204 while nothing changed).

Push mode (plan "mode": "push", the server with OMNISTORE_LIVE_PUSH on): instead of polling, a tablet with an
open panel or desk holds the page's live stream (/live/stream, server-sent events, read from a plain socket in a
greenlet of its own, as an EventSource would: opened again 3 s after it drops, given up after a 204) and fetches
the component, with its fingerprint like a poll ("push: …"), when the stream says it changed (which it does as it
opens if the page may have missed something since it was rendered) and every push-refresh seconds; while the
stream is down it polls, as live.js does.

The desk's freshness: a counter order placed for collection at a store whose desk has its queue open is owed to
that desk, from the moment the placing request was sent until a fetch of the queue shows its number.

The ERP is one more user: it sets stock levels through the API (PUT /api/v1/stock) at a steady rate, one of
every batch a variant that some tablet has open. Each open panel of that variant owes the change: the time from
the moment the ERP sent it to the first poll, sent after it, that answered with a new panel, is the panel's
freshness. A panel closed before it saw the change does not count; one that has not seen it at the end counts
as missed when the change is older than the freshness limit.
"""

from __future__ import annotations

import html
import json
import random
import re
import socket
import sys
import time
from collections import Counter, defaultdict, deque
from urllib.parse import quote_plus, urlencode, urlsplit

import gevent
from gevent.event import Event
from gevent.lock import BoundedSemaphore
from locust import FastHttpUser, constant, task
from locust.env import Environment
from requests.cookies import create_cookie

POLL = "poll"  # name prefix of the live components' polls (not actions)
PUSH = "push"  # name prefix of a live component's fetch after its stream said it changed (not an action)
STREAM = "stream"  # name prefix of opening a live stream (not an action)
SIGN_IN = "sign-in"  # name prefix of the sign-in's requests (once a shift, before the measuring)
_CSRF_META = re.compile(r'"X-CSRFToken":\s*"([^"]+)"')
_CSRF_INPUT = re.compile(
    r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*name="csrf_token"'
)
_PANEL = re.compile(r'id="network-panel"[^>]*?hx-get="([^"]+)"')
_QUEUE = re.compile(r'id="pickup-queue"[^>]*?hx-get="([^"]+)"')
_PANEL_STREAM = re.compile(r'id="network-panel"[^>]*?data-live-stream="([^"]+)"')
_QUEUE_STREAM = re.compile(r'id="pickup-queue"[^>]*?data-live-stream="([^"]+)"')
_PANEL_SINCE = re.compile(r'id="network-panel"[^>]*?data-live-since="(\d+)"')
_QUEUE_SINCE = re.compile(r'id="pickup-queue"[^>]*?data-live-since="(\d+)"')
_STREAM_URL = re.compile(r'data-live-stream-url="([^"]+)"')
_IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]*)"')
_LINE = re.compile(r'name="line" value="(\d+)"')
_SERVER_TIMING = re.compile(r"(?:^|,)\s*app;dur=([0-9.]+)")

PLAN: dict = {}


class Day:
    """What the tablets of one run share and what they measured (one process, gevent: no locks needed)."""

    def __init__(self):
        self.samples = defaultdict(lambda: {"client": [], "server": [], "statuses": Counter(), "errors": Counter()})
        self.open_panels = defaultdict(set)  # variant id → tablets showing its panel
        self.freshness = []  # seconds from the ERP's change to a panel showing it
        self.closed_before_seen = 0
        self.missed = 0
        self.changes = 0
        self.to_hand_over = defaultdict(deque)  # store code → order numbers placed for collection there
        self.signed_in = 0
        self.resumed = 0  # tablets whose session from an earlier run still held
        self.tried = set()  # tablets that tried to sign in at least once
        self.sign_in_failures = Counter()
        self.sessions = {}  # tablet index → its cookies, for the next run
        self.gate = None  # sign-ins at a time (password hashing is meant to be slow)
        self.placed = 0
        self.handed_over = 0
        self.desks = {}  # store code → its desk tablet
        self.desk_freshness = []  # seconds from a counter order placed for collection to its desk showing it
        self.desk_closed_before_seen = 0
        self.desk_missed = 0
        self.desk_changes = 0
        self.streams_open = 0  # streams open now (push mode)
        self.stream_drops = Counter()  # why streams ended other than by the tablet

    def sample(self, name, client_ms, status, error=None):
        """A request made outside locust's client (the streams): counted like the others."""
        figures = self.samples[name]
        figures["statuses"][status] += 1
        if error is not None:
            figures["errors"][error] += 1
        else:
            figures["client"].append(client_ms)

    def record(self, request_type, name, response_time, response, exception, **_):
        figures = self.samples[name]
        status = getattr(response, "status_code", 0) or 0
        figures["statuses"][status] += 1
        if exception is not None:
            figures["errors"][f"{type(exception).__name__}: {str(exception)[:120]}"] += 1
            return
        figures["client"].append(response_time)
        server = _SERVER_TIMING.search((response.headers or {}).get("Server-Timing", "") or "")
        if server:
            figures["server"].append(float(server.group(1)))


DAY = Day()


def _unescape(url):
    return html.unescape(url)


class Tablet(FastHttpUser):
    """One tablet, signed in as its store's clerk: the desk tablet or one on the shop floor."""

    wait_time = constant(0)  # the clerk's think time is spent in `think`, where the open page polls
    network_timeout = 30.0
    connection_timeout = 30.0
    number = 0

    def on_start(self):
        Tablet.number += 1
        self.index = Tablet.number - 1
        self.store = PLAN["stores"][PLAN["store_of"][self.index]]
        self.at_desk = PLAN["desk"][self.index]
        self.rng = random.Random(f"{PLAN['seed']}:{self.index}")
        # Its own address behind the proxy (the sign-in is throttled per address and per address and account).
        self.address = PLAN["addresses"][self.index]
        self.headers = {"X-Forwarded-For": self.address, "X-Forwarded-Proto": "http", "User-Agent": PLAN["user_agent"]}
        self.refresh = PLAN["refresh_seconds"]
        self.live = None  # (kind, url) of the open page's live component
        self.live_variant = None
        self.pending = []  # send times of the ERP's changes to the open panel's variant it has not shown yet
        self.next_poll = 0.0
        self.csrf = None
        # push mode: the open component's stream (a greenlet reading server-sent events) and its notices
        self.push = PLAN.get("mode") == "push"
        self.stream = None  # (greenlet, socket) of the open stream
        self.stream_query = None
        self.stream_url = None
        self.stream_open = False  # the stream said "ready" and has not dropped since
        self.notice = Event()  # the stream said the component changed (or opened: catch up)
        self.last_fetch = 0.0
        self.desk_pending = []  # (order number, sent at) placed for collection here, not shown on this desk yet
        self.desk_shown = (0.0, "")  # when the open queue last arrived, and its page (an order may be on it already)
        gevent.sleep(self.rng.uniform(0, PLAN["spawn_seconds"]))  # tablets come on over the spawn time
        if not self.resume():
            self.sign_in()
        DAY.tried.add(self.index)
        if self.at_desk:
            DAY.desks[self.store["code"]] = self
            self.open_desk()

    # -- requests --------------------------------------------------------------------------------------

    def get(self, url, name, htmx=False, **kwargs):
        headers = dict(self.headers)
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.get(url, name=name, headers=headers, **kwargs)

    def post(self, url, name, data, htmx=False, **kwargs):
        headers = dict(self.headers)
        headers["X-CSRFToken"] = self.csrf or ""
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, name=name, data=urlencode(data, doseq=True), headers=headers, **kwargs)

    def keep_csrf(self, text):
        found = _CSRF_META.search(text or "")
        if found:
            self.csrf = found.group(1)
        found = _STREAM_URL.search(text or "")
        if found:
            self.stream_url = _unescape(found.group(1))

    def resume(self):
        """Take up the session made for this tablet (capacity.py) or kept from the previous N, if it holds."""
        cookies = PLAN.get("sessions", {}).get(str(self.index))
        if not cookies:
            return False
        for name, value, domain, path in cookies:
            self.client.cookiejar.set_cookie(create_cookie(name, value, domain=domain, path=path))
        response = self.get("/", "sign-in: resume", allow_redirects=False)
        if response.status_code != 200:
            self.client.cookiejar.clear()
            return False
        DAY.signed_in += 1
        DAY.resumed += 1
        self.keep_csrf(response.text)
        return True

    def sign_in(self):
        with DAY.gate:
            self._sign_in()

    def _sign_in(self):
        page = self.get("/login", "sign-in: page")
        text = page.text or ""
        found = _CSRF_INPUT.search(text)
        token = (found.group(1) or found.group(2)) if found else ""
        response = self.post(
            "/login",
            "sign-in: post",
            {"email": self.store["email"], "password": PLAN["password"], "csrf_token": token},
            allow_redirects=False,
        )
        if response.status_code != 303:
            DAY.sign_in_failures[response.status_code] += 1
            return
        DAY.signed_in += 1
        self.keep_csrf(self.get("/", "sign-in: home").text)

    # -- the live component of the open page -----------------------------------------------------------

    def open_live(self, kind, text, variant_id=None):
        self.close_live()
        found = (_PANEL if kind == "panel" else _QUEUE).search(text or "")
        if not found:
            return
        self.live = (kind, _unescape(found.group(1)))
        self.next_poll = time.time() + self.refresh
        self.last_fetch = time.time()
        if kind == "panel":
            self.live_variant = variant_id
            DAY.open_panels[variant_id].add(self)
        else:
            self.desk_shown = (time.time(), text or "")
        if self.push:
            stream = (_PANEL_STREAM if kind == "panel" else _QUEUE_STREAM).search(text or "")
            since = (_PANEL_SINCE if kind == "panel" else _QUEUE_SINCE).search(text or "")
            query = _unescape(stream.group(1)) if stream and self.stream_url else None
            self.listen(query, since.group(1) if since else None)

    def close_live(self):
        if self.live and self.live[0] == "panel":
            DAY.open_panels[self.live_variant].discard(self)
            DAY.closed_before_seen += len(self.pending)
        if self.live and self.live[0] == "queue":
            DAY.desk_closed_before_seen += len(self.desk_pending)
        self.live, self.live_variant, self.pending, self.desk_pending = None, None, [], []
        # the stream stays open until another component needs another one (as live.js does within a page)

    def changed(self, sent_at):
        """The ERP changed the open panel's variant (called by the ERP user)."""
        self.pending.append(sent_at)

    def placed_here(self, number, sent_at):
        """A floor tablet placed an order for collection at this desk's store (called by that tablet as soon as the
        placing answered): the desk owes it, unless the queue it fetched since the order was sent shows it."""
        if self.live and self.live[0] == "queue":
            DAY.desk_changes += 1
            shown_at, text = self.desk_shown
            if shown_at >= sent_at and f'data-order="{number}"' in text:
                DAY.desk_freshness.append(shown_at - sent_at)
            else:
                self.desk_pending.append((number, sent_at))

    def poll(self, why=POLL):
        kind, url = self.live
        sent = time.time()
        response = self.get(url, f"{why}: {'network panel' if kind == 'panel' else 'desk queue'}", htmx=True)
        self.next_poll = sent + self.refresh
        self.last_fetch = sent
        if response.status_code != 200:
            return
        seen = time.time()
        if kind == "panel":
            still = []
            for changed_at in self.pending:
                if changed_at <= sent:
                    DAY.freshness.append(seen - changed_at)
                else:
                    still.append(changed_at)
            self.pending = still
            found = _PANEL.search(response.text or "")
        else:
            text = response.text or ""
            self.desk_shown = (seen, text)
            still = []
            for number, placed_at in self.desk_pending:
                if f'data-order="{number}"' in text:
                    DAY.desk_freshness.append(seen - placed_at)
                else:
                    still.append((number, placed_at))
            self.desk_pending = still
            found = _QUEUE.search(text)
        if found and self.live is not None and self.live[0] == kind:
            self.live = (kind, _unescape(found.group(1)))

    def think(self, seconds):
        """The clerk looks, talks, walks; the open page keeps itself up to date as live.js does: it polls, or,
        while its stream is open, fetches when the stream says so (and every push-refresh seconds)."""
        end = time.time() + seconds
        while True:
            now = time.time()
            if self.live is None:
                gevent.sleep(max(0.0, end - now))
                return
            due = self.last_fetch + PLAN["push_refresh_seconds"] if self.stream_open else self.next_poll
            if self.push and self.notice.wait(timeout=max(0.0, min(due, end) - now)):
                self.notice.clear()
                if self.live is not None:
                    self.poll(PUSH)
                continue
            if not self.push:
                if due >= end:
                    gevent.sleep(max(0.0, end - now))
                    return
                gevent.sleep(max(0.0, due - now))
            if time.time() >= end:
                return
            if self.live is not None and time.time() >= due:
                if self.push and self.stream_open and time.time() < self.last_fetch + PLAN["push_refresh_seconds"]:
                    continue  # the stream opened while this poll was due: live.js skips it
                self.poll()

    # -- the stream (push mode): server-sent events, as static/js/live.js holds them -----------------------

    def listen(self, query, since=None):
        """Hold the stream for `query`, told when the page was rendered (`since`, its data-live-since): the server
        says "change" at once when the page may have missed something, as live.js asks it to."""
        if query == self.stream_query and self.stream is not None:
            return  # the same stream has listened all along: the new page misses nothing
        self.hang_up()
        self.stream_query = query
        if query:
            self.stream = [gevent.spawn(self._stream_loop, f"{query}&since={since}" if since else query), None]

    def hang_up(self):
        stream, self.stream, self.stream_query = self.stream, None, None
        self.stream_open = False
        if stream is not None:
            greenlet, sock = stream
            if sock is not None:
                sock.close()
            greenlet.kill(block=False)

    def _stream_loop(self, query):
        """Open the stream; when it drops, open it again after its retry time (as an EventSource does); a 204
        means no push on this server: the tablet polls."""
        me = self.stream
        while self.stream is me:
            status = self._read_stream(me, query)
            self.stream_open = False
            if status == 204 or self.stream is not me:
                return
            gevent.sleep(3.0)

    def _read_stream(self, me, query):
        target = urlsplit(PLAN["host"])
        started = time.time()
        name = f"{STREAM}: open"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.client.cookiejar)
        request = (
            f"GET {self.stream_url}?{query} HTTP/1.0\r\nHost: {target.netloc}\r\nAccept: text/event-stream\r\n"
            f"Cookie: {cookies}\r\nX-Forwarded-For: {self.address}\r\nX-Forwarded-Proto: http\r\n"
            f"User-Agent: {PLAN['user_agent']}\r\n\r\n"
        )
        try:
            sock = socket.create_connection((target.hostname, target.port), timeout=None)
        except OSError as error:
            DAY.sample(name, 0, 0, f"{type(error).__name__}: {error}"[:120])
            return 0
        me[1] = sock
        status = 0
        opened = False
        try:
            sock.sendall(request.encode())
            reader = sock.makefile("rb")
            line = reader.readline().decode("latin-1")
            status = int(line.split()[1]) if line.startswith("HTTP/") else 0
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            DAY.sample(name, 1000 * (time.time() - started), status)
            if status != 200:
                return status
            DAY.streams_open += 1
            opened = True
            event = None
            for raw in reader:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line == "" and event is not None:
                    if event == "ready":
                        self.stream_open = True  # a "change" came just before if the page may have missed something
                    elif event == "change":
                        self.notice.set()
                    elif event == "end":
                        DAY.stream_drops["signed out"] += 1
                        return status
                    event = None
            DAY.stream_drops["ended by the server"] += 1
        except OSError as error:
            if self.stream is me:
                DAY.stream_drops[type(error).__name__] += 1
        finally:
            if opened:
                DAY.streams_open -= 1
            sock.close()
        return status

    # -- the day -----------------------------------------------------------------------------------

    def on_stop(self):
        self.close_live()
        self.hang_up()
        if self.csrf is not None:
            DAY.sessions[str(self.index)] = [[c.name, c.value, c.domain, c.path] for c in self.client.cookiejar]

    @task
    def day(self):
        if self.csrf is None:  # the sign-in failed: try again later
            gevent.sleep(5)
            self.sign_in()
            return
        if self.at_desk:
            self.desk_turn()
        else:
            self.rng.choices(FLOOR_ACTIONS, weights=FLOOR_WEIGHTS)[0](self)
        low, high = PLAN["think_seconds"]
        self.think(self.rng.uniform(low, high))

    # floor actions
    def search(self):
        self.close_live()
        self.get("/stock/?q=" + _quote(self.rng.choice(PLAN["queries"])), "search", htmx=True)

    def scan(self):
        variant = self.rng.choice(PLAN["variants"])
        response = self.get(f"/stock/scan?code={variant['ean']}", "scan → product page")
        self.keep_csrf(response.text)
        self.open_live("panel", response.text, variant["id"])

    def product(self):
        variant = self.rng.choice(PLAN["variants"])
        response = self.get(f"/stock/products/{variant['product_id']}?variant={variant['id']}", "product page")
        self.keep_csrf(response.text)
        self.open_live("panel", response.text, variant["id"])

    def panel(self):
        variant = self.rng.choice(PLAN["variants"])
        response = self.get(f"/stock/variants/{variant['id']}/panel", "network panel (tap a size)", htmx=True)
        self.open_live("panel", response.text, variant["id"])

    def customer(self):
        self.close_live()
        self.get("/customers/?q=" + _quote(self.rng.choice(PLAN["customer_queries"])), "customer search", htmx=True)
        customer_id = self.rng.choice(PLAN["customers"])
        self.keep_csrf(self.get(f"/customers/{customer_id}", "customer profile").text)
        self.get(f"/customers/{customer_id}/recommendations", "customer recommendations", htmx=True)

    def counter_order(self):
        """A counter order for collection here: started from a product and a customer, paid at pickup."""
        self.close_live()
        variant = self.rng.choice(self.store["variants"] or PLAN["variants"])
        customer_id = self.rng.choice(PLAN["customers"])
        started = self.get(
            f"/orders/new?customer_id={customer_id}&variant_id={variant['id']}", "order: start", allow_redirects=False
        )
        draft_url = _path(started.headers.get("Location"))
        if started.status_code != 303 or not draft_url:
            return
        self.keep_csrf(self.get(draft_url, "order: draft page").text)
        chosen = self.post(
            f"{draft_url}/fulfilment",
            "order: collect here",
            {"choice": "here", "payment_state": "pay_at_pickup"},
            htmx=True,
        )
        found = _IDEMPOTENCY.search(chosen.text or "")
        sent = time.time()
        placed = self.post(
            f"{draft_url}/place",
            "order: place",
            {"idempotency_key": found.group(1) if found else "", "csrf_token": self.csrf or ""},
            allow_redirects=False,
        )
        order_url = _path(placed.headers.get("Location"))
        if placed.status_code == 303 and order_url:
            DAY.placed += 1
            number = order_url.rstrip("/").rsplit("/", 1)[-1]
            desk = DAY.desks.get(self.store["code"])
            if desk is not None:  # before the next request: the desk may fetch its queue meanwhile
                desk.placed_here(number, sent)
            self.keep_csrf(self.get(order_url, "order: placed page").text)
            DAY.to_hand_over[self.store["code"]].append(number)

    # the desk
    def open_desk(self):
        response = self.get("/pickups/", "desk page")
        self.keep_csrf(response.text)
        self.open_live("queue", response.text)

    def desk_turn(self):
        """Prepare and hand over the next order placed for collection here, if there is one."""
        waiting = DAY.to_hand_over[self.store["code"]]
        if not waiting:
            if self.live is None:
                self.open_desk()
            return
        number = waiting.popleft()
        self.close_live()
        page = self.get(f"/pickups/orders/{number}", "desk: order")
        self.keep_csrf(page.text)
        lines = _LINE.findall(page.text or "")
        if lines:
            self.post(f"/pickups/orders/{number}/picked", "desk: picked", {"line": lines}, htmx=True)
        self.post(f"/pickups/orders/{number}/ready", "desk: ready", {"shelf_location": "A1"})
        self.get(f"/pickups/orders/{number}/handover", "desk: handover page")
        response = self.post(
            f"/pickups/orders/{number}/handover",
            "desk: hand over",
            {"verification": "code_name", "payment_collected": "1"},
        )
        if response.status_code == 200:
            DAY.handed_over += 1
        self.keep_csrf(response.text)
        self.open_live("queue", response.text)


FLOOR_ACTIONS_WEIGHTED = [
    (Tablet.search, 3),
    (Tablet.scan, 2),
    (Tablet.product, 2),
    (Tablet.panel, 3),
    (Tablet.customer, 1),
    (Tablet.counter_order, 0.5),
]
FLOOR_ACTIONS = [action for action, _ in FLOOR_ACTIONS_WEIGHTED]
FLOOR_WEIGHTS = [weight for _, weight in FLOOR_ACTIONS_WEIGHTED]


def _path(location):
    """The path of a redirect's Location (absolute or relative), without its query."""
    if not location:
        return None
    if "://" in location:
        location = "/" + location.split("://", 1)[1].split("/", 1)[-1]
    return location.split("?", 1)[0]


def _quote(text):
    return quote_plus(text)


class Erp(FastHttpUser):
    """The ERP's stock feed: a batch of stock levels set through the API every `feed_seconds`; one row of each
    batch is a variant some tablet has open (when any has), whose panels then owe the change; the others are
    variants of the whole catalogue (a tablet has one of them open now and then, as in a store)."""

    wait_time = constant(0)
    fixed_count = 1
    weight = 0
    network_timeout = 30.0
    connection_timeout = 30.0

    def on_start(self):
        self.rng = random.Random(f"{PLAN['seed']}:erp")
        self.batch = 0

    @task
    def feed(self):
        feed = PLAN["feed"]
        gevent.sleep(feed["seconds"])
        # A level the row cannot have yet, so that every row is a change: setting a level to the value it has
        # changes nothing and bumps no version. Seed levels are small; this one comes from the clock (10 ms steps,
        # repeating every 2.5 hours, below the API's 1,000,000), so it differs from every batch before, of this run
        # and of earlier runs on the kept database.
        self.batch += 1
        level = 1000 + int(time.time() * 100) % 900_000
        rows, watched = [], None
        open_variants = [variant for variant, tablets in DAY.open_panels.items() if tablets]
        if open_variants:
            watched = self.rng.choice(open_variants)
            sku = PLAN["sku_of"][str(watched)]
            rows.append({"sku": sku, "location": self.rng.choice(feed["locations"]), "on_hand": level})
        while len(rows) < feed["rows"]:  # the rest from the whole catalogue, as an ERP's feed is
            sku = self.rng.choice(PLAN["catalogue_skus"])
            rows.append({"sku": sku, "location": self.rng.choice(feed["locations"]), "on_hand": level})
        sent = time.time()
        if watched is not None:
            for tablet in list(DAY.open_panels[watched]):
                tablet.changed(sent)
            DAY.changes += 1
        self.client.put(
            "/api/v1/stock",
            name="erp: stock feed",
            json={"stock": rows},
            headers={"Authorization": f"Bearer {PLAN['api_token']}"},
        )


def run(plan, out_path):
    PLAN.update(plan)
    DAY.gate = BoundedSemaphore(plan.get("sign_in_concurrency", 2))
    Tablet.host = Erp.host = plan["host"]
    user_classes = [Tablet] + ([Erp] if plan["feed"]["seconds"] else [])
    env = Environment(user_classes=user_classes, events=None)
    env.events.request.add_listener(DAY.record)
    runner = env.create_local_runner()
    tablets = plan["tablets"]
    runner.start(tablets + len(user_classes) - 1, spawn_rate=10_000)
    started = time.time()
    gevent.sleep(plan["spawn_seconds"])
    deadline = time.time() + plan.get("sign_in_timeout", 600)
    while len(DAY.tried) < tablets and time.time() < deadline:
        gevent.sleep(0.5)  # every tablet has signed in (or failed to): the morning's sign-in rush is over
    signed_in_after = time.time() - started
    gevent.sleep(plan["warmup_seconds"])
    # Measure from here: every tablet is signed in and at work. The sign-ins' figures are kept.
    for name in [name for name in DAY.samples if not name.startswith(SIGN_IN)]:
        del DAY.samples[name]
    DAY.freshness.clear()
    DAY.desk_freshness.clear()
    DAY.closed_before_seen = DAY.changes = DAY.placed = DAY.handed_over = 0
    DAY.desk_closed_before_seen = DAY.desk_changes = 0
    DAY.stream_drops.clear()
    streams_at_start = DAY.streams_open
    measured_from = time.time()
    print(json.dumps({"measuring": measured_from}), flush=True)
    gevent.sleep(plan["seconds"])
    measured_to = time.time()
    print(json.dumps({"measured": measured_to}), flush=True)
    limit = plan["freshness_limit"]
    for tablets_of in DAY.open_panels.values():
        for tablet in tablets_of:
            DAY.missed += sum(1 for changed in tablet.pending if measured_to - changed > limit)
    for desk in DAY.desks.values():
        DAY.desk_missed += sum(1 for _number, placed in desk.desk_pending if measured_to - placed > limit)
    samples = {
        name: {
            "client_ms": figures["client"],
            "server_ms": figures["server"],
            "statuses": {str(k): v for k, v in figures["statuses"].items()},
            "errors": dict(figures["errors"]),
        }
        for name, figures in DAY.samples.items()
    }
    result = {
        "measured_from": measured_from,
        "measured_to": measured_to,
        "started": started,
        "signed_in_seconds": signed_in_after,
        "signed_in": DAY.signed_in,
        "sign_in_failures": {str(k): v for k, v in DAY.sign_in_failures.items()},
        "samples": samples,
        "freshness_s": DAY.freshness,
        "closed_before_seen": DAY.closed_before_seen,
        "missed": DAY.missed,
        "changes": DAY.changes,
        "placed": DAY.placed,
        "handed_over": DAY.handed_over,
        "open_panels_at_end": sum(len(t) for t in DAY.open_panels.values()),
        "mode": plan.get("mode", "poll"),
        "desk_freshness_s": DAY.desk_freshness,
        "desk_closed_before_seen": DAY.desk_closed_before_seen,
        "desk_missed": DAY.desk_missed,
        "desk_changes": DAY.desk_changes,
        "streams": {
            "open_at_start": streams_at_start,
            "open_at_end": DAY.streams_open,
            "drops": dict(DAY.stream_drops),
        },
        "poll_prefix": POLL,
    }
    runner.quit()  # the tablets stop (and leave their cookies for the next run)
    result["sessions"] = DAY.sessions
    result["resumed"] = DAY.resumed
    with open(out_path, "w") as out:
        json.dump(result, out)
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    plan_path, out_path = argv
    with open(plan_path) as plan_file:
        plan = json.load(plan_file)
    run(plan, out_path)


if __name__ == "__main__":
    main()
