"""Customers in a real browser at tablet size: search "mueller" finds "Müller", open the profile, add a note and
see it on the timeline; quick-create offers the existing profile for a known email. Screenshots of search,
profile and create."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def people(make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="ham@example.test", name="Hanna Hamburg")
    parka = make.product(name="Fjord Parka", category="Jackets")
    variant = make.variant(parka, size="M", colour="Navy")
    juergen = make.customer(
        "Jürgen",
        "Müller",
        email="juergen.mueller@example.de",
        phone="+4915123456789",
        loyalty_number="OSL0000042",
        preferred_location_id=ham.id,
        sizes={"tops": "M"},
    )
    make.customer("Søren", "Kjær", email="soeren@example.dk", phone="+4520123456")
    make.order(ham, [(variant, 1, ham)], status="ready", channel="web", customer_id=juergen.id)
    return {"juergen": juergen}


def test_search_mueller_open_profile_add_note_see_it_on_the_timeline(page, people):
    nav = sign_in(page, "ham@example.test")
    nav.get_by_role("link", name="Customers").click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    capture(page, "customers-search-empty")
    page.locator("#customer-q").fill("mueller")
    hit = page.locator("#customer-results .hit-link", has_text="Jürgen Müller")
    expect(hit).to_be_visible()
    expect(page.locator("#customer-results .hit-link")).to_have_count(1)
    capture(page, "customers-search")
    hit.click()
    expect(page.get_by_role("heading", name="Jürgen Müller", level=1)).to_be_visible()
    expect(page.locator("#open-orders")).to_contain_text("Ready for pickup")
    page.locator("#note-body").fill("Looking for a <b>navy</b> knit in M — call when in")
    page.get_by_role("button", name="Add note", exact=True).click()
    entry = page.locator("#timeline .entry-note").first
    expect(entry).to_contain_text("Looking for a <b>navy</b> knit in M")  # shown as typed, not as markup
    expect(entry).to_contain_text("Hanna Hamburg")
    expect(page.locator("#note-body")).to_have_value("")
    page.reload()
    expect(page.locator("#timeline .entry-note").first).to_contain_text("navy")
    capture(page, "customers-profile")


def test_quick_create_with_a_known_email_offers_the_existing_profile(page, people):
    sign_in(page, "ham@example.test")
    page.goto("/customers/?q=Anna Berg")
    expect(page.locator("#customer-results")).to_contain_text("No customer matches")
    page.locator("#customer-results").get_by_role("link", name="Create a profile").click()
    expect(page.get_by_label("First name")).to_have_value("Anna")
    expect(page.get_by_label("Last name")).to_have_value("Berg")
    capture(page, "customers-new")
    page.get_by_label("Email").fill("JUERGEN.MUELLER@example.de")
    page.get_by_role("button", name="Create profile").click()
    # The consent question was not answered: asked again, nothing created.
    expect(page.locator("#consent_email-question .field-error")).to_contain_text("Please ask the customer")
    page.locator("#consent_email-question").get_by_role("radio", name="No").check()
    page.get_by_role("button", name="Create profile").click()
    offer = page.locator("#duplicate-offer")
    expect(offer).to_contain_text("exists already")
    expect(offer).to_contain_text("Jürgen Müller")
    offer.get_by_role("link", name="Open this profile").click()
    expect(page).to_have_url(re.compile(rf"/customers/{people['juergen'].id}$"))
    expect(page.get_by_role("heading", name="Jürgen Müller", level=1)).to_be_visible()


def test_manager_merges_a_duplicate_picked_with_the_customer_picker(page, make, people):
    ham = people["juergen"].preferred_location
    make.staff("manager", ham, email="manager@example.test", name="Maria Becker")
    twin = make.customer(
        "Jürgen", "Müller", email="j.mueller@example.de", phone="+4917011112222", preferred_location_id=ham.id
    )
    sign_in(page, "manager@example.test")
    page.goto(f"/customers/{people['juergen'].id}")
    page.get_by_role("link", name="Merge with another profile").click()
    expect(page).to_have_url(re.compile(r"/merge$"))
    page.wait_for_load_state("load")  # htmx wires the picker once the page has loaded; a person types later
    search = page.locator("#other_id-picker-q")
    search.fill("j.mueller@example.de")
    search.press("Enter")  # searches; does not submit the merge form
    expect(page).to_have_url(re.compile(r"/merge$"))
    page.locator(".picker-hit", has_text="j.mueller@example.de").click()
    expect(page.locator('input[type=hidden][name="other_id"]')).to_have_value(str(twin.id))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".duplicate-offer")).to_contain_text("Merge Jürgen Müller into Jürgen Müller?")
    page.get_by_role("button", name="Merge now").click()
    expect(page.locator(".flash")).to_contain_text("was merged into this profile")
    expect(page.locator("#contact-title")).to_be_visible()


def test_the_second_of_two_crossing_merges_is_told_why_on_the_merge_page(page, make, people):
    from omnistore.clienteling import merging as customer_merging
    from omnistore.core.extensions import db
    from omnistore.stores.models import Staff

    ham = people["juergen"].preferred_location
    manager = make.staff("manager", ham, email="manager@example.test", name="Maria Becker")
    twin = make.customer("Jürgen", "Müller", email="j.mueller@example.de", preferred_location_id=ham.id)
    sign_in(page, "manager@example.test")
    page.goto(f"/customers/{people['juergen'].id}/merge")
    page.wait_for_load_state("load")
    page.locator("#other_id-picker-q").fill("j.mueller@example.de")
    page.locator("#other_id-picker-q").press("Enter")
    page.locator(".picker-hit", has_text="j.mueller@example.de").click()
    # The choice comes in by htmx: Continue before it has arrived would send no profile.
    expect(page.locator('input[type=hidden][name="other_id"]')).to_have_value(str(twin.id))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".duplicate-offer")).to_be_visible()
    # Meanwhile a colleague merges the other way round: Jürgen into the twin.
    customer_merging.merge_customers(twin, people["juergen"], staff=db.session.get(Staff, manager.id))
    page.get_by_role("button", name="Merge now").click()
    expect(page.locator(".inline-error")).to_contain_text(f"merged into profile #{twin.id} a moment ago")
    expect(page.locator("#other_id-picker-q")).to_be_visible()  # still on the merge page, nothing else changed


def test_a_pasted_control_character_in_a_note_is_refused_at_the_field(page, people):
    """A note pasted from a terminal or a label printer can carry ESC or BEL: refused where the clerk types,
    with the text kept to correct; line breaks in the textarea are fine."""
    sign_in(page, "ham@example.test")
    page.goto(f"/customers/{people['juergen'].id}")
    page.locator("#note-body").fill("Size M\n\u001b[1mcall back")
    page.get_by_role("button", name="Add note", exact=True).click()
    expect(page.locator("#note-error")).to_contain_text("control character")
    expect(page.locator("#note-body")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#timeline .entry-note")).to_have_count(0)
    page.locator("#note-body").fill("Size M\ncall back")
    page.get_by_role("button", name="Add note", exact=True).click()
    expect(page.locator("#timeline .entry-note").first).to_contain_text("call back")
    expect(page.locator("#note-error")).to_have_count(0)
