"""Push in a real Chromium (PostgreSQL): an open network panel hears a stock change made on another tablet over
its stream and shows it without a reload, while its own poll stays quiet; when the stream is cut (a restart, the
Wi-Fi) and cannot come back, the poll delivers the next change."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TABLET, BrowserProblems
from tests.e2e.test_foundation import sign_in
from tests.e2e.test_stock_browse import change_stock, network, panel_quantity  # noqa: F401 — the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql]

POLL_SECONDS = 0.5


@pytest.fixture
def app_config():
    return {
        "OMNISTORE_LIVE_REFRESH_SECONDS": POLL_SECONDS,  # the fallback, fast: it must be quiet while pushed
        "OMNISTORE_LIVE_PUSH_REFRESH_SECONDS": 600,
        "OMNISTORE_LIVE_STREAM_CHECK_SECONDS": 0.3,  # keep-alives often, so a cut stream ends at once
    }


def test_a_change_on_one_tablet_reaches_the_others_panel_over_the_stream_and_by_poll_once_it_is_cut(
    app,
    page,
    browser,
    live_server,
    network,  # noqa: F811
):
    if app.database_kind != "postgresql":
        pytest.skip("the stream is fed by PostgreSQL's LISTEN/NOTIFY; on SQLite the panel polls")
    xl = network["xl"]
    url = f"/stock/products/{network['parka'].id}?variant={xl.id}"
    sign_in(page, "ham@example.test")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if "/panel?v=" in request.url else None)
    page.goto(url)
    page.wait_for_load_state("load")
    expect(panel_quantity(page, "CPH")).to_have_text("2")
    expect(page.locator("html")).to_have_attribute("data-live-push", "open")
    page.evaluate("window.stillTheSamePage = true")
    # Before it says "open" the stream has told the panel to fetch if it may have missed something (this
    # process's hub may have started only now); from here on the panel fetches only when told of a change.
    caught_up = len(polls)
    page.wait_for_timeout(4 * POLL_SECONDS * 1000)
    assert len(polls) == caught_up  # while the stream is open the panel does not poll

    # The second tablet: a clerk in Copenhagen counts the parka on the shelf.
    other = browser.new_context(base_url=live_server.url, viewport=dict(TABLET), has_touch=True, locale="en")
    try:
        tablet = other.new_page()
        problems = BrowserProblems(tablet)
        sign_in(tablet, "cph@example.test")
        tablet.goto(url)
        tablet.get_by_role("link", name="Receive / correct").click()
        correct = tablet.get_by_role("form", name="Correct count")
        correct.get_by_label("Counted on hand").fill("7")
        correct.get_by_label("Reason").fill("Stocktake")
        correct.get_by_role("button", name="Save count").click()
        expect(tablet.get_by_role("status").filter(has_text="Count saved: 7 on hand (+5).")).to_be_visible()
        assert problems.errors == []
    finally:
        other.close()

    expect(panel_quantity(page, "CPH")).to_have_text("7")  # told by the stream, fetched once
    expect(page.locator('[data-total="network"]')).to_have_text("14")
    assert len(polls) == caught_up + 1
    assert page.evaluate("window.stillTheSamePage") is True

    # The stream is cut and cannot come back (every new attempt fails): the panel polls again.
    page.route("**/live/stream**", lambda route: route.abort())
    live_server.cut_streams()
    expect(page.locator("html")).to_have_attribute("data-live-push", "waiting")
    change_stock(xl, network["places"]["BER"], 0)
    expect(page.locator('#network-panel tr[data-location="BER"]')).to_have_count(0)
    expect(page.locator('[data-total="network"]')).to_have_text("13")
    assert len(polls) > caught_up + 1
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_page_opened_when_nothing_changed_fetches_nothing_while_its_stream_is_open(
    app,
    page,
    live_server,
    network,  # noqa: F811
    monkeypatch,
):
    """The hub has listened all along and heard every change before the page rendered: the stream needs no
    catch-up, and the panel's poll stays quiet from its very first tick (its render counts as its last fetch)."""
    if app.database_kind != "postgresql":
        pytest.skip("the stream is fed by PostgreSQL's LISTEN/NOTIFY; on SQLite the panel polls")
    from omnistore.core import live
    from tests.web.test_live_stream import heard_everything

    monkeypatch.setattr(live, "CLOCK_MARGIN_SECONDS", 0.0)  # the page and the hub share this machine's clock
    sign_in(page, "ham@example.test")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if "/panel?v=" in request.url else None)
    heard_everything(app)  # the network's stock, set up just now, heard before the page renders
    page.goto(f"/stock/products/{network['parka'].id}?variant={network['xl'].id}")
    expect(panel_quantity(page, "CPH")).to_have_text("2")
    expect(page.locator("html")).to_have_attribute("data-live-push", "open")
    page.wait_for_timeout(4 * POLL_SECONDS * 1000)
    assert polls == []
