"""Chat through LiteLLM: the bundled local model (llama.cpp's server in a child process) and remote providers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from core import llm, localmodel
from core.errors import ModelError

LOCAL = "local/smollm2-135m"
ROOT = Path(__file__).resolve().parents[2]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper and the sea."}]


def _gone(pid: int, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        time.sleep(0.1)
    return False


def test_the_bundled_model_streams_through_litellm_and_counts_tokens() -> None:
    done: list[llm.CompletionResponse] = []
    pieces = list(llm.stream_chat(LOCAL, STORY, params={"max_tokens": 64, "temperature": 0}, on_done=done.append))
    assert len(pieces) > 1 and "".join(pieces).strip()  # streamed in pieces (of up to 30 ms of tokens each)
    again = "".join(llm.stream_chat(LOCAL, STORY, params={"max_tokens": 64, "temperature": 0}))
    assert again == "".join(pieces)  # temperature 0 reaches llama.cpp: greedy decoding repeats itself
    assert done[0].text == again
    assert 0 < done[0].completion_tokens <= 64 and done[0].prompt_tokens > 5
    assert done[0].cost == 0.0


def test_the_model_runs_in_its_own_process() -> None:
    list(llm.stream_chat(LOCAL, QUESTION, params={"max_tokens": 2}))
    pid = localmodel.server().pid
    assert pid is not None and pid != os.getpid()
    assert "xllamacpp" not in sys.modules and "llama_cpp" not in sys.modules  # no native model code in this process


def test_the_bundled_model_answers_without_streaming() -> None:
    reply = llm.complete(LOCAL, [{"role": "user", "content": "Say the word hello."}], params={"max_tokens": 8})
    assert reply.text and 0 < reply.completion_tokens <= 8


def test_two_concurrent_streams_both_complete() -> None:
    answers: dict[int, str] = {}

    def ask(n: int) -> None:
        answers[n] = "".join(llm.stream_chat(LOCAL, QUESTION, params={"max_tokens": 16, "temperature": 0}))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # llama.cpp's batched decoding is not bit-identical across concurrent slots (seen under load: the same greedy
    # prompt diverged after three tokens), so: both complete, and both begin as the same prompt begins its answer
    assert sorted(answers) == [0, 1] and answers[0] and answers[1]
    assert answers[0][:5] == answers[1][:5]


def test_killing_the_model_mid_answer_ends_only_that_answer() -> None:
    """kill -9 of the model process: a plain sentence for that answer, and the next question works."""
    list(llm.stream_chat(LOCAL, QUESTION, params={"max_tokens": 2}))
    pid = localmodel.server().pid
    assert pid is not None
    stream = llm.stream_chat(LOCAL, STORY, params={"max_tokens": 400})
    first = next(stream)
    assert first
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ModelError) as failure:
        for _ in stream:
            pass
    assert str(failure.value) == localmodel.STOPPED
    reply = "".join(llm.stream_chat(LOCAL, QUESTION, params={"max_tokens": 8}))
    assert reply.strip()
    assert localmodel.server().pid not in (None, pid)  # a fresh server took over


def test_an_abandoned_stream_frees_its_slot_at_once() -> None:
    list(llm.stream_chat(LOCAL, QUESTION, params={"max_tokens": 2}))
    url = localmodel.server().url()
    stream = llm.stream_chat(LOCAL, STORY, params={"max_tokens": 400})
    next(stream)
    assert _busy_slots(url) == 1
    stream.close()  # the user pressed Stop, or navigated away
    deadline = time.monotonic() + 5
    while _busy_slots(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _busy_slots(url) == 0


def _busy_slots(url: str) -> int:
    with urllib.request.urlopen(f"{url}/slots", timeout=5) as response:
        return sum(1 for slot in json.load(response) if slot.get("is_processing"))


def test_the_server_starts_lazily_and_stops_with_its_parent(tmp_path: Path) -> None:
    """A parent killed with SIGKILL (no atexit) still takes its model server with it."""
    script = (
        "import sys, time\n"
        "from core import llm, localmodel\n"
        "assert localmodel.server().pid is None\n"  # importing starts nothing
        "list(llm.stream_chat('local/smollm2-135m', [{'role': 'user', 'content': 'hi'}], params={'max_tokens': 2}))\n"
        "print(localmodel.server().pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # running
        parent.kill()
        parent.wait(timeout=10)
        assert _gone(child, within=10)
    finally:
        parent.kill()


def test_a_model_that_cannot_start_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(localmodel, "model_path", lambda: broken)
    supervisor = localmodel.LocalServer()
    with pytest.raises(ModelError, match="The local model could not start"):
        supervisor.url()
    assert supervisor.pid is None


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
