"""Conversations: titled, listed, renamed, deleted; answers saved with their sources however the stream ends."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from core import llm, localmodel, rag
from core.errors import InvalidInput, ModelError, NotFound
from core.ingest import Upload
from core.options import AnswerMode, AskOptions, Reranker, SearchOptions
from core.records import Hit, MessageStatus
from core.workbench import Workbench
from tests.conftest import filing_pages, make_pdf

REMOTE = AskOptions(model="openai/gpt-4o-mini", search=SearchOptions(top_k=3, min_relevance=0.0))  # not about refusal


@pytest.fixture
def kb(workbench: Workbench) -> Workbench:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.stores.create(workbench.actor("admin"), "travel")
    workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("filing.pdf", make_pdf(filing_pages(5)))])
    workbench.documents.ingest(
        workbench.actor("admin"), "travel", [Upload("travel.txt", b"Hotels are reimbursed up to 180 EUR a night.")]
    )
    return workbench


def _ask(wb: Workbench, stores: str, question: str, **kwargs: Any) -> rag.Answer:
    stream, answer = wb.chat.ask(wb.actor("admin"), stores, question, **kwargs)
    "".join(stream)
    return answer


def test_a_conversation_is_titled_listed_renamed_and_deleted(kb: Workbench, mock_chat) -> None:  # type: ignore[no-untyped-def]
    mock_chat("Zebras migrate in July [1].")
    first = _ask(kb, "kb", "When do zebras migrate across the Serengeti?", options=REMOTE)
    second = _ask(kb, "kb,travel", "What is the hotel limit?", options=REMOTE)
    listed = kb.chat.conversations(kb.actor("admin"))
    assert [c.id for c in listed] == [second.conversation_id, first.conversation_id]  # the most recent first
    assert listed[1].title == "When do zebras migrate across the Serengeti?" and listed[0].stores == ("kb", "travel")
    assert listed[1].options["model"] == "openai/gpt-4o-mini" and listed[1].options["top_k"] == 3
    renamed = kb.chat.rename(kb.actor("admin"), first.conversation_id, "Zebra migration")
    assert renamed.title == "Zebra migration"
    with pytest.raises(InvalidInput):
        kb.chat.rename(kb.actor("admin"), first.conversation_id, "  ")
    kb.chat.delete(kb.actor("admin"), first.conversation_id)
    assert [c.id for c in kb.chat.conversations(kb.actor("admin"))] == [second.conversation_id]
    with pytest.raises(NotFound):
        kb.chat.conversation(kb.actor("admin"), first.conversation_id)


def test_a_reloaded_conversation_shows_its_cited_and_retrieved_sources(kb: Workbench, mock_chat) -> None:  # type: ignore[no-untyped-def]
    mock_chat("Zebras migrate in July [1].")
    answer = _ask(kb, "kb", "When do zebras migrate across the Serengeti?", options=REMOTE)
    _, messages = kb.chat.conversation(kb.actor("admin"), answer.conversation_id)
    question, reply = messages
    assert (question.role, question.content) == ("user", "When do zebras migrate across the Serengeti?")
    assert reply.status is MessageStatus.COMPLETE and reply.model == "openai/gpt-4o-mini"
    assert [c.page for c in reply.citations] == [3] and reply.citations == tuple(answer.citations)
    assert len(reply.sources) == 3 and reply.id == answer.message_id


def test_feedback_is_kept_with_the_answer(kb: Workbench, mock_chat) -> None:  # type: ignore[no-untyped-def]
    mock_chat("Zebras migrate in July [1].")
    answer = _ask(kb, "kb", "When do zebras migrate?", options=REMOTE)
    assert answer.message_id is not None
    kb.chat.feedback(kb.actor("admin"), answer.message_id, rating=-1, comment="  Wrong month.  ")
    [_, reply] = kb.chat.conversation(kb.actor("admin"), answer.conversation_id)[1]
    assert (reply.feedback, reply.feedback_comment) == (-1, "Wrong month.")
    with pytest.raises(InvalidInput):
        kb.chat.feedback(kb.actor("admin"), answer.message_id, rating=5)


def test_deleting_a_store_takes_its_conversations_links_not_other_stores_history(kb: Workbench, mock_chat) -> None:  # type: ignore[no-untyped-def]
    mock_chat("An answer [1].")
    only_kb = _ask(kb, "kb", "When do zebras migrate?", options=REMOTE)
    both = _ask(kb, "kb,travel", "Hotel limit?", options=REMOTE)
    only_travel = _ask(kb, "travel", "Hotel limit?", options=REMOTE)
    kb.stores.delete(kb.actor("admin"), "kb")
    remaining = {c.id: c.stores for c in kb.chat.conversations(kb.actor("admin"))}
    assert remaining == {both.conversation_id: ("travel",), only_travel.conversation_id: ("travel",)}
    kb.stores.create(kb.actor("admin"), "kb")  # a new store of the old name inherits nothing
    assert kb.chat.latest(kb.actor("admin"), "kb") is None and only_kb.conversation_id not in remaining


def test_an_abandoned_stream_keeps_the_question_the_partial_answer_and_its_usage(kb: Workbench) -> None:
    """The user presses Stop (or leaves the page): with the real bundled model."""
    stream, answer = kb.chat.ask(
        kb.actor("admin"),
        "kb",
        "Tell me everything about the zebras and the company.",
        options=AskOptions(max_tokens=300, mode=AnswerMode.GENERATIVE),
    )
    first = next(stream)
    stream.close()
    _, messages = kb.chat.conversation(kb.actor("admin"), answer.conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].status is MessageStatus.STOPPED and messages[1].content.startswith(first)
    events = [e for e in kb.catalog.usage() if e.kind == "chat"]
    assert len(events) == 1 and events[0].completion_tokens > 0 and events[0].stores == ("kb",)
    deadline = time.monotonic() + 2  # the server notices the closed connection at its next piece (30 ms)
    while _busy(localmodel.server().url()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _busy(localmodel.server().url())  # the model is free for the next user


def _busy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/slots", timeout=5) as response:
        return any(slot.get("is_processing") for slot in json.load(response))


def test_a_failing_model_keeps_the_conversation_with_a_readable_reason(kb: Workbench) -> None:
    failing = AskOptions(model="openai/gpt-4o-mini", search=SearchOptions(top_k=2, min_relevance=0.0))
    stream, answer = kb.chat.ask(kb.actor("admin"), "kb", "When do zebras migrate?", options=failing)
    with pytest.raises(ModelError) as failure:
        "".join(stream)
    _, messages = kb.chat.conversation(kb.actor("admin"), answer.conversation_id)
    assert messages[1].status is MessageStatus.FAILED and messages[1].error == str(failure.value)
    assert "API key" in str(failure.value)


def _hit(n: int, text: str) -> Hit:
    return Hit(text=text, score=1.0 - n / 100, document_id="d", filename="f.pdf", chunk_index=n, start=0, end=1)


def test_sources_are_fitted_whole_into_the_model_window() -> None:
    hits = [_hit(n, f"Source {n}. " + "word " * 400) for n in range(20)]  # ~2,000 characters each
    prompt = rag.build_messages("q?", hits, system_prompt=None, history=[], window_tokens=2048, max_tokens=512)
    assert 0 < prompt.used < 20 and prompt.dropped == 20 - prompt.used
    user = prompt.messages[-1]["content"]
    assert user.count("</source>") == prompt.used and f"Source {prompt.used - 1}." in user  # best first, whole
    used_tokens = sum(len(m["content"]) for m in prompt.messages) / rag.CHARS_PER_TOKEN
    assert used_tokens + 512 <= 2048


def test_twenty_sources_fit_the_bundled_model_and_the_drop_is_reported(kb: Workbench) -> None:
    kb.documents.ingest(kb.actor("admin"), "kb", [Upload("long.pdf", make_pdf(filing_pages(30)))])
    answer = _ask(
        kb,
        "kb",
        "What does the report say?",
        options=AskOptions(
            max_tokens=16, mode=AnswerMode.GENERATIVE, search=SearchOptions(top_k=20, min_relevance=0.0)
        ),
    )
    assert answer.status is MessageStatus.COMPLETE and answer.text  # no context overflow
    assert answer.sources_dropped > 0 and len(answer.retrieved) + answer.sources_dropped == 20


def test_a_conversation_exports_as_markdown(kb: Workbench, mock_chat) -> None:  # type: ignore[no-untyped-def]
    mock_chat("Zebras migrate in July [1].")
    answer = _ask(kb, "kb", "When do zebras migrate?", options=REMOTE)
    text = kb.chat.export(kb.actor("admin"), answer.conversation_id)
    assert text.startswith("# When do zebras migrate?")
    assert "**Question:** When do zebras migrate?" in text and "**Answer:** Zebras migrate in July [1]." in text
    assert "- [1] filing.pdf, Page 3 (kb):" in text


def test_remote_calls_get_the_configured_retries_and_timeout(kb: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    litellm = llm.litellm_module()
    real = litellm.completion

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(**{**kwargs, "mock_response": "Fine [1]."})

    monkeypatch.setattr(litellm, "completion", spy)
    _ask(kb, "kb", "When do zebras migrate?", options=REMOTE)
    assert seen[-1]["num_retries"] == kb.settings.model_retries and seen[-1]["timeout"] == kb.settings.model_timeout_s
    _ask(
        kb,
        "kb",
        "When do zebras migrate?",
        options=AskOptions(max_tokens=4, mode=AnswerMode.GENERATIVE, search=SearchOptions(min_relevance=0.0)),
    )
    assert "num_retries" not in seen[-1]  # the bundled model: a crash is reported, never silently retried


def test_a_stores_saved_retrieval_settings_are_what_chat_uses(kb: Workbench) -> None:
    assert kb.stores.search_defaults(kb.actor("admin"), "kb") == SearchOptions()
    kb.stores.set_search_defaults(
        kb.actor("admin"), "kb", SearchOptions(top_k=2, mode="vector", rerank=Reranker.parse("mmr"))
    )
    saved = kb.stores.search_defaults(kb.actor("admin"), "kb")
    assert (saved.top_k, saved.mode.value, str(saved.rerank)) == (2, "vector", "mmr")
    stream, answer = kb.chat.ask(kb.actor("admin"), "kb", "When do zebras migrate?", options=None)
    "".join(stream)
    assert len(answer.retrieved) + answer.sources_dropped == 2
    assert kb.chat.conversation(kb.actor("admin"), answer.conversation_id)[0].options["mode"] == "vector"


def test_an_answer_goes_on_in_the_background_and_stop_keeps_what_came(kb: Workbench, tmp_path: Path) -> None:
    from core.models import ModelRegistry
    from core.options import AskOptions
    from core.records import MessageStatus
    from tests.stub_provider import StubProvider

    reply = "The report covers several matters in turn. " * 6
    with StubProvider(reply=reply, delay=0.05) as slow:
        models = tmp_path / "models.yaml"
        models.write_text(
            "model_list:\n  - model_name: slow\n"
            f"    litellm_params: {{model: openai/stub, api_base: '{slow.api_base}', api_key: sk-stub-test-key}}\n"
        )
        kb.services.models = ModelRegistry.load(models)
        me = kb.actor("admin")
        job = kb.chat.start(me, "kb", "Summarise the report.", options=AskOptions(model="slow"))
        assert kb.chat.running(me, job.conversation_id) is job  # nobody reads it: it goes on by itself
        assert kb.chat.running(kb.actor("admin"), "another") is None
        assert job.done.wait(timeout=120)
        _, [_, whole] = kb.chat.conversation(me, job.conversation_id)
        assert whole.status is MessageStatus.COMPLETE and whole.content.strip() == reply.strip()
        assert kb.chat.running(me, job.conversation_id) is None

        stopped = kb.chat.start(
            me, "kb", "Summarise it again.", conversation=job.conversation_id, options=AskOptions(model="slow")
        )
        while not stopped.answer.text and not stopped.done.is_set():
            stopped.done.wait(timeout=0.05)  # until the first words arrive
        stopped.stop()
        assert stopped.done.wait(timeout=60)
        _, messages = kb.chat.conversation(me, job.conversation_id)
        assert messages[-1].status is MessageStatus.STOPPED and 0 < len(messages[-1].content) < len(reply.strip())
