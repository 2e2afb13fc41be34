"""What the customer and the integrations are told about an order: every customer email (text + HTML, in
the customer's language) and the order webhooks, written to the outbox in the caller's transaction.

Call these inside the transaction that makes the change (after the status moved), never after commit:
the outbox rows then commit or roll back with it, and delivery happens after commit (core/outbox_delivery.py).

    order_confirmation(order)   placed; pickups: the status link and the QR code
    order_ready(order)          email with store address + hours, pickup-by date, short code, QR (inline PNG)
                                + webhook order.ready
    pickup_reminder(order)      email: still waiting, pickup-by date, code, QR
    order_expired(order)        email + webhook order.expired
    order_cancelled(order)      email + webhook order.cancelled
    line_rejected(order, r)     pickup: a store could not supply some units; choose on the order page
                                + webhook order.line_rejected
    line_dropped(order, r)      some units are not available anywhere: left out + webhook order.line_dropped
    handover_receipt(order)     email (what was collected / refused) + webhook order.collected
                                (also as order_collected)
    return_receipt(order, …)    email: what came back where, what is refunded and how (returns/)
    order_webhook(order, event) the webhook alone

Each returns the outbox messages it queued; an email is left out when the customer has no address (or
was erased), and the order's history gets a "notified" event per email (callers need not add one).

Language (`customer_locale`, the one owner of that choice): the customer's own (Customer.locale) when the
profile has one; otherwise the default language of the order's market (a København order: Danish, whatever
country the pickup store is in); English when neither is known.
"""

from datetime import UTC

from babel.dates import format_date, format_time, get_day_names
from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from omnistore.core import formatting, outbox
from omnistore.core.formatting import formatting_locale
from omnistore.core.types import utcnow
from omnistore.core.webhooks import endpoints_for
from omnistore.orders import pickup_codes
from omnistore.orders.services import record_event, shipping_fee_minor
from omnistore.stores import markets
from omnistore.stores.locations import location_zone
from omnistore.stores.models import WEEKDAYS

LOCALES = ("en", "de", "da")
QR_CONTENT_ID = "pickup-qr"


# --- language, times, places ---------------------------------------------------------------------------


def customer_locale(order) -> str:
    """The language to write to this order's customer in (see the module docstring)."""
    customer = order.customer
    chosen = getattr(customer, "locale", None) if customer is not None else None
    if chosen in LOCALES:
        return chosen
    market = order.market
    return market.locale if market is not None and market.locale in LOCALES else "en"


def _formatting(locale):
    return formatting_locale(locale)  # European conventions for English too (omnistore/core/formatting.py)


def local_when(value, location, locale, *, with_weekday=True):
    """ "Saturday, 28 November 2026, 20:00" in `location`'s time zone, written for `locale`."""
    if value is None:
        return ""
    local = value.astimezone(location_zone(location))
    fmt = _formatting(locale)
    day = format_date(local, "full" if with_weekday else "long", locale=fmt)
    return f"{day}, {format_time(local, 'short', locale=fmt)}"


def pickup_hours(location):
    """The pickup desk's hours (the store's opening hours when none are set)."""
    return location.pickup_hours or location.opening_hours or {}


def hours_rows(hours, locale):
    """[(weekday name, "09:30–13:00, 14:00–18:00" or "" when closed)] from Monday, for `locale`."""
    names = get_day_names("wide", locale=_formatting(locale))
    rows = []
    for index, key in enumerate(WEEKDAYS):
        intervals = [
            f"{i[0]}–{i[1]}" for i in (hours or {}).get(key) or [] if isinstance(i, list | tuple) and len(i) == 2
        ]
        rows.append((names[index], ", ".join(intervals)))
    return rows


def map_url(location):
    """A link to the store on openstreetmap.org (a link only: nothing external is embedded anywhere)."""
    lat, lon = f"{location.latitude:.5f}", f"{location.longitude:.5f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def line_rows(order):
    """What the customer ordered: name, variant words, quantity, status — nothing internal."""
    rows = []
    for line in order.lines:
        variant = line.variant
        detail = " · ".join(part for part in (variant.size, variant.colour) if part)
        rows.append(
            {
                "name": variant.product.name,
                "detail": detail,
                "quantity": line.quantity,
                "price_minor": line.unit_price_minor * line.quantity,
                "discount_minor": line.discount_minor or 0,  # an offer's share (offers/), already off the total
                "status": line.status,
            }
        )
    return rows


# --- emails ----------------------------------------------------------------------------------------------


def _recipient(order):
    customer = order.customer
    if customer is None or not customer.email or customer.erased_at is not None:
        return None
    return customer.email


def _context(order, locale):
    store = order.pickup_location
    pickup = order.pickup
    context = {
        "order": order,
        "locale": locale,
        "first_name": order.customer.first_name if order.customer else "",
        "lines": line_rows(order),
        "store": store,
        "pickup": pickup,
        "status_url": "",
        "qr_cid": "",
        "pickup_by": "",
        "hours": [],
        "map_url": "",
        "currency": order.currency,
        "discount_minor": sum(line.discount_minor or 0 for line in order.lines),
        # The VAT the total includes, at the rate of the order's market: shown, never added.
        "vat_rate": formatting.percent(order.market.vat_rate_bp / 10000, locale) if order.market else "",
        "vat_minor": markets.vat_included(order.total_minor, order.market) if order.market else None,
        # A delivery's fee, in the total; 0 with `shipping_fee_waived` when the chain waived it.
        "delivery_fee_minor": shipping_fee_minor(order) if order.fulfilment == "delivery" else None,
    }
    if store is not None:
        context.update(hours=hours_rows(pickup_hours(store), locale), map_url=map_url(store))
        if pickup is not None:
            context.update(
                status_url=pickup_codes.status_url(pickup),
                pickup_by=local_when(pickup.pickup_by, store, locale),
                collected_at=local_when(pickup.collected_at, store, locale),
            )
    return context


def _email(order, topic, template, subject, *, with_qr=False, **extra):
    """Render templates/emails/<template>.{txt,html} in the customer's language and queue the email."""
    to = _recipient(order)
    if to is None:
        return []
    locale = customer_locale(order)
    context = _context(order, locale)
    attachments = ()
    if with_qr and context["status_url"]:
        context["qr_cid"] = QR_CONTENT_ID
        attachments = (
            outbox.Attachment("pickup-qr.png", "image/png", qr=context["status_url"], content_id=QR_CONTENT_ID),
        )
    context.update(extra)
    with force_locale(locale):
        context["subject"] = subject_text = subject()
        text = render_template(f"emails/{template}.txt", **context)
        html = render_template(f"emails/{template}.html", **context)
    message = outbox.enqueue_email(
        topic,
        to=to,
        subject=subject_text,
        text=text,
        html=html,
        attachments=attachments,
        customer_id=order.customer_id,
        order_number=order.number,
        locale=locale,
    )
    record_event(order, "notified", topic=topic)
    return [message]


def order_confirmation(order):
    """Thank you for your order: the lines, and for a pickup order its status link and QR code."""
    return _email(
        order,
        "order.confirmation",
        "order_confirmation",
        lambda: _("Thank you for your order %(number)s", number=order.number),
        with_qr=order.fulfilment == "pickup",
    )


def order_ready(order):
    """Ready for pickup: where (address, map link, hours), until when, the short code and the QR code."""
    messages = _email(
        order,
        "order.ready",
        "order_ready",
        lambda: _("Your order %(number)s is ready for pickup", number=order.number),
        with_qr=True,
    )
    return messages + order_webhook(order, "order.ready")


def pickup_reminder(order):
    """Still waiting for you: the pickup-by date, the code and the QR code again."""
    return _email(
        order,
        "order.reminder",
        "pickup_reminder",
        lambda: _("Reminder: your order %(number)s is waiting for you", number=order.number),
        with_qr=True,
    )


def order_expired(order):
    """Not collected in time: the goods went back to the shelves."""
    messages = _email(
        order,
        "order.expired",
        "order_expired",
        lambda: _("Your order %(number)s was not collected", number=order.number),
    )
    return messages + order_webhook(order, "order.expired")


def order_cancelled(order, reason=""):
    """Cancelled (by the customer, the store or the web shop)."""
    messages = _email(
        order,
        "order.cancelled",
        "order_cancelled",
        lambda: _("Your order %(number)s has been cancelled", number=order.number),
        reason=reason,
    )
    return messages + order_webhook(order, "order.cancelled")


def handover_receipt(order):
    """Collected: what was handed over (and what was refused), when and where."""
    messages = _email(
        order, "order.receipt", "handover_receipt", lambda: _("Receipt for your order %(number)s", number=order.number)
    )
    return messages + order_webhook(order, "order.collected")


def line_rejected(order, rejection):
    """A pickup order's store could not supply some units: what, and the choice on the order page (by when)."""
    locale = customer_locale(order)
    choose_by = local_when(rejection.choice_due_at, order.pickup_location, locale) if order.pickup_location else ""
    messages = _email(
        order,
        "order.line_rejected",
        "line_rejected",
        lambda: _("Your order %(number)s: please choose", number=order.number),
        rejection=rejection,
        product=rejection.variant.product.name,
        choose_by=choose_by,
    )
    return messages + order_webhook(order, "order.line_rejected")


def line_dropped(order, rejection):
    """Some units are not available anywhere: they are left out, the rest goes on."""
    messages = _email(
        order,
        "order.line_dropped",
        "line_dropped",
        lambda: _("Your order %(number)s: an item is not available", number=order.number),
        rejection=rejection,
        product=rejection.variant.product.name,
    )
    return messages + order_webhook(order, "order.line_dropped")


order_collected = handover_receipt  # the name the pickup desk calls it by (pickups/handover.hand_over)


def return_receipt(order, rows, ret):
    """Goods came back (returns/receiving.py): at which store, each line with its refund (or refused), the
    total refunded and how it reaches the customer. `rows`: name, detail, quantity, refused, refund_minor."""
    return _email(
        order,
        "return.receipt",
        "return_receipt",
        lambda: _("Your return for order %(number)s", number=order.number),
        returned=rows,
        return_store=ret.location,
        refund_minor=ret.refund_minor + ret.shipping_refund_minor,
        shipping_refund_minor=ret.shipping_refund_minor,
        refund_method=ret.refund_method,
        return_id=ret.id,
    )


# --- webhooks --------------------------------------------------------------------------------------------


def _iso(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def webhook_payload(order, event, now=None):
    """The JSON body of a webhook: the event, when, and the order's number, status and timestamps.
    Never the status URL: it is the customer's QR credential, and every endpoint gets every order's events,
    while the API shows it only to the token that placed the order (or one allowed all). An integration that
    needs it reads GET /api/v1/orders/<number> within its token's scope."""
    pickup = order.pickup
    body = {
        "event": event,
        "occurred_at": _iso(now or utcnow()),
        "order": {
            "number": order.number,
            "status": order.status,
            "fulfilment": order.fulfilment,
            "channel": order.channel,
            "payment_state": order.payment_state,
            "pickup_location": order.pickup_location.code if order.pickup_location is not None else None,
            "market": order.market_code,
            "currency": order.currency,  # of total_minor
            "total_minor": order.total_minor,
            "credit_minor": order.credit_minor or 0,  # an exchange's credit set against it
            "amount_due_minor": order.amount_due_minor,
            "placed_at": _iso(order.placed_at),
            "updated_at": _iso(order.updated_at),
        },
    }
    if pickup is not None:
        body["order"].update(
            ready_at=_iso(pickup.ready_at),
            pickup_by=_iso(pickup.pickup_by),
            collected_at=_iso(pickup.collected_at),
        )
        if event == "order.collected":
            body["order"]["lines"] = [
                {"sku": line.variant.sku, "quantity": line.quantity, "status": line.status} for line in order.lines
            ]
    return body


def order_webhook(order, event):
    """Queue `event` for every active endpoint that wants it."""
    endpoints = endpoints_for(event)
    if not endpoints:
        return []
    payload = webhook_payload(order, event)
    return [outbox.enqueue_webhook(event, url=e.url, payload=payload, endpoint=e) for e in endpoints]
