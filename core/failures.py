"""A failed provider call told in the product's words, with every secret blanked (for `core.llm`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from core import localmodel, redact
from core.errors import ModelError

LOCAL_MODEL = f"local/{localmodel.NAME}"  # the bundled chat model, served by a child process


RAW_PREFIX = re.compile(
    r"(litellm\.\w+:\s*|\w+(?:Error|Exception)\s*[:-]\s*|Error code: \d+ - )+"
)  # LiteLLM's class names


def explain(model: str, exc: Exception, params: Mapping[str, Any] | None = None) -> str:
    """One plain sentence in the product's words for a failed provider call, with every secret blanked."""
    if model == LOCAL_MODEL and not localmodel.server().alive():
        return localmodel.STOPPED  # the server process died (the next call starts a new one)
    own = exc
    while own is not None and not isinstance(own, ModelError):  # our own error, wrapped by LiteLLM
        own = own.__cause__ or own.__context__  # type: ignore[assignment]
    if own is not None:
        return redact.redact(str(own))
    kind = type(exc).__name__
    detail = redact.redact(RAW_PREFIX.sub("", str(exc).strip().splitlines()[0] if str(exc).strip() else "")[:300])
    host = urlsplit(str((params or {}).get("api_base") or "")).netloc
    where = f"at {host}" if host else f"of '{model}'"
    status = getattr(exc, "status_code", None)
    if kind == "AuthenticationError" or status in (401, 403) or "missing credentials" in str(exc).lower():
        return (
            f"No valid API key for '{model}' (the provider {where} refused the call). Set the provider's key "
            "(for example OPENAI_API_KEY) in the environment or in .streamlit/secrets.toml."
        )
    if kind in {"APIConnectionError", "Timeout", "ServiceUnavailableError"} or detail.lower().startswith(
        ("connection error", "timeout", "request timed out")
    ):
        return f"Could not reach the provider {where} for '{model}'; check that it runs, or try again later."
    if kind in {"BadRequestError", "NotFoundError"} and "LLM Provider NOT provided" in str(exc):
        return (
            f"'{model}' is not a model LiteLLM knows. Name it with its provider, "
            "for example openai/text-embedding-3-small or ollama/nomic-embed-text."
        )
    if kind == "NotFoundError" or status == 404:
        name = model.split("/", 1)[-1]
        return f"The provider {where} does not know the model '{name}'" + (f": {detail}" if detail else ".")
    return f"The provider {where} could not answer for '{model}'" + (f": {detail}" if detail else ".")
