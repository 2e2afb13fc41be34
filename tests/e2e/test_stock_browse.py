"""Find a product and see where it is, in a real browser: the wedge scanner, the as-you-type search, the
product page with its matrix, and the live network panel across two tablets."""

import re
import time

import pytest
from playwright.sync_api import expect

from omnistore.catalog.search_text import search_text_for
from omnistore.core.extensions import db
from omnistore.stock import ledger
from tests.conftest import PASSWORD
from tests.e2e.conftest import TABLET, TIMEOUT_MS, BrowserProblems
from tests.e2e.test_foundation import sign_in
from tests.e2e.wedge import wedge_scan

pytestmark = pytest.mark.e2e


def product(make, name, brand, sizes, colours=("Navy",)):
    prod = make.product(name=name, brand=brand, category="Jackets")
    variants = {(colour, size): make.variant(prod, size=size, colour=colour) for colour in colours for size in sizes}
    db.session.refresh(prod)
    prod.search_text = search_text_for(prod, prod.variants)
    db.session.commit()
    return prod, variants


@pytest.fixture
def network(make):
    places = {code: make.location(code) for code in ("HAM", "BER", "CPH", "AAR", "WH1")}
    parka, variants = product(make, "Fjord Parka", "Nordwind", ("S", "M", "XL"), ("Navy", "Olive"))
    loden, _loden = product(make, "Loden Jacket", "Müller & Söhne", ("M", "L"), ("Forest",))
    product(make, "Strickmütze", "Müller & Söhne", ("One size",), ("Grey",))
    xl = variants[("Navy", "XL")]
    make.stock(xl, places["HAM"], on_hand=0)  # sold out here
    make.stock(xl, places["CPH"], on_hand=2)
    make.stock(xl, places["BER"], on_hand=1)
    make.stock(xl, places["WH1"], on_hand=6)
    make.stock(variants[("Navy", "M")], places["HAM"], on_hand=3)
    make.staff("clerk", places["HAM"], email="ham@example.test", name="Hanna Hamburg")
    make.staff("clerk", places["CPH"], email="cph@example.test", name="Carl København")
    return dict(places=places, parka=parka, variants=variants, xl=xl, loden=loden)


def panel_quantity(page, code):
    return page.locator(f'#network-panel tr[data-location="{code}"] td.qty strong')


def wait_until(page, condition, timeout_ms=TIMEOUT_MS):
    """Wait (letting the page run) until `condition()` holds, for what the test counts on the Python side."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        page.wait_for_timeout(50)


def test_wedge_scan_opens_the_variant_with_its_matrix_and_panel(page, network):
    xl = network["xl"]
    sign_in(page, "ham@example.test")
    wedge_scan(page, xl.ean)

    expect(page).to_have_url(re.compile(rf"/stock/products/{network['parka'].id}\?variant={xl.id}$"))
    # The scan opened a new page: until its scripts have run, a tap on the matrix is a plain link.
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fjord Parka")
    matrix = page.locator("#matrix")
    expect(matrix.locator("thead th")).to_have_text(["Colour", "S", "M", "XL"])
    chosen = matrix.locator(f'[data-variant-cell="{xl.id}"]')
    expect(chosen).to_have_attribute("aria-current", "true")
    expect(chosen).to_have_class(re.compile(r"\bsold-out\b"))  # sold out here: marked, still there
    # Its name starts with the number it shows, so "tap 0" works by voice.
    expect(chosen).to_have_attribute("aria-label", "0 here (sold out here), 9 in the network: Navy / XL")
    expect(matrix.get_by_text("sold out here")).to_be_visible()  # the legend

    panel = page.locator("#network-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Fjord Parka · Navy / XL")
    rows = panel.locator("tr[data-location]")
    expect(rows).to_have_count(4)
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.location)") == ["HAM", "BER", "CPH", "WH1"]
    expect(panel.locator('[data-total="here"]')).to_have_text("0")
    expect(panel.locator('[data-total="network"]')).to_have_text("9")
    expect(panel.locator('tr[data-location="CPH"] .dist')).to_have_text(re.compile(r"28[89] km"))

    # Tap another size: its panel comes in without a reload, and the address names it.
    page.evaluate("window.stillTheSamePage = true")
    medium = network["variants"][("Navy", "M")]
    matrix.locator(f'[data-variant-cell="{medium.id}"]').click()
    expect(page).to_have_url(re.compile(rf"\?variant={medium.id}$"))
    expect(panel.get_by_role("heading", level=2)).to_have_text("Fjord Parka · Navy / M")
    expect(panel.locator('[data-total="here"]')).to_have_text("3")
    expect(matrix.locator(f'[data-variant-cell="{medium.id}"]')).to_have_attribute("aria-current", "true")
    expect(chosen).not_to_have_attribute("aria-current", "true")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_camera_scan_shows_the_product_at_its_address_and_its_matrix_and_reload_work(page, network):
    """The camera's scan navigates to /stock/scan?code=…, which answers with the product page itself."""
    xl, medium = network["xl"], network["variants"][("Navy", "M")]
    sign_in(page, "ham@example.test")
    page.goto(f"/stock/scan?code={xl.ean}")  # what the scanner dialog does with a decoded EAN
    page.wait_for_load_state("load")
    expect(page).to_have_url(re.compile(rf"/stock/scan\?code={xl.ean}$"))
    panel = page.locator("#network-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Fjord Parka · Navy / XL")
    expect(panel.locator('[data-total="network"]')).to_have_text("9")

    # A tap on another size inside the scanned page: its panel, in place, and the product's own address
    page.evaluate("window.stillTheSamePage = true")
    page.locator(f'#matrix [data-variant-cell="{medium.id}"]').click()
    expect(page).to_have_url(re.compile(rf"/stock/products/{network['parka'].id}\?variant={medium.id}$"))
    expect(panel.get_by_role("heading", level=2)).to_have_text("Fjord Parka · Navy / M")
    expect(page.locator("main")).to_have_count(1)
    expect(page.locator("#network-panel")).to_have_count(1)
    assert page.evaluate("window.stillTheSamePage") is True

    page.reload()
    expect(page.locator("#network-panel h2")).to_have_text("Fjord Parka · Navy / M")
    page.go_back()  # the scan's address again: it scans again
    expect(page).to_have_url(re.compile(rf"/stock/scan\?code={xl.ean}$"))
    expect(page.locator("#network-panel h2")).to_have_text("Fjord Parka · Navy / XL")
    expect(page.locator("main")).to_have_count(1)


def test_an_unknown_scanned_code_says_so_and_offers_the_search(page, network):
    sign_in(page, "ham@example.test")
    page.goto("/stock/scan?code=4006381333931")
    expect(page.get_by_role("heading", level=1)).to_have_text("No product with code 4006381333931")
    page.get_by_placeholder("Product, brand, SKU or EAN").fill("parka")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-results")).to_contain_text("Fjord Parka")


def test_as_you_type_search_with_umlauts_and_typos(page, network):
    sign_in(page, "ham@example.test")
    page.locator("nav.mainnav").get_by_role("link", name="Stock", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock")
    page.evaluate("window.stillTheSamePage = true")
    box = page.locator("#stock-q")
    results = page.locator("#search-results")

    box.press_sequentially("mueller", delay=40)
    expect(results.locator(".hit-name")).to_have_text(["Loden Jacket", "Strickmütze"])
    expect(page).to_have_url(re.compile(r"/stock/\?q=mueller$"))

    box.fill("jaket")
    expect(results.get_by_role("status")).to_have_text(
        re.compile(r"Nothing matched “jaket”\. Showing results for “jacket”\.")
    )
    expect(results.locator(".hit-name").first).to_have_text("Loden Jacket")
    expect(results.locator(".hit-name")).to_contain_text(["Loden Jacket", "Fjord Parka"])

    # Filters: the parka's XL is not available here.
    box.fill("parka")
    expect(results.locator(".hit-name")).to_have_text(["Fjord Parka"])
    page.locator("select[name=size]").select_option("XL")
    page.get_by_role("radio", name="Here", exact=True).click()
    expect(results).to_contain_text("No products match “parka”")
    page.get_by_role("radio", name="In the network", exact=True).click()
    expect(results.locator(".hit-name")).to_have_text(["Fjord Parka"])
    expect(results.locator(".pill").first).to_have_text(re.compile(r"Here\s*0"))
    assert page.evaluate("window.stillTheSamePage") is True  # no page load all along

    results.locator(".hit-link").first.click()  # opens the XL, the size filtered for
    expect(page).to_have_url(re.compile(rf"variant={network['xl'].id}$"))
    expect(page.locator("#network-panel h2")).to_have_text("Fjord Parka · Navy / XL")


def test_typing_an_ean_into_the_search_page_opens_it(page, network):
    sign_in(page, "ham@example.test")
    page.goto("/stock/")
    page.locator("#stock-q").fill(network["xl"].ean)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"variant={network['xl'].id}$"))
    expect(page.locator("#network-panel")).to_be_visible()


def change_stock(variant, location, on_hand):
    """A change from elsewhere (an import, a count on another tablet), through the stock service."""
    ledger.correct(ledger.StockChange(variant.id, location.id, on_hand, "changed elsewhere"), None)


def test_two_tablets_see_a_change_within_five_seconds(page, browser, live_server, network):
    xl = network["xl"]
    url = f"/stock/products/{network['parka'].id}?variant={xl.id}"
    sign_in(page, "ham@example.test")
    page.goto(url)
    expect(panel_quantity(page, "CPH")).to_have_text("2")
    expect(page.locator('[data-total="network"]')).to_have_text("9")
    page.evaluate("window.stillTheSamePage = true")

    # The second tablet: another clerk, in Copenhagen, in their own browser, counts the parka on the shelf.
    other = browser.new_context(base_url=live_server.url, viewport=dict(TABLET), has_touch=True, locale="en")
    try:
        tablet = other.new_page()
        problems = BrowserProblems(tablet)
        sign_in(tablet, "cph@example.test")
        tablet.goto(url)
        expect(tablet.locator('[data-total="here"]')).to_have_text("2")
        tablet.get_by_role("link", name="Receive / correct").click()
        correct = tablet.get_by_role("form", name="Correct count")
        correct.get_by_label("Counted on hand").fill("7")
        correct.get_by_label("Reason").fill("Stocktake")
        correct.get_by_role("button", name="Save count").click()
        expect(tablet.get_by_role("status").filter(has_text="Count saved: 7 on hand (+5).")).to_be_visible()
        saved = time.monotonic()

        # The first tablet shows it on its own, within five seconds, without a reload.
        expect(panel_quantity(page, "CPH")).to_have_text("7", timeout=5000)
        assert time.monotonic() - saved < 5
        expect(page.locator('[data-total="network"]')).to_have_text("14", timeout=1000)
        assert page.evaluate("window.stillTheSamePage") is True
        assert problems.errors == []
    finally:
        other.close()

    # Sold out in Berlin (an order, an import…): the row goes, the totals follow.
    change_stock(xl, network["places"]["BER"], 0)
    expect(page.locator('#network-panel tr[data-location="BER"]')).to_have_count(0, timeout=5000)
    expect(page.locator('[data-total="network"]')).to_have_text("13")


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LIVE_REFRESH_SECONDS": 0.3, "OMNISTORE_LIVE_PUSH": False}])
def test_polling_pauses_while_the_tab_is_hidden(page, network):
    xl = network["xl"]
    sign_in(page, "ham@example.test")
    polls = []
    page.on("request", lambda request: polls.append(time.monotonic()) if "/panel?v=" in request.url else None)
    page.goto(f"/stock/products/{network['parka'].id}?variant={xl.id}")
    expect(page.locator("#network-panel")).to_be_visible()
    wait_until(page, lambda: len(polls) >= 2)  # polling while visible (however slow the machine)

    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(400)  # a request already on its way may still land
    hidden_from = len(polls)
    change_stock(xl, network["places"]["CPH"], 4)
    page.wait_for_timeout(1500)
    assert len(polls) == hidden_from  # nothing sent while hidden
    expect(panel_quantity(page, "CPH")).to_have_text("2")

    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expect(panel_quantity(page, "CPH")).to_have_text("4")  # visible again: polling resumes


def test_a_long_panel_shows_the_nearest_stores_and_the_rest_on_request(page, network, make):
    xl = network["xl"]
    for number in range(14):
        store = make.location(f"S{number:02d}", latitude=50 + number / 10, longitude=8)
        make.stock(xl, store, on_hand=1)
    sign_in(page, "ham@example.test")
    page.goto(f"/stock/products/{network['parka'].id}?variant={xl.id}")
    rows = page.locator("#network-panel tbody:not(.warehouses) tr[data-location]")
    expect(rows).to_have_count(1 + 10)  # here, and the ten nearest stores
    page.get_by_role("link", name="Show 6 more stores").click()
    expect(rows).to_have_count(1 + 16)
    change_stock(xl, network["places"]["CPH"], 5)  # the refresh keeps the long list
    expect(panel_quantity(page, "CPH")).to_have_text("5", timeout=5000)
    expect(rows).to_have_count(1 + 16)
    page.get_by_role("link", name="Show the nearest stores only").click()
    expect(rows).to_have_count(1 + 10)


def test_the_stock_page_in_german(page, network):
    sign_in(page, "ham@example.test")
    page.locator("nav.mainnav").get_by_role("button", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.goto(f"/stock/products/{network['parka'].id}?variant={network['xl'].id}")
    expect(page.locator("#matrix h2")).to_have_text("Hier verfügbar")
    expect(page.locator("#network-panel thead th")).to_have_text(
        ["Standort", "Verfügbar", "Entfernung", "Öffnungszeiten"]
    )
    assert PASSWORD  # the same demo password signs in in every language
