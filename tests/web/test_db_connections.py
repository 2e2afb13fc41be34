"""Pooled PostgreSQL connections: pinged when they sat unused a while, replaced when the ping fails."""
import time

import pytest
import sqlalchemy as sa

from omnistore.extensions import db
from omnistore.models import Location
from omnistore.services import db as db_service


def end_the_pooled_connection():
    """End the server process of the pool's (one idle) connection, as a restart would."""
    db.session.remove()
    with db.engine.connect() as connection:
        pid = connection.scalar(sa.text("SELECT pg_backend_pid()"))
    with sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool).connect() as admin:
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


def locations():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Location))


@pytest.fixture
def postgresql(app, make):
    if app.database_kind != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    make.location("HAM")


def test_a_connection_that_died_while_unused_is_replaced_without_an_error(postgresql, monkeypatch):
    monkeypatch.setattr(db_service, "PING_AFTER_IDLE_SECONDS", 0.05)
    pid = end_the_pooled_connection()
    time.sleep(0.1)
    assert locations() == 1  # pinged, found dead, replaced: no error
    assert db.session.scalar(sa.text("SELECT pg_backend_pid()")) != pid


def test_one_that_died_a_moment_after_its_last_use_fails_once_then_is_replaced(postgresql, monkeypatch):
    monkeypatch.setattr(db_service, "PING_AFTER_IDLE_SECONDS", 60)
    end_the_pooled_connection()
    with pytest.raises(sa.exc.OperationalError):
        locations()
    db.session.rollback()
    db.session.remove()
    assert locations() == 1
