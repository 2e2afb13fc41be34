"""Find a product and see where it is: search, scan, product page, network panel (live)."""

from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.catalog import lookups as catalog
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import htmx
from omnistore.stock import availability, network_panel
from omnistore.stock import search as catalogue_search
from omnistore.stock.views import bp
from omnistore.stores import login
from omnistore.web.rendering import LIVE_PARAM, live_poll, login_required, render_page_or_partial, wants_fragment

# --- search and scan --------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    """The search page; an htmx request gets the results only. An exact EAN or SKU opens the variant."""
    args = request.args
    code = args.get("q", "")
    if not args.get("offset") and (variant := catalog.find_variant_ref(code)) is not None:
        return _go(url_for(".product", product_id=variant.product_id, variant=variant.id))
    if not args.get("offset") and (customer := _loyalty_customer(code)) is not None:
        return _go(url_for("customers.profile", customer_id=customer.id))
    customers = _customers_found(args)
    status = 200
    try:
        query = catalogue_search.catalogue_query(
            args.get("q"),
            category=args.get("category"),
            size=args.get("size"),
            colour=args.get("colour"),
            available=args.get("available"),
            offset=args.get("offset"),
            here_id=current_user.location_id,
        )
        results, error = availability.search(query), None
    except ValidationFailed as failure:
        query, results, status = catalogue_search.CatalogueQuery(here_id=current_user.location_id), None, 422
        error = (
            _(
                "That search could not be run. Use at most 200 characters and 10 words, and pick the "
                "filters from the lists."
            )
            if failure.fields
            else failure.message
        )
    fragment = wants_fragment()
    more_only = bool(fragment and results and query.offset)
    response = render_page_or_partial(
        "stock/search.html",
        "stock/_results.html",
        status,
        query=query,
        results=results,
        error=error,
        more_only=more_only,
        facets=None if fragment else catalogue_search.catalogue_facets(),
        customers=customers,
        customers_limit=CUSTOMER_HITS,
    )
    if fragment and not more_only:  # the address bar shows the search without the empty filters
        response.headers["HX-Push-Url"] = url_for(".index", **{k: v for k, v in args.items() if v and k != "offset"})
    return response


@bp.get("/scan")
@login_required
def scan():
    """A scanned code: EAN-13 / SKU → the variant's product page; a link to this site → there; anything else →
    404 page. The product page is the answer itself, not a redirect to it: scanning is what a clerk does most,
    and on a store's Wi-Fi a redirect costs a whole second round trip (reloading scans the code again)."""
    code = request.args.get("code", "")
    if (variant := catalog.find_variant_ref(code)) is not None:
        if wants_fragment():  # a page restored from history (back to this address) wants the page itself
            return _go(url_for(".product", product_id=variant.product_id, variant=variant.id))
        return _product_page(variant.product_id, variant.id)
    if (target := _same_site_target(code)) is not None:
        return _go(target)
    if (customer := _loyalty_customer(code)) is not None:
        return _go(url_for("customers.profile", customer_id=customer.id))
    return render_template("stock/scan_unknown.html", code=" ".join(code.split())[:80]), 404


CUSTOMER_HITS = 5  # the global box shows the best few; "All matching customers" opens the customer search


def _customers_found(args):
    """The global box promises customers too: name, phone, email or loyalty number, found as the customer
    search finds them (every staff member may look customers up). Not for the next page of products or a
    filtered product search."""
    from omnistore.customers.finding import search_customers

    q = args.get("q", "")
    if (
        not q.strip()
        or args.get("offset")
        or any(args.get(name) for name in ("category", "size", "colour", "available"))
    ):
        return []
    try:
        return search_customers(q, limit=CUSTOMER_HITS)
    except ValidationFailed:  # too long or too many words: the product search says so
        return []


def _loyalty_customer(code):
    """A customer's loyalty card scanned into the global search box or the camera: their profile."""
    from omnistore.customers.finding import find_by_loyalty_code

    return find_by_loyalty_code(code) if code and len(code) <= 40 else None


def _go(url):
    """303 to `url`. An htmx request (the as-you-type search, the boosted global search box) gets a full page
    load of `url` instead: a followed redirect would land the product page in the results list."""
    if htmx:
        response = current_app.response_class(status=200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def _same_site_target(code):
    """The path of a link to this very site ("https://<this host>/stock/products/7?variant=9"), else None."""
    code = (code or "").strip()
    if not code or len(code) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in code) or "\\" in code:
        return None
    if code.startswith("//"):  # a scheme-relative link: another host, whatever follows
        return None
    try:
        parts = urlsplit(code)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        if parts.scheme.lower() not in ("http", "https") or parts.netloc.lower() != request.host.lower():
            return None
    elif not code.startswith("/"):
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


# --- product page and network panel ---------------------------------------------------------------------


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id):
    """The product page with its matrix and, for the chosen variant, the live network panel."""
    _check_id(product_id)
    return _product_page(product_id, request.args.get("variant", type=int))


def _product_page(product_id, selected):
    view = availability.product_view(product_id, current_user.location_id)
    if view is None:
        abort(404)
    if selected not in {variant.id for variant in view.product.variants}:
        selected = view.product.variants[0].id if len(view.product.variants) == 1 else None
    panel = _panel(view.panel_variant(selected)) if selected is not None else None
    return render_template(
        "stock/product.html",
        view=view,
        selected=selected,
        panel=panel,
        show_all=_show_all(),
        back_url=_back_to_search(),
    )


def _back_to_search():
    """The search the clerk came from (same site, the stock search page), else the empty search page."""
    search = url_for(".index")
    target = _same_site_target(request.referrer or "")
    return target if target is not None and target.split("?")[0] == search else search


@bp.get("/variants/<int:variant_id>/panel")
@live_poll
@login_required
def panel(variant_id):
    """The live network panel. Polled with the fingerprint it was rendered with: 204 while nothing changed."""
    _check_id(variant_id)
    seen = request.args.get(LIVE_PARAM)
    if seen is not None and seen == network_panel.fingerprint(variant_id):
        return "", 204
    if not htmx:  # someone opened the panel's address: show the product page with this variant
        variant = catalog.get_variant(variant_id)
        if variant is None:
            abort(404)
        return redirect(url_for(".product", product_id=variant.product_id, variant=variant.id), 303)
    data = _panel(variant_id)
    if data is None:
        abort(404)
    response = current_app.make_response(render_template("stock/_panel.html", panel=data, show_all=_show_all()))
    response.vary.add("HX-Request")
    return response


def _show_all():
    """Every store with stock, not just the nearest (the clerk asked for the long list)."""
    return request.args.get("all") == "1"


def _check_id(number):
    """A number in a URL that no row can have (ids are 32-bit) is not found, rather than a database error."""
    if not 0 < number <= catalog.MAX_ID:
        abort(404)


NEAREST_STORES = 10  # a panel lists this many other stores, the rest on request (show_all)


def _panel(variant):
    """The network panel of `variant` (an id, or the PanelVariant the product page has) from the clerk's store."""
    return network_panel.network_panel(
        variant,
        current_user.location_id,
        low_threshold=current_app.config["OMNISTORE_LOW_STOCK_THRESHOLD"],
        nearest=None if _show_all() else NEAREST_STORES,
    )


# --- the live poll ------------------------------------------------------------------------------------
#
# An open panel asks every few seconds whether anything changed (?v=<the fingerprint it shows>). While
# nothing did, the answer is 204 after one statement (network_panel.poll: is the session's staff member still
# active with this session generation, and the variant's fingerprint); see stores/login.py for the rest.


@bp.before_app_request
def _unchanged_poll():
    if request.endpoint != "stock.panel" or LIVE_PARAM not in request.args or request.method != "GET":
        return None
    variant_id = (request.view_args or {}).get("variant_id")
    identity = login.poll_identity()
    if identity is None or not isinstance(variant_id, int) or not 0 < variant_id <= catalog.MAX_ID:
        return None
    staff_id, generation, key_hash = identity
    answer = network_panel.poll(staff_id, key_hash, variant_id)
    if not login.poll_session_holds(generation, answer) or answer.fingerprint != request.args.get(LIVE_PARAM):
        return None
    login.answer_unchanged_poll(staff_id)
    return "", 204


# --- template helpers ----------------------------------------------------------------------------------


@bp.app_template_filter("km")
def km(value):
    """Distance for people: one decimal below 10 km ("4.2 km", "4,2 km"), whole kilometres above ("288 km").

    The number symbols are looked up once per request: a long panel formats a distance per row.
    """
    if value is None:
        return ""
    if "km_format" not in g:
        symbols = get_locale().number_symbols.get("latn", {}) if get_locale() else {}
        g.km_format = (symbols.get("decimal", "."), symbols.get("group", ","), _("%(distance)s km"))
    decimal, group, pattern = g.km_format
    text = f"{value:.1f}".replace(".", decimal) if value < 10 else f"{round(value):,}".replace(",", group)
    return pattern % {"distance": text}


@bp.context_processor
def _stock_helpers():
    return {
        "live_refresh_ms": int(current_app.config["OMNISTORE_LIVE_REFRESH_SECONDS"] * 1000),
        "nearest_stores": NEAREST_STORES,
        "has_endpoint": lambda name: name in current_app.view_functions,
    }
