"""The app's icon, drawn here: a material page icon would make every browser fetch it from a font CDN."""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw

BLUE = (38, 99, 235, 255)


@functools.cache
def app_icon() -> Image.Image:
    """Three books on a shelf, 64 px, transparent."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    for left, top in ((6, 10), (24, 16), (42, 6)):
        draw.rounded_rectangle((left, top, left + 14, 54), radius=3, fill=BLUE)
        draw.line((left + 3, top + 8, left + 11, top + 8), fill=(255, 255, 255, 255), width=2)
    draw.rectangle((2, 56, 62, 60), fill=BLUE)
    return icon
