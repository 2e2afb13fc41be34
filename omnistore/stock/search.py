"""The clerk's catalogue search: words, EANs and SKUs, typos corrected, filtered by size, colour and what is available
here or in the network (so it lives with the stock); the facets it offers."""

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import and_, bindparam, case, exists, func, or_, select

from omnistore.catalog.codes import EAN_RE
from omnistore.catalog.lookups import SEARCH_OFFSET_MAX, SEARCH_QUERY_MAX, SEARCH_TOKENS_MAX, _query_text
from omnistore.catalog.models import Product, Variant
from omnistore.catalog.prices import price_here_column
from omnistore.catalog.search_text import fold, search_forms
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock.models import StockLevel
from omnistore.stores.models import Location

CATALOGUE_PAGE = 12  # a tablet shows about eight; each result sums its stock over the whole network


FILTER_MAX = 100


AVAILABILITY_FILTERS = ("here", "network")


TYPO_MIN_LENGTH = 3  # shorter words are too ambiguous to correct


_WORD_RE = re.compile(r"[^\W\d_]{3,}")  # words of letters only: no numbers, no SKUs


# Letter sizes in the order a clerk reads them; numeric sizes sort by their numbers after them.
LETTER_SIZES = ("XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "2XL", "XXXL", "3XL", "4XL", "5XL")


_LETTER_RANK = {size: rank for rank, size in enumerate(LETTER_SIZES)}


_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")


def size_sort_key(size):
    """XS S M L XL XXL; then numeric sizes ascending (38, 38.5, 39; 30/32 before 31/32); then the rest."""
    text = (size or "").strip()
    if text.upper() in _LETTER_RANK:
        return (0, (_LETTER_RANK[text.upper()],), "")
    numbers = _NUMBER_RE.findall(text)
    if numbers and _NUMBER_RE.sub("", text).strip(" /-x×") == "":
        return (1, tuple(float(n.replace(",", ".")) for n in numbers), text)
    return (2, (), fold(text))


@dataclass
class CatalogueQuery:
    """What the clerk searched for. `here_id` is the clerk's location (for "available here")."""

    q: str = ""
    category: str = ""
    size: str = ""
    colour: str = ""
    available: str = ""  # "" | "here" | "network"
    here_id: int | None = None
    offset: int = 0
    limit: int = CATALOGUE_PAGE

    @property
    def filtered(self):
        return bool(self.category or self.size or self.colour or self.available)

    @property
    def empty(self):
        return not self.q and not self.filtered

    @property
    def variant_filtered(self):
        return bool(self.size or self.colour)

    def variant_matches(self, variant):
        return (not self.size or variant.size == self.size) and (not self.colour or variant.colour == self.colour)


@dataclass(eq=False)
class FoundVariant:
    """A variant in the clerk's search results: the columns the results use."""

    id: int
    product_id: int
    sku: str
    ean: str
    size: str
    colour: str
    price_minor: int | None  # in the market of the store searching; None: not sold there

    label = property(Variant.label.fget)  # "Navy / XL", as the model says


@dataclass(eq=False)
class FoundProduct:
    """A product (style) in the clerk's search results, with its variants in id order."""

    id: int
    style_code: str
    name: str
    brand: str
    category: str
    image_url: str
    variants: list[FoundVariant] = field(default_factory=list)


_FOUND_COLUMNS = (Product.id, Product.style_code, Product.name, Product.brand, Product.category, Product.image_url)


FOUND_VARIANT_COLUMNS = (
    Variant.id,
    Variant.product_id,
    Variant.sku,
    Variant.ean,
    Variant.size,
    Variant.colour,
    price_here_column(Variant.id).label("price_minor"),  # in the market of the location bound as "here"
)


_VARIANTS_OF = (
    select(*FOUND_VARIANT_COLUMNS).where(Variant.product_id.in_(bindparam("ids", expanding=True))).order_by(Variant.id)
)


def variants_of(product_ids, here_id=None):
    """{product id: [FoundVariant]} of the products, in id order, priced in `here_id`'s market: one statement."""
    found = {}
    for row in db.session.execute(_VARIANTS_OF, {"ids": list(product_ids), "here": here_id}):
        found.setdefault(row[1], []).append(FoundVariant(*row))
    return found


@dataclass
class CatalogueResult:
    query: CatalogueQuery
    products: list[FoundProduct]
    next_offset: int | None = None
    corrected: str | None = None  # the words searched for instead of the typed ones ("jacket" for "jaket")

    def variants_of(self, product):
        """The product's variants that match the size and colour filters (all of them without filters)."""
        return [variant for variant in product.variants if self.query.variant_matches(variant)]


def catalogue_query(q=None, *, category=None, size=None, colour=None, available=None, offset=None, here_id=None):
    """A CatalogueQuery from what the clerk typed or chose (strings, as in a URL); ValidationFailed if bad."""
    errors = {}
    values = {
        "q": _query_text(q, "q", SEARCH_QUERY_MAX, errors),
        "category": _query_text(category, "category", FILTER_MAX, errors),
        "size": _query_text(size, "size", FILTER_MAX, errors),
        "colour": _query_text(colour, "colour", FILTER_MAX, errors),
        "available": _query_text(available, "available", FILTER_MAX, errors),
    }
    if values["available"] and values["available"] not in AVAILABILITY_FILTERS:
        errors["available"] = "Choose “here” or “network”."
    if values["q"] and len(fold(values["q"]).split()) > SEARCH_TOKENS_MAX:
        errors["q"] = f"At most {SEARCH_TOKENS_MAX} words."
    start = 0
    if offset not in (None, ""):
        text = str(offset).strip()
        if not (text.isascii() and text.isdigit()) or int(text) > SEARCH_OFFSET_MAX:
            errors["offset"] = f"Must be a whole number from 0 to {SEARCH_OFFSET_MAX}."
        else:
            start = int(text)
    if errors:
        raise ValidationFailed("Please check the search.", errors)
    return CatalogueQuery(**{key: value or "" for key, value in values.items()}, offset=start, here_id=here_id)


def _tokens(text):
    return list(dict.fromkeys(fold(text).split())) if text else []


def _like(text, *, start="%", end="%"):
    """A LIKE pattern matching `text` as typed ("%", "_" and the escape character "/" escaped)."""
    return start + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + end


def _token_condition(number, is_ean):
    """The search text holds name, brand, category, style code, SKUs and colours (search_text_for); an EAN is
    matched whole, through its unique index. Values bound as t<number> (a LIKE pattern) and e<number>."""
    condition = Product.search_text.like(bindparam(f"t{number}"), escape="/")
    if is_ean:
        condition = or_(
            condition, Product.id.in_(select(Variant.product_id).where(Variant.ean == bindparam(f"e{number}")))
        )
    return condition


def _variant_condition(size, colour, available):
    """Size, colour and availability belong to one variant: "M in stock here" means an M that is here."""
    conditions = []
    if size:
        conditions.append(Variant.size == bindparam("size"))
    if colour:
        conditions.append(Variant.colour == bindparam("colour"))
    if available == "here":
        conditions.append(
            exists().where(
                StockLevel.variant_id == Variant.id,
                StockLevel.location_id == bindparam("here"),
                StockLevel.on_hand > StockLevel.allocated,
            )
        )
    elif available == "network":
        conditions.append(
            exists().where(
                StockLevel.variant_id == Variant.id,
                StockLevel.on_hand > StockLevel.allocated,
                Location.id == StockLevel.location_id,
                Location.active.is_(True),
            )
        )
    return Product.variants.any(and_(*conditions)) if conditions else None


_RANK = case(  # values bound at execution: see _find
    (or_(func.lower(Product.name) == bindparam("typed"), func.lower(Product.brand) == bindparam("typed")), 0),
    (
        or_(
            Product.search_text.like(bindparam("phrase_start"), escape="/"),
            func.lower(Product.brand).like(bindparam("typed_start"), escape="/"),
        ),
        1,
    ),
    (func.lower(Product.name).like(bindparam("typed_inside"), escape="/"), 2),
    (Product.search_text.like(bindparam("word_start"), escape="/"), 3),
    else_=4,
)


@lru_cache(maxsize=512)
def _find_statement(eans, category, size, colour, available):
    """The search's statement for one shape of query (which tokens are EANs, which filters are set), built
    once: building it costs more than running it."""
    conditions = [_token_condition(number, is_ean) for number, is_ean in enumerate(eans)]
    if category:
        conditions.append(Product.category == bindparam("category"))
    if (variant_condition := _variant_condition(size, colour, available)) is not None:
        conditions.append(variant_condition)
    order = [_RANK] if eans else []
    return (
        select(*_FOUND_COLUMNS)
        .where(*conditions)
        .order_by(*order, Product.name, Product.id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


def _find(query, tokens, typed):
    statement = _find_statement(
        tuple(bool(EAN_RE.match(token)) for token in tokens),
        bool(query.category),
        bool(query.size),
        bool(query.colour),
        query.available,
    )
    values = {
        "offset": query.offset,
        "limit": query.limit + 1,
        "category": query.category,
        "size": query.size,
        "colour": query.colour,
        "here": query.here_id,
    }
    for number, token in enumerate(tokens):
        values[f"t{number}"], values[f"e{number}"] = _like(token), token
    if tokens:
        phrase = " ".join(tokens)
        typed = re.sub(r"\s+", " ", typed.lower()).strip()
        values.update(
            typed=typed,
            phrase_start=_like(phrase, start=""),
            typed_start=_like(typed, start=""),
            typed_inside=_like(typed),
            word_start=_like(phrase, start="% "),
        )
    return [FoundProduct(*row) for row in db.session.execute(statement, values)]


def search_catalogue(query, load_variants=None):
    """Products for the clerk's search, best matches first, a page at a time (see the comment above), with
    their variants: `load_variants(product ids)` → {product id: [variants]} (one statement by default)."""
    if query.empty:
        return CatalogueResult(query, [])
    tokens = _tokens(query.q)
    products, corrected = _find(query, tokens, query.q), None
    if not products and query.offset == 0 and tokens:
        better, shown = _corrected_tokens(tokens)
        if better != tokens:
            products = _find(query, better, " ".join(shown))
            corrected = " ".join(shown) if products else None
    more = len(products) > query.limit
    products = products[: query.limit]
    if products:
        ids = [product.id for product in products]
        variants = load_variants(ids) if load_variants is not None else variants_of(ids, query.here_id)
        for product in products:
            product.variants = variants.get(product.id, [])
    return CatalogueResult(query, products, query.offset + query.limit if more else None, corrected)


# The catalogue's words (for the typo fallback) and filter values take a scan of every product and variant;
# they change only with the catalogue. So each process keeps them per database, checked against the
# catalogue's version (one small query) on every use: all processes agree, and a change shows at once.
_CATALOGUE_MEMO = {}  # {database URL: (catalogue version, {name: value})}


def _catalogue_version():
    """Changes when a product is added or changed (an upsert that changes or adds a variant updates its product
    too) and when a variant is added: four index probes, no count of the catalogue. The app never deletes
    products; one deleted by hand (other than the first or the last) is noticed with the next change, and
    until then a stale word can only make a search find nothing, as it would anyway."""
    return tuple(db.session.execute(_CATALOGUE_VERSION).one())


_CATALOGUE_VERSION = select(
    select(func.min(Product.id)).scalar_subquery(),
    select(func.max(Product.id)).scalar_subquery(),
    select(func.max(Product.updated_at)).scalar_subquery(),
    select(func.max(Variant.id)).scalar_subquery(),
)


def _memo(name, build):
    database = db.engine.url.render_as_string(hide_password=True)
    version = _catalogue_version()
    seen, values = _CATALOGUE_MEMO.get(database, (None, None))
    if seen != version:
        values = {}
        _CATALOGUE_MEMO[database] = (version, values)
    if name not in values:
        values[name] = build()
    return values[name]


def _vocabulary():
    """The words of the catalogue's names, brands, categories and colours: {search form: word as shown}."""
    return _memo("vocabulary", _build_vocabulary)


def _build_vocabulary():
    texts = set()
    for row in db.session.execute(select(Product.name, Product.brand, Product.category).distinct()):
        texts.update(row)
    texts.update(db.session.scalars(select(Variant.colour).distinct()))
    words = {word for text in texts if text for word in _WORD_RE.findall(text.lower())}
    vocabulary = {}
    for word in sorted(words):
        for form in search_forms(word).split():
            vocabulary.setdefault(form, word)
    return vocabulary


def _corrected_tokens(tokens):
    """(search tokens, words to show) with each unknown word replaced by the closest catalogue word."""
    vocabulary = None
    better, shown = [], []
    for token in tokens:
        if len(token) >= TYPO_MIN_LENGTH and _WORD_RE.fullmatch(token):
            vocabulary = _vocabulary() if vocabulary is None else vocabulary
            if not any(token in word for word in vocabulary):
                cutoff = 0.75 if len(token) > 4 else 0.7
                match = difflib.get_close_matches(token, vocabulary, n=1, cutoff=cutoff)
                if match:
                    better.append(match[0])
                    shown.append(vocabulary[match[0]])
                    continue
        better.append(token)
        shown.append(token)
    return better, shown


def catalogue_facets():
    """The values the filters offer: categories, sizes (in size order) and colours of the catalogue."""
    return _memo("facets", _build_facets)


def _build_facets():
    categories = sorted(filter(None, db.session.scalars(select(Product.category).distinct())), key=fold)
    sizes = sorted(filter(None, db.session.scalars(select(Variant.size).distinct())), key=size_sort_key)
    colours = sorted(filter(None, db.session.scalars(select(Variant.colour).distinct())), key=fold)
    return {"categories": categories, "sizes": sizes, "colours": colours}
