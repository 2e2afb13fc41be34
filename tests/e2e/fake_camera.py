"""Pictures for Chromium's fake camera: an EAN-13 barcode or a QR code on a label, as a Y4M video file.

Chromium reads a YUV4MPEG2 file given with `--use-file-for-fake-video-capture=F.y4m` and plays its frames in
a loop as the camera. A QR code is shown as a hand would hold it: at a few distances in turn, because a still,
perfectly sharp picture is the one thing a real camera never delivers, and a decoder may miss a code at one
exact scale every time. The pictures are grey, so the luma plane is the picture and both chroma planes are a
flat 128 (no colour): no image library needed.

The EAN-13 bars are drawn here from the standard encoding tables (a test of the decoder should not trust
another encoder); the QR code's modules come from the `qrcode` package, which the app already depends on.
"""

from pathlib import Path

import qrcode

WIDTH, HEIGHT = 640, 480
TABLE, PAPER, INK = 150, 245, 20  # grey counter, white label, black print

# Odd-parity ("L") patterns of the left half; "R" is L inverted, "G" (even parity) is R reversed.
L_CODES = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
R_CODES = ["".join("1" if bit == "0" else "0" for bit in code) for code in L_CODES]
G_CODES = [code[::-1] for code in R_CODES]
# Which of the six left digits use L or G: this parity pattern encodes the first digit.
PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLG", "LGLGLG", "LGLGGL", "LGGLGL"]


def ean13_check_digit(first12):
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def ean13_modules(code):
    """The 95 modules of an EAN-13 barcode, '1' for a bar."""
    if len(code) != 13 or not code.isdigit() or ean13_check_digit(code[:12]) != code[12]:
        raise ValueError(f"not a valid EAN-13: {code!r}")
    first, left, right = int(code[0]), code[1:7], code[7:]
    modules = "101"
    for digit, parity in zip(left, PARITY[first], strict=True):
        modules += (L_CODES if parity == "L" else G_CODES)[int(digit)]
    modules += "01010"
    modules += "".join(R_CODES[int(digit)] for digit in right)
    return modules + "101"


class Picture:
    """A grey picture, one byte per pixel."""

    def __init__(self, width=WIDTH, height=HEIGHT, shade=TABLE):
        self.width, self.height = width, height
        self.pixels = bytearray([shade]) * (width * height)

    def fill(self, left, top, width, height, shade):
        row = bytes([shade]) * width
        for y in range(top, top + height):
            start = y * self.width + left
            self.pixels[start : start + width] = row

    def y4m(self, frames=3):
        """A YUV4MPEG2 (4:2:0) video of `frames` identical frames at 10 fps."""
        return y4m([self] * frames)


def y4m(pictures):
    """A YUV4MPEG2 (4:2:0) video of these pictures (all of one size) at 10 fps."""
    width, height = pictures[0].width, pictures[0].height
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    return header + b"".join(b"FRAME\n" + bytes(picture.pixels) + chroma + chroma for picture in pictures)


def ean13_picture(code, module=4, bar_height=220):
    """An EAN-13 barcode on a white label in the middle of the picture, with its quiet zones."""
    modules = ean13_modules(code)
    picture = Picture()
    quiet = 12 * module
    label_width, label_height = len(modules) * module + 2 * quiet, bar_height + 2 * quiet
    left, top = (WIDTH - label_width) // 2, (HEIGHT - label_height) // 2
    picture.fill(left, top, label_width, label_height, PAPER)
    for index, bit in enumerate(modules):
        if bit == "1":
            picture.fill(left + quiet + index * module, top + quiet, module, bar_height, INK)
    return picture


def qr_picture(text, size=300):
    """A QR code (with its four-module quiet zone) on a white label in the middle of the picture."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the border
    module = size // len(matrix)
    side = module * len(matrix)
    left, top = (WIDTH - side) // 2, (HEIGHT - side) // 2
    picture = Picture()
    picture.fill(left, top, side, side, PAPER)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                picture.fill(left + x * module, top + y * module, module, module, INK)
    return picture


def held_qr(text, sizes=(300, 270, 340)):
    """A QR code held up to the camera: its label at a few distances, one frame each."""
    return [qr_picture(text, size) for size in sizes]


def blank_picture():
    """A label with nothing on it: the camera sees no code."""
    picture = Picture()
    picture.fill(170, 140, 300, 200, PAPER)
    return picture


def write_video(footage, path):
    """Write a picture (shown still) or a list of pictures (shown in turn) as the camera's video file."""
    path = Path(path)
    path.write_bytes(footage.y4m() if isinstance(footage, Picture) else y4m(footage))
    return path
