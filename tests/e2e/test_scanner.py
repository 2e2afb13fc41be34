"""The camera scanner in a real browser. Chromium's fake camera plays a picture (tests/e2e/fake_camera.py) of an
EAN-13 barcode or a QR code; Chromium on Linux has no BarcodeDetector, so this runs the vendored decoder.

Each test launches its own Chromium, because the camera's picture is a launch argument. The camera permission
is granted (or not) per browser context, as a clerk's tablet would have it allowed (or refused).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, missing
from tests.e2e import fake_camera
from tests.e2e.conftest import CHROMIUM_ARGS, TABLET, TIMEOUT_MS, BrowserProblems, _save_artifacts

pytestmark = pytest.mark.e2e

EAN = "4006381333931"
DIALOG = "Scan a barcode or QR code"
DECODE_TIMEOUT = 30_000  # ms: camera start, decoder worker and a few frames, on a loaded CI machine


@pytest.fixture
def camera(request, playwright_chromium, live_server, tmp_path):
    """camera(picture, allowed=True) → a tab at tablet size in a Chromium whose camera sees `picture`;
    camera(None, cameras=2) → Chromium's own two fake cameras (a test pattern, no code)."""
    from playwright.sync_api import Error as PlaywrightError

    launcher, executable = playwright_chromium
    opened = []

    def open_tab(picture, allowed=True, cameras=1):
        if picture is None:
            args = [*CHROMIUM_ARGS, f"--use-fake-device-for-media-stream=device-count={cameras}"]
        else:
            video = fake_camera.write_video(picture, tmp_path / f"camera-{len(opened)}.y4m")
            args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
        try:
            browser = launcher.launch(executable_path=executable, args=args)
        except PlaywrightError as error:
            missing(f"Chromium at {executable} did not start: {str(error).splitlines()[0]}")
        context = browser.new_context(
            base_url=live_server.url,
            viewport=dict(TABLET),
            device_scale_factor=1,
            has_touch=True,
            locale="en",
            timezone_id="Europe/Berlin",
            permissions=["camera"] if allowed else [],
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        tab = context.new_page()
        opened.append((browser, tab, BrowserProblems(tab)))
        return tab

    yield open_tab
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))
    problems = []
    for browser, tab, seen in opened:
        if failed:
            _save_artifacts(tab, request.node.nodeid)
        problems.extend(seen.errors)
        browser.close()
    if problems and not failed:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems), pytrace=False)


def sign_in(page, make):
    ham = make.location("HAM")
    make.staff("clerk", ham, email="clerk@example.test")
    page.goto("/login")
    page.get_by_label("Email").fill("clerk@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.wait_for_load_state("load")  # the page's scripts wire its buttons; a tap before that does nothing


def scan_button(page):
    return page.locator("header.topbar").get_by_role("button", name="Scan", exact=True)


def camera_is_on(page):
    return page.evaluate("""() => {
        const stream = document.querySelector('#scanner video').srcObject;
        return !!stream && stream.getVideoTracks().some(track => track.readyState === 'live');
    }""")


# --- Scanning -----------------------------------------------------------------------------------------------


def test_the_fake_camera_pictures_are_valid_codes():
    assert fake_camera.ean13_modules(EAN).count("1") > 0 and len(fake_camera.ean13_modules(EAN)) == 95
    # Known encoding of 4006381333931 (first digit 4: parity LGLLGG).
    assert fake_camera.ean13_modules(EAN) == (
        "10100011010100111010111101111010001001011001101010100001010000101000010111010010000101100110101"
    )
    with pytest.raises(ValueError):
        fake_camera.ean13_modules("4006381333932")
    video = fake_camera.ean13_picture(EAN).y4m(frames=2)
    assert video.startswith(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\nFRAME\n")
    assert len(video) == len(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n") + 2 * (6 + 640 * 480 * 3 // 2)


def test_scanning_an_ean_goes_to_the_stock_scan(camera, live_server, make):
    page = camera(fake_camera.ean13_picture(EAN))
    sign_in(page, make)
    make.variant(make.product(name="Storm Parka"), ean=EAN, size="L", colour="Navy")

    assert page.evaluate("'BarcodeDetector' in window") is False, "this test is meant for the vendored decoder"
    # From a page reached by boosted navigation (the body was swapped, the script kept), as a clerk would.
    page.locator("nav.mainnav").get_by_role("link", name="Orders", exact=True).click()
    expect(page).to_have_url(re.compile(r"/orders/$"))
    # Starting the camera and the decoder's worker takes a while on a busy machine: allow for it.
    with page.expect_request(re.compile(re.escape(f"/stock/scan?code={EAN}") + "$"), timeout=DECODE_TIMEOUT) as scan:
        scan_button(page).click()
    assert scan.value.is_navigation_request()
    expect(page.locator("main")).to_contain_text("Storm Parka")


def test_a_qr_code_with_an_address_of_this_site_opens_it(camera, live_server, make):
    page = camera(fake_camera.held_qr(f"{live_server.url}/orders/"))
    sign_in(page, make)
    scan_button(page).click()
    expect(page).to_have_url(f"{live_server.url}/orders/", timeout=DECODE_TIMEOUT)
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")


def test_a_qr_code_with_another_website_is_not_opened(camera, make):
    page = camera(fake_camera.held_qr("https://phish.example/login"))
    sign_in(page, make)
    scan_button(page).click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    expect(dialog.get_by_role("status")).to_have_text(
        "This QR code leads to another website (phish.example). omnistore does not open it."
    )
    expect(page).to_have_url(re.compile(r"/$"))
    assert camera_is_on(page)  # still scanning, for the right code


# --- The dialog: hints, camera off when closed or hidden, refusal ------------------------------------------


def test_no_code_gives_a_hint_and_closing_stops_the_camera(camera, make):
    page = camera(fake_camera.blank_picture())
    sign_in(page, make)
    page.locator("#scanner").evaluate("dialog => dialog.dataset.hintMs = '400'")  # instead of 10 s
    scan_button(page).click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    expect(dialog).to_be_visible()
    status = dialog.get_by_role("status")
    expect(status).to_have_text(re.compile(r"No code found yet\. Hold the code 10–20 cm from the camera"))
    assert camera_is_on(page)  # the hint does not stop the scanning
    page.evaluate("window.scanTracks = document.querySelector('#scanner video').srcObject.getTracks()")

    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.querySelector('#scanner video').srcObject") is None
    assert page.evaluate("window.scanTracks.every(track => track.readyState === 'ended')")

    # Open again, then the tablet hides the page (another app, the screen locks): the camera goes off,
    # and comes back when the page shows again. Escape closes the dialog as well.
    scan_button(page).click()
    expect(dialog).to_be_visible()
    page.wait_for_function("() => document.querySelector('#scanner video').srcObject !== null")
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    assert page.evaluate("document.querySelector('#scanner video').srcObject") is None
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_function("() => document.querySelector('#scanner video').srcObject !== null")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # The dialog's "close" event (which stops the camera) may come a moment after it is hidden.
    page.wait_for_function("() => document.querySelector('#scanner video').srcObject === null")


def test_switch_camera_shows_with_two_cameras_and_changes_the_camera(camera, make):
    page = camera(None, cameras=2)
    sign_in(page, make)
    scan_button(page).click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    switch = dialog.get_by_role("button", name="Switch camera")
    expect(switch).to_be_visible()
    expect(dialog.get_by_role("button", name="Light")).to_be_hidden()  # the fake cameras have no torch
    device = "document.querySelector('#scanner video').srcObject.getVideoTracks()[0].getSettings().deviceId"
    first = page.evaluate(device)
    switch.click()
    page.wait_for_function(f"() => document.querySelector('#scanner video').srcObject && {device} !== '{first}'")
    switch.click()
    page.wait_for_function(f"() => document.querySelector('#scanner video').srcObject && {device} === '{first}'")
    live = "document.querySelector('#scanner video').srcObject.getVideoTracks().filter(t => t.readyState === 'live')"
    assert page.evaluate(f"{live}.length") == 1  # the camera switched from is off


def test_a_refused_camera_explains_how_to_allow_it_and_offers_typing_the_code(camera, make):
    page = camera(fake_camera.ean13_picture(EAN), allowed=False)
    sign_in(page, make)
    scan_button(page).click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    alert = dialog.get_by_role("alert").filter(has_text="may not use the camera")
    expect(alert).to_contain_text("allow the camera")
    expect(alert.get_by_role("button", name="Try again")).to_be_visible()
    expect(alert.get_by_role("button", name="Search by name")).to_be_visible()
    assert page.evaluate("document.querySelector('#scanner video').srcObject") is None

    code = dialog.get_by_label("Or type the code")
    code.fill("4006381333932")  # one digit off
    dialog.get_by_role("button", name="Find", exact=True).click()
    expect(dialog.get_by_text("This is not a valid EAN")).to_be_visible()
    code.fill(EAN)
    with page.expect_request(re.compile(re.escape(f"/stock/scan?code={EAN}") + "$")):
        code.press("Enter")
    expect(dialog).to_be_hidden()


def test_search_by_name_closes_the_dialog_and_focuses_the_search_box(camera, make):
    page = camera(fake_camera.blank_picture(), allowed=False)
    sign_in(page, make)
    scan_button(page).click()
    dialog = page.get_by_role("dialog", name=DIALOG)
    dialog.get_by_role("button", name="Search by name").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("searchbox", name="Search or scan")).to_be_focused()
