"""QR codes as PNG images: the pickup code on the customer's phone page and in the e-mails."""

import io

import qrcode


def qr_png(data: str, *, box_size=8) -> bytes:
    """A QR code of `data` as a PNG, with the quiet zone phone cameras need."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()
