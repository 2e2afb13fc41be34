"""A pickup order's collect side: the QR token and the short code it is opened with, and the status link
its QR code (core/qr.py) encodes. Placing opens the pickup and the e-mails carry the link, so the order owns them; the
pickup desk reads them back."""

import secrets

from sqlalchemy import exists, select

from omnistore.core.extensions import db
from omnistore.core.public_url import public_url
from omnistore.orders.models import Order, Pickup

# Eight characters a clerk can read aloud and type without confusion: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
SHORT_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
SHORT_CODE_LENGTH = 8


def new_short_code():
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def new_token():
    """The QR credential: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def numbered_short_code(number: int) -> str:
    """The `number`-th code of the alphabet, for bulk test data that must be repeatable (the bench seed):
    the same alphabet and length the desk accepts, but guessable — never for real orders."""
    base, digits = len(SHORT_CODE_ALPHABET), []
    for _ in range(SHORT_CODE_LENGTH):
        number, digit = divmod(number, base)
        digits.append(SHORT_CODE_ALPHABET[digit])
    return "".join(reversed(digits))


def open_pickup(order: Order) -> Pickup:
    """Give a (flushed) pickup order its collect side: an unguessable QR token and a short code."""
    while True:  # a clash among 25^8 codes is rare; try again rather than fail the order
        code = new_short_code()
        if not db.session.scalar(select(exists().where(Pickup.short_code == code))):
            break
    pickup = Pickup(order_id=order.id, token=new_token(), short_code=code)
    db.session.add(pickup)
    order.pickup = pickup
    return pickup


def status_url(pickup: Pickup) -> str:
    """The customer's status page for this pickup: what the email links to and the QR code encodes."""
    return f"{public_url()}/o/{pickup.token}"
