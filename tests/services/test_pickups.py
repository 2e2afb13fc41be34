"""The collect side of a pickup order: codes the customer shows, and the QR a phone camera reads."""

import io

import zxingcpp
from PIL import Image

from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.qr import qr_png
from omnistore.orders import pickup_codes


def test_a_pickup_gets_an_unguessable_token_and_a_readable_short_code(make):
    store = make.location("HAM")
    first, second = make.order(store), make.order(store)
    with transaction():
        a, b = pickup_codes.open_pickup(first), pickup_codes.open_pickup(second)
    assert len(a.token) >= 32 and a.token != b.token  # 24 random bytes, url-safe
    for pickup in (a, b):
        assert len(pickup.short_code) == 8
        assert set(pickup.short_code) <= set(pickup_codes.SHORT_CODE_ALPHABET)
        assert not set(pickup.short_code) & set("0O1IL2Z5S8B")
    assert a.short_code != b.short_code
    db.session.expire_all()
    assert first.pickup.token == a.token


def test_the_qr_code_decodes_to_the_status_url(app, make):
    store = make.location("HAM")
    with transaction():
        pickup = pickup_codes.open_pickup(make.order(store))
    url = pickup_codes.status_url(pickup)
    assert url == f"{app.config['OMNISTORE_PUBLIC_URL']}/o/{pickup.token}"
    image = Image.open(io.BytesIO(qr_png(url)))
    assert image.format == "PNG"
    decoded = zxingcpp.read_barcodes(image)
    assert [(code.format.name, code.text) for code in decoded] == [("QRCode", url)]
