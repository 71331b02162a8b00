from __future__ import annotations

import numpy as np
import pytest

from core import llm
from core.embedding import MINILM, REMOTE_CALL_SIZE, Embedder, get_embedder, local_model
from core.errors import ModelError
from tests.conftest import FAKE_MODEL, FakeProvider


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return get_embedder(MINILM)


def test_bundled_model_gives_normalised_384d_vectors(minilm: Embedder) -> None:
    vectors = minilm.embed(["The cat sat on the mat.", "Quarterly revenue rose."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.dimension == 384 and minilm.window_tokens == 256


def test_bundled_model_understands_meaning(minilm: Embedder) -> None:
    query = minilm.embed_query("How much did sales grow?")
    close, far = minilm.embed(["Revenue increased by twelve percent this year.", "Zebras migrate across the plains."])
    assert query @ close > query @ far + 0.2


def test_batching_keeps_order_and_values(minilm: Embedder) -> None:
    texts = [f"sentence number {i} about topic {i % 7}" for i in range(150)]
    together = minilm.embed(texts)
    one_by_one = np.stack([minilm.embed_query(t) for t in texts[:5]])
    # in bfloat16 (CPUs with AVX512-BF16 or AMX) a text's padding within its batch moves the last digits, no more
    tolerance = 2e-3 if local_model(minilm.model).bfloat16 else 1e-5
    assert np.allclose(together[:5], one_by_one, atol=tolerance)
    assert float((together[:5] * one_by_one).sum(axis=1).min()) > 0.9999  # the same direction: retrieval unchanged
    assert ((together[:5] @ one_by_one.T).argmax(axis=1) == np.arange(5)).all()  # in order


def test_usage_is_reported_per_call_with_token_counts(minilm: Embedder) -> None:
    seen: list[llm.EmbeddingResponse] = []
    minilm.embed(["one two three", "four"], on_usage=seen.append)
    assert len(seen) == 1
    assert seen[0].prompt_tokens == 5 + 3  # [CLS] one two three [SEP] + [CLS] four [SEP]
    assert seen[0].cost == 0.0


def test_chunks_longer_than_the_window_are_counted(minilm: Embedder) -> None:
    long_text = "word " * 400
    assert minilm.overflowing(["short text", long_text, long_text]) == 2


def test_unknown_bundled_model_is_refused() -> None:
    with pytest.raises(ModelError, match="no bundled embedding model 'local/nope'"):
        Embedder("local/nope")


def test_remote_models_go_through_litellm_in_batches(fake_provider: FakeProvider) -> None:
    embedder = Embedder(FAKE_MODEL)
    assert embedder.dimension == 16  # learned from one probe call
    vectors = embedder.embed([f"text {i}" for i in range(300)])
    assert vectors.shape == (300, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert fake_provider.calls == [1, REMOTE_CALL_SIZE, REMOTE_CALL_SIZE, 300 - 2 * REMOTE_CALL_SIZE]


def test_litellm_mock_response_path() -> None:
    response = llm.embed("openai/text-embedding-3-small", ["x"], mock_response=[0.5, 0.5, 0.0])
    assert response.vectors.tolist() == [[0.5, 0.5, 0.0]]


def test_missing_key_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match="No valid API key for 'openai/text-embedding-3-small'"):
        Embedder("openai/text-embedding-3-small").embed(["hello"])


def test_model_without_provider_is_explained() -> None:
    with pytest.raises(ModelError, match="Name it with its provider"):
        Embedder("nonsense-model").embed(["hello"])
