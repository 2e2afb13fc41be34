"""The manager's pickup review in a real browser: open the dashboard, change the period, follow a figure
to the orders it counts, open one order's timeline. Keeps the README's screenshots of it current."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def reviewed_store(make):
    ham, ber = make.location("HAM"), make.location("BER")
    make.staff("manager", ham, email="mia@example.test", name="Mia Manager")
    clerk = make.staff("clerk", ham, email="jonas@example.test", name="Jonas Weber")
    variant = make.variant(price_minor=8995)
    now = datetime.now(UTC)
    recent, older = [], []
    for days, hours_to_ready, hours_to_collect in ((0, 1, 2), (2, 3, 5), (3, 20, 30), (9, 2, 50), (12, 5, 4)):
        placed = now - timedelta(days=days, hours=max(hours_to_ready + hours_to_collect + 1, 1))
        order = make.order(
            ham, [(variant, 1, ham)], status="collected", placed_at=placed, promised_at=placed + timedelta(hours=24)
        )
        ready = placed + timedelta(hours=hours_to_ready)
        make.pickup(
            order,
            ready_at=ready,
            collected_at=ready + timedelta(hours=hours_to_collect),
            collected_by_staff_id=clerk.id,
            verification="qr",
            checked_in_at=ready + timedelta(hours=1),
        )
        make.event(order, "placed", placed)
        make.event(order, "ready", ready, staff=clerk, from_status="placed", to_status="ready")
        make.event(
            order,
            "collected",
            ready + timedelta(hours=hours_to_collect),
            staff=clerk,
            from_status="ready",
            to_status="collected",
            verification="qr",
        )
        (recent if days < 7 else older).append(order)
    waiting = make.order(
        ham,
        [(variant, 1, ham), (variant, 2, ber)],
        status="ready",
        channel="store",
        origin_location_id=ham.id,
        placed_at=now - timedelta(days=8),
    )
    make.pickup(waiting, ready_at=now - timedelta(days=7, hours=20), pickup_by=now - timedelta(hours=20))
    expired = make.order(ham, [(variant, 1, ham)], status="expired", placed_at=now - timedelta(days=20))
    make.pickup(expired, ready_at=now - timedelta(days=19), pickup_by=now - timedelta(days=12))
    make.event(expired, "expired", now - timedelta(days=12))
    return dict(recent=recent, older=older, waiting=waiting)


def test_a_manager_changes_the_period_and_follows_a_figure_to_its_orders(page, reviewed_store):
    nav = sign_in(page, "mia@example.test")
    nav.get_by_role("link", name="Manager", exact=True).click()
    expect(page).to_have_url(re.compile(r"/manager/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Manager")
    collected = page.locator(".figure-link", has_text="Collected").first
    expect(collected.locator("strong")).to_have_text("3")  # the last 7 days
    expect(page.get_by_role("img", name="Daily volume by status")).to_be_visible()
    expect(page.get_by_role("img", name="Collections by weekday and hour")).to_be_visible()
    capture(page, "manager-dashboard")

    # 30 days: the older collections count too.
    page.locator(".chip-radio", has_text="30 days").click()
    expect(page).to_have_url(re.compile(r"period=30d"))
    expect(page.locator(".figure-link", has_text="Collected").first.locator("strong")).to_have_text("5")
    expect(page.locator(".figure-link", has_text="Overdue now").locator("strong")).to_have_text("1")

    page.locator(".figure-link", has_text="Collected").first.click()
    expect(page).to_have_url(re.compile(r"/manager/orders\?.*figure=collected"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Collected")
    rows = page.locator("#figure-orders tbody tr")
    expect(rows).to_have_count(5)
    for order in reviewed_store["recent"] + reviewed_store["older"]:
        expect(page.locator("#figure-orders")).to_contain_text(order.number)
    expect(page.locator("#figure-orders")).not_to_contain_text(reviewed_store["waiting"].number)
    capture(page, "manager-figure-orders")

    # One order's full story, with who did what.
    page.get_by_role("link", name=reviewed_store["recent"][0].number).click()
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Collected")
    expect(timeline).to_contain_text("Jonas Weber")


def test_handover_log_and_settings_on_a_tablet(page, reviewed_store):
    sign_in(page, "mia@example.test")
    page.goto("/manager/handovers?period=30d")
    expect(page.get_by_role("heading", name="5 handovers")).to_be_visible()
    expect(page.get_by_role("region", name="Exceptions")).to_contain_text("Expired")
    capture(page, "manager-handovers")
    page.goto("/manager/settings")
    page.get_by_label("Hold days").fill("0")
    page.get_by_role("button", name="Save pickup settings").click()
    expect(page.get_by_text("Number must be between 1 and 60.")).to_be_visible()
    page.get_by_label("Hold days").fill("9")
    page.get_by_role("button", name="Save pickup settings").click()
    expect(page.get_by_text("Pickup settings saved.")).to_be_visible()
    expect(page.get_by_label("Hold days")).to_have_value("9")
    capture(page, "manager-settings")
