"""Small factories for test data. Each commits, so threads and other processes see the rows."""

import itertools

from werkzeug.security import generate_password_hash

from omnistore.catalog.codes import ean13_check_digit
from omnistore.catalog.models import Product, Variant, VariantPrice
from omnistore.catalog.search_text import search_forms
from omnistore.core.extensions import db
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stock.summaries import rebuild_summaries
from omnistore.stores.markets import KNOWN_MARKETS, default_market_code, ensure_market
from omnistore.stores.models import Location, Staff

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # fast in tests

CITIES = {
    "HAM": ("Hamburg", 53.5511, 9.9937, "Europe/Berlin", "DE"),
    "BER": ("Berlin", 52.5200, 13.4050, "Europe/Berlin", "DE"),
    "CPH": ("København", 55.6761, 12.5683, "Europe/Copenhagen", "DK"),
    "AAR": ("Aarhus", 56.1629, 10.2039, "Europe/Copenhagen", "DK"),
    "WH1": ("Kassel warehouse", 51.3127, 9.4797, "Europe/Berlin", "DE"),
}
OPEN_WEEKDAYS = {day: [["09:30", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")} | {"sun": []}


def location(code="HAM", **fields):
    name, lat, lon, tz, country = CITIES.get(code, (f"Store {code}", 50.0, 10.0, "Europe/Berlin", "DE"))
    values = dict(
        code=code,
        name=name,
        kind="warehouse" if code.startswith("WH") else "store",
        city=name,
        street="Teststraße 1",
        postcode="20095",
        country=country,
        latitude=lat,
        longitude=lon,
        timezone=tz,
        opening_hours=OPEN_WEEKDAYS,
        pickup_enabled=not code.startswith("WH"),
    )
    values.update(fields)
    # A store sells in its country's market; one in a country the chain has no market for, in the default one.
    country = values["country"] if values["country"] in KNOWN_MARKETS else default_market_code()
    values.setdefault("market_code", ensure_market(country).code)
    loc = Location(**values)
    db.session.add(loc)
    db.session.commit()
    return loc


def staff(role="clerk", location=None, email=None, **fields):
    location = location or db.session.scalar(db.select(Location).order_by(Location.id)) or globals()["location"]()
    member = Staff(
        email=email or f"{role}{next(_counter)}@example.test",
        name=fields.pop("name", f"Test {role}"),
        role=role,
        location=location,
        password_hash=_HASH,
        **fields,
    )
    db.session.add(member)
    db.session.commit()
    return member


def ean(n=None):
    body = f"400{(n if n is not None else next(_counter)):09d}"
    return body + ean13_check_digit(body)


def product(name="Rain Jacket", brand="Nordwind", category="Jackets", **fields):
    n = next(_counter)
    prod = Product(
        style_code=fields.pop("style_code", f"STYLE-{n}"),
        name=name,
        brand=brand,
        category=category,
        search_text=search_forms(f"{name} {brand}"),
        **fields,
    )
    db.session.add(prod)
    db.session.commit()
    return prod


def market(code="DE"):
    """The market (made with its known terms the first time)."""
    made = ensure_market(code)
    db.session.commit()
    return made


def variant(product=None, size="M", colour="Black", price_minor=8995, prices=None, **fields):
    """A variant sold in every market the factories know (DE and DK) at `price_minor` there, or at `prices`
    ({market code: price}) in those markets only."""
    product = product or globals()["product"]()
    prices = prices if prices is not None else dict.fromkeys(KNOWN_MARKETS, price_minor)
    for code in prices:
        ensure_market(code)
    n = next(_counter)
    var = Variant(
        product=product,
        sku=fields.pop("sku", f"SKU-{n}"),
        ean=fields.pop("ean", None) or ean(n),
        size=size,
        colour=colour,
        prices=[VariantPrice(market_code=code, amount_minor=amount) for code, amount in prices.items()],
        **fields,
    )
    db.session.add(var)
    db.session.commit()
    return var


def stock(variant, location, on_hand, allocated=0):
    """A stock level with the ledger rows that explain it."""
    level = StockLevel(variant=variant, location=location, on_hand=on_hand, allocated=allocated)
    db.session.add(level)
    db.session.add(
        StockMovement(
            variant_id=variant.id, location_id=location.id, kind="receipt", on_hand_delta=on_hand, reason="test stock"
        )
    )
    if allocated:
        db.session.add(
            StockMovement(
                variant_id=variant.id,
                location_id=location.id,
                kind="allocation",
                allocated_delta=allocated,
                reason="test allocation",
            )
        )
    db.session.commit()
    rebuild_summaries([variant.id])  # the level went in without the stock verbs
    return level


def order(pickup_location, lines=(), status="placed", channel="web", fulfilment="pickup", **fields):
    """An order with `lines` as (variant, quantity, source_location) and a number like OS-26-000001."""
    from omnistore.catalog.prices import price_in
    from omnistore.orders.models import Order, OrderLine

    market = ensure_market(
        fields.pop("market_code", None) or getattr(pickup_location, "market_code", None) or default_market_code()
    )
    order = Order(
        channel=channel,
        fulfilment=fulfilment,
        status=status,
        pickup_location=pickup_location if fulfilment == "pickup" else None,
        market_code=market.code,
        currency=fields.pop("currency", market.currency),
        **fields,
    )
    for variant, quantity, source in lines:
        order.lines.append(
            OrderLine(
                variant_id=variant.id,
                quantity=quantity,
                unit_price_minor=price_in(variant.id, market.code),
                source_location_id=source.id,
            )
        )
    order.total_minor = sum(line.quantity * line.unit_price_minor for line in order.lines)
    db.session.add(order)
    db.session.flush()
    order.number = f"OS-26-{order.id:06d}"
    db.session.commit()
    return order


def pickup(order, **fields):
    """The pickup record of a pickup order (token and short code made up), with any times given."""
    from omnistore.orders.models import Pickup

    n = next(_counter)
    record = Pickup(
        order_id=order.id,
        token=fields.pop("token", f"test-token-{n:08d}"),
        short_code=fields.pop("short_code", f"T{n:07d}"),
        **fields,
    )
    db.session.add(record)
    db.session.commit()
    return record


def event(order, kind, at, staff=None, from_status="", to_status="", **detail):
    """A line in the order's history at the given (aware) time."""
    from omnistore.orders.models import OrderEvent

    row = OrderEvent(
        order_id=order.id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        staff_id=staff.id if staff is not None else None,
        location_id=staff.location_id if staff is not None else None,
        detail=detail,
        created_at=at,
    )
    db.session.add(row)
    db.session.commit()
    return row


def transfer(order, source, destination="pickup", status="requested", **fields):
    """A transfer carrying `order`'s lines sourced at `source` to `destination` (default: the order's pickup
    store; None: to the customer's address), its lines linked. The source's stock is not touched."""
    from omnistore.orders.models import Transfer

    if destination == "pickup":
        destination = order.pickup_location
    moving = Transfer(
        order_id=order.id,
        source_location_id=source.id,
        destination_location_id=destination.id if destination is not None else None,
        status=status,
        **fields,
    )
    db.session.add(moving)
    db.session.flush()
    for line in order.lines:
        if line.source_location_id == source.id:
            line.transfer_id = moving.id
    db.session.commit()
    return moving


def customer(first_name="Jürgen", last_name="Müller", email=None, phone=None, **fields):
    """A customer profile (email, phone and loyalty number unique per call unless given; generated loyalty
    numbers start with 9, so they never meet the low numbers tests write out, like OSL0000042)."""
    from omnistore.customers.models import Customer

    n = next(_counter)
    values = dict(
        first_name=first_name,
        last_name=last_name,
        email=email if email is not None else f"customer{n}@example.test",
        phone=phone if phone is not None else f"+49151{n:08d}",
        loyalty_number=fields.pop("loyalty_number", f"OSL9{n:06d}"),
        search_name=search_forms(f"{first_name} {last_name}"),
        sizes=fields.pop("sizes", {}),
        preferences=fields.pop("preferences", {}),
    )
    values.update(fields)
    person = Customer(**values)
    db.session.add(person)
    db.session.commit()
    return person


def age_sessions(**delta):
    """Move every staff session's clock back by `delta` (e.g. minutes=31): as if that much time had passed
    since its last activity (and since sign-in) — the server's clock decides, not the cookie's."""
    from datetime import timedelta

    from omnistore.stores.models import StaffSession

    back = timedelta(**delta)
    for row in db.session.scalars(db.select(StaffSession)):
        row.last_seen_at -= back
        row.started_at -= back
    db.session.commit()


def staff_session_rows():
    from omnistore.stores.models import StaffSession

    db.session.expire_all()
    return db.session.scalars(db.select(StaffSession).order_by(StaffSession.id)).all()


class Shop(dict):
    """What `shop()` made, by key: shop["ham"] or shop.ham."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def shop(*codes, team=None, variants=None):
    """A small shop network in one call, for the many tests that need "a store or two, some staff, a stocked
    variant":

        shop("HAM", "CPH",
             team={"clerk": ("clerk", "HAM", "Jonas Weber"), "cph": ("clerk", "CPH")},
             variants={"parka": dict(product="Fjord Parka", size="XL", colour="Navy", stock={"HAM": (5, 2)})})

    - codes: the locations, under their codes in lower case (shop.ham, shop.cph).
    - team: key → role, or (role, location code[, name[, email]]); the email is "<key>@example.test" unless
      given, the location the first one unless given.
    - variants: key → the variant's fields, with `product` (a name: variants with the same name share the
      product), `brand`, `category` and `stock` ({location code: on hand, or (on hand, allocated)}).
    Returns a Shop of all of them by key (a key may not be both a location and a member or variant).
    """
    made = Shop()
    places = {code: location(code) for code in codes}
    made.update({code.lower(): place for code, place in places.items()})
    for key, spec in (team or {}).items():
        role, code, name, email = ((spec,) if isinstance(spec, str) else tuple(spec)) + (None,) * (
            4 - (1 if isinstance(spec, str) else len(spec))
        )
        assert key not in made, f"{key!r} is already in the shop"
        fields = {"name": name} if name else {}
        made[key] = staff(
            role, places[code] if code else places[codes[0]], email=email or f"{key}@example.test", **fields
        )
    products = {}
    for key, spec in (variants or {}).items():
        fields = dict(spec)
        name = fields.pop("product", "Rain Jacket")
        product_fields = {field: fields.pop(field) for field in ("brand", "category") if field in fields}
        stocked = fields.pop("stock", {})
        if name not in products:
            products[name] = product(name=name, **product_fields)
        assert key not in made, f"{key!r} is already in the shop"
        made[key] = variant(products[name], **fields)
        for code, levels in stocked.items():
            on_hand, allocated = levels if isinstance(levels, tuple) else (levels, 0)
            stock(made[key], places[code], on_hand, allocated=allocated)
    return made
