"""Chat through LiteLLM: the bundled local model (llama.cpp, registered as local/smollm2-135m) and remote providers."""

from __future__ import annotations

import threading

import pytest

from core import llm
from core.errors import ModelError

LOCAL = "local/smollm2-135m"


def test_the_bundled_model_streams_through_litellm_and_counts_tokens() -> None:
    done: list[llm.CompletionResponse] = []
    pieces = list(
        llm.stream_chat(
            LOCAL,
            [{"role": "user", "content": "What is the capital of France?"}],
            params={"max_tokens": 24, "temperature": 0},
            on_done=done.append,
        )
    )
    assert len(pieces) > 1 and "".join(pieces).strip()
    again = list(
        llm.stream_chat(
            LOCAL,
            [{"role": "user", "content": "What is the capital of France?"}],
            params={"max_tokens": 24, "temperature": 0},
        )
    )
    assert again == pieces  # temperature 0 reaches llama.cpp: greedy decoding repeats itself
    assert done[0].text == "".join(pieces)
    assert done[0].completion_tokens == len(pieces) and done[0].prompt_tokens > 5
    assert done[0].cost == 0.0


def test_the_bundled_model_answers_without_streaming() -> None:
    reply = llm.complete(
        LOCAL, [{"role": "user", "content": "Say the word hello."}], params={"max_tokens": 8, "temperature": 0}
    )
    assert reply.text and 0 < reply.completion_tokens <= 8


def test_concurrent_sessions_are_served_one_at_a_time() -> None:
    answers: list[str] = []

    def ask() -> None:
        answers.append(
            "".join(
                llm.stream_chat(
                    LOCAL, [{"role": "user", "content": "Count to three."}], params={"max_tokens": 12, "temperature": 0}
                )
            )
        )

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert (
        len(answers) == 3 and all(answers) and len(set(answers)) == 1
    )  # same prompt, greedy: same answer, no garbling


def test_unknown_bundled_chat_model_is_explained() -> None:
    with pytest.raises(ModelError, match="no bundled chat model 'local/gpt-9'"):
        list(llm.stream_chat("local/gpt-9", [{"role": "user", "content": "hi"}]))


def test_remote_models_stream_through_the_same_path() -> None:
    done: list[llm.CompletionResponse] = []
    pieces = list(
        llm.stream_chat(
            "openai/gpt-4o-mini",
            [{"role": "user", "content": "hi"}],
            params={"mock_response": "Hello from the provider."},
            on_done=done.append,
        )
    )
    assert "".join(pieces) == "Hello from the provider." and len(pieces) > 1
    assert done[0].text == "Hello from the provider."
