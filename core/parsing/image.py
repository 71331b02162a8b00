"""Images: read offline by OCR (a picture of a page, a scan, a multi-page TIFF), or described in words by a vision
model through LiteLLM when one is chosen (captions for photos and charts), so that they can be searched."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from core import llm
from core.errors import InvalidInput, ModelError, ParseError
from core.parsing import limits, ocr
from core.parsing.document import Part, assemble
from core.parsing.options import ParseOptions
from core.records import ParsedDocument

SENDABLE = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_SIDE = 2048  # larger images are scaled down before they are sent


def parse_image(filename: str, data: bytes, options: ParseOptions) -> ParsedDocument:
    if not options.vision_model:
        if options.ocr == "never":
            raise InvalidInput(
                f"{filename} is an image, and OCR is turned off for this upload (its store's or the server's "
                "choice); turn it on, or choose a vision model (WORKBENCH_VISION_MODEL, for example "
                "openai/gpt-4o-mini or ollama/llava)."
            )
        return _read_by_ocr(filename, data, options.on_page)
    image, mime = _sendable(filename, data)
    try:
        response = llm.describe_image(
            options.vision_model, options.vision_prompt, image, mime, params=options.vision_params
        )
    except ModelError as exc:
        if options.on_usage is not None:  # failed calls are usage too
            options.on_usage(options.vision_model, exc)
        raise
    if options.on_usage is not None:
        options.on_usage(options.vision_model, response)
    return assemble(
        filename,
        [Part(response.text, label="Image description")],
        title=filename,
        warnings=[f"Text written by the vision model {options.vision_model}; check it against the image."],
    )


def _read_by_ocr(filename: str, data: bytes, on_page: Callable[[int, int], None] | None) -> ParsedDocument:
    """Each frame of the image (a TIFF's pages) read by OCR, offline, one part per page."""
    from PIL import ImageSequence

    from core.parsing.pdf import ocr_warnings

    image = _opened(filename, data)
    most = limits.current().max_ocr_pages
    parts, confidence = [], {}
    frames = getattr(image, "n_frames", 1)
    if frames > most:
        raise ParseError(f"{filename} has {frames:,} pages, over the {most:,} OCR may read (WORKBENCH_MAX_OCR_PAGES).")
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        width, height = frame.size  # from the frame's header: checked before its pixels are decoded
        if width * height > ocr.MAX_PIXELS:
            raise ParseError(f"{filename}, page {number} is {width:,} × {height:,} pixels: too large to read.")
        started = time.monotonic()
        read = ocr.read(frame.copy(), where=f"{filename}, page {number}")
        limits.ocr_page(number, time.monotonic() - started)
        confidence[number] = read.confidence
        parts.append(Part(read.text, page=number))
        limits.tell(on_page, number, frames)
    if not any(p.text.strip() for p in parts):
        raise ParseError(f"{filename} shows no text that OCR could read; a vision model can describe it instead.")
    pages = len(parts)
    return assemble(filename, parts, title=filename, page_count=pages, warnings=ocr_warnings(confidence))


def _opened(filename: str, data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ParseError(f"{filename} is an image too large to read safely (a decompression bomb?).") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ParseError(f"{filename} is not a readable image (it may be damaged).") from exc
    width, height = image.size
    if width * height > ocr.MAX_PIXELS:
        raise ParseError(
            f"{filename} is {width:,} × {height:,} pixels: too large to read ({ocr.MAX_PIXELS:,} pixels at most)."
        )
    return image


def _sendable(filename: str, data: bytes) -> tuple[bytes, str]:
    """The image as PNG/JPEG/GIF/WEBP no larger than MAX_SIDE, checked to be a real image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ParseError(f"{filename} is not a readable image (it may be damaged).") from exc
    if image.format in SENDABLE and max(image.size) <= MAX_SIDE:
        return data, SENDABLE[image.format]
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"
