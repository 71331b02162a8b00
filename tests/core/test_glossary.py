"""Measures analysts name but filings do not print: the glossary finds their line items, offline, and leaves every
other question alone; an owner's own terms are read, checked and searched."""

from __future__ import annotations

import pytest

from core import glossary
from core.errors import InvalidInput
from core.ingest import Upload
from core.options import Mode, SearchOptions, Unit
from core.workbench import Workbench


def test_a_question_naming_a_measure_is_asked_again_in_its_line_items() -> None:
    [expansion] = glossary.expansions("What was 3M's FY2018 capex in USD millions?")
    assert expansion.asked == "capex"
    assert expansion.query.startswith("What was 3M's FY2018 purchases of property, plant and equipment")
    assert expansion.note.startswith("capex → purchases of property, plant and equipment")


def test_the_longest_name_wins_and_an_abbreviation_is_a_whole_word() -> None:
    assert [t.label for t, _ in glossary.named("Is EBITDA margin improving?")] == ["ebitda"]  # not EBIT
    assert [t.label for t, _ in glossary.named("What is the quick ratio and the current ratio?")] == [
        "quick ratio",
        "current ratio",
    ]
    assert glossary.named("The Ebitdas of a tribe") == []


@pytest.mark.parametrize(
    "question",
    [
        "0-dimensional biomaterials show inductive properties.",
        "ALDH1 expression is associated with poorer prognosis for breast cancer primary tumors.",
        "How do I make sourdough bread?",
        "When do zebras migrate across the Serengeti?",
    ],
)
def test_other_questions_name_no_measure(question: str) -> None:
    assert glossary.expansions(question) == []


def test_an_owners_terms_are_read_line_by_line_and_refused_in_words() -> None:
    terms = glossary.parse_terms(
        "# our words\nARR = annual recurring revenue; subscription revenue\n\nNRR=net revenue retention\n"
    )
    assert terms == {"ARR": "annual recurring revenue; subscription revenue", "NRR": "net revenue retention"}
    assert glossary.format_terms(terms).splitlines()[0] == "ARR = annual recurring revenue; subscription revenue"
    with pytest.raises(InvalidInput, match="Line 2 of the glossary should read 'measure = line item; line item'"):
        glossary.parse_terms("ARR = annual recurring revenue\njust words")
    [expansion] = glossary.expansions("How did ARR grow?", glossary.store_terms(terms))
    assert expansion.query == "How did annual recurring revenue, subscription revenue grow?"


def test_a_stores_own_term_finds_its_line_items(workbench: Workbench) -> None:
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "saas")
    workbench.documents.ingest(admin, "saas", [
        Upload("kpi.txt", b"Annual recurring revenue reached 41.2 million at year end."),
        Upload("hr.txt", b"Headcount grew to 120 engineers across three offices."),
    ])  # fmt: skip
    words = SearchOptions(mode=Mode.FULLTEXT, unit=Unit.CHUNK)
    assert workbench.search.run(admin, "saas", "What was ARR?", options=words) == []
    store = workbench.stores.set_glossary(admin, "saas", "ARR = annual recurring revenue")
    assert store.glossary == {"ARR": "annual recurring revenue"}
    [hit, *_] = workbench.search.run(admin, "saas", "What was ARR?", options=words)
    assert (
        hit.filename == "kpi.txt"
        and hit.breakdown is not None
        and hit.breakdown.expansion == "ARR → annual recurring revenue"
    )
    assert workbench.stores.set_glossary(admin, "saas", "").glossary == {}  # (who may: the permission matrix)


def test_a_term_without_line_items_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Line 1 of the glossary names no line item"):
        glossary.parse_terms("ARR = ;")
