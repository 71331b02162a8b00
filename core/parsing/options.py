"""What a parser may be told beyond the file itself: the vision model and the archive limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput
from core.parsing.limits import Limits

DEFAULT_VISION_PROMPT = (
    "Describe this image for a search index. Transcribe every piece of text, number and label exactly; "
    "for charts and tables give the values; then describe what the image shows in a few sentences."
)
OCR_MODES = ("auto", "always", "never")  # which pages and images OCR reads: those with no text layer, all, none


def check_ocr(mode: str) -> str:
    """An OCR choice as given, refused in words unless it is one of OCR_MODES."""
    if mode not in OCR_MODES:
        raise InvalidInput(f"OCR is auto, always or never, not '{mode}'.")
    return mode


DEFAULT_MAX_UNZIPPED_MB = 1024
DEFAULT_MAX_ZIP_RATIO = 200


@dataclass(frozen=True)
class ParseOptions:
    vision_model: str = ""
    vision_prompt: str = DEFAULT_VISION_PROMPT
    vision_params: Mapping[str, Any] = field(default_factory=dict)  # extra LiteLLM arguments
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_MB * 2**20
    max_zip_ratio: int = DEFAULT_MAX_ZIP_RATIO
    limits: Limits = field(default_factory=Limits)
    on_usage: Callable[[str, Any], None] | None = field(default=None, compare=False)
    ocr: str = "auto"  # scanned pages and images: auto (pages with no text layer), always, never
    ocr_first: int = 0  # a preview reads only this many scanned pages (0: all); the upload itself reads them all
    # told after each page read by OCR (pages read, pages to read): progress, and where a cancel stops the work
    on_page: Callable[[int, int], None] | None = field(default=None, compare=False)
