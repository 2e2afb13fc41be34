"""omnistore: the application factory."""

import os
from pathlib import Path

from omnistore import models  # noqa: F401 — every model mapped first: relationships name each other
from omnistore.core import config as settings
from omnistore.core import public_url
from omnistore.core.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def create_app(config=None):
    """Build the app. `config` (a dict) overrides the environment, e.g. in tests."""
    from omnistore.web.retry import App

    app = App(  # Flask, plus one more run of a read-only request whose database connection was lost
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.INSTANCE),
    )
    app.config.update(settings.DEFAULTS)
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    app.config["SQLALCHEMY_DATABASE_URI"] = settings.normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(
            app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            pool_size=app.config["OMNISTORE_DB_POOL_SIZE"],
            max_overflow=app.config["OMNISTORE_DB_POOL_OVERFLOW"],
        )
    public_url.configure(
        app,
        explicit=bool(os.environ.get("OMNISTORE_PUBLIC_URL")) or "OMNISTORE_PUBLIC_URL" in (config or {}),
        served=_dev_server_url(app),
    )

    _trust_proxies(app)
    _init_extensions(app)

    from omnistore.web import register_web

    register_web(app)
    _register_domains(app)

    from omnistore.cli import register_cli

    register_cli(app)

    if app.config.get("OMNISTORE_AUTO_SETUP") and _serving():
        from omnistore.first_run import first_start

        first_start(app)
    return app


def _trust_proxies(app):
    """Behind OMNISTORE_TRUSTED_PROXIES proxies, the client's address and scheme come from their X-Forwarded-For
    and X-Forwarded-Proto (the sign-in and public throttles count per client address, not per proxy). The Host
    is not taken from X-Forwarded-Host: a proxy passes the Host header on as it came (nginx: `proxy_set_header
    Host $host`), and many pass a client's own X-Forwarded-Host through unchecked."""
    hops = app.config["OMNISTORE_TRUSTED_PROXIES"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def _dev_server_url(app):
    """The address `flask run` listens on (its --host and --port), or None when something else serves the app."""
    import click

    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run":
        return None
    scheme = "https" if context.params.get("cert") else "http"
    return public_url.served_url(context.params.get("host"), context.params.get("port", 5000), scheme)


def _serving():
    """True for `flask run` or a WSGI server; other `flask` commands (db, demo, staff…) do their own work."""
    import click

    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def _init_extensions(app):
    from omnistore.core.db import configure_engine
    from omnistore.stores.login import load_user, to_sign_in
    from omnistore.web.i18n import select_locale, select_timezone

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(PACKAGE / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(to_sign_in)

    from omnistore.core import worker
    from omnistore.jobs import JOBS

    # The laptop mode: the worker in each web process (OMNISTORE_IN_PROCESS_WORKER); never in other commands.
    worker.init_app(app, JOBS, serving=_serving())


def _register_domains(app):
    """Each domain's screens: one blueprint per section (importing a views package registers its views), and
    the sign-in checks every request passes."""
    from flask import has_request_context
    from flask_login import current_user

    from omnistore import home
    from omnistore.api import views as api
    from omnistore.clienteling.views import followups, outreach, privacy, profile  # noqa: F401 — customers, marketing
    from omnistore.clienteling.views import nearby as nearby_pages
    from omnistore.clienteling.views import offers as customer_offers  # noqa: F401 — on two blueprints
    from omnistore.customers import views as customers
    from omnistore.customers.views import find  # noqa: F401 — the views register on their blueprint
    from omnistore.customers.views import marketing as marketing_pages
    from omnistore.offers import views as offers
    from omnistore.orders.views import builder, orders  # noqa: F401
    from omnistore.pickups.views import desk, public
    from omnistore.pickups.views import live as live_stream
    from omnistore.returns import views as returns
    from omnistore.reviews import views as manager
    from omnistore.reviews.views import counts as review_counts  # noqa: F401
    from omnistore.reviews.views import customers as review_customers  # noqa: F401
    from omnistore.reviews.views import dashboard, exports, formatting, handovers, rejections, settings  # noqa: F401
    from omnistore.reviews.views import offers as review_offers  # noqa: F401
    from omnistore.reviews.views import returns as review_returns  # noqa: F401
    from omnistore.stock import views as stock
    from omnistore.stock.views import browse, changes  # noqa: F401
    from omnistore.stock.views import counts as stock_counts  # noqa: F401
    from omnistore.stores import views as auth
    from omnistore.stores.login import check_session, mark_offline_scope, offline_scope
    from omnistore.stores.views import market_settings
    from omnistore.web import outbox
    from omnistore.web.rendering import live_since

    for blueprint in (
        auth.bp,
        home.bp,
        orders.bp,
        manager.bp,
        offers.bp,
        stock.bp,
        customers.bp,
        desk.bp,
        live_stream.bp,
        returns.bp,
        api.bp,
        public.bp,
        marketing_pages.bp,
        nearby_pages.public_bp,
        outbox.bp,
        market_settings.bp,
    ):
        app.register_blueprint(blueprint)
    # After the blueprints' own hooks: the network panel answers an unchanged poll with one query of its own.
    app.before_request(check_session)  # the idle timeout, desk presence, the session's lifetime
    app.after_request(mark_offline_scope)  # whose page this is, for the tablet's saved copies
    app.context_processor(lambda: {"offline_scope": offline_scope()})
    app.context_processor(
        lambda: {  # push for the live panels (static/js/live.js), when the server holds streams
            "live_push": app.config["OMNISTORE_LIVE_PUSH"] and has_request_context() and current_user.is_authenticated,
            "live_push_refresh_ms": int(app.config["OMNISTORE_LIVE_PUSH_REFRESH_SECONDS"] * 1000),
            "live_since": live_since,
        }
    )
