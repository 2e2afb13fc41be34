"""A crawler that walks the product as a person would and checks every screen it reaches.

It starts on one page, taps every link that leads somewhere new (one URL per route pattern: one order, one
customer, one product stand for all of them), taps the buttons that change nothing, and on every screen
checks what a page must always be. It walks depth first and returns with the browser's Back, as people do:
a full reload only when Back does not lead to the screen it came from, so each tap costs one request.
It never taps a button that changes data (a form that POSTs, hx-post…),
except the ones named as throw-away for a record that is the crawl's own.

One small class per concern:
- `Route`: the pattern a URL stands for (numbers, order numbers and tokens replaced), for sampling.
- `Watcher`: what the browser saw while on a screen — console errors, CSP violations, 5xx, other origins.
- `Layout`: one <main>, one top bar (none on public pages): no page inside a page, also after a swap.
- `Assets`: the stylesheets and scripts a full load of the URL brings are loaded after in-app navigation too.
- `Axe`: axe-core (vendored in static/vendor/axe) finds no "serious" or "critical" violation.
- `Targets`: every visible interactive element is at least 44×44 CSS px (running-text links excepted).
- `Downloads`: a link marked as a download (a `download` attribute, a .csv/.zip/.pdf URL or an export
  route) arrives as a file of the right content type, and leaves the page as it was.
- `Crawl` walks; `Report` counts pages, taps and checks, and keeps every failure with where it happened.
"""

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = next((ROOT / "static" / "vendor" / "axe").glob("axe-*.min.js"))
MIN_TARGET = 44  # CSS px, WCAG 2.5.5 and the project's tablet rule
REPORTS = []  # the crawls of the running test, attached to its report (tests/e2e/conftest.py), printed at the end

# Installed in every document before its own scripts: counts XHRs in flight (htmx uses XHR) so a tap can
# wait until the screen has settled, instead of sleeping; keeps every resource timing entry for `Assets`.
SETTLE_SCRIPT = """
(() => {
  const state = window.__crawl = {inflight: 0, quietSince: performance.now(), leaving: false};
  // A response that sends the browser elsewhere (HX-Redirect/Refresh/Location) means a new document comes.
  const leavingHeaders = ["HX-Redirect", "HX-Refresh", "HX-Location"];
  window.addEventListener("beforeunload", () => { state.leaving = true; });
  try { performance.setResourceTimingBufferSize(100000); } catch (e) {}
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    state.inflight += 1;
    this.addEventListener("load", () => {
      if (leavingHeaders.some(h => this.getResponseHeader(h))) { state.leaving = true; }
    }, {once: true});
    this.addEventListener("loadend", () => {
      // htmx swaps in the load handler and settles a few ms later (settleDelay): count until then.
      setTimeout(() => { state.inflight -= 1; state.quietSince = performance.now(); }, 30);
    }, {once: true});
    return send.apply(this, args);
  };
  for (const name of ["htmx:afterSettle", "htmx:afterSwap"]) {
    document.addEventListener(name, () => { state.quietSince = performance.now(); });
  }
})();
"""
SETTLED = """() => document.readyState === "complete" && window.__crawl && window.__crawl.inflight === 0
                    && !window.__crawl.leaving && performance.now() - window.__crawl.quietSince > 40"""

# What the screen shows, in short: a tap that changed it means the next one starts from a fresh load.
SIGNATURE = """() => document.body.innerHTML.replace(/\\d+/g, '').length + ' ' +
  [...document.querySelectorAll('dialog[open], details[open], [aria-expanded=true]')].length"""

# The headings of a screen, digits left out: with its route, what kind of screen it is.
HEADINGS = """() => [...document.querySelectorAll('main h1, main h2')].map(h => h.textContent.replace(/[\\d\\s]+/g, ' ')
  .trim()).join('|')"""

# Download links: what they are and which content type each kind must come with.
DOWNLOAD_TYPES = {
    ".csv": "text/csv",
    ".zip": "application/zip",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".json": "application/json",
}
DOWNLOAD_ROUTES = [re.compile(r"/customers/\d+/export$")]

# Visible interactive elements, with the 44 px exception for links in running text.
TARGETS_SCRIPT = """(min) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], '
                 + '[role=link], [role=tab], [role=checkbox], [role=radio], [role=switch], [role=menuitem]';
  const visible = el => {
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.getClientRects().length > 0;
  };
  // A link in running text: inline, inside a paragraph-like block that has text of its own around it.
  const inRunningText = el => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const block = el.closest('p, li, td, dd, figcaption, blockquote, label, small');
    if (!block) return false;
    const own = [...block.childNodes].filter(n => n !== el && !(n.contains && n.contains(el)))
      .map(n => n.textContent).join('').replace(/[\\s·,.;:()\\-–—|]/g, '');
    return own.length > 0;
  };
  // A checkbox or radio is tapped through its label: measure that.
  const box = el => {
    if (el.tagName === 'INPUT' && /^(checkbox|radio)$/.test(el.type)) {
      const label = el.closest('label') || (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`));
      if (label) return label.getBoundingClientRect();
    }
    return el.getBoundingClientRect();
  };
  const hiddenInput = el => {  // visually hidden on purpose (a styled label carries the tap)
    const r = el.getBoundingClientRect();
    return el.tagName === 'INPUT' && r.width <= 1 && r.height <= 1;
  };
  const describe = el => {
    const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.getAttribute('title')
                  || el.getAttribute('name') || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
    return `<${el.tagName.toLowerCase()}${id}${cls}> "${text}"`;
  };
  const small = [];
  let checked = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (!visible(el) || el.closest('[inert], [aria-hidden=true]') || hiddenInput(el)) continue;
    if (inRunningText(el)) continue;
    checked += 1;
    const r = box(el);
    if (r.width < min - 0.5 || r.height < min - 0.5) {
      small.push(`${describe(el)} is ${Math.round(r.width)}×${Math.round(r.height)} px`);
    }
  }
  return {checked, small};
}"""

ASSETS_SCRIPT = """() => ({
  sheets: [...document.styleSheets].map(s => s.href).filter(Boolean),
  scripts: performance.getEntriesByType('resource').filter(e => e.initiatorType === 'script').map(e => e.name),
})"""

# What a screen offers to tap. Buttons that change data are left alone: a POST form, an hx-post/put/patch/
# delete (on the button or its form), or a submit button of a form without a method attribute is a GET.
BUTTONS_SELECTOR = "button, summary, [role=button]:not(a)"
VISIBLE = """el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  }"""
# Marks the n-th visible button (counted as TAPPABLES_SCRIPT counts them) so Playwright taps that very one.
# It must carry the label listed (a page restored by Back, or changed by a tap, may differ from the listed one).
MARK_BUTTON_SCRIPT = f"""([index, text]) => {{
  const visible = {VISIBLE};
  const label = el => (el.getAttribute('aria-label') || el.innerText || el.value || el.title || '')
    .trim().replace(/\\s+/g, ' ').slice(0, 60);
  document.querySelectorAll('[data-crawl-button]').forEach(b => b.removeAttribute('data-crawl-button'));
  const buttons = [...document.querySelectorAll({BUTTONS_SELECTOR!r})].filter(visible);
  // The listed one, else (the screen changed since, e.g. after a throw-away tap) the one with that label.
  const button = [buttons[index], ...buttons].find(b => b && label(b) === text);
  if (!button) return false;
  button.setAttribute('data-crawl-button', '');
  return true;
}}"""
TAPPABLES_SCRIPT = (
    """() => {
  const BUTTONS = '"""
    + BUTTONS_SELECTOR
    + """';
  const visible = el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const changes = el => {
    const own = ['hx-post', 'hx-put', 'hx-patch', 'hx-delete'].some(a => el.hasAttribute(a));
    const form = el.form || el.closest('form');
    if (own) return true;
    if (!form) return false;
    if (el.tagName === 'BUTTON' && el.type === 'button') return false;
    if (['hx-post', 'hx-put', 'hx-patch', 'hx-delete'].some(a => form.hasAttribute(a))) return true;
    return (form.getAttribute('method') || 'get').toLowerCase() !== 'get';
  };
  const label = el => (el.getAttribute('aria-label') || el.innerText || el.value || el.title || '')
    .trim().replace(/\\s+/g, ' ').slice(0, 60);
  const links = [...document.querySelectorAll('a[href]')].filter(visible).map(a => ({
    href: a.href, text: label(a), download: a.hasAttribute('download'), target: a.target || '',
  }));
  const buttons = [...document.querySelectorAll(BUTTONS)].filter(visible)
    .map((b, index) => ({index, text: label(b), changes: changes(b),
                         inTopbar: !!b.closest('header.topbar, nav.mainnav')}));
  return {links, buttons};
}"""
)


@dataclass(frozen=True)
class Route:
    """The pattern a URL stands for: ids, order numbers and tokens replaced, query values dropped (another
    filter value or page number shows the same screen with other rows; another parameter, like the variant
    that opens the network panel, may not)."""

    pattern: str
    # Parameters that pick other rows for the same screen: filters, sorting, paging, period and store.
    SAME_SCREEN = frozenset(
        {"page", "sort", "status", "kind", "period", "from", "to", "store", "staff", "method", "channel"}
    )

    @classmethod
    def of(cls, url):
        parts = urlsplit(url)
        segments = []
        for segment in parts.path.split("/"):
            if re.fullmatch(r"\d+", segment):
                segment = "<id>"
            elif re.fullmatch(r"[A-Z]{2}-\d{2}-\d+", segment) or re.fullmatch(r"[A-Z0-9]+-\d{2}-\d{4,}", segment):
                segment = "<number>"
            elif len(segment) >= 20 and re.fullmatch(r"[A-Za-z0-9_\-]+", segment):
                segment = "<token>"
            segments.append(segment)
        keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)} - cls.SAME_SCREEN)
        return cls("/".join(segments) + ("?" + "&".join(keys) if keys else ""))

    @property
    def path(self):
        return self.pattern.split("?")[0]


@dataclass
class Failure:
    check: str
    where: str
    what: str

    def __str__(self):
        return f"[{self.check}] {self.where}: {self.what}"


@dataclass
class Report:
    """What one role's crawl did and found."""

    role: str
    pages: list = field(default_factory=list)
    links_tapped: int = 0
    buttons_tapped: int = 0
    downloads: int = 0
    checks: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)
    seconds: float = 0.0
    gone: list = field(default_factory=list)  # links that were no longer there when the crawler came back
    timings: Counter = field(default_factory=Counter)  # seconds spent per check, to keep the crawl fast

    def fail(self, check, where, what):
        failure = Failure(check, where, what)
        if all(str(failure) != str(known) for known in self.failures):
            self.failures.append(failure)

    def summary(self):
        checks = ", ".join(f"{name} {count}" for name, count in sorted(self.checks.items()))
        return (
            f"{self.role} ({self.seconds:.1f} s): {len(self.pages)} pages visited, "
            f"{self.links_tapped} links tapped, "
            f"{self.buttons_tapped} buttons tapped, {self.downloads} downloads; checks: {checks}; "
            f"{len(self.failures)} failures; seconds: "
            + ", ".join(f"{name} {spent:.1f}" for name, spent in self.timings.most_common())
        )

    def failures_by_check(self):
        grouped = defaultdict(list)
        for failure in self.failures:
            grouped[failure.check].append(failure)
        return grouped


class Watcher:
    """Console errors, CSP violations, uncaught errors, responses ≥ 500 and requests to other origins.

    A page or htmx request answered 4xx is the server's deliberate answer (a refused code, a form error,
    shown where the user looks); the browser and htmx log those as console errors, which are not counted.
    A stylesheet, script, image or font answered 4xx is a broken page and is.
    """

    # The crawler's own init script, refused by the outbox's sandboxed email preview (the email has no scripts).
    OWN_SCRIPT_IN_SANDBOX = re.compile(
        r"^Blocked script execution in '[^']*/outbox/\d+/preview' because the "
        r"document's frame is sandboxed"
    )
    ANSWERED_4XX = re.compile(r"(status of 4\d\d|Response Status Error Code 4\d\d)")
    # A search typed on replaces the request still under way (hx-sync): htmx logs the request's end and then
    # its abort as errors, one right after the other. An end followed by anything else (a send error, a
    # timeout) is a problem.
    ABORTED = "htmx:sendAbort"
    ABORT_ENDED = "htmx:afterRequest"

    def __init__(self, page, origin):
        self.origin = origin
        self.problems = []
        self._ended = None  # the last console error, if it was a request's end: an abort may follow
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(("console", f"uncaught JavaScript error: {error}")))
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message):
        if message.type != "error":
            return
        if self.ANSWERED_4XX.search(message.text):
            return  # a 4xx the server chose (bad input, not found): judged by `_response`, not here
        if self.OWN_SCRIPT_IN_SANDBOX.search(message.text):
            return
        ended, self._ended = self._ended, None
        if message.text.startswith(self.ABORTED):
            self.problems = [problem for problem in self.problems if problem is not ended]  # aborted: not a failure
            return
        check = "csp" if "Content Security Policy" in message.text else "console"
        where = message.location or {}
        problem = (check, f"{message.text} (at {where.get('url')}:{where.get('lineNumber')})")
        self.problems.append(problem)
        if message.text.startswith(self.ABORT_ENDED):
            self._ended = problem

    def _response(self, response):
        if response.status >= 500:
            self.problems.append(("5xx", f"{response.request.method} {response.url} answered {response.status}"))
        elif response.status >= 400 and response.request.resource_type not in ("document", "xhr", "fetch"):
            self.problems.append(
                ("console", f"{response.request.resource_type} {response.url} answered {response.status}")
            )

    def _request(self, request):
        url = request.url
        if url.startswith(("data:", "blob:", "about:")) or url == self.origin or url.startswith(self.origin + "/"):
            return
        self.problems.append(("origin", f"request to another origin: {request.method} {url}"))

    def drain(self):
        problems, self.problems = self.problems, []
        return problems


class Layout:
    """Exactly one <main>; one top bar on staff pages (none on public ones); never a page in a page."""

    SCRIPT = """() => ({
      main: document.querySelectorAll('main').length,
      topbar: document.querySelectorAll('header.topbar').length,
      nav: document.querySelectorAll('nav.mainnav').length,
      forms: document.querySelectorAll('form[action$="/login"] input[type=password]').length,
    })"""

    def __init__(self, staff):
        self.staff = staff

    def check(self, page, report, where):
        seen = page.evaluate(self.SCRIPT)
        report.checks["layout"] += 1
        bars = 1 if self.staff else 0
        if seen["main"] != 1 or seen["topbar"] != bars or seen["nav"] != bars:
            report.fail(
                "layout",
                where,
                f"{seen['main']} <main>, {seen['topbar']} top bars, {seen['nav']} "
                f"section menus (expected 1, {bars}, {bars}): a page inside a page",
            )
        if self.staff and seen["forms"]:
            report.fail("layout", where, "a sign-in form inside a signed-in page")


class Assets:
    """After in-app navigation the page has the stylesheets and scripts its full load would bring."""

    LINK = re.compile(r"<link\b[^>]*\brel=[\"']?stylesheet[^>]*>", re.I)
    SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)", re.I)
    HREF = re.compile(r"\bhref=[\"']([^\"']+)", re.I)

    def __init__(self, origin):
        self.origin = origin

    def expected(self, context, url):
        html = context.request.get(url).text()
        sheets = {self._absolute(m) for tag in self.LINK.findall(html) for m in self.HREF.findall(tag)}
        scripts = {self._absolute(src) for src in self.SCRIPT.findall(html)}
        return sheets, scripts

    def _absolute(self, href):
        return href if "://" in href else self.origin + href

    def check(self, page, report, where):
        sheets, scripts = self.expected(page.context, page.url)
        loaded = page.evaluate(ASSETS_SCRIPT)
        report.checks["assets"] += 1
        missing = sorted((sheets - set(loaded["sheets"])) | (scripts - set(loaded["scripts"])))
        if missing:
            names = ", ".join(m.removeprefix(self.origin) for m in missing)
            report.fail("assets", where, f"after in-app navigation the page lacks what a reload loads: {names}")


class Axe:
    """axe-core in the page; any violation of impact serious or critical fails."""

    # The top bar is one template on every staff screen: axe checks it on the first screen of the test module
    # (`checked` is shared by the roles' crawls), then only what each screen adds (Layout still counts bars).
    CHROME = ["header.topbar", "nav.mainnav"]

    def __init__(self, checked):
        self.source = AXE_SCRIPT.read_text(encoding="utf-8")
        self.checked = checked

    def check(self, page, report, where):
        if not page.evaluate("() => typeof window.axe === 'object'"):
            began = time.monotonic()
            page.evaluate(self.source)  # through the debugger protocol: not subject to the page's CSP
            report.timings["axe-inject"] += time.monotonic() - began
        present = page.evaluate("(chrome) => chrome.some(s => document.querySelector(s))", self.CHROME)
        exclude = self.CHROME if present and "axe: top bar" in self.checked else []
        if present:
            self.checked.add("axe: top bar")
        result = page.evaluate(
            """async (exclude) => {
          const context = exclude.length ? {include: [document], exclude: exclude.map(s => [s])} : document;
          const r = await axe.run(context, {
            resultTypes: ['violations'],
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
            // Experimental in axe, but the very mismatch a voice-control user trips over: keep it on.
            rules: {'label-content-name-mismatch': {enabled: true}},
          });
          return r.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '')
                                                   .replace(/\\s+/g, ' ').slice(0, 160)),
            count: v.nodes.length}));
        }""",
            exclude,
        )
        report.checks["axe"] += 1
        for violation in result:
            nodes = "; ".join(violation["nodes"])
            report.fail(
                "axe",
                where,
                f"{violation['impact']} {violation['id']} ({violation['help']}) on "
                f"{violation['count']} elements, e.g. {nodes}",
            )


class Targets:
    """Every visible interactive target is at least 44×44 px; inline links in running text are excepted."""

    def check(self, page, report, where):
        result = page.evaluate(TARGETS_SCRIPT, MIN_TARGET)
        report.checks["targets"] += result["checked"]
        for small in result["small"]:
            report.fail("targets", where, small)


class Downloads:
    """A download link arrives as a file with the right content type, and the page stays as it was."""

    def __init__(self, origin):
        self.origin = origin

    @staticmethod
    def expected_type(link):
        path = urlsplit(link["href"]).path
        suffix = Path(path).suffix.lower()
        if suffix in DOWNLOAD_TYPES:
            return DOWNLOAD_TYPES[suffix]
        if any(route.search(path) for route in DOWNLOAD_ROUTES):
            return DOWNLOAD_TYPES[".zip"]
        if link["download"]:
            return ""  # any type, as long as it arrives as a file
        return None

    def check(self, page, report, where, link, locator):
        expected = self.expected_type(link)
        before = page.url
        report.checks["downloads"] += 1
        report.downloads += 1
        try:
            with page.expect_download(timeout=5_000) as info:
                locator.click()
            download = info.value
        except Exception as error:  # noqa: BLE001 — a missed download is the finding
            report.fail(
                "download",
                where,
                f'"{link["text"]}" ({link["href"].removeprefix(self.origin)}) did not '
                f"download a file: {str(error).splitlines()[0]}",
            )
            return False
        response = page.context.request.get(link["href"])
        content_type = response.headers.get("content-type", "")
        disposition = response.headers.get("content-disposition", "")
        name = download.suggested_filename
        download.cancel()
        if expected and not content_type.startswith(expected):
            report.fail("download", where, f'"{link["text"]}" is {content_type!r}, expected {expected}')
        if "attachment" not in disposition:
            report.fail("download", where, f'"{link["text"]}" has no Content-Disposition: attachment ({name})')
        return page.url == before


class Crawl:
    """Walks from a start page through every link and harmless button, checking each screen."""

    def __init__(
        self,
        page,
        origin,
        role,
        staff=True,
        max_pages=60,
        skip=(),
        searches=(),
        checked=None,
        throwaway=(),
        tapped=None,
    ):
        self.page = page
        self.origin = origin
        self.report = Report(role)
        self.watcher = Watcher(page, origin)
        self.layout = Layout(staff)
        self.assets = Assets(origin)
        self.checked = checked if checked is not None else set()  # kinds of screen given the costly checks
        self.axe = Axe(self.checked)
        self.targets = Targets()
        self.downloads = Downloads(origin)
        self.max_pages = max_pages
        self.skip = [re.compile(s) for s in skip]
        self.searches = list(searches)  # (page, search box label, words): reached by typing, as people do
        self.throwaway = set(throwaway)  # buttons that change data, tapped because the record is the crawl's own
        self.seen_routes = set()
        # Buttons (route, label) already tapped, in this crawl or an earlier role's: one tap of each is enough.
        self.seen_buttons = tapped if tapped is not None else set()
        self.seen_downloads = set()

    # --- moving -----------------------------------------------------------------------------------------

    def settle(self):
        """Wait until the page has loaded, no request is in flight and no new document is on its way."""
        for _ in range(3):
            try:
                self.page.wait_for_load_state("load")
                self.page.wait_for_function(SETTLED, polling=20)
                return
            except Exception as error:  # noqa: BLE001 — a navigation replaced the document meanwhile
                if "context was destroyed" not in str(error) and "navigat" not in str(error):
                    raise

    def path(self, url=None):
        parts = urlsplit(url or self.page.url)
        return parts.path + ("?" + parts.query if parts.query else "")

    def open(self, url):
        """A full page load (typing the URL; a reload when already there, which adds no history entry), then
        wait until it settles."""
        began = time.monotonic()
        if self.page.url == url:
            self.page.reload()
        else:
            self.page.goto(url)
        self.settle()
        self.report.timings["open"] += time.monotonic() - began

    def find_link(self, href):
        """The first visible link to `href` (as the browser resolves it), marked so Playwright can tap it."""
        found = self.page.evaluate(
            """(href) => {
          document.querySelectorAll('[data-crawl-target]').forEach(a => a.removeAttribute('data-crawl-target'));
          const link = [...document.querySelectorAll('a[href]')].find(a => a.href.split('#')[0] === href
            && a.getClientRects().length > 0 && getComputedStyle(a).visibility !== 'hidden');
          if (link) link.setAttribute('data-crawl-target', '');
          return !!link;
        }""",
            href,
        )
        return self.page.locator("[data-crawl-target]") if found else None

    def local(self, href):
        return href.startswith(self.origin + "/") and not any(s.search(href) for s in self.skip)

    # --- checking ---------------------------------------------------------------------------------------

    def collect_browser_problems(self, where):
        for check, what in self.watcher.drain():
            self.report.fail(check, where, what)
        self.report.checks["console+csp+5xx+origin"] += 1

    def check_screen(self, where, full=True):
        """Layout and the browser's complaints on every screen; the costly checks (assets, axe, targets) once
        per kind of screen — its route without the query and its headings — across all roles' crawls."""
        if full:
            kind = (Route.of(self.page.url).path, self.page.evaluate(HEADINGS))
            full = kind not in self.checked
            self.checked.add(kind)
        checks = [self.layout] + ([self.assets, self.axe, self.targets] if full else [])
        for check in checks:
            began = time.monotonic()
            check.check(self.page, self.report, where)
            self.report.timings[type(check).__name__] += time.monotonic() - began
        self.collect_browser_problems(where)

    # --- the walk ---------------------------------------------------------------------------------------

    def run(self, start):
        self.open(start)
        self.seen_routes.add(Route.of(self.page.url))
        # The start screen is checked as loaded; every other one is reached by tapping a link in-app.
        self.expand(f"{self.path()} (full load)")
        while self.searches:
            self.search(*self.searches.pop(0))
        return self.report

    def search(self, where, label, words):
        """Type into a search box and press Enter: the results page is a screen, its links lead on."""
        self.open(where)
        box = self.page.get_by_label(label, exact=True).first
        box.fill(words)
        box.press("Enter")
        self.page.wait_for_url(lambda url: "q=" in url)
        self.settle()
        self.expand(f"{self.path()} (searched {words!r} on {where})")

    def back_to(self, here, signature):
        """Return to `here` as a person does, with the browser's Back (htmx restores the page); a full load
        only when Back did not lead there (a reload in between left another history entry) or when a tap
        changed the screen without leaving its URL."""
        if self.page.url == here:
            if self.page.evaluate(SIGNATURE) != signature:
                self.open(here)
            return
        began = time.monotonic()
        self.page.go_back()
        self.settle()
        self.collect_browser_problems(f"{self.path(here)} (back)")
        self.report.timings["back"] += time.monotonic() - began
        if self.page.url != here:  # Back did not lead there: a full load
            self.open(here)

    def expand(self, where):
        """Check the screen the crawler is on, tap its harmless buttons, then tap each link that leads to a
        route not seen yet and expand that screen in turn (depth first: Back returns, no reload). Starts and
        ends on the same URL."""
        here = self.page.url
        self.report.pages.append(self.path())
        self.check_screen(where)
        began = time.monotonic()
        offered = self.page.evaluate(TAPPABLES_SCRIPT)
        self.report.timings["offered"] += time.monotonic() - began
        new = []
        for link in offered["links"]:
            href = link["href"].split("#")[0]
            if Downloads.expected_type(link) is not None:
                if self.local(href) and Route.of(href) not in self.seen_downloads:
                    self.seen_downloads.add(Route.of(href))
                    locator = self.find_link(href)
                    if locator and not self.downloads.check(self.page, self.report, where, link, locator):
                        self.open(here)  # the download replaced the page: start again from it
                continue
            if not self.local(href) or link["target"] == "_blank":
                continue
            route = Route.of(href)
            if route in self.seen_routes:
                continue
            self.seen_routes.add(route)
            new.append((href, link["text"] or href))
        self.tap_buttons(here, where, offered["buttons"])
        signature = self.page.evaluate(SIGNATURE)
        for href, text in new:
            if len(self.report.pages) >= self.max_pages:  # never left out silently
                self.report.fail(
                    "coverage",
                    f"{self.path(href)} on {self.path(here)}",
                    f"not visited: more than {self.max_pages} pages",
                )
                continue
            self.back_to(here, signature)
            locator = self.find_link(href)
            if locator is None:  # not in the restored page: try a fresh load before calling it gone
                self.open(here)
                locator = self.find_link(href)
            if locator is None:  # gone since (live data): nothing to tap
                self.report.gone.append(f"{self.path(href)} on {self.path(here)}")
                continue
            began = time.monotonic()
            locator.click()
            self.settle()
            self.report.timings["tap-link"] += time.monotonic() - began
            self.report.links_tapped += 1
            self.expand(f'{self.path()} (tapped "{text}" on {self.path(here)})')
            # The child ends on its own URL: one Back from there is this screen.
        self.back_to(here, signature)

    def tap_buttons(self, here, where, buttons):
        route = Route.of(here)
        signature = self.page.evaluate(SIGNATURE)
        for button in buttons:
            key = (route if not button["inTopbar"] else "topbar", button["text"])
            harmless = not button["changes"] or button["text"] in self.throwaway
            if not harmless or key in self.seen_buttons or not button["text"]:
                continue
            self.seen_buttons.add(key)
            if self.page.url != here:
                self.open(here)
            marker = [button["index"], button["text"]]
            if not self.page.evaluate(MARK_BUTTON_SCRIPT, marker):
                self.open(here)  # not as listed: from a fresh load
            if not self.page.evaluate(MARK_BUTTON_SCRIPT, marker):
                self.report.fail("tap", where, f'button "{button["text"]}" is gone after a reload')
                continue
            began = time.monotonic()
            try:
                self.page.locator("[data-crawl-button]").click(timeout=3_000)
            except Exception as error:  # noqa: BLE001 — the finding is that it could not be tapped
                self.report.fail(
                    "tap", where, f'button "{button["text"]}" could not be tapped: {str(error).splitlines()[0]}'
                )
                self.open(here)
                continue
            self.settle()
            self.report.timings["tap-button"] += time.monotonic() - began
            self.report.buttons_tapped += 1
            after = f'{self.path()} (after tapping "{button["text"]}" on {self.path(here)})'
            self.check_screen(after, full=True)
            if self.page.url != here or self.page.evaluate(SIGNATURE) != signature:
                self.back_to(here, signature)  # start the next tap from the screen as it was
                signature = self.page.evaluate(SIGNATURE)
