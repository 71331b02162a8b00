"""Offline OCR of page images with RapidOCR (PP-OCR models in ONNX, shipped inside the `rapidocr-onnxruntime` wheel,
Apache-2.0): lines of text with their boxes and confidence, put back in reading order (two columns read one after
the other; a table's cells on one row kept as one line).

Chosen over Tesseract (Debian's `tesseract-ocr`) because it installs with pip alone and gives line boxes and a
confidence per line; `bench/ocr.py` measures both on the same pages."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from core.errors import ParseError

log = logging.getLogger(__name__)

MAX_PIXELS = 40_000_000  # a page image larger than this is refused (a 30,000 × 30,000 bomb is 900 M)
MIN_SIDE = 8  # pixels: thinner than a line of text
MAX_ASPECT = 20  # a page, a receipt or a banner is not longer than this for its width
LOW_CONFIDENCE = 0.80  # a page read below this mean confidence is flagged for a person to check
_lock = threading.Lock()  # one model per process; ONNX Runtime runs one page at a time here
_engine: Any = None


@dataclass(frozen=True)
class Line:
    text: str
    box: tuple[float, float, float, float]  # left, top, right, bottom in the image's pixels
    confidence: float


@dataclass(frozen=True)
class Read:
    """What OCR read on one image."""

    lines: tuple[Line, ...]
    width: int
    height: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        """Mean confidence, weighted by characters (1.0 for an image with no text)."""
        chars = sum(len(line.text) for line in self.lines)
        return sum(line.confidence * len(line.text) for line in self.lines) / chars if chars else 1.0


def read(image: Any, *, where: str = "An image") -> Read:
    """The text of a PIL image, line by line in reading order; `where` names it in a refusal ("scan.pdf, page 3")."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ParseError(f"{where} is {width:,} × {height:,} pixels: too large to read ({MAX_PIXELS:,} at most).")
    if min(width, height) < MIN_SIDE or max(width, height) > min(width, height) * MAX_ASPECT:
        return Read((), width, height)  # a strip or a speck, not a page (the engine would blow it up to gigabytes)
    import numpy as np

    pixels = np.asarray(_plain(image))
    with _lock:
        found, _ = _ocr()(pixels)
    lines = [
        Line(str(text).strip(), _bounds(box), float(confidence))
        for box, text, confidence in (found or [])
        if str(text).strip()
    ]
    return Read(tuple(_ordered(lines, width)), width, height)


def _plain(image: Any) -> Any:
    """8-bit RGB on white, upright: a phone photo's EXIF turn applied, transparency on white, 16-bit scaled down."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit scans: to 0..255 by their own range
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        top = float(values.max()) or 1.0
        image = Image.fromarray((values * (255.0 / max(top, 255.0))).clip(0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return image.convert("RGB")


def _ocr() -> Any:
    global _engine
    if _engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # requirements-models.txt installs it
            raise ParseError(
                "Reading scans needs the OCR package: pip install --no-deps -r requirements-models.txt."
            ) from exc
        # no angle classifier: on upright pages it turned whole lines upside down and read them as noise (in
        # bench/ocr.py: 75% of a 10-point sans page lost with it, 2% without); scans come upright
        _engine = RapidOCR(use_cls=False)
        log.info("OCR engine loaded (RapidOCR)")
    return _engine


def _bounds(box: Any) -> tuple[float, float, float, float]:
    xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
    return min(xs), min(ys), max(xs), max(ys)


def _ordered(lines: list[Line], width: int) -> list[Line]:
    """Reading order: a page in two columns (lines of text filling each half) reads its left column, then its right;
    lines that share a row (a table's cells: short labels on the left) are joined left to right into one line."""
    left = [ln for ln in lines if ln.box[2] < width * 0.55]
    right = [ln for ln in lines if ln.box[0] > width * 0.45]
    spanning = [ln for ln in lines if ln not in left and ln not in right]
    ends = sorted(ln.box[2] for ln in left)
    filled = bool(ends) and ends[len(ends) // 2] > width * 0.4  # text runs to the gutter (a table's labels do not)
    if filled and len(left) >= 3 and len(right) >= 3 and len(spanning) <= max(2, len(lines) // 10):
        top = min(ln.box[1] for ln in left + right)
        head = [ln for ln in spanning if ln.box[3] <= top]
        return _rows(head) + _rows(left) + _rows(right) + _rows([ln for ln in spanning if ln not in head])
    return _rows(lines)


def _rows(lines: list[Line]) -> list[Line]:
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        middle = (line.box[1] + line.box[3]) / 2
        if rows and abs(middle - _middle(rows[-1])) < (line.box[3] - line.box[1]) * 0.5:
            rows[-1].append(line)
        else:
            rows.append([line])
    out = []
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
        box = (min(ln.box[0] for ln in row), min(ln.box[1] for ln in row),
               max(ln.box[2] for ln in row), max(ln.box[3] for ln in row))  # fmt: skip
        confidence = sum(ln.confidence for ln in row) / len(row)
        out.append(Line("  ".join(ln.text for ln in row), box, confidence))
    return out


def _middle(row: list[Line]) -> float:
    return sum((ln.box[1] + ln.box[3]) / 2 for ln in row) / len(row)
