"""Conditions on documents, combined with and/or: the filters of OpenAI's vector-store search, evaluated against
the catalog's documents (their name, type, upload time, id and attributes) before the backends are asked.

A condition on something a document does not have a value for in the catalog (a page, a chunk) cannot be kept
here and is refused in words, never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import InvalidInput

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMBINATIONS = ("and", "or")
NAME_KEYS = ("filename", "document", "file_name")
TYPE_KEYS = ("type", "extension", "file_type")
TIME_KEYS = ("created_at", "uploaded_at", "date")
ID_KEYS = ("file_id", "document_id")
CHUNK_KEYS = ("page", "pages", "chunk_index", "chunk", "location", "score", "text")
MAX_DEPTH = 8
MAX_CONDITIONS = 64

Scalar = str | int | float | bool
Value = Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    key: str
    value: Value


@dataclass(frozen=True)
class Combine:
    op: str  # and, or
    items: tuple[Compare | Combine, ...]


Condition = Compare | Combine


@dataclass(frozen=True)
class Facts:
    """What a condition is evaluated against: one document as the catalog knows it."""

    id: str
    filename: str
    created_at: datetime
    attributes: Mapping[str, object]


def parse(spec: object, *, depth: int = 0, count: list[int] | None = None) -> Condition:
    """A condition from OpenAI's JSON filter: {type, key, value} or {type: and|or, filters: [...]}."""
    count = count if count is not None else [0]
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_CONDITIONS:
        raise InvalidInput(f"A filter may nest {MAX_DEPTH} levels and hold {MAX_CONDITIONS} conditions at most.")
    if not isinstance(spec, Mapping):
        raise InvalidInput('A filter is an object such as {"type": "eq", "key": "lang", "value": "en"}.')
    kind = spec.get("type")
    if kind in COMBINATIONS:
        items = spec.get("filters")
        if not isinstance(items, Sequence) or isinstance(items, str) or not items:
            raise InvalidInput(f"An '{kind}' filter needs a non-empty list of filters.")
        return Combine(str(kind), tuple(parse(i, depth=depth + 1, count=count) for i in items))
    if kind not in COMPARISONS:
        known = ", ".join((*COMPARISONS, *COMBINATIONS))
        raise InvalidInput(f"Unknown filter type '{kind}'. Use one of: {known}.")
    key, value = spec.get("key"), spec.get("value")
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"A '{kind}' filter needs a key (an attribute name, filename, type or created_at).")
    if key in CHUNK_KEYS:
        raise InvalidInput(
            f"Search cannot filter by '{key}': filters choose documents (by filename, type, created_at, file_id "
            "or their attributes), not places within them."
        )
    if kind in ("in", "nin"):
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise InvalidInput(f"An '{kind}' filter needs a non-empty list of values for '{key}'.")
        if not all(isinstance(v, Scalar) for v in value):
            raise InvalidInput(f"The values of an '{kind}' filter on '{key}' are text, numbers or true/false.")
        return Compare(str(kind), key, tuple(_normal(key, v) for v in value))
    if not isinstance(value, Scalar):
        raise InvalidInput(f"A '{kind}' filter on '{key}' compares with one text, number or true/false value.")
    if kind in ("gt", "gte", "lt", "lte") and isinstance(value, bool):
        raise InvalidInput(f"'{kind}' compares numbers, dates or text, not true/false ('{key}').")
    return Compare(str(kind), key, _normal(key, value))


def _normal(key: str, value: Scalar) -> Scalar:
    """A file type is compared without its dot and case: "PDF", ".pdf" and "pdf" are one type."""
    return str(value).lower().lstrip(".") if key in TYPE_KEYS else value


def matches(condition: Condition, facts: Facts) -> bool:
    if isinstance(condition, Combine):
        results = (matches(i, facts) for i in condition.items)
        return all(results) if condition.op == "and" else any(results)
    actual = _actual(condition.key, facts)
    op, wanted = condition.op, condition.value
    if op in ("in", "nin"):
        found = actual is not None and any(_equal(actual, w) for w in wanted)  # type: ignore[union-attr]
        return found if op == "in" else not found
    if op == "ne":
        return actual is None or not _equal(actual, wanted)
    if actual is None:
        return False
    if op == "eq":
        return _equal(actual, wanted)
    ordered = _ordered(actual, wanted)
    if ordered is None:
        return False
    a, b = ordered
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]  # type: ignore[operator]


def _actual(key: str, facts: Facts) -> object:
    if key in NAME_KEYS:
        return facts.filename
    if key in TYPE_KEYS:
        return facts.filename.rsplit(".", 1)[-1].lower() if "." in facts.filename else ""
    if key in TIME_KEYS:
        return facts.created_at.timestamp()
    if key in ID_KEYS:
        return facts.id
    return facts.attributes.get(key)


def _equal(actual: object, wanted: object) -> bool:
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return str(actual).lower() == str(wanted).lower()
    number = _numbers(actual, wanted)
    if number is not None:
        return number[0] == number[1]
    return str(actual) == str(wanted)


def _numbers(actual: object, wanted: object) -> tuple[float, float] | None:
    try:
        return float(actual), float(wanted)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _ordered(actual: object, wanted: object) -> tuple[float, float] | tuple[str, str] | None:
    number = _numbers(actual, wanted)
    if number is not None:
        return number
    if isinstance(actual, float) and isinstance(wanted, str):  # a time compared with a date written as text
        try:
            when = datetime.fromisoformat(wanted)
        except ValueError:
            return None
        return actual, (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return str(actual), str(wanted)
