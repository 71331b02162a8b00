"""Models load once per process even when the first users arrive together."""

from __future__ import annotations

import threading
import time

import pytest

from core import embedding, rerank
from core.once import Once, once


def test_concurrent_first_callers_share_one_load() -> None:
    loads: list[str] = []

    @once
    def load(name: str) -> object:
        loads.append(name)
        time.sleep(0.2)  # a slow model load: every other caller arrives meanwhile
        return object()

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(load("minilm"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["minilm"] and len({id(r) for r in results}) == 1
    assert load("other") is not results[0] and loads == ["minilm", "other"]


def test_a_failed_load_is_tried_again() -> None:
    attempts: list[int] = []

    @once
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk busy")
        return 42

    with pytest.raises(OSError):
        flaky()
    assert flaky() == 42 and flaky() == 42 and len(attempts) == 2


def test_the_model_loaders_are_once_guarded() -> None:
    assert all(isinstance(f, Once) for f in (embedding.local_model, embedding.get_embedder, rerank.cross_encoder))
