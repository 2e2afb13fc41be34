"""Transactions owned by service functions.

On SQLite a write transaction starts with BEGIN IMMEDIATE: a deferred BEGIN that reads and then writes
fails with SQLITE_BUSY whatever the busy timeout, because its snapshot may be stale by then.
"""
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..extensions import db

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


def configure_engine(engine: Engine):
    """SQLite: WAL, a busy timeout, foreign keys, and our own BEGIN (IMMEDIATE inside transaction())."""
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
