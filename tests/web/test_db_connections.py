"""Pooled PostgreSQL connections: pinged when they sat unused a while, replaced when the ping fails; a request's
reads in autocommit, its writes in transactions."""

import threading
import time

import pytest
import sqlalchemy as sa

from omnistore.core import db as db_service
from omnistore.core.extensions import db
from omnistore.stores.models import Location

pytestmark = pytest.mark.fresh_app  # ends the app's connections, adds routes


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


# --- a connection lost during a request ------------------------------------------------------------------


def end_the_apps_connections():
    """End the server process of every connection to the test database but this admin one (as a failover or
    `pg_terminate_backend` would), without telling the app's pool."""
    with sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool).connect() as admin:
        ended = admin.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    return ended


@pytest.fixture
def routes(app, postgresql, monkeypatch):
    """Test routes that lose their connection in the middle (once) or at the very end."""
    from flask import request

    monkeypatch.setattr(db_service, "PING_AFTER_IDLE_SECONDS", 60)  # no ping would find it first
    runs = []

    def middle():
        runs.append(request.method)
        before = locations()
        if len(runs) == 1:
            end_the_apps_connections()
        return f"{before} {locations()}"

    def at_the_end():
        count = locations()
        end_the_apps_connections()
        return str(count)

    app.add_url_rule("/test/lose-connection", "lose_connection", middle, methods=["GET", "POST"])
    app.add_url_rule("/test/lose-connection-at-the-end", "lose_at_end", at_the_end)
    app.config["WTF_CSRF_ENABLED"] = False
    return runs


def test_a_read_only_request_whose_connection_died_is_run_again_on_a_fresh_one(app, routes):
    client = app.test_client()
    response = client.get("/test/lose-connection")
    assert response.status_code == 200 and response.get_data(as_text=True) == "1 1"
    assert routes == ["GET", "GET"]


def test_a_request_between_which_the_connection_died_is_answered(app, client, routes, make):
    make.staff("clerk", db.session.scalar(sa.select(Location)), email="c@example.test")
    client.login("c@example.test")
    assert client.get("/orders/").status_code == 200
    assert end_the_apps_connections() >= 1
    assert client.get("/orders/").status_code == 200  # the pool's connection was dead: run again


@pytest.mark.parametrize("app_config", [{"OMNISTORE_SHOW_ERROR_PAGES": True}])
def test_a_request_that_may_write_is_not_run_again_but_answered_by_the_app(app, routes, app_config):
    response = app.test_client().post("/test/lose-connection")
    assert response.status_code == 500 and routes == ["POST"]
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers


def test_losing_the_connection_at_the_end_of_a_request_keeps_its_answer(app, routes):
    """Its own app context (another thread), so the request's teardown runs as under a WSGI server."""
    answers = []

    def request_in_its_own_context():
        try:
            answers.append(app.test_client().get("/test/lose-connection-at-the-end"))
        except Exception as error:  # noqa: BLE001 — the failure the test is about
            answers.append(error)

    thread = threading.Thread(target=request_in_its_own_context)
    thread.start()
    thread.join(timeout=60)
    [response] = answers
    assert not isinstance(response, Exception), repr(response)
    assert response.status_code == 200 and response.get_data(as_text=True) == "1"
    assert "Content-Security-Policy" in response.headers
    # Its reads ended with no COMMIT to send (autocommit), so the pool has not noticed yet that the connection
    # is gone: the next request would (and a read is run again), the test's clean-up should not have to.
    db.engine.dispose()


# --- a request's reads in autocommit ---------------------------------------------------------------------


def test_a_requests_reads_open_no_transaction_and_its_write_is_one(app, postgresql):
    """No BEGIN before a page's reads and no COMMIT after them (two round trips each request would wait for on
    a busy server); the write in transaction() is a real transaction, and reads after it are back to none."""
    from psycopg.pq import TransactionStatus

    from omnistore.core.db import transaction

    def status():
        return db.session.connection().connection.dbapi_connection.info.transaction_status.name

    def read_write_read():
        seen = [(locations(), status())]
        with transaction() as session:
            session.scalar(sa.select(Location)).name = "Hamburg Mitte"
            session.flush()
            seen.append((locations(), status()))
        seen.append((db.session.scalar(sa.select(Location.name)), status()))
        return {"seen": seen}

    app.add_url_rule("/test/read-write-read", "read_write_read", read_write_read)
    response = app.test_client().get("/test/read-write-read")
    idle, in_transaction = TransactionStatus.IDLE.name, TransactionStatus.INTRANS.name
    assert response.get_json()["seen"] == [[1, idle], [1, in_transaction], ["Hamburg Mitte", idle]]
