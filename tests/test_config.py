"""Settings: every one the README documents is read from the environment, typed, and a bad one stops startup."""

import re
from pathlib import Path

import pytest

from omnistore import create_app
from omnistore.core import config
from omnistore.orders import drafts as order_drafts
from omnistore.orders import order_rules

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_settings():
    """The variables named in the first column of the README's configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in section.splitlines():
        if line.startswith("| `OMNISTORE_"):
            names += re.findall(r"`OMNISTORE_([A-Z0-9_]+)`", line.split(" | ")[0])
    return names


def sample(setting):
    """A valid value other than the default, as it would be written in the environment."""
    if setting.parse is config.boolean:
        return "0" if config.boolean(setting.default) else "1"
    parsers = {
        config.text: "sample-value",
        config.rate_limit: "3 per hour",
        config.url: "https://shop.example/base",
        config.countries: "dk",
        config.transfer_days: "10:4,*:6",
    }
    if setting.parse in parsers:
        return parsers[setting.parse]
    return str(setting.parse(setting.default) + 7)  # integers and numbers


def test_the_readme_documents_every_setting_and_nothing_else():
    documented = documented_settings()
    assert len(documented) == len(set(documented)) > 30
    assert set(documented) == {s.name for s in config.SETTINGS} | set(config.SPECIAL)


@pytest.mark.parametrize("name", documented_settings())
def test_each_documented_setting_is_read_from_the_environment(monkeypatch, tmp_path, name):
    before = config.from_environment()
    if name in config.SPECIAL:
        value, key, expected = {
            "DATABASE_URL": ("postgres://u@db/x", "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://u@db/x"),
            "SECRET_KEY": ("k" * 40, "SECRET_KEY", "k" * 40),
            "AUTO_SETUP": (
                "0" if before["OMNISTORE_AUTO_SETUP"] else "1",
                "OMNISTORE_AUTO_SETUP",
                not before["OMNISTORE_AUTO_SETUP"],
            ),
            "IN_PROCESS_WORKER": (
                "0" if before["OMNISTORE_IN_PROCESS_WORKER"] else "1",
                "OMNISTORE_IN_PROCESS_WORKER",
                not before["OMNISTORE_IN_PROCESS_WORKER"],
            ),
        }[name]
    else:
        setting = config.setting(name)
        value, key = sample(setting), setting.key
        expected = setting.parse(value)
    monkeypatch.setenv(f"OMNISTORE_{name}", value)
    after = config.from_environment()
    assert after[key] == expected != before[key]


def test_the_ordering_settings_take_effect_in_the_app(monkeypatch):
    for name, value in {
        "HOLD_MINUTES": "1",
        "TRANSFER_DAYS": "10:4,*:6",
        "DELIVERY_DAYS": "5",
        "DELIVERY_COUNTRIES": "dk",
    }.items():
        monkeypatch.setenv(f"OMNISTORE_{name}", value)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "TESTING": True,
            "OMNISTORE_AUTO_SETUP": False,
            "OMNISTORE_IN_PROCESS_WORKER": False,
        }
    )
    with app.app_context():
        assert order_drafts.hold_minutes() == 1
        rules = order_rules.rules()
        assert rules.transfer_days == ((10.0, 4), (None, 6)) and rules.delivery_days == 5
        assert rules.delivery_countries == ("DK",)


def test_a_web_process_on_postgresql_keeps_the_pool_the_settings_give(monkeypatch):
    monkeypatch.setenv("OMNISTORE_DB_POOL_OVERFLOW", "3")
    config = {"TESTING": True, "OMNISTORE_AUTO_SETUP": False, "OMNISTORE_IN_PROCESS_WORKER": False}
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": "postgres://nobody@127.0.0.1:1/none"})
    with app.app_context():  # no connection is made to build the pool
        from omnistore.core.extensions import db

        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (20, 3)
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "pool_size" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]  # SQLite's own pool


@pytest.mark.parametrize(
    "name, value",
    [
        ("HOLD_MINUTES", "abc"),
        ("HOLD_MINUTES", "0"),
        ("HOLD_MINUTES", "١٢"),
        ("DELIVERY_DAYS", "1_0"),
        ("TRANSFER_DAYS", "50:1"),
        ("DELIVERY_COUNTRIES", "Germany"),
        ("SHIPPING_FEE_MINOR", "4.95"),
        ("SECURE_COOKIES", "maybe"),
        ("LOGIN_RATE_LIMIT", "lots"),
        ("PUBLIC_URL", "shop.example"),
        ("OUTBOX_POLL_SECONDS", "nan"),
    ],
)
def test_a_bad_value_stops_startup_naming_the_setting(monkeypatch, name, value):
    monkeypatch.setenv(f"OMNISTORE_{name}", value)
    with pytest.raises(config.SettingError, match=f"OMNISTORE_{name}="):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})


def test_code_reads_settings_from_the_app_with_no_default_of_its_own(app):
    """The SETTINGS table is the one place a default lives: every app (tests too) has every setting, and no
    module reads one with a second, copied default (`config.get("OMNISTORE_X", 5)`)."""
    assert all(found.key in app.config for found in config.SETTINGS)
    copied = re.compile(r"""config\.get\(\s*f?["']OMNISTORE_[A-Z0-9_{}]+["']\s*,""")
    package = Path(config.__file__).resolve().parent
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if copied.search(line)
    ]
    assert offenders == []


def test_the_worker_runs_in_the_web_process_on_the_laptop_and_apart_in_production(monkeypatch):
    """The default SQLite (a laptop's first `flask run`): each web process does the work itself. Any other
    database: the web processes only enqueue and `flask --app app worker` does the work."""
    monkeypatch.delenv("OMNISTORE_IN_PROCESS_WORKER", raising=False)
    monkeypatch.delenv("OMNISTORE_DATABASE_URL", raising=False)
    assert config.from_environment()["OMNISTORE_IN_PROCESS_WORKER"] is True
    monkeypatch.setenv("OMNISTORE_DATABASE_URL", "postgresql://omnistore@db/omnistore")
    assert config.from_environment()["OMNISTORE_IN_PROCESS_WORKER"] is False
    monkeypatch.setenv("OMNISTORE_IN_PROCESS_WORKER", "1")
    assert config.from_environment()["OMNISTORE_IN_PROCESS_WORKER"] is True
