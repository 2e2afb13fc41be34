"""Lifecycle stages on the screens: the chip and its action on the profile, in the picker and the search; the
manager's customers per stage — store scope, roles, paging, bad input and the CSV file."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omnistore.core.audit import AuditEvent
from omnistore.core.extensions import db
from omnistore.reviews import segments

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "manager": ("manager", "HAM", "Mia Manager"),
            "cph_manager": ("manager", "CPH", None, "cph@example.test"),
            "admin": "admin",
        },
        variants={"parka": dict(product="Fjord Parka", stock={"HAM": 5, "CPH": 5})},
    )
    now = datetime.now(UTC)

    def bought(person, store, days_ago):
        return make.order(
            store,
            [(made.parka, 1, store)],
            status="collected",
            customer=person,
            placed_at=now - timedelta(days=days_ago),
            origin_location_id=store.id,
        )

    made["bought"] = bought
    made["risky"] = make.customer("Ronja", "Risiko")
    bought(made.risky, made.ham, 150)
    made["fresh"] = make.customer("Frida", "Frisch", preferred_location_id=made.ham.id)
    made["dane"] = make.customer("=Dag", "Dansk")  # a formula-looking name: neutralised in the CSV file
    bought(made.dane, made.cph, 150)
    return made


def text(response):
    return response.get_data(as_text=True)


def test_the_profile_shows_the_stage_and_what_to_do(client, shop):
    client.login("clerk@example.test")
    page = text(client.get(f"/customers/{shop.risky.id}"))
    assert 'data-stage="at_risk"' in page and "At risk" in page
    assert "Issue a personal offer to bring them back." in page
    fresh = text(client.get(f"/customers/{shop.fresh.id}"))
    assert 'data-stage="acquisition"' in fresh and "help with a first purchase" in fresh


def test_the_stage_chip_is_translated(client, shop):
    client.login("clerk@example.test")
    client.submit("/language", {"locale": "de"})
    page = text(client.get(f"/customers/{shop.risky.id}"))
    assert 'data-stage="at_risk">Gefährdet<' in page and "persönliches Angebot" in page
    client.submit("/language", {"locale": "da"})
    page = text(client.get(f"/customers/{shop.risky.id}"))
    assert 'data-stage="at_risk">I risiko<' in page


def test_the_picker_and_the_search_show_each_customers_stage(client, shop):
    client.login("clerk@example.test")
    hits = text(client.get("/customers/picker/search?field=customer_id&picker_q=risiko", headers=HX))
    assert 'data-stage="at_risk"' in hits and "Ronja" in hits
    chosen = text(client.get(f"/customers/picker?field=customer_id&customer={shop.risky.id}", headers=HX))
    assert 'data-stage-hint="at_risk"' in chosen
    found = text(client.get("/customers/?q=frisch"))
    assert 'data-stage="acquisition"' in found


def test_a_manager_lists_the_own_stores_segment(client, shop):
    client.login("manager@example.test")
    page = text(client.get("/manager/customers?stage=at_risk"))
    assert "Ronja Risiko" in page and "Dag" not in page  # Dag bought in Copenhagen
    assert 'data-stage-filter="acquisition"' in page
    new = text(client.get("/manager/customers?stage=acquisition"))
    assert "Frida Frisch" in new and "Ronja" not in new
    assert client.get("/manager/customers?store=CPH").status_code == 404
    assert client.get("/manager/customers.csv?store=CPH&stage=at_risk").status_code == 404
    assert client.get("/manager/customers?store=network").status_code == 403


def test_an_admin_sees_the_network_and_any_store(client, shop):
    client.login("admin@example.test")
    network = text(client.get("/manager/customers?store=network&stage=at_risk"))
    assert "Ronja Risiko" in network and "Dag Dansk" in network
    cph = text(client.get("/manager/customers?store=CPH&stage=at_risk"))
    assert "Dag Dansk" in cph and "Ronja" not in cph


def test_clerks_may_not_open_the_segments(client, shop):
    client.login("clerk@example.test")
    assert client.get("/manager/customers").status_code == 403
    assert client.get("/manager/customers.csv?stage=at_risk").status_code == 403


@pytest.mark.parametrize("bad", ["vip", "", "at_risk'--", "ø" * 300, "%00", "AT RISK"])
def test_a_bad_stage_gets_a_message_not_an_error(client, shop, bad):
    client.login("manager@example.test")
    response = client.get("/manager/customers", query_string={"stage": bad})
    assert response.status_code == 422
    assert "Choose one of the stages." in text(response)
    download = client.get("/manager/customers.csv", query_string={"stage": bad})
    assert download.status_code == 422 and download.mimetype != "text/csv"
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customers.segment_exported")).all()


def test_the_csv_file_holds_the_segment_and_is_audited(client, shop):
    client.login("admin@example.test")
    response = client.get("/manager/customers.csv?store=network&stage=at_risk")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "customers-at_risk-network-" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response).lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:4] == ["Customer number", "Name", "Loyalty number", "Stage"]
    names = sorted(row[1] for row in rows[1:])
    assert names == ["'=Dag Dansk", "Ronja Risiko"]
    assert all(row[3] == "At risk" and row[4] == "1" for row in rows[1:])
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customers.segment_exported")).all()
    assert event.detail["stage"] == "at_risk"


def test_the_list_pages(client, shop, make, monkeypatch):
    monkeypatch.setattr(segments, "PER_PAGE", 3)
    for n in range(5):
        make.customer(f"Neu{n}", "Kunde", preferred_location_id=shop.ham.id)
    client.login("manager@example.test")
    first = text(client.get("/manager/customers?stage=acquisition"))
    assert "Page 1 of 2" in first and first.count('data-stage="acquisition"') == 3
    second = text(client.get("/manager/customers?stage=acquisition&page=2", headers=HX))
    assert second.count('data-stage="acquisition"') == 3  # 6 new customers: Frida and five more
    assert "<html" not in second
    beyond = text(client.get("/manager/customers?stage=acquisition&page=7"))
    assert "Page 2 of 2" in beyond


# --- the customer figures ----------------------------------------------------------------------------------------


def test_the_customer_figures_page_and_its_csv(client, shop):
    client.login("manager@example.test")
    page = client.get("/manager/customer-figures?period=30d")
    assert page.status_code == 200
    body = text(page)
    assert "Customer lifetime value" in body and 'data-stage-count="at_risk"' in body
    assert 'name="amount"' in body  # a store's manager enters the store's spend
    assert 'id="offers-heading"' in body and 'id="outreach-heading"' in body
    download = client.get("/manager/customer-figures.csv?period=30d")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = dict(csv.reader(io.StringIO(text(download).lstrip("\ufeff")), delimiter=";"))
    assert rows["Customers at the end: At risk"] == "1"  # Ronja, of Hamburg
    assert "New customers: Web shop" in rows
    assert client.get("/manager/customer-figures?store=CPH").status_code == 404
    assert client.get("/manager/customer-figures.csv?store=network").status_code == 403


def test_a_manager_enters_spend_and_bad_spend_is_shown_at_the_field(client, shop):
    client.login("manager@example.test")
    saved = client.submit(
        "/manager/customer-figures/spend?period=30d",
        {"month": "2026-11", "channel": "web", "currency": "EUR", "amount": "1500,25"},
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#acquisition")
    page = text(client.get(saved.headers["Location"].split("#")[0]))
    assert "2026-11" in page and "1,500.25" in page
    bad = client.submit(
        "/manager/customer-figures/spend?period=30d",
        {"month": "2026-11", "channel": "web", "currency": "EUR", "amount": "-3"},
    )
    assert bad.status_code == 422 and "Give an amount such as 1200" in text(bad)
    assert 'aria-invalid="true"' in text(bad)
    forged = client.http.post(
        "/manager/customer-figures/spend?period=30d", data={"month": "2026-11", "channel": "web", "amount": "1"}
    )
    assert forged.status_code in (400, 422)
    client.submit("/logout")
    client.login("clerk@example.test")
    assert client.submit("/manager/customer-figures/spend", {"amount": "1"}).status_code == 403
