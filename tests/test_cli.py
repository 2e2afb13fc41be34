"""Operator commands: staff logins and API tokens."""

import pytest

from omnistore.core.extensions import db
from omnistore.stores.models import ApiClient, Staff
from omnistore.stores.staff import authenticate, authenticate_api_token


@pytest.fixture
def cli(app, make):
    make.location("HAM")
    return app.test_cli_runner()


def test_staff_create_list_disable(cli):
    result = cli.invoke(
        args=[
            "staff",
            "create",
            "Lena@Store.de",
            "--role",
            "manager",
            "--location",
            "ham",
            "--password",
            "a-long-password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created manager lena@store.de at HAM" in result.output
    assert authenticate("lena@store.de", "a-long-password") is not None

    listing = cli.invoke(args=["staff", "list"])
    assert "HAM" in listing.output and "lena@store.de" in listing.output

    disabled = cli.invoke(args=["staff", "disable", "lena@store.de"])
    assert disabled.exit_code == 0
    assert authenticate("lena@store.de", "a-long-password") is None
    assert "(disabled)" in cli.invoke(args=["staff", "list"]).output


def test_staff_create_prompts_for_the_password(cli):
    result = cli.invoke(
        args=["staff", "create", "ole@store.dk", "--role", "clerk", "--location", "HAM"],
        input="hemmeligt-kodeord\nhemmeligt-kodeord\n",
    )
    assert result.exit_code == 0, result.output
    assert "hemmeligt-kodeord" not in result.output
    assert authenticate("ole@store.dk", "hemmeligt-kodeord") is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email", "--role", "clerk", "--location", "HAM", "--password", "long-enough"], "valid email"),
        (["a@b.de", "--role", "clerk", "--location", "XXX", "--password", "long-enough"], "No location"),
        (["a@b.de", "--role", "clerk", "--location", "HAM", "--password", "short"], "at least 8"),
        (["a@b.de", "--role", "boss", "--location", "HAM", "--password", "long-enough"], "Invalid value"),
    ],
)
def test_staff_create_refuses_bad_input(cli, args, message):
    result = cli.invoke(args=["staff", "create", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Staff)) == 0


def test_staff_create_refuses_a_duplicate(cli):
    args = ["staff", "create", "a@b.de", "--role", "clerk", "--location", "HAM", "--password", "long-enough"]
    assert cli.invoke(args=args).exit_code == 0
    again = cli.invoke(args=[*args[:2], "A@B.DE", *args[3:]])
    assert again.exit_code != 0 and "exists already" in again.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Staff)) == 1


def test_disable_unknown_staff(cli):
    result = cli.invoke(args=["staff", "disable", "ghost@b.de"])
    assert result.exit_code != 0 and "No staff member" in result.output


def test_api_token_is_printed_once_and_stored_hashed(cli):
    result = cli.invoke(args=["api-token", "create", "Webshop"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) > 40
    client = authenticate_api_token(token)
    assert client is not None and client.name == "Webshop"
    assert token not in (client.token_hash, client.token_prefix)
    assert authenticate_api_token(token + "x") is None

    duplicate = cli.invoke(args=["api-token", "create", "webshop"])
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output

    assert cli.invoke(args=["api-token", "revoke", "Webshop"]).exit_code == 0
    assert authenticate_api_token(token) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiClient)) == 1


def test_market_save_list_and_assign(cli):
    from omnistore.core.audit import AuditEvent
    from omnistore.stores.models import Location, Market

    made = cli.invoke(args=["market", "save", "dk"])
    assert made.exit_code == 0 and "Market DK: Danmark, DKK, VAT 25 %." in made.output, made.output
    changed = cli.invoke(args=["market", "save", "DK", "--shipping-fee", "4900"])
    assert changed.exit_code == 0 and db.session.get(Market, "DK").shipping_fee_minor == 4900
    bad = cli.invoke(args=["market", "save", "SE", "--currency", "XYZ"])
    assert bad.exit_code != 0 and "currency" in bad.output
    assert db.session.get(Market, "SE") is None
    moved = cli.invoke(args=["market", "assign", "ham", "DK"])
    assert moved.exit_code == 0 and "HAM now sells in market DK." in moved.output
    assert db.session.scalar(db.select(Location.market_code).where(Location.code == "HAM")) == "DK"
    assert cli.invoke(args=["market", "assign", "HAM", "SE"]).exit_code != 0
    assert "DK  DKK  VAT 25 %  Danmark: HAM" in cli.invoke(args=["market", "list"]).output
    actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"market.created", "market.changed", "location.market_changed"} <= actions


def test_market_save_sets_the_postcode_rule_and_the_return_window(cli):
    from omnistore.stores.models import Market

    assert cli.invoke(args=["market", "save", "DK"]).exit_code == 0
    dk = db.session.get(Market, "DK")
    assert (dk.postcode_rule, dk.return_window_days) == ("4-digits", None)
    saved = cli.invoke(args=["market", "save", "DK", "--postcode", "none", "--return-window", "21"])
    assert saved.exit_code == 0, saved.output
    db.session.expire_all()
    assert (db.session.get(Market, "DK").postcode_rule, db.session.get(Market, "DK").return_window_days) == ("", 21)
    for bad in (["--postcode", "[0-9]{4}"], ["--return-window", "0"], ["--return-window", "soon"]):
        refused = cli.invoke(args=["market", "save", "DK", *bad])
        assert refused.exit_code != 0, bad
    assert cli.invoke(args=["market", "save", "DK", "--return-window", "network"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Market, "DK").return_window_days is None


def test_location_save_makes_a_warehouse_and_a_store_in_a_new_network_and_changes_them(app):
    """A chain's first deployment (README, Production): no location yet, only the default market DE that the
    migrations make; DK is made from its usual terms by the first location that names it; then the first admin."""
    from omnistore.core.audit import AuditEvent
    from omnistore.stores.models import Location, Market

    cli = app.test_cli_runner()
    made = cli.invoke(
        args=["location", "save", "wh1", "--name", "Zentrallager", "--kind", "warehouse", "--market", "DE"]
        + ["--street", "Am Hafen 1", "--postcode", "20 095", "--city", "Hamburg", "--lat", "53.55", "--lon", "10.0"]
        + ["--hours", "mon-fri=06:00-22:00", "--hours", "sat=06:00-14:00"]
    )
    assert made.exit_code == 0, made.output
    assert "Made warehouse WH1: Zentrallager, Hamburg, market DE, Europe/Berlin." in made.output
    warehouse = db.session.scalar(db.select(Location).where(Location.code == "WH1"))
    assert (warehouse.kind, warehouse.country, warehouse.postcode, warehouse.market_code) == (
        "warehouse",
        "DE",
        "20095",
        "DE",
    )
    assert warehouse.opening_hours["mon"] == [["06:00", "22:00"]] and warehouse.opening_hours["sun"] == []
    assert db.session.get(Market, "DK") is None

    store = cli.invoke(
        args=["location", "save", "CPH", "--name", "København Strøget", "--market", "dk", "--postcode", "1160"]
        + ["--city", "København", "--lat", "55.678", "--lon", "12.574"]
        + ["--hours", "mon-fri=10:00-19:00", "--hours", "sat=10:00-16:00", "--hours", "sun=closed"]
    )
    assert store.exit_code == 0, store.output
    assert "Made store CPH: København Strøget, København, market DK, Europe/Copenhagen." in store.output
    assert db.session.get(Market, "DK").currency == "DKK"
    changed = cli.invoke(args=["location", "save", "cph", "--hours", "sun=11:00-15:00", "--phone", "+45 33 12 34 56"])
    assert changed.exit_code == 0 and "Saved store CPH" in changed.output, changed.output
    cph = db.session.scalar(db.select(Location).where(Location.code == "CPH"))
    db.session.refresh(cph)
    assert cph.opening_hours["mon"] == [["10:00", "19:00"]] and cph.opening_hours["sun"] == [["11:00", "15:00"]]
    assert (cph.phone, cph.country, cph.market_code) == ("+45 33 12 34 56", "DK", "DK")
    again = cli.invoke(args=["location", "save", "CPH", "--phone", "+45 33 12 34 56"])
    assert again.exit_code == 0
    actions = list(db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.action.like("location.%"))))
    assert sorted(actions) == ["location.changed", "location.created", "location.created"]  # the same phone: no change

    admin = cli.invoke(
        args=["staff", "create", "it@chain.example", "--role", "admin", "--location", "WH1", "--password", "a-long-one"]
    )
    assert admin.exit_code == 0, admin.output
    listing = cli.invoke(args=["location", "list"]).output
    assert "CPH  store  DK  København Strøget, København" in listing and "WH1  warehouse  DE  Zentrallager" in listing


NEW = ["--name", "Aarhus", "--market", "DK", "--postcode", "8000", "--lat", "56.15", "--lon", "10.2"]
NEW_HOURS = ["--hours", "mon-sat=10:00-18:00"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["AAR", *NEW[2:], *NEW_HOURS], "--name"),
        (["AAR", *NEW[:-2], *NEW_HOURS], "--lon"),
        (["AAR", *NEW], "--hours"),
        (["AAR", *NEW, "--hours", "mon-sun=closed"], "--hours"),
        (["AAR", *NEW, "--timezone", "UTC"], "--timezone"),
        (["AAR", *NEW, "--lat", "91"], "--lat"),
        (["AAR", *NEW, "--lon", "nan"], "--lon"),
        (["AAR", *NEW, "--timezone", "Mars/Olympus"], "--timezone"),
        (["AAR", *NEW, "--market", "SE"], "--market"),
        (["AAR", *NEW, "--postcode", "80000"], "--postcode"),
        (["A R!", *NEW], "CODE"),
        (["", *NEW], "CODE"),
        (["AAR", *NEW, "--name", "Aarhus\x07"], "--name"),
        (["AAR", *NEW, "--name", "Å" * 121], "--name"),
        (["AAR", *NEW, "--country", "Danmark"], "--country"),
        (["AAR", *NEW, "--hours", "mon=25:00-26:00"], "--hours"),
        (["AAR", *NEW, "--hours", "mon=18:00-09:00"], "--hours"),
        (["AAR", *NEW, "--hours", "funday=09:00-10:00"], "--hours"),
        (["AAR", *NEW, "--hours", "sat-mon=09:00-10:00"], "--hours"),
        (["AAR", *NEW, "--lat", "north"], "--lat"),
        (["AAR", *NEW, "--kind", "shop"], "--kind"),
    ],
)
def test_location_save_refuses_bad_input_where_it_is_and_changes_nothing(app, args, field):
    from omnistore.core.audit import AuditEvent
    from omnistore.stores.models import Location, Market

    def counts():
        return [db.session.scalar(db.select(db.func.count()).select_from(m)) for m in (Location, Market, AuditEvent)]

    before = counts()
    result = app.test_cli_runner().invoke(
        args=["location", "save", *args, *([] if "--hours" in args or field == "--hours" else NEW_HOURS)]
    )
    assert result.exit_code != 0
    assert field in result.output, result.output
    assert "Traceback" not in result.output
    assert counts() == before
    assert db.session.get(Market, "DK") is None  # not made for a location that was not


def test_location_save_of_a_location_keeps_what_is_not_given_and_refuses_an_empty_name(cli):
    from omnistore.stores.models import Location

    ham = db.session.scalar(db.select(Location).where(Location.code == "HAM"))
    before = (ham.name, ham.latitude, ham.longitude, ham.timezone, dict(ham.opening_hours))
    for args in (["--name", ""], ["--name", "  "], ["--lat", "-91"], ["--hours", "tue=9-5"]):
        result = cli.invoke(args=["location", "save", "ham", *args])
        assert result.exit_code != 0 and "Please check the location." in result.output, result.output
    renamed = cli.invoke(args=["location", "save", "ham", "--name", "Hamburg  Jungfernstieg "])
    assert renamed.exit_code == 0, renamed.output
    db.session.refresh(ham)
    assert (ham.name, ham.latitude, ham.longitude, ham.timezone, ham.opening_hours) == (
        "Hamburg Jungfernstieg",
        *before[1:],
    )


def test_location_save_moves_a_location_into_another_market_with_a_postcode_that_fits_it(cli):
    from omnistore.core.audit import AuditEvent
    from omnistore.stores.models import Location

    kept = cli.invoke(args=["location", "save", "HAM", "--market", "DK"])  # 20095 is no Danish postcode
    assert kept.exit_code != 0 and "--postcode: " in kept.output, kept.output
    assert db.session.scalar(db.select(Location.market_code).where(Location.code == "HAM")) != "DK"
    moved = cli.invoke(args=["location", "save", "HAM", "--market", "DK", "--postcode", "1160"])
    assert moved.exit_code == 0 and "market DK" in moved.output, moved.output
    actions = set(db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.action.like("location.%"))))
    assert actions == {"location.changed", "location.market_changed"}
