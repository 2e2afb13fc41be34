"""The global box on every page finds customers too: typed names (accents optional) and phone numbers in any
notation, in their own group above the products. (A loyalty card scanned into it opens the profile: see
tests/web/test_customers_find.py.)"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def shop(make):
    shop = make.shop(
        "HAM",
        team={"clerk": ("clerk", "HAM", "Jonas Weber")},
        variants={"anorak": dict(product="Anorak Classic", brand="Nordwind", size="M")},
    )
    shop["anna"] = make.customer(
        "Anna", "Sørensen", email="anna@example.dk", phone="+4520123456", loyalty_number="OSL0000077"
    )
    return shop


def test_anna_in_the_global_box_finds_the_customer_and_opens_her_profile(page, shop):
    sign_in(page, "clerk@example.test")
    box = page.get_by_role("searchbox", name="Search or scan")
    box.fill("anna sorensen")
    box.press("Enter")
    results = page.locator("#search-results")
    customers = results.get_by_role("region", name="Customers")
    expect(customers.get_by_role("link")).to_have_count(1)
    expect(customers.get_by_role("link")).to_contain_text("Anna Sørensen")
    expect(results.get_by_role("heading", name="Products")).to_be_visible()
    capture(page, "global-search-customers")

    box = page.get_by_role("searchbox", name="Search or scan")
    box.fill("20 12 34 56")  # a Danish number as people write it
    box.press("Enter")
    # The first search's page shows Anna too: wait for the page of this search (the box submits a GET form)
    # before looking at, and tapping, its results — else the tap can land on the old page mid-navigation.
    expect(page).to_have_url(re.compile(r"[?&]q=20(\+|%20)12(\+|%20)34(\+|%20)56(&|$)"))
    expect(page.get_by_role("searchbox", name="Search or scan")).to_have_value("20 12 34 56")
    expect(page.locator("#search-results").get_by_role("region", name="Customers")).to_contain_text("Anna Sørensen")

    page.locator("#search-results").get_by_role("link", name=re.compile("Anna Sørensen")).click()
    expect(page).to_have_url(re.compile(rf"/customers/{shop['anna'].id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Anna Sørensen")
