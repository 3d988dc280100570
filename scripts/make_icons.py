"""Generate the app's PNG icons once (committed under server/static/icons/): python scripts/make_icons.py

Pure standard library (zlib + struct): two white rings on the Designsystemet accent colour, like icon.svg.
The maskable icon fills the whole square and keeps the rings inside the 80 % safe zone.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ACCENT = (0x00, 0x62, 0xBA)  # --ds-color-accent-base-default (theme.css)
WHITE = (0xFF, 0xFF, 0xFF)
OUT = Path(__file__).resolve().parent.parent / "server" / "static" / "icons"


def _png(size: int, pixels: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in pixels)
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def icon(size: int, maskable: bool) -> bytes:
    scale = size / 64 * (0.75 if maskable else 1.0)
    offset = size / 2 - 32 * scale
    radius_corner = 0 if maskable else 12 * size / 64
    rings = [(22 * scale + offset, 32 * scale + offset), (42 * scale + offset, 32 * scale + offset)]
    r_out, r_in = 12.5 * scale, 7.5 * scale
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            cx, cy = x + 0.5, y + 0.5
            inside = True
            if radius_corner:
                dx = max(radius_corner - cx, 0, cx - (size - radius_corner))
                dy = max(radius_corner - cy, 0, cy - (size - radius_corner))
                inside = dx * dx + dy * dy <= radius_corner * radius_corner
            if not inside:
                row += b"\x00\x00\x00\x00"
                continue
            ring = any(r_in ** 2 <= (cx - rx) ** 2 + (cy - ry) ** 2 <= r_out ** 2 for rx, ry in rings)
            row += bytes(WHITE if ring else ACCENT) + b"\xff"
        rows.append(bytes(row))
    return _png(size, rows)


if __name__ == "__main__":
    for name, size, maskable in [("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("icon-maskable-512.png", 512, True)]:
        (OUT / name).write_bytes(icon(size, maskable))
        print("wrote", OUT / name)
