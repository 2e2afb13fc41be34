"""The markets screen: an admin changes a market's terms and moves a location, through the verbs the CLI calls;
bad input is said at the field and changes nothing; a manager or clerk may not open it."""

import pytest
from sqlalchemy import func, select

from omnistore.core.audit import AuditEvent
from omnistore.core.extensions import db
from omnistore.stores.models import Location, Market

HTMX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    make.market("DE"), make.market("DK")
    ham, cph = make.location("HAM"), make.location("CPH")
    make.staff("admin", location=ham, email="admin@example.test", locale="en")
    make.staff("manager", location=cph, email="manager@example.test")
    make.staff("clerk", location=cph, email="clerk@example.test")
    return {"ham": ham, "cph": cph}


def dk_form(**changes):
    data = {
        "name": "Danmark",
        "currency": "DKK",
        "locale": "da",
        "vat_rate": "25",
        "shipping_fee": "39",
        "free_shipping_from": "499",
        "postcode_rule": "4-digits",
        "return_window_days": "",
    }
    data.update(changes)
    return {f"DK-{name}": value for name, value in data.items()}


def market(code):
    db.session.expire_all()
    return db.session.get(Market, code)


def audits(action):
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_an_admin_changes_a_market_in_place(client, shop):
    client.login("admin@example.test")
    page = client.http.get("/markets/").get_data(as_text=True)
    assert 'id="market-DK"' in page and 'id="market-DE"' in page and "Postcode rule" in page
    response = client.submit(
        "/markets/DK", dk_form(return_window_days="45", shipping_fee="29,95", vat_rate="25"), headers=HTMX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Danmark saved." in body
    assert body.lstrip().startswith("<section") and "<main" not in body  # the card, not a page in a page
    dk = market("DK")
    assert (dk.return_window_days, dk.shipping_fee_minor, dk.vat_rate_bp) == (45, 2995, 2500)
    assert audits("market.changed") == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "market.changed"))
    assert event.staff_id is not None
    again = client.submit("/markets/DK", dk_form(return_window_days="45", shipping_fee="29.95"), headers=HTMX)
    assert "Nothing changed." in again.get_data(as_text=True) and audits("market.changed") == 1
    # Without JavaScript: the form posts, the page comes back with the message.
    plain = client.submit("/markets/DK", dk_form(return_window_days=""), follow_redirects=True)
    assert plain.status_code == 200 and "Danmark saved." in plain.get_data(as_text=True)
    assert market("DK").return_window_days is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("return_window_days", "0", "Number must be between 1 and 365."),
        ("return_window_days", "-3", "Number must be between 1 and 365."),
        ("return_window_days", "١٢", "Enter a whole number"),
        ("return_window_days", "9" * 30, "Number must be between 1 and 365."),
        ("shipping_fee", "-1", "Enter an amount like 39"),
        ("shipping_fee", "1.899,95", "Enter an amount like 39"),
        ("shipping_fee", "39 kr.", "Enter an amount like 39"),
        ("free_shipping_from", "", "This field is required."),
        ("vat_rate", "250", "Enter an amount like 39"),
        ("name", "", "This field is required."),
        ("name", "D" * 101, "Field cannot be longer than 100 characters."),
        ("name", "Dan\x01mark", "At most 100 characters, on one line."),
        ("currency", "XYZ", "An ISO 4217 currency code"),
        ("locale", "sv", "Not a valid choice"),
        ("postcode_rule", "[0-9]{4}", "Not a valid choice"),
    ],
)
def test_bad_market_terms_are_said_at_the_field_and_change_nothing(client, shop, field, value, message):
    client.login("admin@example.test")
    response = client.submit("/markets/DK", dk_form(**{field: value}), headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert f'id="DK-{field}-error"' in body  # at the field
    dk = market("DK")
    assert (dk.name, dk.currency, dk.shipping_fee_minor, dk.return_window_days) == ("Danmark", "DKK", 3900, None)
    assert audits("market.changed") == 0


def test_the_currency_of_a_market_with_orders_stays(client, shop, make):
    make.order(shop["cph"], [(make.variant(), 1, shop["cph"])])
    client.login("admin@example.test")
    response = client.submit("/markets/DK", dk_form(currency="EUR"), headers=HTMX)
    assert response.status_code == 422
    assert "has orders in DKK: its currency cannot change" in response.get_data(as_text=True)
    assert market("DK").currency == "DKK"


def test_an_admin_moves_a_location_into_another_market(client, shop):
    client.login("admin@example.test")
    response = client.submit("/markets/assign", {"location": "HAM", "market": "DK"}, headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="market-assignments"' in body and "now sells in DK" in body
    db.session.expire_all()
    assert db.session.get(Location, shop["ham"].id).market_code == "DK"
    assert audits("location.market_changed") == 1
    for bad, message in (
        ({"location": "NOPE", "market": "DK"}, "no location"),
        ({"location": "HAM", "market": "ZZ"}, "no market"),
        ({"location": "", "market": ""}, "Choose a location"),
    ):
        refused = client.submit("/markets/assign", bad, headers=HTMX)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert audits("location.market_changed") == 1


@pytest.mark.parametrize("email", ["manager@example.test", "clerk@example.test"])
def test_only_admins_manage_markets(client, shop, email):
    client.login(email)
    assert client.http.get("/markets/").status_code == 403
    assert client.submit("/markets/DK", dk_form(shipping_fee="1")).status_code == 403
    assert client.submit("/markets/assign", {"location": "HAM", "market": "DK"}).status_code == 403
    assert market("DK").shipping_fee_minor == 3900
    assert db.session.get(Location, shop["ham"].id).market_code == "DE"


def test_an_unknown_market_is_not_found(client, shop):
    client.login("admin@example.test")
    assert client.submit("/markets/ZZ", dk_form(), headers=HTMX).status_code == 404
