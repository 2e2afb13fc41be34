"""The order builder where it meets the rest: the connection dropping, a wedge scanner, the customer picker's
focus and quick-create, and the parcel that makes an order ready."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import test_order_builder
from tests.e2e.test_foundation import sign_in
from tests.e2e.wedge import wedge_scan

network = test_order_builder.network  # the same store network as the builder's own tests (a fixture)
settled = test_order_builder.settled

pytestmark = pytest.mark.e2e


def open_builder(page, variant=None, customer=None):
    args = "&".join(
        f"{key}={value.id}" for key, value in (("variant_id", variant), ("customer_id", customer)) if value is not None
    )
    page.goto(f"/orders/new?{args}")
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    page.wait_for_load_state("load")
    return page.locator("#draft")


def test_place_works_again_once_the_connection_is_back(page, context, network):
    sign_in(page, "hanna@example.test")
    builder = open_builder(page, network["scarf"], network["customer"])
    place = builder.get_by_role("button", name=re.compile("Place order"))
    expect(place).to_be_enabled()

    context.set_offline(True)
    place.click()
    expect(page.locator("#connection-banner")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/orders/drafts/"))

    context.set_offline(False)
    expect(page.locator("#connection-banner")).to_be_hidden()
    place.click()
    expect(page.get_by_role("status").filter(has_text="placed")).to_contain_text("ida.lund@example.test")


def test_a_customer_choice_that_never_reached_the_server_can_be_made_again(page, network):
    sign_in(page, "hanna@example.test")
    builder = open_builder(page, network["scarf"])
    lost = []

    def drop_once(route):  # the connection drops while the choice is being saved
        if lost:
            route.continue_()
        else:
            lost.append(route.request.url)
            route.abort()

    page.route("**/orders/drafts/*/customer", drop_once)
    page.get_by_label("Customer", exact=True).fill("Ida")
    page.get_by_role("button", name=re.compile("Ida Lund")).click()
    expect(page.locator("#unconfirmed-banner")).to_be_visible()  # it may have gone through: check, then again
    assert lost

    builder.get_by_role("button", name="Change customer").click()
    page.get_by_label("Customer", exact=True).fill("Ida")
    page.get_by_role("button", name=re.compile("Ida Lund")).click()
    expect(builder.get_by_role("button", name=re.compile("Place order"))).to_be_enabled()
    expect(page.locator("#unconfirmed-banner")).to_be_hidden()


def test_the_next_step_has_the_focus_and_a_wedge_scan_adds_to_the_order(page, network):
    sign_in(page, "hanna@example.test")
    builder = open_builder(page)
    expect(page.get_by_label("Customer", exact=True)).to_be_focused()

    page.get_by_label("Customer", exact=True).fill("Ida")
    page.get_by_role("button", name=re.compile("Ida Lund")).click()
    expect(builder.locator(".picker-chosen")).to_contain_text("Ida Lund")
    expect(page.get_by_label("Add an item")).to_be_focused()
    settled(page)

    draft_url = page.url
    wedge_scan(page, network["scarf"].ean)
    line = builder.locator(f".draft-line[data-variant='{network['scarf'].id}']")
    expect(line).to_contain_text("Wool Scarf")
    assert page.url == draft_url
    settled(page)
    wedge_scan(page, network["scarf"].ean)  # scanned again: one more
    expect(line.get_by_label("Quantity", exact=True)).to_have_value("2")
    assert page.url == draft_url


def test_quick_create_from_the_builder_starts_with_the_name_typed(page, network):
    sign_in(page, "hanna@example.test")
    builder = open_builder(page, network["scarf"])
    page.get_by_label("Customer", exact=True).fill("Anna Berg")
    expect(builder.get_by_role("status").filter(has_text="No customer matches")).to_be_visible()
    builder.get_by_text("New customer", exact=True).click()
    expect(builder.get_by_label("First name")).to_have_value("Anna")
    expect(builder.get_by_label("Last name")).to_have_value("Berg")
    expect(builder.get_by_label("Email")).to_be_focused()
    builder.get_by_label("Mobile or phone").fill("+45 20 99 88 77")
    for question in ("by email", "by text message"):
        builder.get_by_role("group", name=re.compile(question)).get_by_text("No", exact=True).click()
    builder.get_by_role("button", name="Create and use").click()
    expect(builder.locator(".picker-chosen")).to_contain_text("Anna Berg")
    expect(builder.get_by_role("button", name=re.compile("Place order"))).to_be_enabled()
