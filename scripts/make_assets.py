"""Generate TicketClub's placeholder images under ``assets/``.

The seed data refers to a picture for every event (a list card ``N.png`` and
a detail picture ``N-1.png``, both portrait 308x520 as the original's) and to a
seat map of the venue (``1-seat.png``, 524x720 on a dark background).
The original app's pictures are not ours to copy, so this script draws simple
placeholders of our own: flat colour bands, translucent-looking shapes and the
performer's name in a built-in 5x7 bitmap font.

It uses only the standard library (zlib + struct write palette PNGs), and is
deterministic, so re-running it gives byte-identical files:

    python3 scripts/make_assets.py
"""

import random
import struct
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# (name, gradient top colour, gradient bottom colour) in event id order.
EVENTS = [
    ("MICHAEL JACKSON", (28, 28, 40), (120, 30, 60)),
    ("TWICE", (255, 138, 150), (255, 196, 120)),
    ("IU", (120, 100, 200), (240, 170, 210)),
    ("COLDPLAY", (20, 60, 140), (40, 190, 180)),
    ("LANY", (230, 90, 80), (250, 200, 170)),
    ("ALEC BENJAMIN", (40, 90, 70), (170, 200, 120)),
    ("ARIANA GRANDE", (90, 60, 140), (220, 150, 220)),
    ("ANNE-MARIE", (240, 100, 40), (250, 210, 80)),
]

# Seat map price tiers: floor -> (price, colour).
TIERS = {1: ("3000", (231, 111, 81)), 2: ("2000", (233, 196, 106)),
         3: ("1000", (42, 157, 143))}

# 5x7 glyphs: seven rows, each a 5-bit mask written as two hex digits.
FONT_SRC = {
    "A": "0E11111F111111", "B": "1E11111E11111E", "C": "0E11101010110E",
    "D": "1E11111111111E", "E": "1F10101E10101F", "F": "1F10101E101010",
    "G": "0E11101711110F", "H": "1111111F111111", "I": "0E04040404040E",
    "J": "0702020202120C", "K": "11121418141211", "L": "1010101010101F",
    "M": "111B1515111111", "N": "11111915131111", "O": "0E11111111110E",
    "P": "1E11111E101010", "Q": "0E11111115120D", "R": "1E11111E141211",
    "S": "0F10100E01011E", "T": "1F040404040404", "U": "1111111111110E",
    "V": "11111111110A04", "W": "1111111515150A",
    "X": "11110A040A1111", "Y": "1111110A040404", "Z": "1F01020408101F",
    "0": "0E11131519110E", "1": "040C040404040E", "2": "0E11010204081F",
    "3": "1F02040201110E", "4": "02060A121F0202", "5": "1F101E0101110E",
    "6": "0608101E11110E", "7": "1F010204080808", "8": "0E11110E11110E",
    "9": "0E11110F01020C", " ": "00000000000000", "-": "0000001F000000",
}
FONT = {ch: [int(src[i:i + 2], 16) for i in range(0, 14, 2)]
        for ch, src in FONT_SRC.items()}

WHITE, INK = (255, 255, 255), (30, 30, 40)

# The original's event picture shape (list card and detail page alike).
EVENT_W, EVENT_H = 308, 520


class Canvas:
    """An 8-bit palette image: one byte per pixel indexing ``palette``."""

    def __init__(self, width, height):
        self.w, self.h = width, height
        self.px = bytearray(width * height)
        self.palette = []

    def colour(self, rgb):
        """Return the palette index of ``rgb``, adding it if new."""
        if rgb not in self.palette:
            self.palette.append(rgb)
        return self.palette.index(rgb)

    def rect(self, x0, y0, x1, y1, idx):
        """Fill the clipped rectangle [x0, x1) x [y0, y1) with ``idx``."""
        x0, x1 = max(0, x0), min(self.w, x1)
        if x0 >= x1:
            return
        for y in range(max(0, y0), min(self.h, y1)):
            self.px[y * self.w + x0:y * self.w + x1] = bytes([idx]) * (x1 - x0)

    def remap(self, y, x0, x1, table):
        """Map pixels of row ``y`` in [x0, x1) through a 256-byte table."""
        x0, x1 = max(0, x0), min(self.w, x1)
        if 0 <= y < self.h and x0 < x1:
            row = slice(y * self.w + x0, y * self.w + x1)
            self.px[row] = self.px[row].translate(table)

    def png(self):
        """Encode as a palette PNG (colour type 3), filter 0 on every row."""
        def chunk(kind, data):
            body = kind + data
            return (struct.pack(">I", len(data)) + body
                    + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF))
        raw = b"".join(b"\0" + self.px[y * self.w:(y + 1) * self.w]
                       for y in range(self.h))
        ihdr = struct.pack(">IIBBBBB", self.w, self.h, 8, 3, 0, 0, 0)
        plte = b"".join(bytes(c) for c in self.palette)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"PLTE", plte) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def mix(a, b, t):
    """Linear blend of two RGB tuples, ``t`` in [0, 1]."""
    return tuple(round(p + (q - p) * t) for p, q in zip(a, b))


def text_width(text, scale):
    """Pixel width of ``text``: 5 columns per glyph plus 1 column gap."""
    return (len(text) * 6 - 1) * scale


def draw_text(cv, text, x, y, scale, idx):
    """Draw ``text`` with its top-left corner at (x, y) in colour ``idx``."""
    for n, ch in enumerate(text):
        gx = x + n * 6 * scale
        for row, bits in enumerate(FONT[ch]):
            for col in range(5):
                if bits & (0x10 >> col):
                    cv.rect(gx + col * scale, y + row * scale,
                            gx + (col + 1) * scale, y + (row + 1) * scale, idx)


def draw_centred(cv, text, cx, cy, scale, idx, shadow=None):
    """Draw ``text`` centred on (cx, cy), with an optional drop shadow."""
    x = cx - text_width(text, scale) // 2
    y = cy - 7 * scale // 2
    if shadow is not None:
        # The offset shadow keeps light text readable on light gradients.
        off = max(1, scale // 3)
        draw_text(cv, text, x + off, y + off, scale, shadow)
    draw_text(cv, text, x, y, scale, idx)


BANDS = 16  # gradient steps: few colours keep the palette and file tiny


def gradient(cv, top, bottom):
    """Fill with a banded vertical gradient; return the 'tint' remap table.

    Palette entries 0..BANDS-1 are the bands, BANDS..2*BANDS-1 the same bands
    lightened, so shapes can look translucent by remapping band -> tint.
    """
    for i in range(BANDS):
        cv.colour(mix(top, bottom, i / (BANDS - 1)))
    for i in range(BANDS):
        cv.colour(mix(cv.palette[i], WHITE, 0.22))
    band_h = -(-cv.h // BANDS)
    for i in range(BANDS):
        cv.rect(0, i * band_h, cv.w, (i + 1) * band_h, i)
    table = bytearray(range(256))
    table[:BANDS] = range(BANDS, 2 * BANDS)
    return bytes(table)


def circle(cv, cx, cy, r, table):
    """Remap every pixel inside the circle through ``table``."""
    for y in range(max(0, cy - r), min(cv.h, cy + r + 1)):
        half = int((r * r - (y - cy) ** 2) ** 0.5)
        cv.remap(y, cx - half, cx + half + 1, table)


def stripes(cv, period, table):
    """Remap diagonal stripes of width ``period`` through ``table``."""
    for y in range(cv.h):
        for x0 in range(-(y % (2 * period)), cv.w, 2 * period):
            cv.remap(y, x0, x0 + period, table)


def layout_name(name, w, h):
    """Split ``name`` into one or two lines and pick the largest fitting scale.

    The scale is capped so a short name ("IU") does not swamp the picture.
    """
    options = [[name]]
    if " " in name:
        options.append(name.split(" ", 1))
    cap = int(h * 0.2 / 7)
    best = None
    for lines in options:
        by_w = int(w * 0.86) // (max(len(s) for s in lines) * 6 - 1)
        by_h = int(h * 0.45) // (len(lines) * 9 - 2)
        scale = min(by_w, by_h, cap)
        if best is None or scale > best[1]:
            best = (lines, scale)
    return best


def event_image(event_id, w, h):
    """Draw one event card/banner: background, shapes, name, brand mark."""
    name, top, bottom = EVENTS[event_id - 1]
    cv = Canvas(w, h)
    tint = gradient(cv, top, bottom)
    # Seeded RNG: same event id -> same shapes on every run.
    rng = random.Random(event_id * 1000 + w)
    if event_id % 2:
        for _ in range(6):
            circle(cv, rng.randrange(w), rng.randrange(h),
                   rng.randrange(h // 8, h // 2), tint)
    else:
        stripes(cv, h // 10 + 4 * event_id, tint)
    white, shade = cv.colour(WHITE), cv.colour(mix(top, INK, 0.7))
    lines, scale = layout_name(name, w, h)
    step = 9 * scale  # line height: 7 rows of glyph + 2 rows of leading
    y0 = h // 2 - (len(lines) * step - 2 * scale) // 2 + 7 * scale // 2
    for n, line in enumerate(lines):
        draw_centred(cv, line, w // 2, y0 + n * step, scale, white, shade)
    small = max(2, h // 200)
    brand_x = w - text_width("TICKETCLUB", small) - 4 * small
    draw_text(cv, "TICKETCLUB", brand_x + 1, h - 11 * small + 1, small, shade)
    draw_text(cv, "TICKETCLUB", brand_x, h - 11 * small, small, white)
    return cv


# The original's seat map: a portrait picture on a dark background, shown beside the seat grid.
SEAT_W, SEAT_H = 524, 720
SEAT_BG = (22, 22, 30)


def seat_map():
    """Draw the venue: stage at the top, 3 floors x 3 areas, price legend."""
    cv = Canvas(SEAT_W, SEAT_H)
    cv.rect(0, 0, SEAT_W, SEAT_H, cv.colour(SEAT_BG))
    ink, white = cv.colour(INK), cv.colour(WHITE)
    stage = cv.colour((200, 200, 214))
    cv.rect(92, 32, SEAT_W - 92, 96, stage)
    draw_centred(cv, "STAGE", SEAT_W // 2, 64, 5, ink)
    block_w, block_h, gap_x, gap_y, top = 144, 130, 14, 26, 130
    left = (SEAT_W - 3 * block_w - 2 * gap_x) // 2
    for floor in (1, 2, 3):
        fill = cv.colour(TIERS[floor][1])
        y = top + (floor - 1) * (block_h + gap_y)
        for i in range(3):
            x = left + i * (block_w + gap_x)
            cv.rect(x, y, x + block_w, y + block_h, fill)
            area = (floor - 1) * 3 + i + 1
            draw_centred(cv, f"{floor}F-{area}", x + block_w // 2,
                         y + block_h // 2, 5, ink)
    # Legend: one swatch + price per tier, light text on the dark ground.
    for n, floor in enumerate((1, 2, 3)):
        price, rgb = TIERS[floor]
        x = left + n * (block_w + gap_x) + 8
        cv.rect(x, 630, x + 32, 662, cv.colour(rgb))
        draw_text(cv, price, x + 42, 632, 4, white)
    return cv


def main():
    """Write every asset file, then list what was written."""
    ASSETS.mkdir(exist_ok=True)
    images = {}
    for event_id in range(1, len(EVENTS) + 1):
        # Portrait, as the original's: its frontend lays the list and the detail
        # page out for 308x520 pictures.
        images[f"{event_id}.png"] = event_image(event_id, EVENT_W, EVENT_H)
        images[f"{event_id}-1.png"] = event_image(event_id, EVENT_W, EVENT_H)
    images["1-seat.png"] = seat_map()
    for filename, cv in images.items():
        data = cv.png()
        (ASSETS / filename).write_bytes(data)
        print(f"{filename:12} {cv.w}x{cv.h} {len(data):7,} bytes")


if __name__ == "__main__":
    main()
