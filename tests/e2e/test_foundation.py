"""The foundation in a real browser: sign in, the home screen, the language switch, sign out, the
connection banner and the manager's section. Also keeps the README's screenshots current."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.screenshots import capture

pytestmark = pytest.mark.e2e


def sign_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.wait_for_load_state("load")  # the page's scripts wire its buttons; a tap before that does nothing
    return page.locator("nav.mainnav")  # by class: its accessible name is translated


def sign_out(page):
    page.locator("form[action='/logout'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("input[type=password]")).to_be_visible()


def test_clerk_signs_in_switches_to_german_and_signs_out(page, make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="jonas.weber@example.test", name="Jonas Weber")

    page.goto("/login")
    expect(page.get_by_role("heading", name="omnistore")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()
    capture(page, "login")

    nav = sign_in(page, "jonas.weber@example.test")

    # The home screen of the clerk's store.
    expect(page.get_by_role("heading", level=1)).to_have_text("Hamburg")
    expect(page.locator(".who")).to_contain_text("Jonas Weber · Clerk")
    desk = page.get_by_role("region", name="Today's pickup desk")
    expect(desk).to_be_visible()
    for tile in ("Customers here now", "To prepare", "Arriving", "Ready for pickup", "Overdue", "Collected today"):
        expect(desk.get_by_text(tile, exact=True)).to_be_visible()
    expect(desk.get_by_role("link", name="Open the pickup desk")).to_be_visible()
    search = page.get_by_role("searchbox", name="Search or scan")
    expect(search).to_be_visible()
    expect(search).to_be_editable()
    for section in ("Home", "Stock", "Customers", "Orders", "Pickups"):
        expect(nav.get_by_role("link", name=section, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Home", exact=True)).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Manager")).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    capture(page, "home")

    # Deutsch, please: the page comes back in German, and the choice sticks to the clerk.
    nav.get_by_role("button", name="Deutsch").click()
    expect(nav.get_by_role("button", name="Deutsch")).to_have_attribute("aria-pressed", "true")
    expect(nav.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("form[action='/logout'] button")).to_have_text("Abmelden")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hamburg")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(nav.get_by_role("button", name="Deutsch")).to_have_attribute("aria-pressed", "true")

    sign_out(page)  # the sign-in page keeps the clerk's language
    expect(page.get_by_role("button", name="Anmelden", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")


def test_connection_banner_shows_while_the_server_is_out_of_reach(page, context, make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="clerk@example.test")
    nav = sign_in(page, "clerk@example.test")
    banner = page.locator("#connection-banner")
    stock_link = nav.get_by_role("link", name="Stock", exact=True)
    expect(banner).to_be_hidden()

    # The tablet drops off the Wi-Fi: the banner says so, and a tap changes nothing.
    context.set_offline(True)
    stock_link.click()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("No connection")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hamburg")

    context.set_offline(False)
    expect(banner).to_be_hidden()

    # Online as far as the tablet knows, but the server does not answer (a dead access point, a restart).
    unreachable = re.compile(r"/stock/")
    # On the context, not the page: once the service worker controls the page, it fetches the page itself, and
    # only the context's routes see its requests.
    context.route(unreachable, lambda route: route.abort("connectionrefused"))
    stock_link.click()
    expect(banner).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))

    context.unroute(unreachable)
    stock_link.click()
    expect(page).to_have_url(re.compile(r"/stock/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock")
    expect(banner).to_be_hidden()


def test_only_managers_see_and_open_the_manager_section(page, make):
    ham = make.location("HAM")
    make.staff("manager", ham, email="manager@example.test", name="Mia Manager")
    make.staff("clerk", ham, email="clerk@example.test")

    nav = sign_in(page, "manager@example.test")
    manager_link = nav.get_by_role("link", name="Manager", exact=True)
    expect(manager_link).to_be_visible()
    manager_link.click()
    expect(page).to_have_url(re.compile(r"/manager/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Manager")
    expect(manager_link).to_have_attribute("aria-current", "page")
    sign_out(page)

    nav = sign_in(page, "clerk@example.test")
    expect(nav.get_by_role("link", name="Manager")).to_have_count(0)
    response = page.goto("/manager/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You do not have permission to do that.")
    expect(page.get_by_text("Error code 403")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the home screen")).to_be_visible()


# --- Boosted navigation swaps <body>'s content only: language and session changes need full pages ---------


def test_language_switch_updates_html_lang_without_a_reload(page, make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="clerk@example.test")
    nav = sign_in(page, "clerk@example.test")
    nav.get_by_role("button", name="Deutsch").click()
    expect(nav.get_by_role("button", name="Deutsch")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("document.documentElement.lang") == "de"


def test_signing_in_again_without_a_reload_refreshes_the_csrf_header(page, make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="clerk@example.test")
    sign_in(page, "clerk@example.test")
    sign_out(page)
    page.get_by_label("Email").fill("clerk@example.test")  # on the boosted login page, no reload
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    token = page.locator("form[action='/logout'] input[name=csrf_token]").input_value()
    assert token in page.evaluate("document.body.getAttribute('hx-headers')")
