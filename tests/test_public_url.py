"""Links for customers (emails, QR codes) point where the app is really served, unless the setting says where."""

from types import SimpleNamespace

import click
import pytest

from omnistore import create_app, demo_logins
from omnistore import first_run as setup
from omnistore.core import public_url as public_url_module
from omnistore.core.extensions import db
from omnistore.orders import pickup_codes
from omnistore_tools import demo

PICKUP = SimpleNamespace(token="t" * 32)


@pytest.fixture(autouse=True)
def noted(monkeypatch, tmp_path):
    """Where a laptop's `flask run` notes its address: a scratch file, not the checkout's instance/."""
    path = tmp_path / "dev_server_url"
    monkeypatch.setattr(public_url_module, "NOTED", path)
    return path


def app_for(command, params=None, laptop=False):
    """The app as `flask --app app COMMAND` builds it; `laptop`: as on the default SQLite (auto setup on)."""
    context = click.Context(click.Command(command), info_name=command)
    context.params = params or {}
    with context:
        return create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "TESTING": True,
                "OMNISTORE_AUTO_SETUP": laptop,
                "OMNISTORE_IN_PROCESS_WORKER": False,
            }
        )


def dev_server_app(monkeypatch, port, host="127.0.0.1", public_url=None):
    """The app as `flask --app app run --host HOST --port PORT` builds it."""
    if public_url is None:
        monkeypatch.delenv("OMNISTORE_PUBLIC_URL", raising=False)
    else:
        monkeypatch.setenv("OMNISTORE_PUBLIC_URL", public_url)
    return app_for("run", {"host": host, "port": port, "cert": None})


def test_flask_run_on_another_port_links_to_that_port(monkeypatch):
    app = dev_server_app(monkeypatch, 5101)
    with app.app_context():  # outside a request: the outbox courier, the start-up message
        assert pickup_codes.status_url(PICKUP) == f"http://127.0.0.1:5101/o/{PICKUP.token}"
        assert demo.DemoResult(created=True).url == "http://127.0.0.1:5101"
        db.create_all()
        assert "open http://127.0.0.1:5101 " in demo_logins.demo_logins_hint()
    # In a request: the host the browser or phone used (a phone on the LAN reaches the laptop's address).
    with app.test_request_context("/", base_url="http://192.168.1.20:5101"):
        assert pickup_codes.status_url(PICKUP) == f"http://192.168.1.20:5101/o/{PICKUP.token}"


def test_every_interface_means_this_machine_outside_a_request(monkeypatch):
    app = dev_server_app(monkeypatch, 5202, host="0.0.0.0")
    with app.app_context():
        assert pickup_codes.status_url(PICKUP).startswith("http://127.0.0.1:5202/o/")


def test_the_setting_wins_everywhere(monkeypatch):
    app = dev_server_app(monkeypatch, 5101, public_url="https://shop.example/")
    with app.app_context():
        assert pickup_codes.status_url(PICKUP) == f"https://shop.example/o/{PICKUP.token}"
    with app.test_request_context("/", base_url="http://192.168.1.20:5101"):
        assert pickup_codes.status_url(PICKUP) == f"https://shop.example/o/{PICKUP.token}"


@pytest.mark.parametrize("public_url", [None, "https://shop.example"])
def test_in_production_a_host_header_never_decides_a_customers_link(monkeypatch, public_url):
    if public_url is None:
        monkeypatch.delenv("OMNISTORE_PUBLIC_URL", raising=False)
    else:
        monkeypatch.setenv("OMNISTORE_PUBLIC_URL", public_url)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": "sqlite://", "OMNISTORE_AUTO_SETUP": False, "OMNISTORE_IN_PROCESS_WORKER": False}
    )
    with app.test_request_context("/", base_url="http://evil.example"):
        assert pickup_codes.status_url(PICKUP) == f"{public_url or 'http://127.0.0.1:5000'}/o/{PICKUP.token}"


def test_a_laptops_other_commands_link_to_where_flask_run_serves(monkeypatch, noted):
    """`flask pickups expire` queues reminder emails in its own process: their links name the dev server."""
    monkeypatch.delenv("OMNISTORE_PUBLIC_URL", raising=False)
    monkeypatch.setattr(setup, "first_start", lambda app: None)  # no migration and demo for this
    app_for("run", {"host": "127.0.0.1", "port": 5303, "cert": None}, laptop=True)
    assert noted.read_text() == "http://127.0.0.1:5303"
    with app_for("pickups", laptop=True).app_context():
        assert pickup_codes.status_url(PICKUP) == f"http://127.0.0.1:5303/o/{PICKUP.token}"
    with app_for("pickups", laptop=False).app_context():  # not a laptop: the configured default
        assert pickup_codes.status_url(PICKUP) == f"http://127.0.0.1:5000/o/{PICKUP.token}"
