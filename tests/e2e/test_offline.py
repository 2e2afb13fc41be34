"""The tablet without Wi-Fi (issue #20): pages opened before stay readable with their age, a count or a note made
offline waits on the tablet and lands exactly once when the connection is back (a reload in between changes
nothing), what needs the connection now is refused with what was typed kept, and signing out forgets it all."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.customers.models import CustomerNote
from omnistore.stock.models import StockMovement
from tests.e2e import test_order_builder
from tests.e2e.test_foundation import sign_in, sign_out

network = test_order_builder.network  # the builder's store network (a fixture)

pytestmark = pytest.mark.e2e


def worker_ready(page):
    """The service worker controls the page: from now on the pages this tab opens are saved."""
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def open_page(page, url):
    page.goto(url)
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "true")


def counted(variant, location, reason):
    db.session.rollback()  # a fresh snapshot: the server wrote in its own connection
    return db.session.scalar(
        select(func.count())
        .select_from(StockMovement)
        .where(
            StockMovement.variant_id == variant.id,
            StockMovement.location_id == location.id,
            StockMovement.reason == reason,
        )
    )


@pytest.fixture
def parka(make):
    ham = make.location("HAM", name="Hamburg")
    variant = make.variant(make.product(name="Fjord Parka", brand="Nordwind"), size="XL", colour="Navy")
    make.stock(variant, ham, 4, allocated=2)
    make.staff("clerk", ham, email="jonas@example.test", name="Jonas Weber")
    return {"variant": variant, "ham": ham, "here": f"/stock/variants/{variant.id}/here"}


def test_a_count_made_offline_lands_exactly_once_after_a_reload_and_the_reconnect(page, context, parka):
    sign_in(page, "jonas@example.test")
    worker_ready(page)
    open_page(page, parka["here"])
    figures = page.locator(".here-figures")
    queue = page.locator("#offline-queue")
    expect(queue).to_be_hidden()

    context.set_offline(True)
    correct = page.get_by_role("form", name="Correct count")
    correct.get_by_label("Counted on hand").fill("6")
    correct.get_by_label("Reason").fill("Stocktake offline")
    correct.get_by_role("button", name="Save count").click()
    expect(correct.get_by_role("status")).to_contain_text("Saved on this tablet")
    expect(queue).to_contain_text("Waiting to send (1)")
    item = queue.locator("[data-queue-item]")
    expect(item).to_contain_text("Count: Fjord Parka")
    expect(item).to_contain_text("6 · Stocktake offline")
    expect(item).to_have_attribute("data-state", "waiting")
    expect(correct.get_by_label("Counted on hand")).to_have_value("")  # ready for the next count
    expect(figures.locator("[data-figure=on_hand]")).to_have_text("4")
    assert counted(parka["variant"], parka["ham"], "Stocktake offline") == 0

    # The tablet reloads while offline (or wakes from sleep): the saved page, with its age, and the queue.
    page.reload()
    page.wait_for_load_state("load")
    expect(page.locator("#offline-copy")).to_contain_text("Saved copy from")
    expect(page.locator("#connection-banner")).to_be_visible()
    expect(queue).to_contain_text("Waiting to send (1)")
    expect(queue.locator("[data-queue-item]")).to_contain_text("Count: Fjord Parka")
    assert counted(parka["variant"], parka["ham"], "Stocktake offline") == 0

    # Back online: sent once, the figures on screen follow.
    context.set_offline(False)
    expect(queue).to_be_hidden()
    assert counted(parka["variant"], parka["ham"], "Stocktake offline") == 1
    open_page(page, parka["here"])  # a fresh page sends nothing again
    expect(figures.locator("[data-figure=on_hand]")).to_have_text("6")
    expect(page.locator("#offline-copy")).to_be_hidden()
    expect(queue).to_be_hidden()
    assert counted(parka["variant"], parka["ham"], "Stocktake offline") == 1


def test_a_count_whose_answer_was_lost_is_sent_again_and_applied_once(page, parka):
    sign_in(page, "jonas@example.test")
    open_page(page, parka["here"])
    lost = []

    def answer_lost(route):  # the server gets it, the tablet never hears back
        if lost:
            route.continue_()
            return
        lost.append(route.request.url)
        route.fetch()
        route.abort("connectionreset")

    page.route("**/correct", answer_lost)
    correct = page.get_by_role("form", name="Correct count")
    correct.get_by_label("Counted on hand").fill("5")
    correct.get_by_label("Reason").fill("Stocktake lost answer")
    correct.get_by_role("button", name="Save count").click()
    # Sent again at once from the queue under the same key: the server says it had it already, and the
    # figures are fetched anew. No "could not confirm" for the clerk to check.
    expect(page.locator(".here-figures [data-figure=on_hand]")).to_have_text("5")
    expect(page.locator("#offline-queue")).to_be_hidden()
    expect(page.locator("#unconfirmed-banner")).to_be_hidden()
    assert len(lost) == 1
    assert counted(parka["variant"], parka["ham"], "Stocktake lost answer") == 1
    page.reload()
    expect(page.locator(".here-figures [data-figure=on_hand]")).to_have_text("5")
    assert counted(parka["variant"], parka["ham"], "Stocktake lost answer") == 1


def test_a_refused_count_stays_with_its_message_and_sign_out_forgets_it_all(page, context, parka):
    sign_in(page, "jonas@example.test")
    worker_ready(page)
    open_page(page, parka["here"])

    context.set_offline(True)
    correct = page.get_by_role("form", name="Correct count")
    correct.get_by_label("Counted on hand").fill("1")  # two are reserved for orders: the server refuses this
    correct.get_by_label("Reason").fill("Stocktake refused")
    correct.get_by_role("button", name="Save count").click()
    queue = page.locator("#offline-queue")
    expect(queue).to_contain_text("Waiting to send (1)")

    context.set_offline(False)
    item = queue.locator("[data-queue-item]")
    expect(item).to_have_attribute("data-state", "refused")
    expect(item).to_contain_text("Not accepted: Reserved for customer orders: 2")
    expect(queue).to_contain_text("Not sent: check and dismiss (1)")
    expect(correct.locator("[data-offline-note]")).to_have_count(0)  # "saved on this tablet" is over
    assert counted(parka["variant"], parka["ham"], "Stocktake refused") == 0

    open_page(page, parka["here"])  # still there on the next page
    expect(queue.locator("[data-queue-item]")).to_have_attribute("data-state", "refused")
    assert page.evaluate("caches.keys().then(names => names.filter(n => n.startsWith('omnistore-pages-')).length)")

    sign_out(page)
    expect(page.locator("html")).to_have_attribute("data-offline-forgotten", "true")
    saved = page.evaluate("caches.keys().then(names => names.filter(n => n.startsWith('omnistore-pages-')))")
    assert saved == []
    waiting = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open("omnistore-offline", 1);
            open.onupgradeneeded = () => open.result.createObjectStore("queue", {keyPath: "key"});
            open.onsuccess = () => {
                const get = open.result.transaction("queue").objectStore("queue").count();
                get.onsuccess = () => resolve(get.result);
                get.onerror = () => reject(get.error);
            };
        })"""
    )
    assert waiting == 0

    # Offline now, the page opened before is not on the tablet any more.
    context.set_offline(True)
    page.goto(parka["here"])
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is not saved on this tablet")
    expect(page.get_by_text("Fjord Parka")).to_have_count(0)


def test_pages_opened_before_are_readable_offline_with_their_age(page, context, network):
    sign_in(page, "hanna@example.test")
    worker_ready(page)
    product = f"/stock/products/{network['size44'].product_id}?variant={network['size44'].id}"
    profile = f"/customers/{network['customer'].id}"
    for url in (product, profile, "/pickups/"):
        open_page(page, url)
    expect(page.locator("#offline-copy")).to_be_hidden()

    context.set_offline(True)
    page.goto(product)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trail Boot")
    expect(page.locator("#network-panel")).to_contain_text("København")  # the network panel as last seen
    expect(page.locator("#offline-copy")).to_contain_text("Saved copy from")
    expect(page.locator("#offline-copy")).to_contain_text(re.compile(r"just now|minute"))
    expect(page.locator("#connection-banner")).to_be_visible()

    # A tap on a link to a page saved before opens the copy; one never opened stays put, as before.
    page.locator("nav.mainnav").get_by_role("link", name="Pickups", exact=True).click()
    expect(page).to_have_url(re.compile(r"/pickups/$"))
    expect(page.locator("#offline-copy")).to_contain_text("Saved copy from")
    page.locator("nav.mainnav").get_by_role("link", name="Orders", exact=True).click()
    expect(page.locator("#connection-banner")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/pickups/$"))

    page.goto(profile)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ida Lund")
    expect(page.locator("#offline-copy")).to_be_visible()

    page.goto("/stock/")  # never opened on this tablet
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is not saved on this tablet")

    context.set_offline(False)
    open_page(page, profile)
    expect(page.locator("#offline-copy")).to_be_hidden()


def test_a_note_written_offline_is_added_once_when_the_connection_is_back(page, context, network):
    customer = network["customer"]
    sign_in(page, "hanna@example.test")
    worker_ready(page)
    open_page(page, f"/customers/{customer.id}")

    context.set_offline(True)
    timeline = page.locator("#timeline")
    timeline.get_by_label("Note").fill("Wants the boots in 44 when they are back")
    timeline.get_by_role("button", name="Add note").click()
    queue = page.locator("#offline-queue")
    expect(queue).to_contain_text("Waiting to send (1)")
    expect(queue.locator("[data-queue-item]")).to_contain_text("Note on Ida Lund")
    expect(timeline.get_by_label("Note")).to_have_value("")

    # Recording a visit is not queued (its time would be wrong): refused, with a message.
    timeline.get_by_role("button", name="Customer is here: record visit").click()
    expect(timeline.get_by_role("alert")).to_contain_text("cannot be done offline")

    page.reload()
    expect(queue).to_contain_text("Waiting to send (1)")
    context.set_offline(False)
    expect(queue).to_be_hidden()
    expect(page.locator("#timeline")).to_contain_text("Wants the boots in 44 when they are back")
    db.session.rollback()
    notes = db.session.scalars(select(CustomerNote.body).where(CustomerNote.customer_id == customer.id)).all()
    assert notes == ["Wants the boots in 44 when they are back"]


def test_placing_an_order_offline_is_refused_and_what_was_typed_is_kept(page, context, network):
    sign_in(page, "hanna@example.test")
    page.goto(f"/orders/new?variant_id={network['scarf'].id}&customer_id={network['customer'].id}")
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    page.wait_for_load_state("load")
    builder = page.locator("#draft")
    place = builder.get_by_role("button", name=re.compile("Place order"))
    expect(place).to_be_enabled()

    context.set_offline(True)
    builder.get_by_label("Add an item").fill("Trail Boot 43")
    place.click()
    expect(builder.locator(".place-form").get_by_role("alert")).to_contain_text(
        "This needs the connection and cannot be done offline"
    )
    expect(builder.get_by_label("Add an item")).to_have_value("Trail Boot 43")
    expect(page).to_have_url(re.compile(r"/orders/drafts/"))
    expect(page.locator("#offline-queue")).to_be_hidden()  # nothing that reserves stock waits on the tablet

    context.set_offline(False)
    expect(builder.locator(".place-form").get_by_role("alert")).to_have_count(0)
    place.click()
    expect(page.get_by_role("status").filter(has_text="placed")).to_contain_text("ida.lund@example.test")
