"""JSON: pretty-printed; arrays (top-level, or the values of a top-level object) split by element."""

from __future__ import annotations

import json

from core.errors import ParseError
from core.parsing import limits
from core.parsing.document import Part, assemble
from core.parsing.text import decode
from core.records import ParsedDocument


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def parse_json(filename: str, data: bytes) -> ParsedDocument:
    try:
        value = json.loads(decode(filename, data))
    except json.JSONDecodeError as exc:
        raise ParseError(f"{filename} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    limits.check_depth(filename, value)  # pretty-printing indents every level: depth costs space squared
    parts: list[Part] = []
    if isinstance(value, list):
        parts = [Part(_pretty(item), heading=f"[{i}]") for i, item in enumerate(value)]
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list) and len(item) > 1:
                parts.extend(Part(_pretty(element), heading=f"{key}[{i}]") for i, element in enumerate(item))
            else:
                parts.append(Part(f"{json.dumps(key, ensure_ascii=False)}: {_pretty(item)}", heading=str(key)))
    else:
        parts = [Part(_pretty(value))]
    return assemble(filename, parts)
