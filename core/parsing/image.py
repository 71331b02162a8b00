"""Images: described in words by a vision model through LiteLLM, so that they can be searched."""

from __future__ import annotations

import io

from core import llm
from core.errors import InvalidInput, ModelError, ParseError
from core.parsing.document import Part, assemble
from core.parsing.options import ParseOptions
from core.records import ParsedDocument

SENDABLE = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_SIDE = 2048  # larger images are scaled down before they are sent


def parse_image(filename: str, data: bytes, options: ParseOptions) -> ParsedDocument:
    if not options.vision_model:
        raise InvalidInput(
            f"{filename} is an image; reading images needs a vision model. Set WORKBENCH_VISION_MODEL "
            "(for example openai/gpt-4o-mini or ollama/llava) or choose a vision model for this upload."
        )
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
