"""Lifecycle stages in a real browser: a clerk finds an at-risk customer and sees the chip with what to do; a
manager filters the customers per stage, taps the CSV link and gets the file; the customer figures page."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def journeys(make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="jonas@example.test", name="Jonas Weber")
    make.staff("manager", ham, email="mia@example.test", name="Mia Manager")
    parka = make.variant(price_minor=8995)
    now = datetime.now(UTC)

    def bought(person, days_ago, channel="store"):
        make.order(
            ham,
            [(parka, 1, ham)],
            status="collected",
            channel=channel,
            customer=person,
            placed_at=now - timedelta(days=days_ago),
            origin_location_id=ham.id,
        )

    ronja = make.customer("Ronja", "Risiko", email="ronja@example.de")
    bought(ronja, 150)  # silent longer than the at-risk days
    lars = make.customer("Lars", "Lange", email="lars@example.de")
    bought(lars, 400, channel="web")  # lapsed
    lotte = make.customer("Lotte", "Treu", email="lotte@example.de")
    for days in (40, 25, 10):
        bought(lotte, days)  # loyal
    make.customer("Nora", "Neu", email="nora@example.de", preferred_location_id=ham.id)  # acquisition
    return dict(ham=ham, ronja=ronja, lars=lars)


def test_a_clerk_sees_an_at_risk_customer_and_what_to_do(page, journeys):
    nav = sign_in(page, "jonas@example.test")
    nav.get_by_role("link", name="Customers").click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    page.wait_for_load_state("load")
    page.locator("#customer-q").fill("risiko")
    hit = page.locator("#customer-results .hit-link", has_text="Ronja Risiko")
    expect(hit.locator('[data-stage="at_risk"]')).to_have_text("At risk")
    hit.click()
    expect(page.get_by_role("heading", name="Ronja Risiko", level=1)).to_be_visible()
    hint = page.locator('[data-stage-hint="at_risk"]')
    expect(hint).to_contain_text("At risk")
    expect(hint).to_contain_text("Issue a personal offer to bring them back.")
    expect(page.locator("main")).to_have_count(1)
    page.reload()
    page.wait_for_load_state("load")
    expect(page.locator('[data-stage-hint="at_risk"]')).to_be_visible()
    capture(page, "customers-stage-at-risk")


def test_a_manager_filters_a_segment_and_downloads_it(page, journeys):
    sign_in(page, "mia@example.test")
    page.goto("/manager/")
    page.wait_for_load_state("load")
    page.locator(".manager-tabs").get_by_role("link", name="Customers", exact=True).click()
    expect(page).to_have_url(re.compile(r"/manager/customers"))
    page.wait_for_load_state("load")
    expect(page.locator("[data-segment-list]")).to_contain_text("Ronja Risiko")  # at risk first
    page.locator('[data-stage-filter="lapsed"]').click()
    expect(page).to_have_url(re.compile(r"stage=lapsed"))
    expect(page.locator("#segment-heading")).to_contain_text("Lapsed")
    rows = page.locator("[data-segment-list] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lars Lange")
    expect(page.locator("main")).to_have_count(1)
    capture(page, "manager-customers-lapsed")
    with page.expect_download() as arrived:
        page.locator("#segment").get_by_role("link", name="Export (CSV)").click()
    download = arrived.value
    assert re.fullmatch(r"customers-lapsed-HAM-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["Customer number", "Name", "Loyalty number", "Stage"]
    assert [row[1] for row in rows[1:]] == ["Lars Lange"] and rows[1][3] == "Lapsed"
    expect(page).to_have_url(re.compile(r"stage=lapsed"))  # the download left the page as it was


def test_the_customer_figures_show_the_stages_and_take_the_spend(page, journeys):
    sign_in(page, "mia@example.test")
    page.goto("/manager/customer-figures?period=30d")
    page.wait_for_load_state("load")
    expect(page.locator('[data-stage-count="loyal"] .count')).to_have_text("1")
    page.get_by_label("Amount spent").fill("-5")
    page.get_by_role("button", name="Save spend").click()
    expect(page.locator("#spend-amount")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Amount spent").fill("1200,50")
    page.get_by_role("button", name="Save spend").click()
    expect(page.locator("[data-spend-entered]")).to_contain_text("1,200.50")
    page.wait_for_load_state("load")
    capture(page, "manager-customer-figures")
    # From the offers' totals to each offer: one page, the Offers tab.
    page.get_by_role("link", name="Each offer").click()
    expect(page).to_have_url(re.compile(r"/manager/offers\?"))
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("html")).to_have_count(1)
