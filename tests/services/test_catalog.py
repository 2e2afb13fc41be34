"""The catalogue service: EAN rules, search forms, the bulk upsert and the search (on both databases)."""

import pytest
from sqlalchemy import func, select

from omnistore.catalog import feed
from omnistore.catalog.codes import ean13_check_digit, is_valid_ean13
from omnistore.catalog.feed import TooManyProducts, upsert_products
from omnistore.catalog.lookups import search_products
from omnistore.catalog.models import Product, Variant
from omnistore.catalog.prices import prices_of
from omnistore.catalog.search_text import fold, search_forms
from omnistore.core.audit import AuditEvent
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.stores.staff import create_api_client
from tests.factories import ean
from tests.helpers import count_statements


@pytest.fixture
def actor(app):
    client, _token = create_api_client("pim")
    return client


def row(style_code="JKT-1", name="Rain Jacket", n=1, variants=None, **fields):
    """A product row as a PIM sends it; variant EANs are derived from `n` so rows do not clash."""
    if variants is None:
        variants = [
            variant_row(f"{style_code}-{size}", ean(n * 10 + i), size=size) for i, size in enumerate(("S", "M"))
        ]
    return {
        "style_code": style_code,
        "name": name,
        "brand": "Nordwind",
        "category": "Jackets",
        "variants": variants,
        **fields,
    }


def variant_row(sku, ean_code, size="M", colour="Navy", price_minor=8995, **fields):
    return {"sku": sku, "ean": ean_code, "size": size, "colour": colour, "price_minor": price_minor, **fields}


def counts():
    return (db.session.scalar(select(func.count(Product.id))), db.session.scalar(select(func.count(Variant.id))))


# --- helpers ---------------------------------------------------------------------------------------


def test_ean13_check_digit():
    assert ean13_check_digit("400638133393") == "1"
    assert is_valid_ean13("4006381333931")
    assert not is_valid_ean13("4006381333932")
    assert not is_valid_ean13("400638133393")
    assert not is_valid_ean13("４００６３８１３３３９３１")  # full-width digits are no barcode
    assert not is_valid_ean13(4006381333931)


def test_fold_and_search_forms():
    assert fold("Müller Søren") == "muller soren"
    assert search_forms("Müller") == "muller mueller"
    assert search_forms("Straße") == "straße strasse"
    assert search_forms("Århus") == "arhus aarhus"


# --- upsert ----------------------------------------------------------------------------------------


def test_upsert_creates_products_with_variants_and_search_text(app, actor):
    result = upsert_products([row("JKT-1", "Müller Regenjacke", n=1), row("JKT-2", n=2)], actor)
    assert result.summary == {"created": 2, "updated": 0, "unchanged": 0, "errors": 0}
    assert [(r.index, r.style_code, r.status, r.errors) for r in result.results] == [
        (0, "JKT-1", "created", []),
        (1, "JKT-2", "created", []),
    ]
    product = db.session.scalar(select(Product).where(Product.style_code == "JKT-1"))
    assert product.name == "Müller Regenjacke" and product.brand == "Nordwind"
    assert [(v.sku, v.size, v.colour, prices_of(v)["DE"]) for v in product.variants] == [
        ("JKT-1-S", "S", "Navy", 8995),
        ("JKT-1-M", "M", "Navy", 8995),
    ]
    for word in ("muller", "mueller", "regenjacke", "nordwind", "jkt-1", "jkt-1-s", "navy", "jackets"):
        assert word in product.search_text.split()
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "catalog.products_upserted").order_by(AuditEvent.id)
    )
    assert event.api_client_id == actor.id
    assert event.detail["created"] == ["JKT-1", "JKT-2"] and event.detail["summary"]["errors"] == 0


def test_resending_the_same_rows_changes_nothing(app, actor):
    rows = [row("JKT-1", n=1), row("JKT-2", n=2, description="Wasserdicht\nund leicht")]
    upsert_products(rows, actor)
    before = {
        p.style_code: (p.updated_at, [v.updated_at for v in p.variants]) for p in db.session.scalars(select(Product))
    }
    db.session.expire_all()

    with count_statements() as seen:
        result = upsert_products(rows, actor)

    assert result.summary == {"created": 0, "updated": 0, "unchanged": 2, "errors": 0}
    catalogue_writes = [s for s in seen.writes if "audit_event" not in s]
    assert catalogue_writes == []
    db.session.expire_all()
    after = {
        p.style_code: (p.updated_at, [v.updated_at for v in p.variants]) for p in db.session.scalars(select(Product))
    }
    assert after == before
    assert counts() == (2, 4)


def test_update_changes_only_what_differs(app, actor):
    upsert_products([row("JKT-1", n=1), row("JKT-2", n=2)], actor)
    first = db.session.scalar(select(Product).where(Product.style_code == "JKT-1"))
    stamp = first.updated_at
    other_stamp = db.session.scalar(select(Product.updated_at).where(Product.style_code == "JKT-2"))

    changed = row("JKT-1", n=1)
    changed["variants"][1]["price_minor"] = 7995
    changed["variants"].append(variant_row("JKT-1-L", ean(13), size="L"))
    result = upsert_products([changed, row("JKT-2", n=2)], actor)

    assert [r.status for r in result.results] == ["updated", "unchanged"]
    db.session.expire_all()
    first = db.session.scalar(select(Product).where(Product.style_code == "JKT-1"))
    assert first.updated_at > stamp
    assert [(v.sku, prices_of(v)["DE"]) for v in first.variants] == [
        ("JKT-1-S", 8995),
        ("JKT-1-M", 7995),
        ("JKT-1-L", 8995),
    ]
    assert "jkt-1-l" in first.search_text
    assert db.session.scalar(select(Product.updated_at).where(Product.style_code == "JKT-2")) == other_stamp


def test_left_out_fields_and_variants_are_kept_null_clears(app, actor):
    upsert_products([row("JKT-1", n=1, description="Long text", image_url="https://img.example/1.jpg")], actor)
    partial = {
        "style_code": "JKT-1",
        "name": "Rain Jacket",
        "variants": [{"sku": "JKT-1-S", "ean": ean(10), "price_minor": 8995}],
    }
    assert upsert_products([partial], actor).results[0].status == "unchanged"

    result = upsert_products([dict(partial, description=None)], actor)
    assert result.results[0].status == "updated"
    product = db.session.scalar(select(Product).where(Product.style_code == "JKT-1"))
    assert product.description == "" and product.image_url == "https://img.example/1.jpg"
    assert product.brand == "Nordwind" and len(product.variants) == 2  # JKT-1-M was not sent, is kept


def test_unicode_is_kept_and_normalised(app, actor):
    decomposed = "Mu\u0308ller Ærø T-Shirt 👕"  # "ü" as u + combining diaeresis
    result = upsert_products([row("TEE-1", decomposed, n=3)], actor)
    assert result.results[0].status == "created"
    product = db.session.scalar(select(Product).where(Product.style_code == "TEE-1"))
    assert product.name == "Müller Ærø T-Shirt 👕"
    assert upsert_products([row("TEE-1", "Müller Ærø T-Shirt 👕", n=3)], actor).results[0].status == "unchanged"


BAD_ROWS = [
    ("style_code missing", lambda r: r.pop("style_code"), "style_code", "required"),
    ("style_code blank", lambda r: r.update(style_code="  "), "style_code", "required"),
    ("style_code too long", lambda r: r.update(style_code="S" * 65), "style_code", "too_long"),
    ("style_code number", lambda r: r.update(style_code=123), "style_code", "invalid_type"),
    ("name missing", lambda r: r.pop("name"), "name", "required"),
    ("name list", lambda r: r.update(name=["x"]), "name", "invalid_type"),
    ("name too long", lambda r: r.update(name="x" * 201), "name", "too_long"),
    ("name with NUL", lambda r: r.update(name="Jacke\x00"), "name", "invalid_value"),
    ("name with lone surrogate", lambda r: r.update(name="Jacke \ud800"), "name", "invalid_value"),
    ("brand number", lambda r: r.update(brand=7), "brand", "invalid_type"),
    ("description too long", lambda r: r.update(description="x" * 10_001), "description", "too_long"),
    ("image_url not http", lambda r: r.update(image_url="javascript:alert(1)"), "image_url", "invalid_value"),
    ("unknown field", lambda r: r.update(color="Navy"), "color", "unknown_field"),
    ("variants missing", lambda r: r.pop("variants"), "variants", "required"),
    ("variants empty", lambda r: r.update(variants=[]), "variants", "required"),
    ("variants object", lambda r: r.update(variants={"sku": "x"}), "variants", "invalid_type"),
    (
        "variants too many",
        lambda r: r.update(variants=[variant_row(f"V{i}", ean(500 + i)) for i in range(251)]),
        "variants",
        "too_long",
    ),
    ("variant not object", lambda r: r["variants"].__setitem__(1, "JKT-1-M"), "variants[1]", "invalid_type"),
    ("sku missing", lambda r: r["variants"][1].pop("sku"), "variants[1].sku", "required"),
    ("sku too long", lambda r: r["variants"][1].update(sku="K" * 65), "variants[1].sku", "too_long"),
    ("ean missing", lambda r: r["variants"][1].pop("ean"), "variants[1].ean", "required"),
    ("ean check digit", lambda r: r["variants"][1].update(ean="4006381333932"), "variants[1].ean", "invalid_ean"),
    ("ean short", lambda r: r["variants"][1].update(ean="400638133393"), "variants[1].ean", "invalid_ean"),
    ("ean letters", lambda r: r["variants"][1].update(ean="40063813339AB"), "variants[1].ean", "invalid_ean"),
    ("ean as number", lambda r: r["variants"][1].update(ean=4006381333931), "variants[1].ean", "invalid_type"),
    ("price missing", lambda r: r["variants"][1].pop("price_minor"), "variants[1].prices", "required"),
    ("price negative", lambda r: r["variants"][1].update(price_minor=-1), "variants[1].price_minor", "invalid_value"),
    ("price float", lambda r: r["variants"][1].update(price_minor=89.95), "variants[1].price_minor", "invalid_type"),
    (
        "price whole float",
        lambda r: r["variants"][1].update(price_minor=8995.0),
        "variants[1].price_minor",
        "invalid_type",
    ),
    ("price string", lambda r: r["variants"][1].update(price_minor="8995"), "variants[1].price_minor", "invalid_type"),
    ("price bool", lambda r: r["variants"][1].update(price_minor=True), "variants[1].price_minor", "invalid_type"),
    ("price huge", lambda r: r["variants"][1].update(price_minor=2**31), "variants[1].price_minor", "invalid_value"),
    ("size number", lambda r: r["variants"][1].update(size=42), "variants[1].size", "invalid_type"),
    ("variant unknown field", lambda r: r["variants"][1].update(price=1), "variants[1].price", "unknown_field"),
    (
        "sku twice in a product",
        lambda r: r["variants"][1].update(sku=r["variants"][0]["sku"]),
        "variants[1].sku",
        "duplicate_in_request",
    ),
]


def test_bad_rows_are_refused_with_their_reason_and_the_good_ones_applied(app, actor):
    """Every kind of bad row from BAD_ROWS in one request, each between two good rows."""
    rows, expected = [], {}
    for k, (case, spoil, field, code) in enumerate(BAD_ROWS):
        bad = row(f"BAD-{k}", n=k + 1)
        spoil(bad)
        rows += [row(f"GOOD-{k}", n=100 + k), bad]
        expected[len(rows) - 1] = (case, field, code)
    rows.append(row("GOOD-LAST", n=99))

    result = upsert_products(rows, actor)

    for index, outcome in enumerate(result.results):
        assert outcome.index == index
        if index not in expected:
            assert (outcome.status, outcome.errors) == ("created", []), rows[index]["style_code"]
            continue
        case, field, code = expected[index]
        assert outcome.status == "error", case
        assert (field, code) in [(e.field, e.code) for e in outcome.errors], (case, outcome.errors)
        assert all(e.message for e in outcome.errors), case
    assert result.summary == {"created": len(BAD_ROWS) + 1, "updated": 0, "unchanged": 0, "errors": len(BAD_ROWS)}
    stored = set(db.session.scalars(select(Product.style_code)))
    assert stored == {f"GOOD-{k}" for k in range(len(BAD_ROWS))} | {"GOOD-LAST"}
    assert counts() == (len(BAD_ROWS) + 1, 2 * (len(BAD_ROWS) + 1))


def test_a_bad_variant_rejects_its_whole_product_even_on_update(app, actor):
    upsert_products([row("JKT-1", n=1)], actor)
    update = row("JKT-1", "New name", n=1)
    update["variants"][0]["price_minor"] = 100
    update["variants"][1]["ean"] = "4006381333932"
    result = upsert_products([update], actor)
    assert result.results[0].status == "error"
    assert [e.message for e in result.results[0].errors] == ["EAN check digit is wrong (expected 1)."]
    product = db.session.scalar(select(Product).where(Product.style_code == "JKT-1"))
    assert product.name == "Rain Jacket" and prices_of(product.variants[0]) == {"DE": 8995}


def test_a_row_that_is_not_an_object(app, actor):
    result = upsert_products(["JKT-1", None], actor)
    assert [(r.status, r.style_code, r.errors[0].field, r.errors[0].code) for r in result.results] == [
        ("error", None, None, "invalid_type"),
        ("error", None, None, "invalid_type"),
    ]


def test_duplicates_across_rows_refuse_every_row_involved(app, actor):
    same_style = [row("JKT-1", n=1), row("JKT-1", "Other", n=2)]
    result = upsert_products(same_style + [row("OK-1", n=3)], actor)
    assert [r.status for r in result.results] == ["error", "error", "created"]
    assert "appears more than once" in result.results[0].errors[0].message
    assert "products[1].style_code" in result.results[0].errors[0].message

    shared_ean = [row("A-1", n=4), row("B-1", n=5)]
    shared_ean[1]["variants"][0]["ean"] = shared_ean[0]["variants"][1]["ean"]
    result = upsert_products(shared_ean, actor)
    assert [(r.status, [e.field for e in r.errors]) for r in result.results] == [
        ("error", ["variants[1].ean"]),
        ("error", ["variants[0].ean"]),
    ]

    shared_sku = [row("C-1", n=6), row("D-1", n=7)]
    shared_sku[1]["variants"][0]["sku"] = "C-1-S"
    result = upsert_products(shared_sku, actor)
    assert [r.errors[0].code for r in result.results] == ["duplicate_in_request"] * 2
    # Two identical rows are duplicates too (and do not trip over each other).
    result = upsert_products([row("E-1", n=8), row("E-1", n=8)], actor)
    assert [r.status for r in result.results] == ["error", "error"]


def test_sku_or_ean_of_another_product_is_refused(app, actor, make):
    other = make.variant(sku="OTHER-1", ean=ean(999))
    taken_ean = row("JKT-1", n=1)
    taken_ean["variants"][1]["ean"] = other.ean
    taken_sku = row("JKT-2", n=2)
    taken_sku["variants"][0]["sku"] = "OTHER-1"
    result = upsert_products([taken_ean, taken_sku], actor)
    assert [r.status for r in result.results] == ["error", "error"]
    style = other.product.style_code
    assert result.results[0].errors[0].as_dict() == {
        "field": "variants[1].ean",
        "code": "already_used",
        "message": f"EAN {other.ean} already belongs to SKU 'OTHER-1' of style '{style}'.",
    }
    assert result.results[1].errors[0].as_dict() == {
        "field": "variants[0].sku",
        "code": "already_used",
        "message": f"SKU 'OTHER-1' already belongs to style '{style}'.",
    }
    assert counts() == (1, 1)


def test_an_ean_cannot_move_to_another_sku_of_the_same_style(app, actor):
    upsert_products([row("JKT-1", n=1)], actor)
    moved = row("JKT-1", n=1)
    moved["variants"].append(variant_row("JKT-1-L", moved["variants"][0]["ean"], size="L"))
    moved["variants"][0]["ean"] = ean(77)
    result = upsert_products([moved], actor)
    assert [(e.field, e.code) for e in result.results[0].errors] == [("variants[2].ean", "already_used")]
    assert "of this style" in result.results[0].errors[0].message


def test_upsert_refuses_a_non_list_and_too_many_rows(app, actor):
    with pytest.raises(ValidationFailed):
        upsert_products({"style_code": "x"}, actor)
    with pytest.raises(TooManyProducts) as raised:
        upsert_products([{}] * (feed.MAX_PRODUCTS_PER_UPSERT + 1), actor)
    assert raised.value.status == 413 and "At most 1000 products" in raised.value.message
    with pytest.raises(TooManyProducts) as raised:
        upsert_products([{"variants": [{}] * feed.MAX_VARIANTS_PER_PRODUCT}] * 101, actor)
    assert "At most 25000 variants" in raised.value.message
    assert counts() == (0, 0)


def test_empty_list_is_a_no_op(app, actor):
    result = upsert_products([], actor)
    assert result.as_dict() == {"results": [], "summary": {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}}


def test_a_full_batch_runs_in_a_bounded_number_of_queries(app, actor):
    rows = [
        row(
            f"S-{i:04d}",
            f"Style {i}",
            variants=[
                variant_row(f"S-{i:04d}-{size}", ean(100_000 + i * 10 + k), size=size)
                for k, size in enumerate(("XS", "S", "M", "L", "XL"))
            ],
        )
        for i in range(feed.MAX_PRODUCTS_PER_UPSERT)
    ]
    with count_statements() as seen:
        result = upsert_products(rows, actor)
    assert result.summary["created"] == 1000 and result.summary["errors"] == 0
    assert counts() == (1000, 5000)
    assert len(seen) < 60, f"{len(seen)} statements for one batch"

    db.session.expire_all()
    with count_statements() as seen:
        result = upsert_products(rows, actor)
    assert result.summary["unchanged"] == 1000
    assert len(seen) < 60 and [s for s in seen.writes if "audit_event" not in s] == []

    for r in rows:
        r["variants"][0]["price_minor"] += 100
    with count_statements() as seen:
        result = upsert_products(rows, actor)
    assert result.summary["updated"] == 1000
    assert len(seen) < 60, f"{len(seen)} statements for one batch"


# --- search ----------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(app, actor):
    upsert_products(
        [
            row("MUE-1", "Müller Regenjacke", n=1, brand="Søren & Co"),
            row("TEE-1", "Basic T-Shirt", n=2),
            row("PCT-1", "100% Wolle Pullover", n=3),
            row("STR-1", "Straßenschuh", n=4),
        ],
        actor,
    )


def styles(page):
    return [p.style_code for p in page.products]


@pytest.mark.parametrize(
    "q",
    [
        "mueller",
        "muller",
        "Müller",
        "MÜLLER",
        "  müller  ",
        "regenJACKE",
        "soren",
        "soeren",
        "Søren",
        "müller jacke",
        "mue-1",
        "MUE-1-s",
    ],
)
def test_search_is_accent_and_case_insensitive(catalogue, q):
    assert styles(search_products(q)) == ["MUE-1"]


def test_search_words_must_all_match_and_wildcards_are_literal(catalogue):
    assert styles(search_products("müller shirt")) == []
    assert styles(search_products("strasse")) == ["STR-1"]
    assert styles(search_products("100%")) == ["PCT-1"]
    assert styles(search_products("%")) == ["PCT-1"]
    assert styles(search_products("_")) == []


def test_search_by_ean_and_sku(catalogue):
    assert styles(search_products(ean=ean(20))) == ["TEE-1"]
    assert styles(search_products(ean(20))) == ["TEE-1"]  # a scanned code in the search box
    assert styles(search_products(sku="TEE-1-M")) == ["TEE-1"]
    assert styles(search_products(sku="tee-1-m")) == []  # exact
    assert styles(search_products(ean=ean(999_999))) == []
    assert styles(search_products("basic", sku="MUE-1-S")) == []


def test_search_finds_products_whose_search_text_lacks_skus(app, make):
    variant = make.variant(sku="ZX-9000-B")  # the factory's search_text has only name and brand
    assert styles(search_products("zx-9000")) == [variant.product.style_code]


def test_search_pages(catalogue):
    everything = search_products()
    assert styles(everything) == ["PCT-1", "TEE-1", "MUE-1", "STR-1"]
    assert all(len(p.variants) == 2 for p in everything.products)
    first = search_products(limit=3)
    assert (styles(first), first.next_offset) == (["PCT-1", "TEE-1", "MUE-1"], 3)
    last = search_products(limit=3, offset=first.next_offset)
    assert (styles(last), last.next_offset) == (["STR-1"], None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**12}, "offset"),
        ({"ean": "123"}, "ean"),
        ({"ean": "4006381333932"}, "ean"),
        ({"q": "x" * 201}, "q"),
        ({"q": "jacke\x00"}, "q"),
        ({"q": " ".join("abcdefghijk")}, "q"),
        ({"sku": "K" * 65}, "sku"),
    ],
)
def test_search_refuses_bad_parameters(app, kwargs, field):
    with pytest.raises(ValidationFailed) as raised:
        search_products(**kwargs)
    assert field in raised.value.fields
