"""The stock browse views: search (page and htmx partial), scan, product page, the live network panel."""

import re
from urllib.parse import quote

import pytest

from omnistore.catalog.search_text import search_text_for
from omnistore.core.extensions import db
from omnistore.stock import ledger
from omnistore.stock.search import CATALOGUE_PAGE
from tests.helpers import count_statements

HX = {"HX-Request": "true"}


def product(make, name, brand="Nordwind", category="Jackets", sizes=("M",), colours=("Navy",)):
    prod = make.product(name=name, brand=brand, category=category)
    variants = [make.variant(prod, size=size, colour=colour) for colour in colours for size in sizes]
    db.session.refresh(prod)
    prod.search_text = search_text_for(prod, prod.variants)
    db.session.commit()
    return prod, variants


@pytest.fixture
def shop(app, make, client):
    ham, cph, wh1 = make.location("HAM"), make.location("CPH"), make.location("WH1")
    parka, parka_variants = product(make, "Fjord Parka", sizes=("S", "M", "XL"), colours=("Navy", "Olive"))
    loden, loden_variants = product(make, "Loden Jacket", brand="Müller & Söhne", colours=("Forest",))
    variant = parka_variants[2]  # Navy XL
    make.stock(variant, cph, on_hand=2)
    make.stock(variant, ham, on_hand=0)
    make.stock(variant, wh1, on_hand=7)
    make.stock(parka_variants[1], ham, on_hand=3)
    clerk = make.staff("clerk", ham, email="clerk@example.test")
    client.login(clerk.email)
    return dict(
        ham=ham,
        cph=cph,
        parka=parka,
        variant=variant,
        parka_variants=parka_variants,
        loden=loden,
        loden_variants=loden_variants,
        clerk=clerk,
    )


def text(response):
    return response.get_data(as_text=True)


# --- search ---------------------------------------------------------------------------------------------------


def test_search_page_and_htmx_partial(client, shop):
    page = client.get("/stock/?q=parka")
    assert page.status_code == 200 and "<html" in text(page) and 'id="stock-search"' in text(page)
    assert "Fjord Parka" in text(page) and "HX-Request" in page.headers["Vary"]
    partial = client.get("/stock/?q=parka", headers=HX)
    body = text(partial)
    assert partial.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="search-results"')
    assert "Fjord Parka" in body and "Loden Jacket" not in body
    assert "HX-Request" in partial.headers["Vary"]
    boosted = client.get("/stock/?q=parka", headers={**HX, "HX-Boosted": "true"})
    assert "<html" in text(boosted)


def test_the_address_bar_gets_the_search_without_empty_filters(client, shop):
    response = client.get("/stock/?q=parka&category=&size=XL&colour=&available=", headers=HX)
    assert response.headers["HX-Push-Url"] == "/stock/?q=parka&size=XL"
    assert "HX-Push-Url" not in client.get("/stock/?q=parka&offset=24", headers=HX).headers
    assert "HX-Push-Url" not in client.get("/stock/?q=parka").headers


def test_results_show_price_and_here_and_network_totals(client, shop):
    body = text(client.get("/stock/?q=fjord", headers=HX))
    assert "€89.95" in body
    assert re.search(r"Here\s*<strong>3</strong>", body)  # the M at HAM
    assert re.search(r"Network\s*<strong>12</strong>", body)  # 2 + 0 + 7 + 3


def test_umlauts_and_the_typo_fallback_note(client, shop):
    assert "Loden Jacket" in text(client.get("/stock/?q=mueller", headers=HX))
    body = text(client.get("/stock/?q=jaket", headers=HX))
    assert "Loden Jacket" in body and "Showing results for “jacket”" in body
    assert "No products match “xylophone”" in text(client.get("/stock/?q=xylophone", headers=HX))


def test_filters_are_offered_and_applied(client, shop):
    page = text(client.get("/stock/"))
    for value in ("Jackets", "XL", "Olive", 'value="here"', 'value="network"'):
        assert value in page
    assert "Fjord Parka" not in text(client.get("/stock/?q=&size=XL&available=here", headers=HX))
    body = text(client.get("/stock/?size=XL&available=network", headers=HX))
    assert "Fjord Parka" in body and "Loden Jacket" not in body
    # a size filter opens the product on the matching variant
    assert f"variant={shop['parka_variants'][0].id}" in text(client.get("/stock/?q=parka&size=S", headers=HX))


@pytest.mark.parametrize(
    "query",
    [
        "q=" + "x" * 201,
        "q=" + "ü" * 300,
        "available=everywhere",
        "offset=-1",
        "offset=1e9",
        "offset=" + "9" * 30,
        "category=" + "c" * 500,
        "q=" + "+".join("abcdefghijkl"),
    ],
)
def test_bad_search_input_is_a_message_not_a_500(client, shop, query):
    for headers in ({}, HX):
        response = client.get(f"/stock/?{query}", headers=headers)
        assert response.status_code == 422
        assert "That search could not be run" in text(response)


@pytest.mark.parametrize(
    "q",
    [
        "",
        "   ",
        "%",
        "_",
        "🧥",
        "ジャケット",
        "a%00"[:1],
        "'; select 1; --",
        "Müller & Söhne",
        "\u200b",
        "x" * 200,
        "4" * 13,
        "0" * 14,
    ],
)
def test_odd_but_valid_queries_answer_200(client, shop, q):
    assert client.get(f"/stock/?q={quote(q)}", headers=HX).status_code == 200
    assert client.get(f"/stock/?q={quote(q)}").status_code == 200


def test_a_nul_byte_is_a_400(client, shop):
    assert client.get("/stock/?q=a%00b").status_code == 400


def test_unknown_filter_values_find_nothing(client, shop):
    body = text(client.get("/stock/?category=Nope&size=%F0%9F%A7%A5&colour=Plaid", headers=HX))
    assert "No products match these filters" in body


def test_show_more_returns_the_next_items_only(client, shop, make):
    for n in range(CATALOGUE_PAGE + 6):
        product(make, f"Storm Coat {n:02d}")
    first = text(client.get("/stock/?q=storm", headers=HX))
    assert first.count('class="hit"') == CATALOGUE_PAGE and f"offset={CATALOGUE_PAGE}" in first
    more = text(client.get(f"/stock/?q=storm&offset={CATALOGUE_PAGE}", headers=HX))
    assert more.count('class="hit"') == 6 and "search-results" not in more and "offset=" not in more
    last = f"Storm Coat {CATALOGUE_PAGE + 5:02d}"
    assert last in more
    assert last in text(client.get(f"/stock/?q=storm&offset={CATALOGUE_PAGE}"))  # without JS: a page


def test_search_query_count_does_not_grow_with_the_results(client, shop, make):
    for n in range(30):
        _prod, variants = product(make, f"Storm Coat {n:02d}", sizes=("S", "M", "L"))
        make.stock(variants[0], shop["ham"], on_hand=1)
    client.get("/stock/?q=storm", headers=HX)
    with count_statements("SELECT") as seen:
        response = client.get("/stock/?q=storm", headers=HX)
    assert response.status_code == 200
    assert len(seen) <= 5, "\n\n".join(seen)  # staff, exact code?, products, their variants, the totals


# --- exact codes: the search box and the scanner ---------------------------------------------------------------


def test_an_exact_ean_or_sku_in_the_search_box_opens_the_variant(client, shop):
    variant = shop["variant"]
    target = f"/stock/products/{shop['parka'].id}?variant={variant.id}"
    for q in (variant.ean, variant.sku, variant.sku.lower(), f" {variant.ean} "):
        response = client.get(f"/stock/?q={quote(q)}")
        assert response.status_code == 303 and response.headers["Location"] == target
    boosted = client.get(f"/stock/?q={variant.ean}", headers={**HX, "HX-Boosted": "true"})
    assert boosted.headers["HX-Redirect"] == target  # a full load, so the page's script runs
    typed = client.get(f"/stock/?q={variant.ean}", headers=HX)
    assert typed.headers["HX-Redirect"] == target and text(typed) == ""


def test_scan_shows_the_variants_product_page_in_one_round_trip(client, shop):
    variant = shop["variant"]
    target = f"/stock/products/{shop['parka'].id}?variant={variant.id}"
    product_page = text(client.get(target))
    panel = re.search(r'id="network-panel"[^>]*hx-get="([^"?]+)', product_page).group(1)
    assert panel == f"/stock/variants/{variant.id}/panel"
    for code in (variant.ean, variant.sku, "0" + variant.ean):
        response = client.get(f"/stock/scan?code={code}")
        assert response.status_code == 200 and "Location" not in response.headers
        body = text(response)
        assert ">Fjord Parka</h1>" in body and re.search(r'id="network-panel"[^>]*hx-get="' + panel, body)
    # htmx cannot show a page in place of what it swaps: it loads the product page's address.
    assert client.get(f"/stock/scan?code={variant.ean}", headers=HX).headers["HX-Redirect"] == target
    # Back to the scan's address: htmx restores it from the server, and gets the page, not an empty redirect
    restored = client.get(f"/stock/scan?code={variant.ean}", headers={**HX, "HX-History-Restore-Request": "true"})
    assert restored.status_code == 200 and ">Fjord Parka</h1>" in text(restored)


@pytest.mark.parametrize(
    "code",
    [
        "http://localhost/stock/products/1?variant=2",
        "https://localhost/orders/",
        "/stock/products/1",
    ],
)
def test_scan_follows_links_to_this_site(client, shop, code):
    response = client.get(f"/stock/scan?code={quote(code)}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/" + code.split("/", 3)[-1] if "://" in code else code


@pytest.mark.parametrize(
    "code",
    [
        "https://evil.example/stock/",
        "//evil.example/x",
        "///evil.example",
        "////evil.example",
        "/\\evil.example",
        "http://localhost@evil.example/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://localhost/x",
        "https://localhost.evil.example/",
        "4006381333932",
        "nope",
        "",
        "   ",
        "x" * 5000,
        "ü" * 100,
        "https://localhost/\nx",
    ],
)
def test_scan_of_an_unknown_code_is_a_404_page_offering_the_search(client, shop, code):
    response = client.get(f"/stock/scan?code={quote(code)}")
    assert response.status_code == 404
    body = text(response)
    assert "No product with code" in body or "No code was scanned" in body
    assert 'action="/stock/"' in body and 'name="q"' in body
    assert "Location" not in response.headers


def test_scan_shows_a_shortened_code(client, shop):
    heading = re.search(r"<h1>([^<]*)</h1>", text(client.get("/stock/scan?code=" + "7" * 300))).group(1)
    assert "7" * 80 in heading and "7" * 81 not in heading


# --- product page ---------------------------------------------------------------------------------------------


def test_product_page_with_matrix_and_the_chosen_variants_panel(client, shop):
    variant = shop["variant"]
    body = text(client.get(f"/stock/products/{shop['parka'].id}?variant={variant.id}"))
    assert "Fjord Parka" in body and "€89.95" in body and 'id="matrix"' in body
    matrix = body[body.index('id="matrix"') : body.index('id="network-panel"')]
    sizes = re.findall(r'<th scope="col">([^<]+)</th>', matrix)
    assert sizes == ["S", "M", "XL"]
    assert f'data-variant-cell="{variant.id}" aria-current="true"' in body
    assert body.count("sold-out") >= 1  # sold out here: marked, not hidden
    assert 'id="network-panel"' in body and "København" in body and 'src="/static/js/live.js' in body


@pytest.mark.parametrize("variant", ["abc", "-1", "999999", "99999999999999999999999", ""])
def test_product_page_ignores_a_bad_variant(client, shop, variant):
    response = client.get(f"/stock/products/{shop['parka'].id}?variant={variant}")
    assert response.status_code == 200
    assert "Tap a size in the table" in text(response)


def test_a_variant_of_another_product_is_ignored(client, shop):
    other = shop["loden_variants"][0]
    body = text(client.get(f"/stock/products/{shop['parka'].id}?variant={other.id}"))
    assert "aria-current" not in body and "Loden Jacket" not in body


def test_a_product_with_one_variant_opens_its_panel(client, shop):
    body = text(client.get(f"/stock/products/{shop['loden'].id}"))
    assert "data-live" in body


@pytest.mark.parametrize(
    "path",
    [
        "/stock/products/999999",
        "/stock/products/0",
        "/stock/products/-1",
        "/stock/products/abc",
        "/stock/products/99999999999999999999",
        "/stock/products/2147483648",
        "/stock/variants/99999999999999999999/panel?v=1",
        "/stock/variants/2147483648/panel",
    ],
)
def test_unknown_product_is_404(client, shop, path):
    assert client.get(path).status_code == 404


def test_boosted_navigation_to_the_product_page_gets_the_page_in_one_request(client, shop):
    """Every script loads from the base layout, so a boosted tap needs no second, full load."""
    url = f"/stock/products/{shop['parka'].id}?variant={shop['variant'].id}"
    for headers in ({**HX, "HX-Boosted": "true"}, {**HX, "HX-History-Restore-Request": "true"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and "HX-Redirect" not in response.headers
        assert "<main" in text(response) and 'id="network-panel"' in text(response)


# --- the network panel ----------------------------------------------------------------------------------------


def panel_url(body):
    return re.search(r'hx-get="(/stock/variants/\d+/panel\?v=[^"]+)"', body).group(1).replace("&amp;", "&")


def test_panel_partial_lists_nearest_first_with_totals(client, shop):
    response = client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)
    body = text(response)
    assert response.status_code == 200 and body.lstrip().startswith('<section id="network-panel"')
    assert 'hx-target="this"' in body and 'hx-swap="outerHTML"' in body and "every 3000ms" in body
    assert body.index("Hamburg") < body.index("København") < body.index("Kassel warehouse")
    assert "289 km" in body or "288 km" in body
    assert re.search(r'data-total="here">0<', body) and re.search(r'data-total="network">9<', body)
    assert "low" in body  # København has 2


def test_panel_answers_204_while_nothing_changed(client, shop):
    variant = shop["variant"]
    url = panel_url(text(client.get(f"/stock/variants/{variant.id}/panel", headers=HX)))
    unchanged = client.get(url, headers=HX)
    assert unchanged.status_code == 204 and unchanged.get_data() == b""
    assert "Set-Cookie" not in unchanged.headers and "Server-Timing" in unchanged.headers
    assert unchanged.headers["Cache-Control"] == "no-store"
    ledger.correct(ledger.StockChange(variant.id, shop["cph"].id, 5, "recount"), None)  # another tablet
    changed = client.get(url, headers=HX)
    assert changed.status_code == 200 and re.search(r'data-total="network">12<', text(changed))
    assert panel_url(text(changed)) != url
    assert client.get(panel_url(text(changed)), headers=HX).status_code == 204


def test_an_idle_refresh_is_one_query_with_the_sign_in_check(client, shop):
    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    with count_statements("SELECT") as seen:
        assert client.get(url, headers=HX).status_code == 204
    assert len(seen) == 1, "\n\n".join(seen)
    assert "variant_stock" in seen[0] and "staff_session" in seen[0]


def test_a_poll_after_signing_out_elsewhere_or_being_disabled_is_not_answered(app, client, shop, make):
    from omnistore.stores.staff import disable_staff

    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    with client.session_transaction() as session:
        staff_id, generation = session["_user_id"].split(":")
        session["_user_id"] = f"{staff_id}:{int(generation) + 1}"  # an older session of this staff member
    assert client.get(url, headers=HX).status_code == 401
    client.login(shop["clerk"].email)
    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    assert client.get(url, headers=HX).status_code == 204
    disable_staff(shop["clerk"].email)
    response = client.get(url, headers=HX)
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def test_a_poll_after_signing_out_is_not_answered(app, client, shop):
    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get(url, headers=HX).status_code == 204
    client.submit("/logout")
    assert thief.get(url, headers=HX).status_code == 401


def test_a_poll_from_another_browser_with_the_same_cookie_takes_the_ordinary_way(client, shop):
    """Flask-Login's session protection sees another address or browser and marks the session not fresh."""
    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    response = client.get(url, headers={**HX, "User-Agent": "another browser"})
    assert response.status_code == 204 and "Set-Cookie" in response.headers
    with client.session_transaction() as session:
        assert session["_fresh"] is False


@pytest.mark.parametrize("path", ["/stock/variants/99999999999/panel?v=1-1-1", "/stock/variants/0/panel?v=0-0-0"])
def test_polls_of_impossible_variants_are_404(client, shop, path):
    assert client.get(path, headers=HX).status_code == 404


def test_panel_query_count_does_not_grow_with_the_network(client, shop, make):
    for number in range(30):
        store = make.location(f"S{number:03d}", latitude=50 + number / 20, longitude=9 + number / 20)
        make.stock(shop["variant"], store, on_hand=1 + number % 3)
    with count_statements("SELECT") as seen:
        response = client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)
    assert response.status_code == 200 and "more stores" in text(response)
    assert len(seen) <= 6, "\n\n".join(seen)  # staff, their store, fingerprint, variant, locations, transit


def test_a_long_panel_shows_the_nearest_ten_and_the_rest_on_request(client, shop, make):
    for number in range(15):
        store = make.location(f"S{number:03d}", latitude=50 + number / 20, longitude=9)
        make.stock(shop["variant"], store, on_hand=1)
    url = f"/stock/variants/{shop['variant'].id}/panel"
    short = text(client.get(url, headers=HX))
    assert short.count("<tr data-location=") == 1 + 10 + 1  # here, the ten nearest of 16, the warehouse
    assert "Show 6 more stores" in short and "all=1" in short and "all=1&amp;v=" not in short
    full = text(client.get(url + "?all=1", headers=HX))
    assert full.count("<tr data-location=") == 1 + 16 + 1 and "Show the nearest stores only" in full
    assert re.search(r'hx-get="/stock/variants/\d+/panel\?[^"]*all=1', full)  # the poll keeps the long list
    page = text(client.get(f"/stock/products/{shop['parka'].id}?variant={shop['variant'].id}&all=1"))
    assert page.count("<tr data-location=") == 1 + 16 + 1


@pytest.mark.parametrize("v", ["", "x", "0-0-0", "ü" * 50, "9" * 500])
def test_panel_with_a_stale_or_odd_fingerprint_renders(client, shop, v):
    response = client.get(f"/stock/variants/{shop['variant'].id}/panel?v={quote(v)}", headers=HX)
    assert response.status_code == 200 and 'id="network-panel"' in text(response)


def test_panel_of_an_unknown_variant_is_404(client, shop):
    assert client.get("/stock/variants/999999/panel", headers=HX).status_code == 404
    assert client.get("/stock/variants/999999/panel").status_code == 404


def test_opening_the_panel_address_directly_shows_the_product_page(client, shop):
    response = client.get(f"/stock/variants/{shop['variant'].id}/panel")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/stock/products/{shop['parka'].id}?variant={shop['variant'].id}"


def test_panel_links_to_this_stores_stock_page_when_it_exists(app, client, shop):
    body = text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX))
    if "stock.here" in app.view_functions:
        assert f"variant_id={shop['variant'].id}" in body or f"/{shop['variant'].id}" in body
        assert "Receive / correct" in body and "History" in body
    else:
        assert "Receive / correct" not in body


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LIVE_REFRESH_SECONDS": 1.5, "OMNISTORE_LOW_STOCK_THRESHOLD": 0}])
def test_refresh_interval_and_low_stock_threshold_come_from_the_config(client, shop):
    body = text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX))
    assert "every 1500ms" in body and "badge-low" not in body


def test_polling_does_not_count_as_activity_for_the_idle_timeout(client, shop, make):
    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    make.age_sessions(minutes=10)
    before = make.staff_session_rows()[0].last_seen_at
    client.get(url, headers=HX)
    assert make.staff_session_rows()[0].last_seen_at == before
    client.get("/stock/?q=parka", headers=HX)  # the clerk searching is activity
    assert make.staff_session_rows()[0].last_seen_at > before


def test_an_idle_tablets_poll_is_signed_out(client, shop, make):
    url = panel_url(text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX)))
    make.age_sessions(hours=10)
    response = client.get(url, headers=HX)
    assert response.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize("path", ["/stock/", "/stock/scan?code=1", "/stock/products/1", "/stock/variants/1/panel?v=1"])
def test_anonymous_is_sent_to_sign_in(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_pages_render_in_german_and_danish(client, shop, make):
    nearby = make.location("HH2", name="Hamburg-Altona", latitude=53.5511 + 0.0378, longitude=9.9937)
    make.stock(shop["variant"], nearby, on_hand=1)
    client.submit("/language", {"locale": "de", "next": "/"})
    body = text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX))
    assert "Entfernung" in body and "4,2 km" in body and "289 km" in body
    assert "Geöffnet" in body or "eschlossen" in body
    assert "Keine Treffer für „jaket“" in text(client.get("/stock/?q=jaket", headers=HX))
    client.submit("/language", {"locale": "da", "next": "/"})
    body = text(client.get(f"/stock/variants/{shop['variant'].id}/panel", headers=HX))
    assert "Afstand" in body and "4,2 km" in body
    assert "Lagersøgning" in text(client.get(f"/stock/products/{shop['parka'].id}"))
