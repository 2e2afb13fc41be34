"""The clerk's catalogue search (stock/search.search_catalogue and friends), on both databases."""

import pytest

from omnistore.catalog.lookups import find_variant_by_code
from omnistore.catalog.search_text import search_text_for
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock import search as catalogue_search
from omnistore.stock.search import catalogue_facets, catalogue_query, search_catalogue, size_sort_key
from tests.helpers import count_statements


def product(make, name, brand="Nordwind", category="Jackets", variants=(("M", "Black"),), **fields):
    """A product with variants and the search text the catalogue service builds (SKUs and colours too)."""
    prod = make.product(name=name, brand=brand, category=category, **fields)
    made = [make.variant(prod, size=size, colour=colour) for size, colour in variants]
    db.session.refresh(prod)
    prod.search_text = search_text_for(prod, prod.variants)
    db.session.commit()
    return prod, made


def names(result):
    return [p.name for p in result.products]


def search(q=None, **filters):
    return search_catalogue(catalogue_query(q, **filters))


@pytest.fixture
def shop(app, make):
    """A small catalogue with umlauts, a Danish ø, look-alike names and several sizes and colours."""
    ham, ber = make.location("HAM"), make.location("BER")
    items = {
        "loden": product(
            make, "Loden Jacket", brand="Müller & Söhne", variants=(("S", "Forest"), ("M", "Forest"), ("L", "Grey"))
        ),
        "rain": product(make, "Rain Jacket", variants=(("M", "Navy"), ("XL", "Navy"))),
        "jacket": product(make, "Jacket", brand="Elbkante", variants=(("M", "Black"),)),
        "liner": product(make, "Jacketliner Vest", brand="Elbkante", category="Accessories"),
        "parka": product(make, "Fjord Parka", variants=(("M", "Navy"), ("L", "Olive"))),
        "sweater": product(
            make, "Søren Sweater", brand="Skovly", category="Knitwear", variants=(("S", "Sand"), ("M", "Sand"))
        ),
        "tee": product(make, "Straßen Tee", brand="Lindgrün", category="T-shirts"),
    }
    return {"ham": ham, "ber": ber, **items}


# --- text: case, accents, umlauts, words ----------------------------------------------------------------


@pytest.mark.parametrize("q", ["mueller", "muller", "Müller", "MÜLLER", "müller & söhne", "  mueller   loden "])
def test_umlauts_accents_and_case(shop, q):
    assert names(search(q)) == ["Loden Jacket"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("soren", ["Søren Sweater"]),
        ("soeren", ["Søren Sweater"]),
        ("SØREN", ["Søren Sweater"]),
        ("strassen", ["Straßen Tee"]),
        ("straßen", ["Straßen Tee"]),
        ("lindgruen", ["Straßen Tee"]),
        ("navy", ["Fjord Parka", "Rain Jacket"]),
        ("nordwind parka", ["Fjord Parka"]),
        ("zzz", []),
    ],
)
def test_words_match_name_brand_colour_anywhere(shop, q, expected):
    assert sorted(names(search(q))) == sorted(expected)


def test_every_word_must_match(shop):
    assert names(search("rain parka")) == []
    assert names(search("forest loden")) == ["Loden Jacket"]


def test_sku_and_ean_parts_find_the_product(shop):
    _loden, (small, *_rest) = shop["loden"]
    assert names(search(small.sku.lower())) == ["Loden Jacket"]
    assert names(search(small.ean)) == ["Loden Jacket"]


def test_like_wildcards_are_plain_characters(shop):
    assert names(search("%")) == []
    assert names(search("_")) == []


# --- ranking -----------------------------------------------------------------------------------------------


def test_best_matches_first(shop):
    # exact name, then names starting with it, then names containing it, then other words (category) after.
    result = search("jacket")
    assert names(result) == ["Jacket", "Jacketliner Vest", "Loden Jacket", "Rain Jacket", "Fjord Parka"]


def test_exact_brand_comes_first(shop, make):
    product(make, "Elbkante Classic Tee", brand="Nordwind", category="T-shirts")
    assert names(search("Elbkante")) == ["Jacket", "Jacketliner Vest", "Elbkante Classic Tee"]


# --- typo-tolerant fallback --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "corrected", "expected"),
    [
        ("jaket", "jacket", "Jacket"),
        ("JAKET", "jacket", "Jacket"),
        ("parkka", "parka", "Fjord Parka"),
        ("muler", "müller", "Loden Jacket"),
        ("sweeter", "sweater", "Søren Sweater"),
        ("fjord parkka", "fjord parka", "Fjord Parka"),
    ],
)
def test_misspelt_words_fall_back_to_the_closest_catalogue_word(shop, q, corrected, expected):
    result = search(q)
    assert result.corrected == corrected
    assert names(result)[0] == expected


def test_no_correction_when_the_exact_search_finds_something(shop):
    result = search("parka")
    assert result.corrected is None and names(result) == ["Fjord Parka"]


def test_nothing_close_stays_empty_without_a_note(shop):
    result = search("xylophone")
    assert names(result) == [] and result.corrected is None


def test_numbers_and_short_words_are_not_corrected(shop):
    assert search("40612").corrected is None
    assert search("jk").corrected is None


def test_the_fallback_keeps_the_filters(shop):
    assert names(search("jaket", category="Accessories")) == ["Jacketliner Vest"]
    assert names(search("parkka", size="XL")) == []


# --- filters -----------------------------------------------------------------------------------------------


def test_category_size_and_colour_filters(shop):
    assert sorted(names(search(category="Knitwear"))) == ["Søren Sweater"]
    assert sorted(names(search(size="XL"))) == ["Rain Jacket"]
    assert sorted(names(search(colour="Navy"))) == ["Fjord Parka", "Rain Jacket"]
    assert names(search("jacket", size="L")) == ["Loden Jacket", "Fjord Parka"]  # the parka: category Jackets
    # Size and colour belong to one variant: the loden jacket comes in S/M Forest and L Grey only.
    assert names(search(size="L", colour="Forest")) == []
    assert names(search(size="L", colour="Grey")) == ["Loden Jacket"]


def test_available_here_and_in_the_network(shop, make):
    ham, ber = shop["ham"], shop["ber"]
    _rain, (rain_m, rain_xl) = shop["rain"]
    _parka, (parka_m, _parka_l) = shop["parka"]
    _loden, (loden_s, *_rest) = shop["loden"]
    make.stock(rain_m, ham, on_hand=2)
    make.stock(rain_xl, ham, on_hand=1, allocated=1)  # all of it promised to an order: not available
    make.stock(parka_m, ber, on_hand=3)
    make.stock(loden_s, ham, on_hand=0)
    here = dict(here_id=ham.id)
    assert names(search(available="here", **here)) == ["Rain Jacket"]
    assert sorted(names(search(available="network", **here))) == ["Fjord Parka", "Rain Jacket"]
    assert names(search(size="XL", available="here", **here)) == []  # the XL is allocated
    assert names(search(size="M", available="here", **here)) == ["Rain Jacket"]
    # a closed (inactive) store's stock is not available
    ber.active = False
    db.session.commit()
    assert names(search(available="network", **here)) == ["Rain Jacket"]


def test_empty_query_without_filters_finds_nothing_and_runs_no_query(shop):
    with count_statements() as seen:
        result = search("")
    assert result.products == [] and seen == []


# --- paging and query count ---------------------------------------------------------------------------------


def test_pages(shop, make):
    for n in range(5):
        product(make, f"Storm Coat {n}")
    first = search_catalogue(catalogue_search.CatalogueQuery(q="storm", limit=3))
    assert names(first) == ["Storm Coat 0", "Storm Coat 1", "Storm Coat 2"] and first.next_offset == 3
    rest = search_catalogue(catalogue_search.CatalogueQuery(q="storm", limit=3, offset=3))
    assert names(rest) == ["Storm Coat 3", "Storm Coat 4"] and rest.next_offset is None


def test_query_count_does_not_grow_with_the_results(shop, make):
    for n in range(30):
        product(make, f"Harbour Shell {n}", variants=(("S", "Navy"), ("M", "Navy"), ("L", "Navy")))
    here_id = shop["ham"].id
    db.session.expire_all()
    with count_statements() as seen:
        result = search("harbour", size="M", here_id=here_id)
        assert len(result.products) == catalogue_search.CATALOGUE_PAGE
        for p in result.products:
            _ = [v.sku for v in p.variants]
    assert len(seen.selects) == 2  # the products, their variants
    with count_statements() as seen:
        assert search("harbour", size="M", available="network", here_id=here_id).products == []
    # nothing in stock: the fallback looked for better words (catalogue version, and its words once)
    assert len(seen.selects) <= 1 + 1 + 2
    with count_statements() as seen:
        assert search("harbour", size="M", available="network", here_id=here_id).products == []
    assert len(seen.selects) == 1 + 1  # the search, the catalogue version: the words are known


def test_the_typo_fallback_knows_new_words_at_once(shop, make):
    assert search("anork").corrected is None
    product(make, "Storm Anorak")
    result = search("anork")
    assert result.corrected == "anorak" and names(result) == ["Storm Anorak"]
    # and the filters' values too
    product(make, "Pleated Skirt", category="Skirts", variants=(("38", "Plum"),))
    facets = catalogue_facets()
    assert "Skirts" in facets["categories"] and "38" in facets["sizes"] and "Plum" in facets["colours"]


# --- validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x01b"}, "q"),
        ({"q": " ".join("abcdefghijk")}, "q"),
        ({"category": "c" * 101}, "category"),
        ({"available": "everywhere"}, "available"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "ten"}, "offset"),
        ({"offset": "99999999999999999999"}, "offset"),
        ({"size": "\x00"}, "size"),
    ],
)
def test_bad_input_is_refused_with_the_field(kwargs, field):
    q = kwargs.pop("q", None)
    with pytest.raises(ValidationFailed) as failure:
        catalogue_query(q, **kwargs)
    assert field in failure.value.fields


@pytest.mark.parametrize("q", ["🧥 jacket", "ジャケット", "'; drop table product; --", "a" * 200, "\u200b"])
def test_odd_but_valid_text_just_searches(shop, q):
    search(q)  # no exception


def test_unknown_filter_values_find_nothing(shop):
    assert names(search(category="Nope")) == [] and names(search(size="XXXXL")) == []


# --- codes ---------------------------------------------------------------------------------------------------


def test_find_variant_by_code(shop):
    _loden, (small, medium, _large) = shop["loden"]
    assert find_variant_by_code(small.ean) == small
    assert find_variant_by_code(f" {medium.ean} ") == medium
    assert find_variant_by_code(medium.sku) == medium
    assert find_variant_by_code(medium.sku.lower()) == medium
    assert find_variant_by_code("0" + small.ean) == small  # GTIN-14
    assert find_variant_by_code(small.ean[:-1] + str((int(small.ean[-1]) + 1) % 10)) is None  # bad check digit
    for junk in ("", "   ", None, 42, "x" * 65, "a b", "\x00", "４" * 13, "jacket"):
        assert find_variant_by_code(junk) is None


def test_upc_a_finds_the_ean_with_a_leading_zero(app, make):
    prod = make.product()
    variant = make.variant(prod, ean="0012345678905")
    assert find_variant_by_code("012345678905") == variant


# --- sizes ---------------------------------------------------------------------------------------------------


def test_sizes_sort_the_way_clerks_read_them():
    sizes = ["XL", "One size", "S", "42", "38.5", "XXL", "M", "36", "XS", "L", "30/32", "28/32", "31/34", "38"]
    assert sorted(sizes, key=size_sort_key) == [
        "XS",
        "S",
        "M",
        "L",
        "XL",
        "XXL",
        "28/32",
        "30/32",
        "31/34",
        "36",
        "38",
        "38.5",
        "42",
        "One size",
    ]


def test_facets(shop):
    facets = catalogue_facets()
    assert facets["categories"] == ["Accessories", "Jackets", "Knitwear", "T-shirts"]
    assert facets["sizes"] == ["S", "M", "L", "XL"]
    assert facets["colours"] == ["Black", "Forest", "Grey", "Navy", "Olive", "Sand"]
