"""One Settings object, built once from `WORKBENCH_*` environment variables and `.streamlit/secrets.toml`."""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, ChunkSettings
from core.errors import InvalidInput
from core.parsing.options import DEFAULT_MAX_UNZIPPED_MB, DEFAULT_MAX_ZIP_RATIO, DEFAULT_VISION_PROMPT

log = logging.getLogger(__name__)

ENV_PREFIX = "WORKBENCH_"
SECRETS_SECTION = "workbench"
DEFAULT_SECRETS_FILE = Path(".streamlit/secrets.toml")
DEFAULT_DATA_DIR = Path("data")
DEFAULT_BACKEND = "lancedb"
DEFAULT_EMBEDDING = "local/all-minilm-l6-v2"
DEFAULT_CHUNK_SIZE = DEFAULT_SIZE
DEFAULT_CHUNK_OVERLAP = DEFAULT_OVERLAP
DEFAULT_EMBED_BATCH = 64
DEFAULT_INGEST_BATCH = 1024
DEFAULT_ADMIN = "admin"
DEFAULT_MAX_UPLOAD_MB = 256
DEFAULT_CHUNK_STRATEGY = "recursive"
DEFAULT_MODEL_TIMEOUT_S = 120.0
DEFAULT_MODEL_RETRIES = 2


@dataclass(frozen=True)
class Settings:
    """Everything configurable; unset values fall back to the named defaults above."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    lance_uri: str = ""
    default_backend: str = DEFAULT_BACKEND
    default_embedding: str = DEFAULT_EMBEDDING
    chunk_strategy: str = DEFAULT_CHUNK_STRATEGY
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    embed_batch_size: int = DEFAULT_EMBED_BATCH
    ingest_batch_chunks: int = DEFAULT_INGEST_BATCH
    admin_user: str = DEFAULT_ADMIN
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    max_unzipped_mb: int = DEFAULT_MAX_UNZIPPED_MB
    max_zip_ratio: int = DEFAULT_MAX_ZIP_RATIO
    vision_model: str = ""
    judge_model: str = ""  # chat model of the LLM reranker (`--rerank llm`)
    chat_model: str = "local/smollm2-135m"
    model_timeout_s: float = DEFAULT_MODEL_TIMEOUT_S  # per remote model call (LiteLLM `timeout`)
    model_retries: int = (
        DEFAULT_MODEL_RETRIES  # for remote calls that fail for a passing reason (LiteLLM `num_retries`)
    )
    models_file: Path = Path("models.yaml")  # LiteLLM proxy-style model_list; optional
    milvus_uri: str = ""  # a file path (Milvus Lite, default <data dir>/milvus.db) or http(s)://host:19530
    milvus_token: str = field(default="", repr=False)  # "user:password" or a Zilliz API key
    milvus_db: str = ""
    milvus_consistency: str = "Strong"
    milvus_search_params: str = ""  # JSON, e.g. {"nprobe": 16} or {"ef": 64}
    milvus_partition: str = ""
    milvus_filter: str = ""  # a Milvus boolean expression added to every search, e.g. metadata["team"] == "finance"
    vision_prompt: str = DEFAULT_VISION_PROMPT
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'catalog.db'}")
        if not self.lance_uri:
            object.__setattr__(self, "lance_uri", str(self.data_dir / "lancedb"))
        ChunkSettings(self.chunk_strategy, self.chunk_size, self.chunk_overlap)  # type: ignore[arg-type]  # validates

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    @property
    def chunking(self) -> ChunkSettings:
        """The default chunking for new stores."""
        return ChunkSettings(self.chunk_strategy, self.chunk_size, self.chunk_overlap)  # type: ignore[arg-type]


def load_settings(
    env: Mapping[str, str] | None = None, *, secrets_file: Path | None = None, **overrides: object
) -> Settings:
    """Build Settings: explicit overrides win over the environment, which wins over secrets.toml."""
    env = os.environ if env is None else env
    secrets_path = secrets_file or Path(env.get(f"{ENV_PREFIX}SECRETS_FILE", DEFAULT_SECRETS_FILE))
    from_file = _read_secrets(secrets_path)
    section = from_file.get(SECRETS_SECTION)
    section = section if isinstance(section, dict) else {}
    values: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        if f.name == "secrets":
            continue
        raw = overrides.get(f.name, env.get(ENV_PREFIX + f.name.upper(), section.get(f.name)))
        if raw is not None:
            values[f.name] = _convert(f.name, raw, f.type)
    flat_secrets = {k: str(v) for k, v in from_file.items() if not isinstance(v, dict)}
    return Settings(**values, secrets=flat_secrets)  # type: ignore[arg-type]


def _read_secrets(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"The settings file {path} could not be read: {exc}") from exc


def _convert(name: str, raw: object, annotation: object) -> object:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(str(raw))
        if kind == "float":
            return float(str(raw))
        if kind == "Path":
            return Path(str(raw)).expanduser()
    except ValueError as exc:
        raise InvalidInput(f"The setting {ENV_PREFIX}{name.upper()} must be a whole number, not {raw!r}.") from exc
    return str(raw)
