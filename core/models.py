"""The model registry: LiteLLM proxy-style `model_list` YAML (paste an existing LiteLLM config), plus the bundled models.

    model_list:
      - model_name: gpt-4o-mini
        litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
        model_info: {mode: chat, supports_vision: true}
      - model_name: team-proxy
        litellm_params: {model: litellm_proxy/claude-sonnet, api_base: "http://proxy:4000", api_key: os.environ/PROXY_KEY}

`os.environ/VAR` values are read when a call is made, so keys never sit in the registry or in logs.

Administrators also connect model servers on the Models page (`core.workbench.models`): each connection's models
join the registry as `<connection>/<model>` entries of the same shape, read from the catalog (so every replica sees
them), their keys sealed by `core.vault` and opened only when a call is made. The file's entries are read-only there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core import redact
from core.errors import InvalidInput

log = logging.getLogger(__name__)

ENV_PREFIX = "os.environ/"
KINDS = ("chat", "embedding", "rerank", "vision")
SERVED_KINDS = ("chat", "embedding", "rerank")  # what a connected model is used for (vision: a chat model that sees)
ROLES = {"chat": "chat", "judge": "chat", "vision": "vision", "rerank": "rerank"}  # role -> the kind it picks from
ROLES_KEY = "model_roles"  # the app setting that holds each role's RoleChoice
READ_EVERY_S = 2.0  # how long a process trusts its copy of the connections (another replica's edit shows after it)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    params: Mapping[str, Any]
    kinds: tuple[str, ...]
    source: str = "config"  # bundled, config (the server's model list file) or app (the Models page)
    connection: str = ""  # the id of the connection it came from (source app)

    @property
    def model(self) -> str:
        return str(self.params["model"])

    @property
    def bundled(self) -> bool:
        return self.source == "bundled"


BUNDLED = (
    ModelEntry("local/smollm2-135m", {"model": "local/smollm2-135m"}, ("chat",), source="bundled"),
    ModelEntry("local/all-minilm-l6-v2", {"model": "local/all-minilm-l6-v2"}, ("embedding",), source="bundled"),
)


@dataclass(frozen=True)
class ServedModel:
    name: str  # as the server knows it ("llama3.2:1b", "gpt-4o-mini")
    kind: str = "chat"  # chat, embedding or rerank
    vision: bool = False


@dataclass(frozen=True)
class Connection:
    """A model server connected on the Models page; its key is kept sealed in the catalog, only `key_prefix` shown."""

    id: str
    name: str
    provider: str
    api_base: str
    api_version: str
    key_prefix: str
    models: tuple[ServedModel, ...]
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RoleChoice:
    """For one role (chat, judge, vision, rerank): its default model and the models users may pick (None: all)."""

    default: str = ""
    allowed: tuple[str, ...] | None = None


class ConnectedModels:
    """The Models page's connections and role choices, read from the catalog at most every READ_EVERY_S."""

    def __init__(
        self,
        read: Callable[[], tuple[Sequence[Connection], Mapping[str, RoleChoice]]],
        secret: Callable[[str], str],
        entries: Callable[[Connection], Sequence[ModelEntry]],
    ) -> None:
        self._read, self.secret, self._entries = read, secret, entries
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, ModelEntry], Mapping[str, RoleChoice]] | None = None
        self._keys: dict[str, str] = {}  # opened keys, kept as long as the connections they came with

    def forget(self) -> None:
        """Read again at the next use (this process just changed them)."""
        with self._lock:
            self._cached = None
            self._keys = {}

    def key(self, connection_id: str) -> str:
        """A connection's opened key: read and unsealed once per reading of the connections, not at every call."""
        self.current()  # a new reading (a key changed on another replica) starts with no keys kept
        with self._lock:
            if connection_id in self._keys:
                return self._keys[connection_id]
        opened = self.secret(connection_id)
        with self._lock:
            self._keys[connection_id] = opened
        return opened

    def current(self) -> tuple[dict[str, ModelEntry], Mapping[str, RoleChoice]]:
        with self._lock:
            cached = self._cached
        if cached is not None and time.monotonic() - cached[0] <= READ_EVERY_S:
            return cached[1], cached[2]
        connections, roles = self._read()  # outside the lock: a slow catalog holds up no other thread's copy
        entries: dict[str, ModelEntry] = {}
        for connection in connections:
            try:
                entries.update({e.name: e for e in self._entries(connection)})
            except InvalidInput as exc:  # a connection this version cannot use (a provider it does not know)
                log.warning("model connection %s skipped: %s", connection.name, exc)
        with self._lock:
            self._cached = (time.monotonic(), entries, roles)
            self._keys = {}
        return entries, roles


@dataclass(frozen=True)
class ModelRegistry:
    entries: Mapping[str, ModelEntry] = field(default_factory=dict)  # bundled and the config file's
    connected: ConnectedModels | None = None

    @classmethod
    def load(cls, path: Path | None, connected: ConnectedModels | None = None) -> ModelRegistry:
        entries = {e.name: e for e in BUNDLED}
        if path is not None and path.is_file():
            entries.update({e.name: e for e in _read(path)})
        redact.remember(
            value
            for entry in entries.values()
            for key, value in entry.params.items()
            if redact.SECRET_NAME.search(key) and not str(value).startswith(ENV_PREFIX)
        )
        return cls(entries, connected)

    def all(self) -> dict[str, ModelEntry]:
        """Every model by name: the file's win over a connection's of the same name (they are refused when added)."""
        connected = self.connected.current()[0] if self.connected is not None else {}
        return {**self.entries, **{n: e for n, e in connected.items() if n not in self.entries}}

    def roles(self) -> Mapping[str, RoleChoice]:
        return self.connected.current()[1] if self.connected is not None else {}

    def names(self, kind: str) -> list[str]:
        return [name for name, entry in self.all().items() if kind in entry.kinds]

    def resolve(self, name: str) -> tuple[str, dict[str, Any]]:
        """(LiteLLM model string, extra call arguments) for a registry name or a plain LiteLLM model string."""
        entry = self.all().get(name)
        if entry is None:
            return name, {}
        params = {k: _resolve_env(name, v) for k, v in entry.params.items() if k != "model"}
        if entry.connection and self.connected is not None:
            key = self.connected.key(entry.connection)
            if key:
                params["api_key"] = key
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
