"""Search, Chat and Usage pages: each mode, the compare view, a cited answer, a stopped stream, usage charts."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from core.ingest import Upload
from core.options import AnswerMode, AskOptions, Fusion, SearchOptions
from core.records import Channel, MessageStatus, Role, UsageEvent
from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as, settled, texts
from tests.conftest import filing_pages, make_pdf


@pytest.fixture
def kb(workbench: Workbench) -> Workbench:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "vic", password=PASSWORD)
    workbench.users.add(workbench.actor("admin"), "sam", password=PASSWORD)
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.stores.grant(workbench.actor("admin"), "kb", "vic", Role.VIEWER)
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("filing.pdf", make_pdf(filing_pages(6))), Upload("notes.txt", b"Zebra herds also cross rivers.")],
    )
    return workbench


def _cards(at) -> list[str]:  # type: ignore[no-untyped-def]
    """Each result card's header, as the analyst reads it (names reach Markdown escaped: the escapes are dropped)."""
    headers = [re.sub(r"\\(.)", r"\1", str(m.value)) for m in at.markdown]
    return [h for h in headers if h.startswith("**") and ". " in h]


@pytest.mark.parametrize("mode", ["vector", "fulltext", "hybrid"])
def test_search_in_each_mode_finds_the_page(kb: Workbench, mode: str) -> None:
    at = page_as(kb, "search", "vic").run()
    at.text_input(key="search_query").input("Zebras migrate across the Serengeti plains")
    at.run()
    at.segmented_control(key="a_mode").set_value(mode).run()
    assert not at.exception
    cards = _cards(at)
    assert cards and any("filing.pdf** · Page 3 ·" in c for c in cards[:2]), cards


def test_a_hit_opens_its_chunk_on_the_documents_page(kb: Workbench) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP, signed_in

    at = AppTest.from_file(APP, default_timeout=120)  # the whole app: switching pages needs its navigation
    signed_in(at, kb, "vic").run()
    at.switch_page("pages/search.py").run()
    at.text_input(key="search_query").input("Zebras migrate across the Serengeti plains").run()
    rank, hit = next((n, c) for n, c in enumerate(_cards(at), 1) if "filing.pdf** · Page" in c)  # one with a page
    at.button(key=f"open_a_{rank}").click().run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Documents"]
    assert at.selectbox(key="documents_store").value == "kb"
    opened = [e for e in at.expander if e.label.startswith("Chunk ")]
    assert opened and hit.split("** · ")[1].split(" ·")[0] in " ".join(e.label for e in opened)  # its page


def test_the_compare_view_marks_a_moved_result(kb: Workbench) -> None:
    at = page_as(kb, "search", "admin").run()
    at.text_input(key="search_query").input("zebras")
    at.toggle(key="search_compare").set_value(True).run()
    at.segmented_control(key="a_mode").set_value("fulltext")
    at.segmented_control(key="b_mode").set_value("vector").run()
    assert not at.exception
    cards = _cards(at)
    assert len(cards) > 5 and any("badge[up" in c or "badge[down" in c or "badge[new]" in c for c in cards)
    assert sum(bool(re.search(r"\d+ results? in [\d.]+ s", c.value)) for c in at.caption) == 2  # each side's time


def test_chat_answers_with_a_cited_source_and_keeps_the_conversation(kb: Workbench) -> None:
    at = page_as(kb, "chat", "vic").run()
    at.chat_input(key="chat_input").set_value("When do zebras migrate across the Serengeti?").run()
    settled(at, kb, "vic")
    assert not at.exception
    [conversation] = kb.chat.conversations(kb.actor("vic"))
    _, messages = kb.chat.conversation(kb.actor("vic"), conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"] and messages[1].content
    assert any(s.filename == "filing.pdf" and s.page == 3 for s in messages[1].sources)
    assert at.session_state["conversation"] == conversation.id
    labels = [e.label for e in at.expander]
    assert any(label.startswith("[") and "filing.pdf" in label for label in labels) or "Also retrieved" in texts(at)


def test_a_cited_source_opens_on_its_pages_text(kb: Workbench, mock_chat: Callable[[str], None]) -> None:
    question = "When do zebras migrate across the Serengeti?"
    hits = kb.search.run(kb.actor("vic"), "kb", question)  # the chat numbers its sources in this order
    n = next(rank for rank, h in enumerate(hits, 1) if h.filename == "filing.pdf" and h.page == 3)
    mock_chat(f"Zebras cross the Serengeti plains in the dry season [{n}].")
    at = page_as(kb, "chat", "vic").run()
    at.chat_input(key="chat_input").set_value(question).run()
    settled(at, kb, "vic")
    assert not at.exception
    [cited] = [e for e in at.expander if e.label.startswith(f"\\[{n}\\] ")]  # as Markdown sees it: escaped
    assert "filing\\.pdf · Page 3" in cited.label
    inside = " ".join(str(c.value) for c in cited.caption) + " ".join(str(t.value) for t in cited.text)
    assert "Page 3 (the cited one)" in inside and "Serengeti" in inside
    assert "Also retrieved, not cited:" in texts(at)  # the other sources, apart


def test_a_stopped_answer_is_shown_as_stopped(kb: Workbench) -> None:
    options = AskOptions(mode=AnswerMode.GENERATIVE)  # a written answer streams in pieces (a quoted one is whole)
    stream, answer = kb.chat.ask(kb.actor("vic"), "kb", "Tell me all about the zebras.", options=options)
    next(stream)
    stream.close()
    at = page_as(kb, "chat", "vic")
    at.session_state["conversation"] = answer.conversation_id
    at.run()
    assert not at.exception and "Stopped before the end." in texts(at)
    assert kb.chat.conversation(kb.actor("vic"), answer.conversation_id)[1][1].status is MessageStatus.STOPPED


def test_usage_charts_for_those_who_may_see_them(kb: Workbench) -> None:
    kb.catalog.record_usage(
        UsageEvent("chat", "vic", "local/smollm2-135m", stores=("kb",), prompt_tokens=10, latency_ms=50)
    )
    admin = page_as(kb, "usage", "admin").run()
    assert not admin.exception and len(admin.get("vega_lite_chart")) >= 5
    stranger = page_as(kb, "usage", "sam").run()
    assert not stranger.exception and not stranger.get("vega_lite_chart") and "No use in this period" in texts(stranger)


def test_usage_narrows_to_the_api_and_one_key(kb: Workbench) -> None:
    key = kb.keys.create(kb.actor("vic"), "notebook").key
    kb.usage.call(
        kb.keys.authenticate(kb.keys.create(kb.actor("vic"), "other").secret),
        "GET /v1/models",
        latency_ms=3,
        status=200,
    )
    for status in (200, 404):
        kb.usage.call(kb.actor("vic", Channel.API, key_id=key.id), "GET /v1/vector_stores", latency_ms=5, status=status)
    at = page_as(kb, "usage", "admin").run()
    assert set(at.selectbox(key="usage_key").options) >= {"notebook (" + key.prefix + "…)"}
    at.selectbox(key="usage_channel").set_value("api")
    at.selectbox(key="usage_key").set_value(key.id).run()
    assert not at.exception
    assert [m.value for m in at.metric][:1] == ["2"] and [m.value for m in at.metric][3] == "1"  # 2 requests, 1 failed


def test_saved_settings_become_the_stores_default_and_filters_narrow_the_search(kb: Workbench) -> None:
    from core.options import IngestOptions

    kb.documents.ingest(kb.actor("admin"), "kb", [Upload("ops.txt", b"Zebra feeding schedule for the ops team.")], options=IngestOptions(metadata={"team": "ops"}))  # fmt: skip
    at = page_as(kb, "search", "admin").run()
    at.slider(key="a_top_k").set_value(3).run()
    at.button(key="save_defaults").click().run()
    assert kb.stores.search_defaults(kb.actor("admin"), "kb").top_k == 3
    chat = page_as(kb, "chat", "vic").run()
    assert chat.slider(key="chat_top_k").value == 3  # the chat starts from the store's saved settings
    viewer = page_as(kb, "search", "vic").run()
    assert not [b for b in viewer.button if b.key == "save_defaults"]  # a viewer may not save them
    at.text_input(key="search_query").input("zebra").run()
    assert not at.exception, at.exception
    at.text_input(key="search_metadata").input("team=ops").run()
    assert [c.split("** ·")[0] for c in _cards(at)] == ["**1. ops.txt"]


def test_evaluate_runs_a_question_set_and_charts_the_settings(kb: Workbench) -> None:
    questions = (
        b"question,document,pages\nWhen do zebras migrate?,filing.pdf,3\nWhat dividend was approved?,filing.pdf,5\n"
    )
    at = page_as(kb, "evaluate", "vic").run()
    at.file_uploader(key="eval_file").upload("set.csv", questions, "text/csv").run()
    assert not at.exception and "2 questions." in texts(at)
    at.button(key="eval_run").click().run()
    assert not at.exception
    assert at.get("vega_lite_chart"), "no chart of the metrics"
    table = at.dataframe[0].value
    assert list(table["setting"]) == ["hybrid RRF", "vector"] and table["recall@5"].min() == 1.0
    at.text_input(key="eval_set_name").input("filing checks").run()
    at.button(key="eval_save").click().run()
    assert [s["name"] for s in kb.evaluations.sets(kb.actor("vic"), "kb")] == ["filing checks"]


def test_evaluate_explains_a_bad_question_file(kb: Workbench) -> None:
    at = page_as(kb, "evaluate", "vic").run()
    at.file_uploader(key="eval_file").upload("set.csv", b"query,doc\nx,y\n", "text/csv").run()
    assert not at.exception and any("columns question and document" in e.value for e in at.error)


def test_chat_answers_with_every_saved_search_setting(kb: Workbench) -> None:
    saved = SearchOptions.parse("mode=hybrid fusion=weighted weight=0.9 threshold=0.01 candidates=80 top_k=4")
    kb.stores.set_search_defaults(kb.actor("admin"), "kb", saved)
    at = page_as(kb, "chat", "vic").run()
    at.chat_input(key="chat_input").set_value("When do zebras migrate?").run()
    settled(at, kb, "vic")
    assert not at.exception
    [conversation] = kb.chat.conversations(kb.actor("vic"))
    assert SearchOptions.from_settings(conversation.options) == saved  # weight, threshold and candidates kept
    assert AskOptions.from_settings(conversation.options).search == saved


def test_each_evaluate_preset_runs_what_its_label_says(kb: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.workbench import search

    ran: dict[str, SearchOptions] = {}
    real = search.evaluation.evaluate
    monkeypatch.setattr(
        search.evaluation,
        "evaluate",
        lambda ask, qs, settings, **kw: ran.update(settings) or real(ask, qs, settings, **kw),
    )
    at = page_as(kb, "evaluate", "vic").run()
    at.file_uploader(key="eval_file").upload(
        "set.csv", b"question,document\nWhen do zebras migrate?,filing.pdf\n", "text/csv"
    )
    at.run()
    every = at.multiselect(key="eval_settings").options
    at.multiselect(key="eval_settings").set_value(every).run()
    at.button(key="eval_run").click().run()
    assert not at.exception and len(ran) == len(every) >= 5
    assert ran["hybrid RRF"].fusion is Fusion.RRF and ran["hybrid weighted 0.7"].weight == 0.7
    for label, options in ran.items():
        assert label.removeprefix("saved: ") == options.describe()


def test_an_answer_with_an_invented_figure_is_flagged_on_the_page(
    kb: Workbench, mock_chat: Callable[[str], None]
) -> None:
    mock_chat("Zebras migrate across the Serengeti 75469 times a year [1].")
    at = page_as(kb, "chat", "vic").run()
    at.radio(key="chat_answer_extractive").set_value(AnswerMode.GENERATIVE).run()
    at.chat_input(key="chat_input").set_value("How often do zebras migrate across the Serengeti?").run()
    settled(at, kb, "vic")
    assert not at.exception
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("1 figure in this answer does not appear in the sources: 75469.")
    assert any(":orange-background[75469]" in str(m.value) for m in at.markdown)  # marked in the text
    [conversation] = kb.chat.conversations(kb.actor("vic"))
    _, [_, saved] = kb.chat.conversation(kb.actor("vic"), conversation.id)
    assert saved.grounding is not None and saved.grounding.figures == ("75469",)


def test_offline_chat_quotes_the_documents_by_default(kb: Workbench) -> None:
    at = page_as(kb, "chat", "vic").run()
    assert at.radio(key="chat_answer_extractive").value is AnswerMode.EXTRACTIVE
    at.chat_input(key="chat_input").set_value("When do zebras migrate across the Serengeti?").run()
    settled(at, kb, "vic")
    assert not at.exception and not at.warning
    assert any(str(m.value).startswith("From the documents:") and "Serengeti" in str(m.value) for m in at.markdown)
    assert "Quoted from the documents, word for word." in texts(at)


def test_evaluate_scores_answers_against_the_expected_ones(kb: Workbench) -> None:
    questions = (
        b"question,document,pages,answer\nWhat dividend did the board approve?,filing.pdf,5,45 cents per share\n"
    )
    at = page_as(kb, "evaluate", "vic").run()
    at.file_uploader(key="eval_file").upload("set.csv", questions, "text/csv").run()
    at.multiselect(key="eval_answer_modes").set_value(["extractive"]).run()
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    answers = next(d.value for d in at.dataframe if "key fact" in d.value.columns)
    assert list(answers["setting"]) == ["extractive"] and answers["key fact"][0] == 1.0
    assert answers["evidence cited"][0] == 1.0 and answers["refused"][0] == 0.0
