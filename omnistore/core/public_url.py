"""Where customers reach the app: the base of the status links in emails and QR codes.

`OMNISTORE_PUBLIC_URL`, when set, is the answer everywhere. Without it, in development (`flask run`, or debug)
the answer follows how the app is served: a request's own host (what the browser or phone used), and outside a
request (the outbox courier, the start-up message) the address `flask run` listens on. A laptop's other `flask`
commands (`pickups expire` queues reminder emails) take the address the last `flask run` there noted in
instance/. In production without the setting, the configured default stays: a Host header never decides a
customer's link there.
"""

from pathlib import Path

from flask import current_app, has_request_context, request

from omnistore.core.config import INSTANCE

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


NOTED = INSTANCE / "dev_server_url"  # where the last `flask run` on this laptop listens


def configure(app, *, explicit, served=None, noted: Path | None = None):
    """Called once by create_app: `explicit` when the setting was given, `served` the dev server's address.
    On a laptop (the default SQLite, OMNISTORE_AUTO_SETUP) the served address is noted for the other commands."""
    noted = noted or NOTED
    app.config[FIXED] = bool(explicit)
    app.config[DEV_SERVER] = served is not None
    laptop = bool(app.config.get("OMNISTORE_AUTO_SETUP"))
    if served is not None and laptop:
        try:
            noted.parent.mkdir(exist_ok=True)
            noted.write_text(served)
        except OSError:  # a read-only checkout still serves
            pass
    if explicit:
        return
    if served is not None:
        app.config["OMNISTORE_PUBLIC_URL"] = served
    elif laptop and noted.is_file():
        app.config["OMNISTORE_PUBLIC_URL"] = noted.read_text().strip() or app.config["OMNISTORE_PUBLIC_URL"]


def public_url(app=None) -> str:
    app = app or current_app
    config = app.config
    if not config.get(FIXED) and (config.get(DEV_SERVER) or app.debug) and has_request_context():
        return request.host_url.rstrip("/")
    return config["OMNISTORE_PUBLIC_URL"]
