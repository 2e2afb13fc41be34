"""A transaction, a verb's or a request's reads, keeps gunicorn's gevent worker's loop while it waits for
PostgreSQL (core/db.py), so its round trips do not each queue behind the worker's other requests and a verb's
row locks are not held meanwhile; a transaction past core.db.HOLD_SECONDS, a wait longer than
HOLD_ONE_WAIT_SECONDS (a lock, a long statement) and reads outside a request (an open stream's session
checks) give the loop away.

gevent patches the whole process, so the worker is played by a process of its own: a greenlet ticks every
millisecond while the verb or the reads run, and the ticks between two statements tell whether it got the loop."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WORKER = r"""
import json, sys, time
from gevent import monkey

monkey.patch_all()
import gevent
import sqlalchemy as sa

from omnistore import create_app
from omnistore.core import db as core_db
from omnistore.core.db import transaction
from omnistore.core.extensions import db

ticks = []


def ticker():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.001)


def ticked(statements):
    start = time.monotonic()
    statements()
    return sum(start < tick < time.monotonic() for tick in ticks)


def sleeps(session, seconds, count):
    return lambda: [session.execute(sa.text("SELECT pg_sleep(:s)"), {"s": seconds}) for _ in range(count)]


app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    gevent.spawn(ticker)
    gevent.sleep(0.01)
    seen = {}
    with transaction() as session:
        session.execute(sa.text("SELECT 1"))  # begun: the pool's checkout and BEGIN are behind it
        seen["verb"] = ticked(sleeps(session, 0.002, 10))
    with app.test_request_context():  # a request's reads, in autocommit as a page's are
        core_db.read_in_autocommit()
        db.session.execute(sa.text("SELECT 1"))
        seen["autocommit"] = db.session.connection().connection.dbapi_connection.autocommit
        seen["reads"] = ticked(sleeps(db.session, 0.002, 10))
        seen["long read"] = ticked(sleeps(db.session, 0.05, 1))  # a report's long statement
        seen["reads after it"] = ticked(sleeps(db.session, 0.002, 10))
        core_db.end_reading()
    db.session.execute(sa.text("SELECT 1"))  # outside a request, as an open stream checks its session
    seen["reads outside a request"] = ticked(sleeps(db.session, 0.002, 10))
    db.session.commit()
    with transaction() as session:
        session.execute(sa.text("SELECT 1"))
        seen["long verb"] = ticked(sleeps(session, core_db.HOLD_SECONDS + 0.1, 1))
        seen["after the hold"] = ticked(sleeps(session, 0.002, 10))
    with transaction() as session:
        session.execute(sa.text("SELECT 1"))
        seen["next verb"] = ticked(sleeps(session, 0.002, 10))

    # A wait that outlasts one held wait is a lock, perhaps one a greenlet of this worker holds: it gives the loop
    # up at once. Here the verb that holds the lock pauses at a cooperative point and must get the loop back.
    def holder():
        with app.app_context(), transaction() as session:
            session.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
            gevent.sleep(0.2)
            finished.append("holder")

    def waiter():
        with app.app_context(), transaction() as session:
            session.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
            finished.append("waiter")

    finished, start = [], time.monotonic()
    gevent.joinall([gevent.spawn(holder), gevent.spawn_later(0.02, waiter)], timeout=10)
    during = [tick for tick in ticks if tick > start]
    seen["finished"] = finished
    seen["longest gap"] = max(later - earlier for earlier, later in zip(during, during[1:]))

    # A held wait may run out halfway through sending a statement: the rest is sent without the loop.
    core_db.HOLD_ONE_WAIT_SECONDS = 0.001
    with transaction() as session:
        seen["sent"] = session.scalar(sa.text("SELECT length(:text)"), {"text": "x" * 20_000_000})
print(json.dumps(seen))
"""


def test_a_transaction_keeps_the_gevent_workers_loop_while_it_waits_for_the_database(app, database_url):
    if app.database_kind != "postgresql":
        pytest.skip("the loop is kept for PostgreSQL's round trips")
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "OMNISTORE_AUTO_SETUP": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "OMNISTORE_DB_POOL_SIZE": 2,
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(config)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["verb"] == 0, seen  # ten round trips, and nothing else ran between them
    assert seen["autocommit"] is True and seen["reads"] == 0, seen  # a request's reads too
    assert seen["long read"] > 0 and seen["reads after it"] > 0, seen  # a wait past one round trip gives it away
    assert seen["reads outside a request"] > 0, seen  # a stream's session check has nothing to gain
    assert seen["long verb"] > 0 and seen["after the hold"] > 0, seen  # a verb past the hold gives it away too
    assert seen["next verb"] == 0, seen  # and the next verb has its own
    assert seen["finished"] == ["holder", "waiter"] and seen["longest gap"] < 0.1, seen
    assert seen["sent"] == 20_000_000, seen
