"""Transactions owned by service functions.

On SQLite a write transaction starts with BEGIN IMMEDIATE: a deferred BEGIN that reads and then writes
fails with SQLITE_BUSY whatever the busy timeout, because its snapshot may be stale by then.

On PostgreSQL a request's reads outside transaction() run in autocommit: no BEGIN before them and no COMMIT
after, two round trips fewer per request (each waits its turn on a busy server), and nothing else changes,
since under READ COMMITTED every statement reads its own snapshot anyway. A write there would be committed
alone at once, so it is refused: every write belongs in a verb's transaction().

A request's reading transaction ends with COMMIT when nothing but SELECTs ran in it (`end_reading`), the same
effect as the session's ROLLBACK: after a real ROLLBACK psycopg forgets every prepared statement, so a
statement a page runs every time would be parsed and planned anew on every request.

Under gunicorn's gevent worker a request's work with PostgreSQL keeps the worker's loop while it waits for the
database, for up to HOLD_SECONDS after its transaction began (a verb's, or the request's reads). Otherwise each
of its round trips (a draft page makes some 17, placing a counter order some 35) waits behind whatever the
worker's other requests run meanwhile (a page's template: 5-20 ms of CPU), so the heaviest pages wait longest,
and a verb's row locks are held all that time. Its own waits are short, so the other requests wait about as
long as behind one more page: an ordinary request runs to its end, like a sync worker's, while the worker
still holds thousands of idle connections and open streams (whose session checks, outside a request, do not
hold the loop). A wait longer than a round trip (HOLD_ONE_WAIT_SECONDS:
a lock, perhaps one a verb of this same worker holds while it waits for the loop, or a long statement such as
a report's) gives the loop up for the rest of the transaction, so a slow request does not stop the worker and
no request waits with the loop held for a lock that only the loop can free.

A pooled PostgreSQL connection is pinged before use when it sat unused for more than PING_AFTER_IDLE_SECONDS
(and replaced if the ping fails), instead of before every use (SQLAlchemy's pool_pre_ping), which cost a
busy app a round trip per request. A connection used a moment ago was alive a moment ago: what breaks
connections (a restart, an idle timeout) mostly leaves them unused for longer than that. One that broke
within that second fails the one request that uses it next, and SQLAlchemy then drops the pool's
connections, so the next request gets a new one.
"""

import time
from contextlib import contextmanager
from contextvars import ContextVar

import psycopg
from flask import g, has_app_context
from psycopg import waiting
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from omnistore.core.extensions import db

_write_transaction = ContextVar("write_transaction", default=False)

# How long a transaction may keep its worker's loop while it waits for the database (see the docstring), and
# how long one of its waits may: a round trip takes a millisecond or so; a wait longer than that is a lock
# (perhaps one a greenlet of this very worker holds, which cannot go on while the loop is kept) or a long
# statement, and the rest of the transaction gives the loop up.
HOLD_SECONDS = 0.25
HOLD_ONE_WAIT_SECONDS = 0.02
# psycopg's C wait polls with the C library, which gevent leaves be; where it is missing, waits stay cooperative.
_wait_holding = getattr(waiting, "wait_c", None)
_WaitTimeout = getattr(psycopg.errors, "_WaitTimeout", None)  # its wait ran out, the generator can wait on


class Connection(psycopg.Connection):
    """psycopg's connection, whose waits keep the worker's loop until `hold_until` (time.monotonic()), each for
    up to HOLD_ONE_WAIT_SECONDS; after that, or once one wait took longer, they give it up as usual."""

    hold_until = 0.0

    def wait(self, gen, interval=0.1, timeout=None):
        left = self.hold_until - time.monotonic()
        if left <= 0 or timeout is not None or _wait_holding is None or _WaitTimeout is None:
            return super().wait(gen, interval, timeout)
        gen = _resumable(gen)
        try:
            return _wait_holding(gen, self.pgconn.socket, interval=interval, timeout=min(left, HOLD_ONE_WAIT_SECONDS))
        except _WaitTimeout:
            self.hold_until = 0.0
            return super().wait(gen, interval, timeout)


def _resumable(gen):
    """psycopg's generator `gen`, which a second wait function may take over: that one starts by asking for the
    state to wait on (sends None), which psycopg's C generators do not take; `gen` still waits on the last one."""
    try:
        state = next(gen)
    except StopIteration as done:  # nothing to wait for
        return done.value
    while True:
        ready = yield state
        if ready is not None:
            try:
                state = gen.send(ready)
            except StopIteration as done:
                return done.value


@contextmanager
def transaction():
    """Run the block as one write transaction: commit on success, roll back on any error."""
    session = db.session()  # the request's Session behind the scoped_session proxy
    if _write_transaction.get():  # nested: the outer block owns the transaction
        yield session
        return
    if session.in_transaction():
        # A view may have read already (e.g. the logged-in staff member); close that read snapshot so the
        # write transaction below starts fresh (and, on SQLite, with the write lock).
        session.commit()
    marker = _write_transaction.set(True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_transaction.reset(marker)


_WROTE = "omnistore.wrote"  # connection.info: a statement other than a SELECT ran in this transaction
_READING = "omnistore.reading"  # connection.info: a request's reads outside transaction(), run in autocommit
_REQUEST_READS = "omnistore_request_reads"  # flask.g: the request being served reads in autocommit
_RETURNED = "omnistore.returned"  # connection record info: time.monotonic() when it went back to the pool
PING_AFTER_IDLE_SECONDS = 1.0


def read_in_autocommit():
    """The request being served reads in autocommit on PostgreSQL (see the module docstring): the first of its
    hooks calls this (web/__init__.py), so data made in a test's request context is not served this way."""
    g.setdefault(_REQUEST_READS, True)


def end_reading(error=None):
    """At the end of a request: COMMIT the session's transaction if it only read (no SELECT-less statement
    ran, no object waits to be flushed, no error); anything else is left to the session's usual ROLLBACK. Reads
    in autocommit end here (what runs after, e.g. a stream, begins as usual), unsaved changes discarded."""
    if has_app_context():
        g.pop(_REQUEST_READS, None)
    if error is not None or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction():
        return
    pending = bool(session.new or session.dirty or session.deleted)
    try:
        connection = session.connection()
        if connection.invalidated or connection.info.get(_WROTE) or (pending and not connection.info.get(_READING)):
            return
    except SQLAlchemyError:  # a connection lost meanwhile: the session's own rollback deals with it
        return
    if pending:  # in autocommit: nothing reached the database, and neither ending sends anything
        session.rollback()
    else:
        session.commit()


def configure_engine(engine: Engine):
    """Every database: note writes (see end_reading). SQLite: WAL, a busy timeout, foreign keys, and our own
    BEGIN (IMMEDIATE inside transaction())."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(connection, _cursor, statement, *_args):
        if statement.lstrip()[:6].upper() not in ("SELECT", "BEGIN", "BEGIN "):  # BEGIN: ours on SQLite
            if connection.info.get(_READING):  # it would be committed at once, alone: a verb writes in transaction()
                raise RuntimeError(f"A write outside a transaction: {statement[:80]}")
            connection.info[_WROTE] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _forget_writes(connection):
        if not connection.invalidated:  # a lost connection's info is gone with it (and asking would reconnect)
            connection.info.pop(_WROTE, None)

    @event.listens_for(engine, "checkout")
    def _fresh_connection(dbapi_connection, record, _proxy):
        record.info.pop(_WROTE, None)
        returned = record.info.pop(_RETURNED, None)
        if engine.dialect.name == "sqlite" or returned is None:  # a file; or a connection made just now
            return
        if time.monotonic() - returned > PING_AFTER_IDLE_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as error:
                raise DisconnectionError(str(error)) from error  # the pool replaces it and checks out again

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record):
        record.info[_RETURNED] = time.monotonic()
        if isinstance(dbapi_connection, Connection):
            dbapi_connection.hold_until = 0.0

    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect, _record, cargs, cparams):
            return Connection.connect(*cargs, **cparams)

        @event.listens_for(engine, "begin")
        def _hold_the_loop(connection):
            dbapi_connection = connection.connection.dbapi_connection
            if isinstance(dbapi_connection, Connection):
                # A verb's transaction, or a request's reads; not what runs outside a request (an open stream's
                # session checks: thousands of streams, each a statement now and then, which gain nothing from it).
                holds = _write_transaction.get() or (has_app_context() and g.get(_REQUEST_READS))
                dbapi_connection.hold_until = time.monotonic() + HOLD_SECONDS if holds else 0.0

        @event.listens_for(engine, "begin")
        def _reads_in_autocommit(connection):
            # A request's reads outside transaction() need no BEGIN and COMMIT around them: under READ COMMITTED
            # each statement reads its own snapshot either way, and on a busy server each round trip waits its
            # turn. A write transaction begins as usual (_write_transaction is set).
            dbapi_connection = connection.connection.dbapi_connection
            if has_app_context() and g.get(_REQUEST_READS) and not _write_transaction.get():
                dbapi_connection.autocommit = True
                connection.info[_READING] = True
            elif connection.info.pop(_READING, False):
                dbapi_connection.autocommit = False

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_transaction.get() else "BEGIN")
