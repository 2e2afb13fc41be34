"""The htmx mechanisms every page relies on, checked over all templates (the e2e tests in tests/e2e/test_seams.py
tap through them in a real browser):

- no inherited targets: htmx runs with disableInheritance, so an hx-target/hx-swap on a component that makes no
  request itself would be a place that relied on inheritance (and leaked into boosted links inside it);
- every file link opts out of boosting (a boosted download lands the file's text in the page);
- every stylesheet and script loads from base.html (a boosted navigation swaps the <body> only);
- nothing inline that the strict CSP refuses (emails excepted: they render only in the outbox's sandboxed preview).
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PAGES = [path for path in TEMPLATES.rglob("*.html") if "emails" not in path.relative_to(TEMPLATES).parts]
REQUEST_ATTRIBUTES = {f"hx-{verb}" for verb in ("get", "post", "put", "patch", "delete")}
# Attributes that configure the request of the element they sit on.
REQUEST_CONFIG = {
    "hx-target",
    "hx-swap",
    "hx-select",
    "hx-include",
    "hx-sync",
    "hx-disabled-elt",
    "hx-confirm",
    "hx-push-url",
    "hx-vals",
    "hx-params",
    "hx-indicator",
    "hx-encoding",
    "hx-select-oob",
}
JINJA = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), self.getpos()))

    handle_startendtag = handle_starttag


def tags(path):
    parser = _Tags()
    parser.feed(JINJA.sub(" ", path.read_text(encoding="utf-8")))
    return parser.tags


def test_htmx_runs_without_attribute_inheritance_and_only_boosting_passes_down(client, make):
    make.staff("clerk", make.location("HAM"), email="clerk@example.test")
    client.login("clerk@example.test")
    html = client.get("/").get_data(as_text=True)
    config = json.loads(re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', html).group(1))
    assert config["disableInheritance"] is True
    body = re.search(r"<body[^>]*>", html).group(0)
    assert 'hx-boost="true"' in body and 'hx-inherit="hx-boost"' in body


def test_no_element_hands_request_attributes_down_to_the_elements_inside_it():
    relying = []
    for path in PAGES:
        for tag, attrs, (line, _col) in tags(path):
            config = REQUEST_CONFIG & attrs.keys()
            makes_request = REQUEST_ATTRIBUTES & attrs.keys() or tag in ("a", "form")  # links and forms: boosted
            if config and not makes_request:
                relying.append(f"{path.relative_to(ROOT)}:{line} <{tag}> {sorted(config)}")
    assert not relying, "name the target on the element that makes the request:\n" + "\n".join(relying)


def test_every_file_link_opts_out_of_boosting(app):
    """Every link to an endpoint that answers with a file goes through the download_link macro."""
    files = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if re.search(r"\.(csv|zip|pdf)$|/export$", rule.rule) and not rule.rule.startswith("/api/")
    }
    assert {"manager.figures_csv", "customers.export", "stock.import_problems"} <= files
    seen, direct = set(), []
    for path in PAGES:
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for endpoint in re.findall(r"url_for\('([\w.]+)'", text):
                if endpoint in files:
                    seen.add(endpoint)
                    if "download_link(url_for('" + endpoint not in text:
                        direct.append(f"{path.relative_to(ROOT)}:{line} {endpoint}")
    assert not direct, "use download_link from _components/macros.html:\n" + "\n".join(direct)
    assert {"manager.figures_csv", "manager.orders_csv", "manager.handovers_csv", "manager.league_csv"} <= seen
    macro = [attrs for tag, attrs, _pos in tags(TEMPLATES / "_components" / "macros.html") if tag == "a"]
    assert macro == [{"class": "{{ class }}", "href": "{{ href }}", "download": None, "hx-boost": "false"}]


def test_stylesheets_and_scripts_load_from_the_base_layout_only():
    elsewhere = [
        f"{path.relative_to(ROOT)}:{line} <{tag}>"
        for path in PAGES
        # base.html; and the offline page, which only the service worker shows (a full page, never a boosted one)
        if path.name != "base.html" and path.relative_to(TEMPLATES).as_posix() != "errors/offline.html"
        for tag, attrs, (line, _col) in tags(path)
        if tag in ("script", "style") or (tag == "link" and attrs.get("rel") == "stylesheet")
    ]
    assert not elsewhere, "boosted navigation would not load these:\n" + "\n".join(elsewhere)
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    for path in sorted((ROOT / "static" / "js").glob("*.js")) + sorted((ROOT / "static" / "css").glob("*.css")):
        assert f"filename='{path.parent.name}/{path.name}'" in base, f"{path.name} is not loaded by base.html"


def test_nothing_inline_that_the_content_security_policy_refuses():
    inline = [
        f"{path.relative_to(ROOT)}:{line} <{tag}>"
        for path in PAGES
        for tag, attrs, (line, _col) in tags(path)
        if "style" in attrs
        or tag == "style"
        or (tag == "script" and "src" not in attrs)
        or any(name.startswith("on") for name in attrs)
    ]
    assert not inline, "\n".join(inline)
    for path in (ROOT / "static" / "js").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"setAttribute\(\s*[\"']style|style=|cssText|insertAdjacentHTML|innerHTML\s*=", text), path
