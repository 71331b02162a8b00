"""The kinds of model server an administrator can connect, how LiteLLM names their models, how each lists the models
it serves, and the model servers found on this machine (loopback only, never anything else)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from core import llm, redact
from core.errors import InvalidInput
from core.models import Connection, ModelEntry

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 5.0  # listing a server's models
PROBE_TIMEOUT_S = 0.5  # a local server answers at once; nothing listening refuses at once
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Provider:
    label: str
    prefixes: dict[str, str]  # kind -> LiteLLM prefix ("openai/")
    api_base: str = ""  # its public endpoint; "" when the administrator must give one
    needs_base: bool = False
    needs_key: bool = True
    lists: str = ""  # how it lists its models: openai (/models), ollama (/api/tags), anthropic (/v1/models), ""
    needs_version: bool = False  # Azure OpenAI's api_version


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(
        "OpenAI", {"chat": "openai/", "embedding": "openai/"}, "https://api.openai.com/v1", lists="openai"
    ),
    "anthropic": Provider("Anthropic", {"chat": "anthropic/"}, "https://api.anthropic.com", lists="anthropic"),
    "azure": Provider("Azure OpenAI", {"chat": "azure/", "embedding": "azure/"}, needs_base=True, needs_version=True),
    "gemini": Provider("Google Gemini", {"chat": "gemini/", "embedding": "gemini/"}),
    "mistral": Provider(
        "Mistral", {"chat": "mistral/", "embedding": "mistral/"}, "https://api.mistral.ai/v1", lists="openai"
    ),
    "cohere": Provider("Cohere", {"chat": "cohere_chat/", "embedding": "cohere/", "rerank": "cohere/"}),
    "ollama": Provider(
        "Ollama",
        {"chat": "ollama_chat/", "embedding": "ollama/"},
        "http://127.0.0.1:11434",
        needs_key=False,
        lists="ollama",
    ),
    "openai_compatible": Provider(
        "OpenAI-compatible server (llama.cpp, vLLM, LM Studio, ...)",
        {"chat": "openai/", "embedding": "openai/"},
        needs_base=True,
        needs_key=False,
        lists="openai",
    ),
    "litellm_proxy": Provider(
        "LiteLLM proxy",
        {"chat": "litellm_proxy/", "embedding": "litellm_proxy/", "rerank": "litellm_proxy/"},
        needs_base=True,
        lists="openai",
    ),
}


def provider(name: str) -> Provider:
    found = PROVIDERS.get(name)
    if found is None:
        raise InvalidInput(f"'{name}' is not a provider the workbench knows. Known: {', '.join(PROVIDERS)}.")
    return found


def guess_kind(model: str) -> str:
    """What a listed model is for, from its name (servers do not say): embedding and rerank models say so."""
    lowered = model.lower()
    if "rerank" in lowered:
        return "rerank"
    if any(word in lowered for word in ("embed", "minilm", "bge-", "e5-", "gte-")):
        return "embedding"
    return "chat"


def entries(connection: Connection) -> list[ModelEntry]:
    """The registry entries of a connection's models: LiteLLM `model_list` entries, named `<connection>/<model>`."""
    kind_of = provider(connection.provider)
    out = []
    for served in connection.models:
        prefix = kind_of.prefixes.get(served.kind)
        if prefix is None:
            continue  # a kind this provider does not serve through LiteLLM
        params: dict[str, object] = {"model": prefix + served.name}
        if connection.api_base:
            params["api_base"] = connection.api_base
        if connection.api_version:
            params["api_version"] = connection.api_version
        if not connection.key_prefix:  # no key saved: never let LiteLLM fall back to the server's own (OPENAI_API_KEY)
            params["api_key"] = "none"
        sees = served.vision or (served.kind == "chat" and llm.supports_vision(prefix + served.name))
        kinds = (served.kind, "vision") if sees else (served.kind,)
        out.append(ModelEntry(f"{connection.name}/{served.name}", params, kinds, "app", connection.id))
    return out


def list_models(provider_name: str, api_base: str, key: str, *, timeout_s: float = LIST_TIMEOUT_S) -> list[str]:
    """The models a server says it serves ([] when this kind of provider cannot list them). Raises InvalidInput
    in words when the server cannot be reached or refuses the key."""
    kind_of = provider(provider_name)
    base = (api_base or kind_of.api_base).rstrip("/")
    if not kind_of.lists or not base:
        return []
    if kind_of.lists == "ollama":
        url, headers = f"{base}/api/tags", {}
    elif kind_of.lists == "anthropic":
        url, headers = f"{base}/v1/models", {"x-api-key": key, "anthropic-version": "2023-06-01"}
    else:
        url, headers = f"{base}/models", ({"Authorization": f"Bearer {key}"} if key else {})
    host = urlsplit(url).netloc
    redact.remember([key])  # whatever the server echoes back, the key is blanked
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise InvalidInput(f"Could not reach {host} to list its models; check the address and that it runs.") from exc
    if response.status_code in (401, 403):
        raise InvalidInput(f"{host} refused the key when asked for its models; check the key.")
    if response.status_code >= 400:
        detail = redact.redact(response.text.strip()[:200])
        raise InvalidInput(f"{host} answered {response.status_code} when asked for its models: {detail}")
    try:
        body = response.json()
        if kind_of.lists == "ollama":
            names = [str(m.get("name") or m.get("model")) for m in body.get("models", [])]
        else:
            names = [str(m["id"]) for m in body.get("data", [])]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{host} did not answer with a list of models (is it the right kind of server?).") from exc
    return sorted(n for n in names if n and n != "None")


@dataclass(frozen=True)
class LocalServer:
    """A model server found on this machine."""

    provider: str  # ollama or openai_compatible
    api_base: str
    models: tuple[str, ...]

    @property
    def label(self) -> str:
        port = urlsplit(self.api_base).port
        return f"{PROVIDERS[self.provider].label.split(' (')[0]} on port {port}"


def local_ports(setting: str) -> list[tuple[str, int]]:
    """`ollama:11434,openai:8080` as (provider, port); refuses anything else in words."""
    out = []
    for part in filter(None, (p.strip() for p in setting.split(","))):
        kind, _, port = part.partition(":")
        if kind not in ("ollama", "openai") or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidInput(
                f"WORKBENCH_LOCAL_MODEL_PORTS holds '{part}'; write kind:port pairs, kind ollama or openai, "
                "for example ollama:11434,openai:8080."
            )
        out.append(("ollama" if kind == "ollama" else "openai_compatible", int(port)))
    return out


def discover(ports: Sequence[tuple[str, int]]) -> list[LocalServer]:
    """Model servers answering on loopback at these ports (a short timeout each, all at once)."""

    def probe(kind: str, port: int) -> LocalServer | None:
        base = f"http://{LOOPBACK}:{port}" + ("" if kind == "ollama" else "/v1")
        try:
            names = list_models(kind, base, "", timeout_s=PROBE_TIMEOUT_S)
        except InvalidInput:
            return None
        return LocalServer(kind, base, tuple(names))

    if not ports:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(ports))) as pool:
        found = [s for s in pool.map(lambda p: probe(*p), ports) if s is not None]
    log.info("local model servers: %d found on %d ports", len(found), len(ports))
    return found
