"""OpenAI-style filters as conditions on documents: every comparison, and/or nesting, and refusals in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.conditions import Facts, matches, parse
from core.errors import InvalidInput

MEMO = Facts(
    "d1", "Q3 Memo.PDF", datetime(2024, 5, 1, tzinfo=UTC), {"lang": "en", "year": 2024, "draft": False, "rating": "7.5"}
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "eq", "key": "lang", "value": "en"}, True),
        ({"type": "eq", "key": "lang", "value": "EN"}, False),  # attribute values keep their case
        ({"type": "ne", "key": "lang", "value": "fr"}, True),
        ({"type": "ne", "key": "missing", "value": "x"}, True),
        ({"type": "eq", "key": "missing", "value": "x"}, False),
        ({"type": "gt", "key": "year", "value": 2023}, True),
        ({"type": "gte", "key": "year", "value": 2024}, True),
        ({"type": "lt", "key": "year", "value": 2024}, False),
        ({"type": "lte", "key": "rating", "value": 7.5}, True),  # text holding a number compares as a number
        ({"type": "eq", "key": "year", "value": 2024.0}, True),
        ({"type": "eq", "key": "draft", "value": False}, True),
        ({"type": "in", "key": "type", "value": ["docx", ".PDF"]}, True),  # the file type, without dot or case
        ({"type": "nin", "key": "filename", "value": ["Q3 Memo.PDF"]}, False),
        ({"type": "gte", "key": "created_at", "value": int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())}, True),
        ({"type": "lt", "key": "created_at", "value": "2024-04-30"}, False),  # a date written as text
        ({"type": "eq", "key": "file_id", "value": "d1"}, True),
        (
            {
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "lang", "value": "fr"},
                    {
                        "type": "and",
                        "filters": [
                            {"type": "eq", "key": "type", "value": "pdf"},
                            {"type": "gt", "key": "year", "value": 2020},
                        ],
                    },
                ],
            },
            True,
        ),
        (
            {
                "type": "and",
                "filters": [{"type": "eq", "key": "lang", "value": "en"}, {"type": "eq", "key": "year", "value": 1999}],
            },
            False,
        ),
    ],
)
def test_each_comparison(spec: dict[str, object], expected: bool) -> None:
    assert matches(parse(spec), MEMO) is expected


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"type": "like", "key": "a", "value": "b"}, "Unknown filter type 'like'"),
        ({"type": "eq", "value": "b"}, "needs a key"),
        ({"type": "eq", "key": "chunk_index", "value": 1}, "cannot filter by 'chunk_index'"),
        ({"type": "in", "key": "a", "value": []}, "non-empty list"),
        ({"type": "in", "key": "a", "value": [{"x": 1}]}, "text, numbers or true/false"),
        ({"type": "eq", "key": "a", "value": None}, "one text, number or true/false"),
        ({"type": "or", "filters": "x"}, "non-empty list of filters"),
        ("lang=en", "A filter is an object"),
    ],
)
def test_what_cannot_be_kept_is_refused(spec: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse(spec)


def test_a_filter_nested_too_deep_is_refused() -> None:
    spec: dict[str, object] = {"type": "eq", "key": "a", "value": 1}
    for _ in range(10):
        spec = {"type": "and", "filters": [spec]}
    with pytest.raises(InvalidInput, match="nest 8 levels"):
        parse(spec)
