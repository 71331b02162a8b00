"""The model registry: LiteLLM proxy-style `model_list` YAML (paste an existing LiteLLM config), plus the bundled models.

    model_list:
      - model_name: gpt-4o-mini
        litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
        model_info: {mode: chat, supports_vision: true}
      - model_name: team-proxy
        litellm_params: {model: litellm_proxy/claude-sonnet, api_base: "http://proxy:4000", api_key: os.environ/PROXY_KEY}

`os.environ/VAR` values are read when a call is made, so keys never sit in the registry or in logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import redact
from core.errors import InvalidInput

ENV_PREFIX = "os.environ/"
KINDS = ("chat", "embedding", "rerank", "vision")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    params: Mapping[str, Any]
    kinds: tuple[str, ...]
    bundled: bool = False

    @property
    def model(self) -> str:
        return str(self.params["model"])


BUNDLED = (
    ModelEntry("local/smollm2-135m", {"model": "local/smollm2-135m"}, ("chat",), bundled=True),
    ModelEntry("local/all-minilm-l6-v2", {"model": "local/all-minilm-l6-v2"}, ("embedding",), bundled=True),
)


@dataclass(frozen=True)
class ModelRegistry:
    entries: Mapping[str, ModelEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> ModelRegistry:
        entries = {e.name: e for e in BUNDLED}
        if path is not None and path.is_file():
            entries.update({e.name: e for e in _read(path)})
        redact.remember(
            value
            for entry in entries.values()
            for key, value in entry.params.items()
            if redact.SECRET_NAME.search(key) and not str(value).startswith(ENV_PREFIX)
        )
        return cls(entries)

    def names(self, kind: str) -> list[str]:
        return [name for name, entry in self.entries.items() if kind in entry.kinds]

    def resolve(self, name: str) -> tuple[str, dict[str, Any]]:
        """(LiteLLM model string, extra call arguments) for a registry name or a plain LiteLLM model string."""
        entry = self.entries.get(name)
        if entry is None:
            return name, {}
        params = {k: _resolve_env(name, v) for k, v in entry.params.items() if k != "model"}
        redact.remember(v for k, v in params.items() if redact.SECRET_NAME.search(k))
        return entry.model, params


def _read(path: Path) -> list[ModelEntry]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"The model list {path} could not be read: {exc}") from exc
    rows = document.get("model_list") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise InvalidInput(f"{path} must hold a `model_list:` in LiteLLM's proxy format.")
    entries = []
    for number, row in enumerate(rows, start=1):
        if (
            not isinstance(row, dict)
            or not row.get("model_name")
            or not isinstance(row.get("litellm_params"), dict)
            or not row["litellm_params"].get("model")
        ):
            raise InvalidInput(f"Entry {number} of {path} needs a model_name and litellm_params with a model.")
        info = row.get("model_info") or {}
        mode = str(info.get("mode") or "chat")
        kinds = [mode if mode in KINDS else "chat"]
        if info.get("supports_vision"):
            kinds.append("vision")
        entries.append(ModelEntry(str(row["model_name"]), dict(row["litellm_params"]), tuple(kinds)))
    return entries


def _resolve_env(model: str, value: Any) -> Any:
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        variable = value.removeprefix(ENV_PREFIX)
        resolved = os.environ.get(variable)
        if resolved is None:
            raise InvalidInput(f"The model '{model}' needs the environment variable {variable}; set it and try again.")
        return resolved
    return value
