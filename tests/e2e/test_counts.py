"""A blind count in a real browser: a København clerk counts the jackets with the wedge scanner, leaves one
size unscanned, sees it listed as zero before submitting; the manager reviews the variance and posts it."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.stock import counts, ledger
from omnistore.stock.models import StockLevel
from omnistore.stores.models import Location, Staff
from tests.e2e import fake_camera
from tests.e2e.test_foundation import sign_in, sign_out
from tests.e2e.test_scanner import (
    DECODE_TIMEOUT,
    EAN,
    camera,  # noqa: F401 — the fixture, shared with the scanner tests
)
from tests.e2e.test_scanner import sign_in as scanner_sign_in
from tests.e2e.wedge import wedge_scan

pytestmark = pytest.mark.e2e
SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"


def on_hand(variant, location):
    db.session.rollback()  # a fresh snapshot: the live server wrote meanwhile
    return db.session.scalar(
        select(StockLevel.on_hand).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def test_a_blind_count_of_a_category_posts_zero_for_the_unscanned_item_after_review(page, make):
    cph = make.location("CPH")
    clerk = make.staff("clerk", cph, email="mette@example.test", name="Mette Hansen")
    make.staff("manager", cph, email="lars@example.test", name="Lars Holm")
    jacket = make.product(name="Rain Jacket", brand="Nordwind", category="Jackets")
    small, medium = make.variant(jacket, size="S"), make.variant(jacket, size="M")
    for variant, quantity in ((small, 2), (medium, 3)):
        ledger.receive(ledger.StockChange(variant.id, cph.id, quantity, reason="delivery"), clerk)

    nav = sign_in(page, "mette@example.test")
    nav.get_by_role("link", name="Counts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Counts at København")
    page.wait_for_load_state("load")
    start = page.get_by_role("form", name="Start a count")
    start.get_by_label("A category").check()
    start.get_by_label("Category", exact=True).select_option("Jackets")
    expect(start.get_by_label("Blind count")).to_be_checked()
    start.get_by_role("button", name="Start counting").click()
    expect(page).to_have_url(re.compile(r"/stock/counts/\d+$"))
    page.wait_for_load_state("load")
    count_url = page.url
    expect(page.get_by_text("Not scanned yet (2)")).to_be_visible()
    expect(page.locator("#count")).not_to_contain_text("Expected")  # blind

    # Three M jackets with the wedge scanner; the S jackets are not on the shelf.
    for _ in range(3):
        wedge_scan(page, medium.ean)
        page.wait_for_function(SETTLED)
    line = page.locator(f"#count [data-line='{medium.sku}']")
    expect(line.locator("[data-counted]")).to_have_value("3")
    expect(page.get_by_text("Not scanned yet (1)")).to_be_visible()
    assert page.url == count_url

    # Interrupted: the tablet reloads the page; the count is where it was.
    page.reload()
    page.wait_for_load_state("load")
    expect(page.locator(f"#count [data-line='{medium.sku}'] [data-counted]")).to_have_value("3")

    page.get_by_role("link", name="Check and submit").click()
    unscanned = page.locator("[data-unscanned]")
    expect(page.get_by_text("These 1 items were not scanned. They count as 0")).to_be_visible()
    expect(unscanned).to_contain_text(small.sku)
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Submit the count").click()
    expect(page.get_by_role("status").filter(has_text="1 items wait for the manager")).to_be_visible()
    result = page.locator("[data-count-result]")
    expect(result.locator(f"[data-line='{small.sku}'] [data-status]")).to_have_text("Variance: waiting for the manager")
    expect(result.locator(f"[data-line='{medium.sku}'] [data-status]")).to_have_text("Posted")
    assert on_hand(small, cph) == 2  # nothing posted for S before the review

    # The manager reviews it: counted 0, expected 2, and posts it.
    sign_out(page)
    nav = sign_in(page, "lars@example.test")
    nav.get_by_role("link", name="Manager").click()
    page.wait_for_load_state("load")
    page.locator(".manager-tabs").get_by_role("link", name="Counts").click()
    expect(page.get_by_role("heading", name=re.compile("Waiting for your decision"))).to_be_visible()
    page.wait_for_load_state("load")
    page.get_by_role("link", name=re.compile(r"Count #\d+")).click()
    waiting = page.locator("[data-count-waiting]")
    row = waiting.locator(f"[data-line='{small.sku}']")
    expect(row).to_contain_text("-2")
    page.wait_for_load_state("load")
    row.get_by_role("button", name="Post the count").click()
    expect(page.get_by_text(f"{small.sku}: 0 on hand now.")).to_be_visible()
    expect(page.get_by_text("Nothing left to decide in this count.")).to_be_visible()
    assert on_hand(small, cph) == 0
    assert on_hand(medium, cph) == 3

    page.goto(count_url)
    expect(page.locator("[data-count-result]").locator(f"[data-line='{small.sku}'] [data-status]")).to_have_text(
        "Posted"
    )


def test_a_scan_goes_on_when_the_scan_box_takes_the_focus_mid_code(page, make):
    """htmx focuses the swapped-in scan box as it settles; when that lands in the middle of a wedge scan, the
    digits before and after are still one code, counted once (before: the tail arrived as an unknown code)."""
    cph = make.location("CPH")
    clerk = make.staff("clerk", cph, email="mette@example.test", name="Mette Hansen")
    jacket = make.product(name="Rain Jacket", brand="Nordwind", category="Jackets")
    medium = make.variant(jacket, size="M")
    ledger.receive(ledger.StockChange(medium.id, cph.id, 3, reason="delivery"), clerk)
    count = counts.start_count(cph.id, counts.CountScope("category", category="Jackets"), clerk)

    sign_in(page, "mette@example.test")
    page.goto(f"/stock/counts/{count.id}")
    wedge_scan(page, medium.ean, focus_at=5, focus="#count-code")  # what htmx does for [autofocus]

    expect(page.locator(f"#count [data-line='{medium.sku}'] [data-counted]")).to_have_value("1")
    expect(page.locator("#count .field-error, #count [role=alert]")).to_have_count(0)
    expect(page.locator("#count-code")).to_have_value("")


def test_the_camera_scans_into_the_count_and_the_page_stays(camera, make):  # noqa: F811 — the imported fixture
    page = camera(fake_camera.ean13_picture(EAN))
    scanner_sign_in(page, make)  # a clerk in Hamburg
    ham = db.session.scalar(select(Location).where(Location.code == "HAM"))
    clerk = db.session.scalar(select(Staff).where(Staff.email == "clerk@example.test"))
    parka = make.variant(make.product(name="Storm Parka", category="Jackets"), ean=EAN, size="L", colour="Navy")
    ledger.receive(ledger.StockChange(parka.id, ham.id, 2, reason="delivery"), clerk)
    count = counts.start_count(ham.id, counts.CountScope("category", category="Jackets"), clerk)

    page.goto(f"/stock/counts/{count.id}")
    page.wait_for_load_state("load")
    count_url = page.url
    page.locator("#count").get_by_role("button", name="Camera").click()
    line = page.locator(f"#count [data-line='{parka.sku}'] [data-counted]")
    expect(line).to_have_value("1", timeout=DECODE_TIMEOUT)
    assert page.url == count_url  # the code went into the count, not to the product page


def test_a_blind_count_of_a_zone_posts_zero_for_the_unscanned_item_after_review(page, make):
    from omnistore.stock import zones

    cph = make.location("CPH")
    clerk = make.staff("clerk", cph, email="mette@example.test", name="Mette Hansen")
    make.staff("manager", cph, email="lars@example.test", name="Lars Holm")
    boots = make.product(name="Trail Boot", brand="Nordwind", category="Shoes")
    small, medium = make.variant(boots, size="40"), make.variant(boots, size="42")
    scarf = make.variant(make.product(name="Wool Scarf", category="Scarves"), size="One")
    for variant, quantity in ((small, 2), (medium, 3), (scarf, 4)):
        ledger.receive(ledger.StockChange(variant.id, cph.id, quantity, reason="delivery"), clerk)
    zones.set_zone(scarf.id, cph.id, "Shoe wall", clerk)  # a scarf hangs on the shoe wall too
    zones.set_zone(small.id, cph.id, "Window", clerk)

    # The clerk puts the 40s on the shoe wall from their stock page.
    sign_in(page, "mette@example.test")
    page.goto(f"/stock/variants/{small.id}/here")
    page.wait_for_load_state("load")
    zone_form = page.get_by_role("form", name="Zone in this store")
    expect(zone_form.get_by_label("Zone")).to_have_value("Window")
    zone_form.get_by_label("Zone").fill("Shoe wall")
    zone_form.get_by_role("button", name="Save zone").click()
    expect(page.locator("#stock-here .notice")).to_have_text("Zone: Shoe wall.")
    page.reload()
    page.wait_for_load_state("load")
    expect(page.get_by_role("form", name="Zone in this store").get_by_label("Zone")).to_have_value("Shoe wall")
    zones.set_zone(medium.id, cph.id, "Shoe wall", clerk)

    page.goto("/stock/counts")
    page.wait_for_load_state("load")
    start = page.get_by_role("form", name="Start a count")
    start.get_by_label("A zone").check()
    start.get_by_label("Zone", exact=True).select_option("Shoe wall")
    expect(start.get_by_label("Blind count")).to_be_checked()
    start.get_by_role("button", name="Start counting").click()
    expect(page).to_have_url(re.compile(r"/stock/counts/\d+$"))
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Zone · Shoe wall")
    expect(page.get_by_text("Not scanned yet (3)")).to_be_visible()
    expect(page.locator("#count")).not_to_contain_text("Expected")  # blind

    for code in (medium.ean, medium.ean, medium.ean, scarf.ean, scarf.ean, scarf.ean, scarf.ean):
        wedge_scan(page, code)
        page.wait_for_function(SETTLED)
    expect(page.locator(f"#count [data-line='{medium.sku}'] [data-counted]")).to_have_value("3")
    expect(page.get_by_text("Not scanned yet (1)")).to_be_visible()

    page.get_by_role("link", name="Check and submit").click()
    expect(page.get_by_text("These 1 items were not scanned. They count as 0")).to_be_visible()
    expect(page.locator("[data-unscanned]")).to_contain_text(small.sku)
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Submit the count").click()
    expect(page.get_by_role("status").filter(has_text="1 items wait for the manager")).to_be_visible()
    assert on_hand(small, cph) == 2  # nothing posted for the 40s before the review

    sign_out(page)
    nav = sign_in(page, "lars@example.test")
    nav.get_by_role("link", name="Manager").click()
    page.wait_for_load_state("load")
    page.locator(".manager-tabs").get_by_role("link", name="Counts").click()
    page.wait_for_load_state("load")
    page.get_by_role("link", name=re.compile(r"Count #\d+")).click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Shoe wall")
    row = page.locator(f"[data-count-waiting] [data-line='{small.sku}']")
    expect(row).to_contain_text("-2")
    row.get_by_role("button", name="Post the count").click()
    expect(page.get_by_text(f"{small.sku}: 0 on hand now.")).to_be_visible()
    assert (on_hand(small, cph), on_hand(medium, cph), on_hand(scarf, cph)) == (0, 3, 4)
