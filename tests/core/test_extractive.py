"""The offline answer quotes what answers the question: the row or sentence with the asked measure, period and figure,
never boilerplate, never a passage that shares no word with the question; the documents that do not say are said so."""

from __future__ import annotations

import numpy as np
import pytest

from core import extractive
from core.embedding import MINILM, get_embedder
from core.ingest import Upload
from core.options import AnswerMode, AskOptions
from core.records import Hit
from core.workbench import Workbench

STORE_PAGE = """Investor relations: www.investors.bestbuy.com or call (612) 291-1000.
This report contains forward-looking statements about our plans to close stores.
We expect to close 20 to 30 stores in fiscal 2024 as leases expire.
Best Buy Mobile 32 33
Store count at the end of each fiscal year
Fiscal 2023 Fiscal 2022
Domestic stores 978 1,000
International stores 160 160
Total stores 1,138 1,160"""
OTHER_PAGE = """Our customers shop online and in our stores across the United States and Canada.
Best Buy Co., Inc. 7601 Penn Avenue South, Richfield, Minnesota 55423."""


def hit(text: str, page: int) -> Hit:
    return Hit(text=text, score=0.5, document_id="d", filename="bestbuy-10k.pdf", chunk_index=page, start=0,
               end=len(text), page=page)  # fmt: skip


def embed(texts: list[str]) -> np.ndarray:
    return get_embedder(MINILM).embed(texts)


def test_a_count_question_quotes_the_table_row_not_the_outlook_or_the_web_address() -> None:
    hits = [hit(OTHER_PAGE, 4), hit(STORE_PAGE, 31)]
    text = extractive.answer("How many Best Buy stores were there at the end of fiscal 2023?", hits, embed)
    first = text.splitlines()[1]
    assert "stores 978 1,000" in first or "Total stores 1,138 1,160" in first, text
    assert "Fiscal 2023 Fiscal 2022 |" in first  # the row keeps its column header
    assert "www." not in text and "(612)" not in text and "Penn Avenue" not in text
    assert "forward-looking" not in text


def test_boilerplate_is_never_a_candidate() -> None:
    quoted = {p.text for p in extractive.passages([hit(STORE_PAGE, 31), hit(OTHER_PAGE, 4)])}
    assert not any("www." in p or "forward-looking" in p or "Penn Avenue" in p for p in quoted)
    assert any("Domestic stores 978" in p for p in quoted)


def test_a_passage_that_shares_no_word_with_the_question_is_never_quoted() -> None:
    assert extractive.answer("What is the recipe for banana bread?", [hit(STORE_PAGE, 31)], embed) == ""


def test_a_change_the_question_asks_for_is_computed_from_the_quoted_row_with_its_working() -> None:
    page = "(in millions) 2015 2016 2017\nTotal net sales 107,006 135,987 177,866\nNet income 596 2,371 3,033"
    text = extractive.answer(
        "What is Amazon's year-over-year change in revenue from FY2016 to FY2017?", [hit(page, 38)], embed
    )
    assert "Total net sales 107,006 135,987 177,866" in text
    assert "(177,866 − 135,987) / 135,987 = 30.8% [1]" in text


@pytest.fixture
def orchard(workbench: Workbench) -> Workbench:
    me = workbench.actor("admin")
    workbench.stores.create(me, "mixed")
    report = (
        "Turbine inspection report. The blade root bolts were torqued to 450 newton metres. Vibration at the main "
        "bearing stayed below 4.5 millimetres per second during the 72-hour test run. The gearbox oil was replaced."
    )
    history = (
        "A short history of the Valley Orchard Cooperative. Founded in 1921 by eleven apple growers, the cooperative "
        "built its first cold store in 1948 and now packs 30,000 tonnes of apples and pears each autumn."
    )
    workbench.documents.ingest(
        me, "mixed", [Upload("turbine.txt", report.encode()), Upload("orchard.txt", history.encode())]
    )
    return workbench


def test_a_baking_question_asked_of_turbines_and_orchards_is_refused(orchard: Workbench) -> None:
    stream, answer = orchard.chat.ask(orchard.actor("admin"), "mixed", "What is the recipe for banana bread?",
                                      options=AskOptions(mode=AnswerMode.EXTRACTIVE))  # fmt: skip
    text = "".join(stream)
    assert answer.refused and "do not" in text and "“" not in text
    assert answer.citations == []


def test_a_question_the_documents_answer_is_quoted_from_them(orchard: Workbench) -> None:
    stream, answer = orchard.chat.ask(orchard.actor("admin"), "mixed", "When was the cooperative's first cold store built?",
                                      options=AskOptions(mode=AnswerMode.EXTRACTIVE))  # fmt: skip
    text = "".join(stream)
    assert not answer.refused and "1948" in text and [c.filename for c in answer.citations] == ["orchard.txt"]


@pytest.mark.timeout(120)  # bounded repeats: a long run of dots and dashes is read at once, not backtracked over
def test_a_hostile_chunk_is_cut_into_candidates_without_hanging() -> None:
    for text in ("1.2." * 10_000, "1-2-" * 10_000, "signature " * 5_000, "form 10-k " * 5_000):
        extractive.passages([hit(text, 1)])
    assert extractive.passages([hit("Read more at investors.example.com today, said the company.", 1)]) == []
