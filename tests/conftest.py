"""Shared fixtures: an app on each database, a fresh schema per test run, clients, factories.

The suite runs in parallel (pytest-xdist, `-n` in pyproject.toml; `pytest -n 0` runs it in one process, for
debugging): every session-scoped resource below is per worker process.

Every test that uses `app` runs once on SQLite and once on PostgreSQL. PostgreSQL is the machine's
server (OMNISTORE_TEST_POSTGRES_URL); without one the PostgreSQL runs skip with the reason, except
in CI (CI=true), where they fail.
"""

import os
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import g, request_started

from omnistore import create_app
from omnistore.core.extensions import db, limiter

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("OMNISTORE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASES = [d for d in os.environ.get("OMNISTORE_TEST_DATABASES", "sqlite,postgresql").split(",") if d]
# The suite runs in parallel processes (pytest-xdist: gw0, gw1, …; "main" without it, `pytest -n 0`): each has
# its own databases, live servers and browser, so the processes never share a row, a port or a file.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
PASSWORD = "correct-horse-battery"


CRAWLS = []  # (summary, pages) of the e2e crawler's runs, from the reports of the tests that made them


FUZZ_CASES = {}  # mode → cases the API fuzzer (tests/web/test_api_fuzz.py) ran, over all its tests


def pytest_runtest_logreport(report):
    """Runs in the main process (with pytest-xdist, the tests' reports come back to it from the workers)."""
    CRAWLS.extend(value for name, value in report.user_properties if name == "crawler")
    if report.when == "teardown":
        for name, counts in report.user_properties:
            if name == "api_fuzz_cases":
                for mode, count in counts.items():
                    FUZZ_CASES[mode] = FUZZ_CASES.get(mode, 0) + count


def pytest_terminal_summary(terminalreporter):
    """How many cases the API fuzzer ran; the crawler's report, per role: what it visited, tapped and checked
    (printed on success too)."""
    if FUZZ_CASES:
        modes = ", ".join(f"{count} {mode}" for mode, count in sorted(FUZZ_CASES.items()) if mode != "count")
        terminalreporter.write_line(
            f"API fuzzer: {FUZZ_CASES.get('count', 0)} cases ({modes}) against /api/v1/openapi.json"
        )
    if not CRAWLS:
        return
    terminalreporter.section("crawler")
    for summary, pages in CRAWLS:
        terminalreporter.write_line(summary)
        terminalreporter.write_line("  pages: " + " ".join(pages))


def missing(reason):
    """Skip on a laptop; fail in CI, where everything the suite expects must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)", pytrace=False)
    pytest.skip(reason)


def _postgres_admin_engine():
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as error:  # noqa: BLE001 — any failure means "no PostgreSQL here"
        engine.dispose()
        missing(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error).__name__}); "
            "set OMNISTORE_TEST_POSTGRES_URL to run these tests"
        )
    return engine


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory):
    """A fresh, migrated database for this test run: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp(f'db-{WORKER}') / 'omnistore.db'}"
        _migrate(url)
        yield url
        _forget_apps(url)
        return
    admin = _postgres_admin_engine()
    name = f"omnistore_test_{WORKER}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        _forget_apps(url)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url):
    from flask_migrate import upgrade

    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _test_config(url, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "OMNISTORE_AUTO_SETUP": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
        # Each worker keeps a few apps, each with its idle pool, on one PostgreSQL (max_connections 100): the
        # small pool of SQLAlchemy's default, not the one sized for a gevent web process.
        "OMNISTORE_DB_POOL_SIZE": 5,
        "OMNISTORE_DB_POOL_OVERFLOW": 10,
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config():
    """Override in a test module to change settings for its app."""
    return {}


_APPS = {}  # (database URL, app_config) → this worker's app for them, built once: see `app`
_KEEP_APPS = 4  # the apps kept at once (each holds a connection pool); the least recently used one goes


@pytest.fixture
def app(request, database_url, app_config):
    """The app on this test's database, with its app context pushed. Built once per worker for each (database,
    app_config) and reused; what a test can change is reset before each test: app.config, the rate limiter's
    storage, `g` (a new app context). The tables are emptied after each test. A test that changes the app
    itself (adds routes, ends its database connections…) asks for its own with @pytest.mark.fresh_app."""
    fresh = request.node.get_closest_marker("fresh_app") is not None
    if fresh:  # the test may end every connection to its database: the kept apps' pools must not hold any
        for key, kept in _APPS.items():
            if key[0] == database_url:
                _dispose(kept)
    app = _fresh_app(database_url, app_config) if fresh else _reused_app(database_url, app_config)
    fresh = fresh or app is not _APPS.get((database_url, _config_key(app_config)))
    app.config.clear()
    app.config.update(app.pristine_config)
    limiter.init_app(app)  # a fresh storage (memory://), and the limiter's settings from this app's config
    with app.app_context():
        _default_market()
        yield app
        db.session.remove()
        _empty_all_tables()
        if fresh:
            db.engine.dispose()


def _default_market():
    """The default market, as the migrations leave it in every database (the tables are emptied between tests)."""
    from omnistore.stores.markets import default_market_code, ensure_market

    ensure_market(default_market_code())
    db.session.commit()


def _fresh_app(database_url, app_config):
    app = create_app(_test_config(database_url, **app_config))
    app.database_kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    app.pristine_config = dict(app.config)
    request_started.connect(_fresh_g, app)
    return app


def _config_key(app_config):
    return repr(sorted(app_config.items()))


def _reused_app(database_url, app_config):
    key = (database_url, _config_key(app_config))
    app = _APPS.pop(key, None)
    if app is None:
        app = _fresh_app(database_url, app_config)
        if app.extensions.get("omnistore_worker") is not None:
            return app  # its in-process worker is the test's to stop: not kept
    _APPS[key] = app  # last = most recently used
    while len(_APPS) > _KEEP_APPS:
        _dispose(_APPS.pop(next(iter(_APPS))))
    return app


def _dispose(app):
    with app.app_context():
        db.engine.dispose()


def _forget_apps(database_url):
    """Before the database goes: close the pools of the apps kept for it."""
    for key in [key for key in _APPS if key[0] == database_url]:
        _dispose(_APPS.pop(key))


def _fresh_g(sender, **_extra):
    """Requests reuse the test's app context, so start each with an empty `g` as a real request would
    (else Flask-Login's user and Flask-WTF's token would leak from one request into the next)."""
    for name in list(g):
        g.pop(name)


def _empty_all_tables():
    """Delete the rows of the tables that have any (most tests fill a few of them; a TRUNCATE of all tables
    costs far more), dependents first. On PostgreSQL the sequences that handed out ids start again, as a
    fresh database's would (tests may count on order OS-26-000001 or /stock/products/1)."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        for _round in range(3):  # a deletion that touches another table (ON DELETE SET NULL…) gets a second look
            filled = set(
                connection.scalars(
                    sa.text(
                        " UNION ALL ".join(
                            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables
                        )
                    )
                )
            )
            if not filled:
                break
            for name in tables:
                if name in filled:
                    connection.execute(sa.text(f'DELETE FROM "{name}"'))
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
                    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                )
            )


class StaffClient:
    """A test client that signs in and sends the CSRF token like the real pages do."""

    def __init__(self, flask_client):
        self.http = flask_client

    def __getattr__(self, name):
        return getattr(self.http, name)

    def csrf_token(self):
        page = self.http.get("/" if self.signed_in() else "/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def signed_in(self):
        with self.http.session_transaction() as session:
            return "_user_id" in session

    def login(self, email, password=PASSWORD):
        token = self.csrf_token()
        return self.http.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def submit(self, url, data=None, **kwargs):
        """POST a form with the page's CSRF token."""
        data = dict(data or {}, csrf_token=self.csrf_token())
        return self.http.post(url, data=data, **kwargs)


@pytest.fixture
def client(app):
    return StaffClient(app.test_client())


@pytest.fixture
def make(app):
    """Factories for test data: make.location("HAM"), make.staff(...), make.variant(...), …"""
    from tests import factories

    return factories
