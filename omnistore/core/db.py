"""Transactions owned by service functions.

On SQLite a write transaction starts with BEGIN IMMEDIATE: a deferred BEGIN that reads and then writes
fails with SQLITE_BUSY whatever the busy timeout, because its snapshot may be stale by then.

A request's reading transaction (the one a view opens by reading) ends with COMMIT when nothing but SELECTs
ran in it (`end_reading`): the same effect as the ROLLBACK the session would send, but psycopg forgets every
prepared statement after a ROLLBACK, so a statement a page runs every time would be parsed and planned anew
on every request.

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

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from omnistore.core.extensions import db

_write_transaction = ContextVar("write_transaction", default=False)


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
_RETURNED = "omnistore.returned"  # connection record info: time.monotonic() when it went back to the pool
PING_AFTER_IDLE_SECONDS = 1.0


def end_reading(error=None):
    """At the end of a request: COMMIT the session's transaction if it only read (no SELECT-less statement
    ran, no object waits to be flushed, no error); anything else is left to the session's usual ROLLBACK."""
    if error is not None or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    try:
        connection = session.connection()
        if connection.invalidated or connection.info.get(_WROTE):
            return
    except SQLAlchemyError:  # a connection lost meanwhile: the session's own rollback deals with it
        return
    session.commit()


def configure_engine(engine: Engine):
    """Every database: note writes (see end_reading). SQLite: WAL, a busy timeout, foreign keys, and our own
    BEGIN (IMMEDIATE inside transaction())."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(connection, _cursor, statement, *_args):
        if statement.lstrip()[:6].upper() not in ("SELECT", "BEGIN", "BEGIN "):  # BEGIN: ours on SQLite
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
    def _returned(_dbapi_connection, record):
        record.info[_RETURNED] = time.monotonic()

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
