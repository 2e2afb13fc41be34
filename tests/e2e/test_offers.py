"""Offers in a real browser: on a customer's profile a clerk gives them the manager's offer (inside the live
offers card), starts an order from the profile, taps the offer in the builder and sees the discount in the
total; placing keeps it on the order page, and a reload shows the same."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from omnistore.core.types import utcnow
from omnistore.offers import services as offers
from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e
SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"


@pytest.fixture
def network(make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="hanna@example.test", name="Hanna Berg")
    manager = make.staff("manager", ham, email="mara@example.test", name="Mara Klein")
    scarf = make.variant(
        make.product(name="Wool Scarf", category="Scarves"), size="One size", colour="Grey", price_minor=4000
    )
    make.stock(scarf, ham, 6)
    customer = make.customer("Ida", "Lund", email="ida.lund@example.test")
    # A buyer who has not been back for long (the lifecycle's "at risk"): the clerk brings them back.
    make.order(
        ham, [(scarf, 1, ham)], status="collected", customer_id=customer.id, placed_at=utcnow() - timedelta(days=200)
    )
    today = utcnow().date()
    offer = offers.define_offer(
        offers.OfferTerms(
            name="Welcome back",
            kind="percent",
            value="25",
            scope="basket",
            market="DE",
            valid_from=today.isoformat(),
            valid_until=(today + timedelta(days=30)).isoformat(),
        ),
        staff=manager,
    )
    return {"scarf": scarf, "customer": customer, "offer": offer}


def test_a_clerk_gives_an_offer_on_the_profile_and_it_is_redeemed_in_the_builder(page, network):
    customer = network["customer"]
    sign_in(page, "hanna@example.test")
    page.goto(f"/customers/{customer.id}")
    page.wait_for_load_state("load")
    expect(page.locator('[data-stage-hint="at_risk"]')).to_contain_text("Issue a personal offer")  # why an offer
    card = page.locator("#customer-offers")
    expect(card).to_contain_text("No offers yet.")
    card.get_by_label("Give this customer an offer").select_option(value=str(network["offer"].id))
    card.get_by_role("button", name="Give offer").click()
    expect(card.locator("[data-issued-offer]")).to_contain_text("25 % off the basket")
    page.wait_for_function(SETTLED)
    expect(page.locator("main")).to_have_count(1)  # the card swapped in place: no page inside the page
    code = card.locator(".offer-code-text").inner_text()
    page.goto(f"/customers/{customer.id}#customer-offers")  # a reload, scrolled to the card for the picture
    page.wait_for_load_state("load")
    expect(page.locator("#customer-offers")).to_contain_text(code)
    capture(page, "offers-profile")

    # An order from the profile: the builder knows the customer and lists their offer.
    page.get_by_role("link", name="New order").click()
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    page.wait_for_load_state("load")
    builder = page.locator("#draft")
    page.get_by_label("Add an item").fill(network["scarf"].ean)
    page.get_by_label("Add an item").press("Enter")
    expect(builder.locator(".draft-line")).to_contain_text("Wool Scarf")
    page.wait_for_function(SETTLED)
    expect(builder.locator(".sum-total")).to_contain_text("40.00")
    builder.locator(f"[data-offer-choice='{code}']").click()
    expect(builder.locator(".sum-discount")).to_contain_text("−€10.00")
    expect(builder.locator(".sum-total")).to_contain_text("€30.00")
    page.wait_for_function(SETTLED)
    expect(builder.get_by_role("button", name=re.compile("Place order · €30.00"))).to_be_enabled()
    capture(page, "offers-builder")

    builder.get_by_role("button", name=re.compile("Place order")).click()
    expect(page).to_have_url(re.compile(r"/orders/OS-"))
    page.wait_for_load_state("load")
    expect(page.locator("[data-order-discount]")).to_contain_text("Welcome back")
    expect(page.locator("tfoot")).to_contain_text("€30.00")
    page.reload()
    expect(page.locator("tfoot")).to_contain_text("−€10.00")

    # Back on the profile the offer shows as used.
    page.goto(f"/customers/{customer.id}")
    expect(page.locator("#customer-offers")).to_contain_text("used")


def test_a_manager_defines_an_offer_and_sees_what_it_brought(page, network):
    sign_in(page, "mara@example.test")
    page.goto("/manager/offers/")
    page.wait_for_load_state("load")
    page.get_by_label("Name (the customer sees it)").fill("Scarf week")
    page.get_by_label("Amount off").check()
    page.get_by_label("Percent, or amount in the market's currency").fill("0")
    page.get_by_role("button", name="Save offer").click()
    expect(page.locator(".field.has-error").first).to_contain_text("above zero")  # at the field; nothing saved
    page.get_by_label("Percent, or amount in the market's currency").fill("5")
    page.get_by_label("Last day").fill((utcnow().date() + timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Save offer").click()
    expect(page.locator(".offer-list")).to_contain_text("€5.00 off the basket")
    capture(page, "offers-manager")
    page.get_by_role("link", name="Offer figures").click()
    page.wait_for_load_state("load")
    expect(page.locator("#offer-figures")).to_contain_text("No offer was issued or redeemed in this period.")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export (CSV)").click()
    assert download.value.suggested_filename.startswith("offers-HAM-")
