"""The only module that imports litellm: every embedding (and later chat, rerank, vision) call goes through here.

Bundled offline models are registered with LiteLLM as the custom provider `local`, so that they are
called, logged and costed exactly like a remote provider's.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from core import localmodel, privacy, quota
from core.errors import ModelError
from core.failures import explain as _explain

log = logging.getLogger(__name__)

LOCAL_PROVIDER = "local"

_setup_lock = threading.Lock()
_litellm: Any = None
_local_embedders: dict[str, Callable[[list[str]], tuple[np.ndarray, int]]] = {}
LOCAL_CHAT = localmodel.NAME  # served as local/smollm2-135m by a child process (see core/localmodel.py)
LOCAL_CHAT_CONTEXT = localmodel.CONTEXT  # tokens of context the bundled chat model is run with
LOCAL_DEFAULTS = {"max_tokens": 512, "temperature": 0.2}  # llama.cpp's own defaults run long and hot
REPEAT_PENALTY = 1.15  # a 135M model loops on repeated source text without it
LOCAL_TIMEOUT_S = 600.0  # a long answer on a slow CPU; a dead server fails at once, not after this


@dataclass(frozen=True)
class EmbeddingResponse:
    vectors: np.ndarray
    prompt_tokens: int
    cost: float
    latency_ms: float
    error: str | None = None  # set on the record of a failed call (no vectors)
    redactions: Mapping[str, int] = field(default_factory=dict)  # personal data kept from a remote model


def register_local_embedder(name: str, encode: Callable[[list[str]], tuple[np.ndarray, int]]) -> None:
    """Make `local/<name>` an embedding model; `encode` returns (vectors, prompt tokens)."""
    _local_embedders[name] = encode


def litellm_module() -> Any:
    """Import litellm on first use (it takes seconds) and register the `local` provider once."""
    global _litellm
    with _setup_lock:
        if _litellm is None:
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            litellm.disable_streaming_logging = True  # our own usage records; no per-chunk logging thread
            handler = _local_handler_class(litellm)()
            litellm.custom_provider_map = [
                *[p for p in litellm.custom_provider_map if p["provider"] != LOCAL_PROVIDER],
                {"provider": LOCAL_PROVIDER, "custom_handler": handler},
            ]
            _litellm = litellm
    return _litellm


def embed(
    model: str,
    texts: Sequence[str],
    *,
    params: Mapping[str, Any] | None = None,
    mock_response: list[float] | None = None,
) -> EmbeddingResponse:
    """Embed texts with any LiteLLM model (`local/...`, `openai/...`, `ollama/...`), one vector per text."""
    litellm = litellm_module()
    started = time.perf_counter()
    sent, redactions = privacy.outgoing(texts, local=_is_local(model))
    held = _hold(model, sent)
    try:
        response = litellm.embedding(model=model, input=sent, mock_response=mock_response, **dict(params or {}))
    except Exception as exc:  # litellm raises many provider-specific types; all become one plain message
        quota.settle(held, tokens=0, cost=0.0)
        raise ModelError(_explain(model, exc, params)) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    vectors = np.asarray([_vector(item) for item in response.data], dtype=np.float32)
    if len(vectors) != len(texts):
        raise ModelError(f"The embedding model '{model}' returned {len(vectors)} vectors for {len(texts)} texts.")
    usage = getattr(response, "usage", None)
    tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    cost = _cost(litellm, response, model)
    quota.settle(held, tokens=tokens or (held.tokens if held else 0), cost=cost)
    log.info("embedding %s: %d texts, %d tokens, %.0f ms", model, len(texts), tokens, latency_ms)
    return EmbeddingResponse(
        vectors=vectors, prompt_tokens=tokens, cost=cost, latency_ms=latency_ms, redactions=redactions
    )


@dataclass(frozen=True)
class CompletionResponse:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    redactions: Mapping[str, int] = field(default_factory=dict)  # personal data kept from a remote model


def describe_image(
    model: str, prompt: str, image: bytes, mime: str, *, params: Mapping[str, Any] | None = None
) -> CompletionResponse:
    """Ask a vision model about one image; `params` are extra LiteLLM arguments (api_base, mock_response, ...)."""
    url = f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
    content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": url}}]
    response = complete(model, [{"role": "user", "content": content}], params=params)
    if not response.text:
        raise ModelError(f"The vision model '{model}' returned an empty description.")
    log.info("vision %s: %d bytes, %.0f ms", model, len(image), response.latency_ms)
    return response


def complete(
    model: str, messages: list[dict[str, Any]], *, params: Mapping[str, Any] | None = None
) -> CompletionResponse:
    """One chat completion (not streamed) with any LiteLLM model."""
    litellm = litellm_module()
    started = time.perf_counter()
    sent, redactions = privacy.outgoing_messages(messages, local=_is_local(model))
    held = _hold(model, _texts(sent), answer=(params or {}).get("max_tokens"))
    try:
        target, call = _route(model, params)
        response = litellm.completion(model=target, messages=sent, **call)
    except Exception as exc:  # every provider failure becomes one plain message
        quota.settle(held, tokens=0, cost=0.0)
        if isinstance(exc, ModelError):
            raise
        raise ModelError(_explain(model, exc, params)) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    usage = getattr(response, "usage", None)
    log.info("chat %s: %.0f ms", model, latency_ms)
    done = CompletionResponse(
        text=(response.choices[0].message.content or "").strip(),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost=_cost(litellm, response, model),
        latency_ms=latency_ms,
        redactions=redactions,
    )
    used = done.prompt_tokens + done.completion_tokens
    quota.settle(held, tokens=used or (held.tokens if held else 0), cost=done.cost)  # none reported: the estimate
    return done


def stream_chat(
    model: str,
    messages: list[dict[str, Any]],
    *,
    params: Mapping[str, Any] | None = None,
    on_done: Callable[[CompletionResponse], None] | None = None,
    on_sent: Callable[[Mapping[str, int]], None] | None = None,
) -> Iterator[str]:
    """Stream a chat answer as text pieces; `on_done` gets the whole text, token counts, cost and latency.

    Closing the iterator early (the user pressed Stop, or left) closes the connection to the model,
    which frees it for the next caller at once.
    """
    litellm = litellm_module()
    started = time.perf_counter()
    stream: Any = None
    sent, redactions = privacy.outgoing_messages(messages, local=_is_local(model))
    held = _hold(model, _texts(sent), answer=(params or {}).get("max_tokens"))
    if on_sent is not None:  # what was kept from the provider, known before a word comes back (or none does)
        on_sent(redactions)
    settled = False
    try:
        target, call = _route(model, params)
        stream = litellm.completion(
            model=target, messages=sent, stream=True, stream_options={"include_usage": True}, **call
        )
        pieces: list[str] = []
        usage = None
        for chunk in stream:
            usage = getattr(chunk, "usage", None) or usage
            if chunk.choices and (piece := chunk.choices[0].delta.content):
                pieces.append(piece)
                yield piece
    except ModelError:
        quota.settle(held, tokens=0, cost=0.0)
        settled = True
        raise
    except Exception as exc:  # every provider failure becomes one plain message
        quota.settle(held, tokens=0, cost=0.0)
        settled = True
        raise ModelError(_explain(model, exc, params)) from exc
    finally:
        _close(stream)  # stopped midway: what was held stays counted (the tokens generated are not known)
    latency_ms = (time.perf_counter() - started) * 1000
    log.info("chat %s (stream): %d pieces, %.0f ms", model, len(pieces), latency_ms)
    done = CompletionResponse(
        text="".join(pieces),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost=0.0 if _is_local(model) else _stream_cost(litellm, model, usage),
        latency_ms=latency_ms,
        redactions=redactions,
    )
    if not settled and (done.prompt_tokens or done.completion_tokens):
        quota.settle(held, tokens=done.prompt_tokens + done.completion_tokens, cost=done.cost)
    if on_done is not None:
        on_done(done)


def _hold(model: str, texts: Sequence[str], *, answer: object = 0) -> quota.Held | None:
    """Hold the call's estimated tokens and cost on the operation's limits before it is made (refused over one);
    `answer`: the call's max_tokens (None: a chat call that sets none)."""
    if quota.current() is None:
        return None
    answer_tokens = answer if isinstance(answer, int) and answer > 0 else 0
    if answer is None:
        answer_tokens = quota.DEFAULT_ANSWER_TOKENS
    tokens = quota.estimate(texts, answer_tokens=answer_tokens)
    cost = 0.0
    if not _is_local(model):
        try:
            prompt, completion = litellm_module().cost_per_token(
                model=model, prompt_tokens=tokens - answer_tokens, completion_tokens=answer_tokens
            )
            cost = float(prompt + completion)
        except Exception:  # no price known: budgets do not apply to it
            cost = 0.0
    return quota.reserve(tokens, cost)


def _texts(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The text of chat messages (the text parts of multi-part ones), for estimating their tokens."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return out


def _route(model: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The LiteLLM model string and call arguments: the bundled chat model is an OpenAI-compatible server."""
    call = dict(params or {})
    if model != f"{LOCAL_PROVIDER}/{LOCAL_CHAT}":
        return model, call
    for key, value in LOCAL_DEFAULTS.items():
        if call.get(key) is None:
            call[key] = value
    extra = {"repeat_penalty": REPEAT_PENALTY, **(call.pop("extra_body", None) or {})}
    url = localmodel.server().url()
    return f"openai/{LOCAL_CHAT}", {
        "api_base": f"{url}/v1",
        "api_key": "local",  # the server listens on loopback only and asks for no key
        "timeout": LOCAL_TIMEOUT_S,
        "max_retries": 0,
        **call,
        "extra_body": extra,
    }


def _close(stream: Any) -> None:
    """Close the HTTP response under a LiteLLM stream, if any (the provider then stops generating)."""
    inner = getattr(stream, "completion_stream", None)
    for candidate in (inner, getattr(inner, "response", None)):
        close = getattr(candidate, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # already closed or broken: nothing left to free
                log.debug("closing a chat stream failed", exc_info=True)
            return


def _is_local(model: str) -> bool:
    return model.startswith(LOCAL_PROVIDER + "/")


def _stream_cost(litellm: Any, model: str, usage: Any) -> float:
    try:
        prompt, completion = litellm.cost_per_token(
            model=model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )
        return float(prompt + completion)
    except Exception:  # unknown price: usage charts show 0 rather than failing the call
        return 0.0


@dataclass(frozen=True)
class RerankResponse:
    scores: list[float | None]  # one per document, in the order given
    latency_ms: float
    cost: float
    redactions: Mapping[str, int] = field(default_factory=dict)  # personal data kept from a remote model


def rerank(
    model: str, query: str, documents: Sequence[str], *, params: Mapping[str, Any] | None = None
) -> RerankResponse:
    """Relevance scores from a rerank model through litellm.rerank (Cohere, Jina, Voyage, a LiteLLM proxy, ...)."""
    litellm = litellm_module()
    started = time.perf_counter()
    [sent_query, *sent], redactions = privacy.outgoing([query, *documents], local=_is_local(model))
    held = _hold(model, [sent_query, *sent])
    try:
        response = litellm.rerank(model=model, query=sent_query, documents=sent, top_n=len(sent), **dict(params or {}))
    except Exception as exc:  # every provider failure becomes one plain message
        quota.settle(held, tokens=0, cost=0.0)
        raise ModelError(_explain(model, exc, params)) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    scores: list[float | None] = [None] * len(documents)
    for result in response.results or []:
        index = result["index"] if isinstance(result, dict) else result.index
        score = result["relevance_score"] if isinstance(result, dict) else result.relevance_score
        if 0 <= index < len(documents):
            scores[index] = float(score)
    log.info("rerank %s: %d documents, %.0f ms", model, len(documents), latency_ms)
    cost = _cost(litellm, response, model)
    quota.settle(held, tokens=held.tokens if held else 0, cost=cost)
    return RerankResponse(scores=scores, latency_ms=latency_ms, cost=cost, redactions=redactions)


def moderate(model: str, text: str, *, params: Mapping[str, Any] | None = None) -> tuple[bool, list[str]]:
    """Whether a moderation model (`openai/omni-moderation-latest`, ...) flags a text, and the categories it flags."""
    litellm = litellm_module()
    [sent], _ = privacy.outgoing([text], local=_is_local(model))
    call = {k: v for k, v in dict(params or {}).items() if k in ("api_base", "api_key", "timeout")}
    try:
        response = litellm.moderation(
            input=sent, model=model.split("/", 1)[-1] if model.startswith("openai/") else model, **call
        )
    except Exception as exc:  # every provider failure becomes one plain message
        raise ModelError(_explain(model, exc, params)) from exc
    results = getattr(response, "results", None) or []
    flagged, categories = False, []
    for result in results:
        get = (lambda k, r=result: r.get(k)) if isinstance(result, dict) else (lambda k, r=result: getattr(r, k, None))
        flagged = flagged or bool(get("flagged"))
        raw = get("categories") or {}
        values = raw if isinstance(raw, dict) else getattr(raw, "__dict__", {})
        categories += [str(name).replace("_", " ") for name, on in values.items() if on]
    log.info("moderation %s: %s", model, "flagged" if flagged else "passed")
    return flagged, sorted(set(categories))


@cache
def supports_vision(model: str) -> bool:
    """Whether LiteLLM's model map says the model reads images (False for a model it does not know)."""
    try:
        return bool(litellm_module().supports_vision(model=model))
    except Exception:  # unknown to LiteLLM's map
        return False


def context_window(model: str) -> int:
    """Input tokens the model accepts (LiteLLM's model map; 8,192 when it does not know the model)."""
    if model == f"{LOCAL_PROVIDER}/{LOCAL_CHAT}":
        return LOCAL_CHAT_CONTEXT
    try:
        info = litellm_module().get_model_info(model)
        return int(info.get("max_input_tokens") or info.get("max_tokens") or 8192)
    except Exception:  # unknown to LiteLLM's map
        return 8192


def injection_phrases() -> list[str]:
    """LiteLLM's prompt-injection phrases ("ignore previous and start over", ...), from its proxy hook."""
    litellm_module()
    from litellm.proxy.hooks.prompt_injection_detection import _OPTIONAL_PromptInjectionDetection

    return list(_OPTIONAL_PromptInjectionDetection().generate_injection_keywords())


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of cl100k tokens (LiteLLM's bundled default tokenizer, offline)."""
    litellm_module()
    from litellm.litellm_core_utils.default_encoding import encoding

    tokens = encoding.encode(text, disallowed_special=())
    _, starts = encoding.decode_with_offsets(tokens)
    ends = [*starts[1:], len(text)]
    return list(zip(starts, ends, strict=True))


def _vector(item: Any) -> Any:
    return item["embedding"] if isinstance(item, dict) else item.embedding


def _cost(litellm: Any, response: Any, model: str) -> float:
    if _is_local(model):
        return 0.0
    try:
        return float(litellm.completion_cost(completion_response=response, model=model) or 0.0)
    except Exception:  # unknown price: usage charts show 0 rather than failing the call
        return 0.0


@cache
def _local_handler_class(litellm: Any) -> type:
    from litellm.types.utils import Usage

    class LocalModels(litellm.CustomLLM):  # type: ignore[misc, name-defined]
        """The `local` LiteLLM provider for bundled embedding models (the chat model is a server: see `_route`)."""

        def embedding(self, model: str, input: list, model_response: Any, *args: Any, **kwargs: Any) -> Any:
            encode = _local_embedders.get(model)
            if encode is None:
                known = ", ".join(f"local/{n}" for n in sorted(_local_embedders)) or "none"
                raise ModelError(f"There is no bundled embedding model 'local/{model}'. Bundled: {known}.")
            vectors, tokens = encode([str(t) for t in input])
            model_response.data = [
                {"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(vectors)
            ]
            model_response.model = f"{LOCAL_PROVIDER}/{model}"
            model_response.usage = Usage(prompt_tokens=tokens, total_tokens=tokens)
            return model_response

        def completion(self, model: str, *args: Any, **kwargs: Any) -> Any:
            raise ModelError(f"There is no bundled chat model 'local/{model}'. Bundled: local/{LOCAL_CHAT}.")

        def streaming(self, model: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
            raise ModelError(f"There is no bundled chat model 'local/{model}'. Bundled: local/{LOCAL_CHAT}.")

    return LocalModels
