"""Sessions in real Chromium with a short idle timeout: an open pickup desk stays signed in and working past
it (its visible queue is presence), while a stock page whose live panel is all that moved leads to one full
sign-in page, and back to the product after signing in."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

IDLE_MINUTES = 0.1  # six seconds
POLL_SECONDS = 0.5


@pytest.fixture
def app_config():
    return {
        "OMNISTORE_IDLE_TIMEOUT_MINUTES": IDLE_MINUTES,
        "OMNISTORE_PICKUP_QUEUE_REFRESH_SECONDS": POLL_SECONDS,
        "OMNISTORE_LIVE_REFRESH_SECONDS": POLL_SECONDS,
        # with push (PostgreSQL): the open page refreshes and its stream checks the session as often as it polls
        "OMNISTORE_LIVE_PUSH_REFRESH_SECONDS": POLL_SECONDS,
        "OMNISTORE_LIVE_STREAM_CHECK_SECONDS": POLL_SECONDS,
    }


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        team={"clerk": ("clerk", "HAM", "Jonas Weber")},
        variants={"variant": dict(product="Fjord Parka", size="XL", colour="Navy", stock={"HAM": 4})},
    )


def sign_in(page):
    page.get_by_label("Email").fill("clerk@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def past_the_idle_timeout(page):
    """Let more than the idle timeout pass with the page open (its live part polling all along). Waiting for
    time itself to pass: a slower machine only makes it longer."""
    page.wait_for_timeout(IDLE_MINUTES * 60 * 1000 * 1.6)


def test_an_open_desk_stays_signed_in_past_the_idle_timeout(page, shop):
    page.goto("/login")
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/pickups/")
    page.wait_for_load_state("load")
    past_the_idle_timeout(page)
    expect(page).to_have_url(re.compile(r"/pickups/$"))
    page.get_by_label("or type the pickup code").fill("ACDE FGHJ")
    page.get_by_role("button", name="Find order").click()
    expect(page.locator("#pickup-code-error")).to_contain_text("No pickup order has the code ACDEFGHJ")
    expect(page.locator(".who-name")).to_contain_text("Jonas Weber")


def test_a_live_panel_past_the_idle_timeout_leads_to_one_sign_in_page_and_back(page, shop):
    product = f"/stock/products/{shop['variant'].product_id}?variant={shop['variant'].id}"
    page.goto(product)  # not signed in: the sign-in page, then the product
    sign_in(page)
    expect(page).to_have_url(re.compile(re.escape(product) + "$"))
    expect(page.locator("#network-panel")).to_be_visible()
    past_the_idle_timeout(page)
    # The whole page goes to sign-in (not the panel), and will return to the product page (not the panel's URL).
    expect(page).to_have_url(re.compile(r"/login\?next=/stock/products/"), timeout=15_000)
    expect(page.locator("main")).to_have_count(1)
    expect(page.locator(".who-name")).to_have_count(0)  # no header still showing the clerk
    expect(page.locator("#network-panel")).to_have_count(0)
    expect(page.get_by_text("without activity")).to_be_visible()
    sign_in(page)
    expect(page).to_have_url(re.compile(re.escape(product) + "$"))
    expect(page.locator("#network-panel")).to_be_visible()
