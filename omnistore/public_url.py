"""Where customers reach the app: the base of the status links in emails and QR codes.

`OMNISTORE_PUBLIC_URL`, when set, is the answer everywhere. Without it, in development (`flask run`, or debug)
the answer follows how the app is served: a request's own host (what the browser or phone used), and outside a
request (the outbox courier, a CLI command in the dev server's process) the address `flask run` listens on. In
production without the setting, the configured default stays: a Host header never decides a customer's link there.
"""
from flask import current_app, has_request_context, request

FIXED = "OMNISTORE_PUBLIC_URL_FIXED"  # True when the setting (environment or config) names the address
DEV_SERVER = "OMNISTORE_DEV_SERVER"  # True when `flask run` serves the app


def served_url(host, port, scheme="http"):
    """The address a `flask run --host H --port P` answers at ("0.0.0.0" means this machine too)."""
    host = host or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def configure(app, *, explicit, served=None):
    """Called once by create_app: `explicit` when the setting was given, `served` the dev server's address."""
    app.config[FIXED] = bool(explicit)
    app.config[DEV_SERVER] = served is not None
    if served is not None and not explicit:
        app.config["OMNISTORE_PUBLIC_URL"] = served


def public_url(app=None) -> str:
    app = app or current_app
    config = app.config
    if not config.get(FIXED) and (config.get(DEV_SERVER) or app.debug) and has_request_context():
        return request.host_url.rstrip("/")
    return config["OMNISTORE_PUBLIC_URL"]
