"""The integration API's orders: an order from the web shop taken from its JSON body (`place_web_order`:
checked in full first, the customer matched by email or phone or created, then placed by orders/placing.py),
and an order looked up by number within the API client's scope (`order_for_api`)."""

import dataclasses
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import validation
from omnistore.core.errors import Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers import contact as contact_rules
from omnistore.customers.finding import find_by_contact
from omnistore.offers import services as offers
from omnistore.orders import discounts, order_rules, sourcing
from omnistore.orders.models import Order, OrderLine
from omnistore.orders.order_rules import LineRequest
from omnistore.orders.placing import Placed, PlaceOrder, api_sourcing_request, existing_order, place_order, scoped_key
from omnistore.stores import staff as staff_service
from omnistore.stores.models import ApiClient, Location, Market


def order_for_api(number, api_client) -> Order:
    """An order by number for an integration, within its scope (stores/staff.py); NotFound otherwise,
    the same answer as for a number that does not exist, so numbers cannot be probed."""
    number = number.strip().upper() if isinstance(number, str) else ""
    order = (
        db.session.scalar(
            select(Order)
            .where(Order.number == number)
            .options(
                selectinload(Order.lines).selectinload(OrderLine.variant),
                selectinload(Order.lines).selectinload(OrderLine.source_location),
                selectinload(Order.pickup),
                selectinload(Order.pickup_location),
                selectinload(Order.origin_location),
            )
        )
        if 0 < len(number) <= 20
        else None
    )
    if order is None or not staff_service.api_order_in_scope(api_client, order):
        raise NotFound(_("No order with that number."))
    return order


WEB_ORDER_KEYS = {
    "customer",
    "lines",
    "fulfilment",
    "pickup_location",
    "delivery_address",
    "payment_state",
    "channel",
    "market",
    "offer_code",
}


CUSTOMER_KEYS = {"email", "phone", "first_name", "last_name", "locale"}


LINE_KEYS = {"sku", "quantity"}


API_CHANNELS = ("web", "app", "phone")


NAME_MAX = 100


@dataclass(frozen=True)
class CustomerContact:
    """Who ordered, as the web shop sent it: matched to a profile by email or phone, else created."""

    email: str | None = None
    phone: str | None = None
    first_name: str = ""
    last_name: str = ""
    locale: str | None = None


def fingerprint(body) -> str:
    """A stable hash of a JSON document (key order and spacing do not matter)."""
    import hashlib
    import json

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _json_text(value, name, errors, *, required=False, max_length=NAME_MAX):
    if value == "":
        value = None
    return validation.text(value, field=name, errors=errors, max_length=max_length, required=required)


def web_order_from_json(body) -> tuple:
    """(PlaceOrder without customer, CustomerContact) from the API's JSON body; ValidationFailed with a
    message per field (paths like "lines[0].sku") when anything is wrong. Reads only."""
    if not isinstance(body, dict):
        raise ValidationFailed(_("Send the order as a JSON object."), {"body": _("Must be a JSON object.")})
    errors = {}
    for key in sorted(set(body) - WEB_ORDER_KEYS, key=str):
        errors[str(key)[:40]] = _("Unknown field; allowed: %(allowed)s.", allowed=", ".join(sorted(WEB_ORDER_KEYS)))

    contact = _contact_from_json(body.get("customer"), errors)

    channel = body.get("channel", "web")
    if channel not in API_CHANNELS:
        errors["channel"] = _("Must be one of %(allowed)s.", allowed=", ".join(API_CHANNELS))
    fulfilment = body.get("fulfilment")
    if fulfilment not in order_rules.FULFILMENTS:
        errors["fulfilment"] = _("Must be one of %(allowed)s.", allowed=", ".join(order_rules.FULFILMENTS))
    payment_state = body.get("payment_state", "paid")
    if payment_state not in ("paid", "pay_at_pickup"):
        errors["payment_state"] = _("Must be one of %(allowed)s.", allowed="paid, pay_at_pickup")
    elif payment_state == "pay_at_pickup" and fulfilment == "delivery":
        errors["payment_state"] = _("A delivery must be paid when it is ordered.")

    lines = _lines_from_json(body.get("lines"), errors)

    pickup_id, address = None, None
    if fulfilment == "pickup":
        if "delivery_address" in body and body["delivery_address"] is not None:
            errors["delivery_address"] = _("Only for deliveries.")
        code = body.get("pickup_location")
        if not isinstance(code, str) or not code.strip():
            errors["pickup_location"] = _("Required for a pickup: the code of a store with a pickup desk.")
        elif validation.bad_character(code):  # checked before any query: PostgreSQL refuses a NUL outright
            errors["pickup_location"] = validation.BAD_CHARACTER
        else:
            from omnistore.stores.locations import get_location

            location = get_location(code)
            if location is None:
                errors["pickup_location"] = _("No location with the code %(code)s.", code=code.strip()[:16])
            else:
                try:
                    pickup_id = order_rules.pickup_location(location.id).id
                except ValidationFailed as error:
                    errors["pickup_location"] = error.fields.get("pickup_location", error.message)
    elif fulfilment == "delivery":
        if body.get("pickup_location") is not None:
            errors["pickup_location"] = _("Only for pickups.")
        if body.get("delivery_address") is None:
            errors["delivery_address"] = _("Required for a delivery.")
        else:
            try:
                address = order_rules.check_address(body.get("delivery_address"))
            except ValidationFailed as error:
                errors.update(
                    {
                        f"delivery_address.{name}" if name != "address" else "delivery_address": message
                        for name, message in error.fields.items()
                    }
                )
    market_code = body.get("market")
    if market_code is not None:
        if not isinstance(market_code, str) or validation.bad_character(market_code):
            errors["market"] = _("The code of a market, like DK.")
        elif len(market_code.strip()) != 2 or db.session.get(Market, market_code.strip().upper()) is None:
            errors["market"] = _("No market with the code %(code)s.", code=market_code.strip()[:8])
        else:
            market_code = market_code.strip().upper()
    offer_code = body.get("offer_code")
    if offer_code is not None:
        if not isinstance(offer_code, str) or not offers.normalise_code(offer_code):
            errors["offer_code"] = _("The code of the customer's offer: letters and digits.")
            offer_code = ""
        else:
            offer_code = offers.normalise_code(offer_code)
    if errors:
        raise ValidationFailed(_("The order was not accepted; nothing was created. See the fields."), errors)
    return PlaceOrder(
        channel=channel,
        customer_id=0,
        lines=tuple(lines),
        fulfilment=fulfilment,
        payment_state=payment_state,
        pickup_location_id=pickup_id,
        delivery_address=address,
        request_fingerprint=fingerprint(body),
        market_code=market_code,
        offer_code=offer_code or "",
    ), contact


def _contact_from_json(data, errors):
    if not isinstance(data, dict):
        errors["customer"] = _("Required: an object with the customer's email and/or phone and name.")
        return None
    for key in sorted(set(data) - CUSTOMER_KEYS, key=str):
        errors[f"customer.{str(key)[:40]}"] = _(
            "Unknown field; allowed: %(allowed)s.", allowed=", ".join(sorted(CUSTOMER_KEYS))
        )
    email = _json_text(data.get("email"), "customer.email", errors, max_length=254) or None
    phone = _json_text(data.get("phone"), "customer.phone", errors, max_length=40) or None
    if email is None and phone is None and "customer.email" not in errors and "customer.phone" not in errors:
        errors["customer.email"] = _("Send an email address or a phone number (or both).")
    if email:
        try:
            email = contact_rules.normalize_email(email)
        except ValidationFailed as error:
            errors["customer.email"] = error.fields.get("email", error.message)
    if phone:
        try:
            phone = contact_rules.normalize_phone(phone)
        except ValidationFailed as error:
            errors["customer.phone"] = error.fields.get("phone", error.message)
    locale = data.get("locale")
    if locale is not None and locale not in ("en", "de", "da"):
        errors["customer.locale"] = _("Must be one of %(allowed)s.", allowed="en, de, da")
    first = _json_text(data.get("first_name"), "customer.first_name", errors)
    last = _json_text(data.get("last_name"), "customer.last_name", errors)
    if not first and not last and "customer.first_name" not in errors and "customer.last_name" not in errors:
        errors["customer.last_name"] = _("Send the customer's name (first_name and/or last_name).")
    return CustomerContact(email=email, phone=phone, first_name=first, last_name=last, locale=locale)


def _lines_from_json(items, errors):
    if not isinstance(items, list) or not items:
        errors["lines"] = _('Required: a list of {"sku", "quantity"} objects.')
        return []
    if len(items) > order_rules.MAX_LINES:
        errors["lines"] = _("At most %(max)d lines per order.", max=order_rules.MAX_LINES)
        return []
    skus = {
        item.get("sku").strip()
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("sku"), str)
        and 0 < len(item["sku"].strip()) <= 64
        and not validation.bad_character(item["sku"])
    }
    variants = (
        dict(db.session.execute(select(Variant.sku, Variant.id).where(Variant.sku.in_(skus))).all()) if skus else {}
    )
    lines = []
    for index, item in enumerate(items):
        where = f"lines[{index}]"
        if not isinstance(item, dict):
            errors[where] = _("Must be an object with sku and quantity.")
            continue
        for key in sorted(set(item) - LINE_KEYS, key=str):
            errors[f"{where}.{str(key)[:40]}"] = _("Unknown field; allowed: sku, quantity.")
        sku, quantity = item.get("sku"), item.get("quantity")
        variant_id = None
        if not isinstance(sku, str) or not sku.strip():
            errors[f"{where}.sku"] = _("Required.")
        elif validation.bad_character(sku):
            errors[f"{where}.sku"] = validation.BAD_CHARACTER
        else:
            variant_id = variants.get(sku.strip())
            if variant_id is None:
                errors[f"{where}.sku"] = _("No variant with SKU %(sku)s.", sku=sku.strip()[:64])
        if type(quantity) is not int:
            errors[f"{where}.quantity"] = _("Must be a whole number (a JSON integer).")
        elif quantity < 1:
            errors[f"{where}.quantity"] = _("The quantity must be at least 1.")
        elif quantity > order_rules.MAX_LINE_QUANTITY:
            errors[f"{where}.quantity"] = _("At most %(max)d per line.", max=order_rules.MAX_LINE_QUANTITY)
        elif variant_id is not None:
            lines.append(LineRequest(variant_id, quantity))
    return lines


def place_web_order(body, *, api_client, idempotency_key=None) -> Placed:
    """An order from the web shop (POST /api/v1/orders): checked in full first (ValidationFailed creates
    nothing), then the customer matched by email or phone (else created) and the order placed, in one
    transaction; the same key with the same body gives back the same order, with another body
    IdempotencyConflict."""
    if not isinstance(api_client, ApiClient):
        raise Forbidden(_("Sign in to take orders."))
    staff_service.require_api_write(api_client)
    key = scoped_key(idempotency_key, api_client=api_client)
    if key is not None:  # a replay needs no checks (stock or SKUs may have changed since)
        existing = existing_order(None, key, fingerprint(body))
        if existing is not None:
            return Placed(existing, False)
    request, contact = web_order_from_json(body)
    pickup = db.session.get(Location, request.pickup_location_id) if request.pickup_location_id else None
    staff_service.require_api_order_scope(
        api_client,
        channel=request.channel,
        fulfilment=request.fulfilment,
        pickup_location_code=pickup.code if pickup is not None else None,
    )
    return place_order(
        dataclasses.replace(request, contact=contact), idempotency_key=idempotency_key, api_client=api_client
    )


@dataclass(frozen=True)
class OfferCheck:
    """What POST /api/v1/offers/validate answers: the offer and what it takes off this cart, per line."""

    issued: object
    currency: str
    goods_minor: int
    shipping_fee_minor: int
    discount_minor: int
    lines: tuple  # of (sku, quantity, unit_price_minor, discount_minor)

    @property
    def total_minor(self):
        return self.goods_minor + self.shipping_fee_minor - self.discount_minor


def validate_web_offer(body, *, api_client) -> OfferCheck:
    """Check an offer code against a cart before the order is placed (reads only; nothing is used up): the body
    is the order as it will be sent to POST /orders, with its `offer_code`. The customer must exist (matched by
    email or phone) and own the code; the offer must run today, be for the order's market and apply to a line.
    ValidationFailed with the problem at `offer_code` (or at the order's own fields)."""
    if not isinstance(api_client, ApiClient):
        raise Forbidden(_("Sign in to take orders."))
    request, contact = web_order_from_json(body)
    if not request.offer_code:
        message = _("Required: the code of the customer's offer.")
        raise ValidationFailed(message, {"offer_code": message})
    pickup = db.session.get(Location, request.pickup_location_id) if request.pickup_location_id else None
    staff_service.require_api_order_scope(
        api_client,
        channel=request.channel,
        fulfilment=request.fulfilment,
        pickup_location_code=pickup.code if pickup is not None else None,
    )
    customer = find_by_contact(email=contact.email, phone=contact.phone)
    issued = offers.find_issued(request.offer_code)
    proposal = sourcing.propose(api_sourcing_request(request))
    discount = discounts.discount_on(
        issued,
        proposal.lines,
        customer_id=customer.id if customer is not None and customer.active else None,
        market_code=proposal.market_code,
        today=utcnow().date(),
        field="offer_code",
    )
    ids = {planned.variant_id for planned in proposal.lines}
    skus = dict(db.session.execute(select(Variant.id, Variant.sku).where(Variant.id.in_(ids))).all())
    return OfferCheck(
        issued,
        proposal.currency,
        proposal.goods_minor,
        proposal.shipping_fee_minor,
        discount.total_minor,
        tuple(
            (skus[line.variant_id], line.quantity, line.unit_price_minor, share)
            for line, share in zip(proposal.lines, discount.per_line, strict=True)
        ),
    )
