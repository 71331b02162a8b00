"""One Settings object, built once from `WORKBENCH_*` environment variables and `.streamlit/secrets.toml`."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core import redact
from core.errors import InvalidInput
from core.options import DEFAULT_OVERLAP, DEFAULT_SIZE, ChunkSettings
from core.parsing import limits as parse_limits
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
DEFAULT_INGEST_BATCH = 256  # chunks embedded and written at once: 3-5 s of work here, so progress moves often
DEFAULT_ADMIN = "admin"
DEFAULT_MAX_UPLOAD_MB = 256
DEFAULT_CHUNK_STRATEGY = "recursive"
DEFAULT_MODEL_TIMEOUT_S = 120.0
DEFAULT_MODEL_RETRIES = 2
DEFAULT_API_RATE = 600  # requests per minute per API key (bursts of up to a tenth of it at once)
DEFAULT_JOB_LEASE_S = 60.0  # a worker renews its job's lease every third of this
DEFAULT_LOCAL_MODEL_PORTS = "ollama:11434,openai:8080,openai:8000,openai:1234"  # Ollama; llama.cpp, vLLM, LM Studio
DEFAULT_AUDIT_DAYS = 0  # days the records of remote model calls (the audit) are kept; 0: forever (they hold cost)


class Settings(BaseSettings):
    """Everything configurable; unset values fall back to the named defaults above.

    Sources, strongest first: explicit overrides, `WORKBENCH_*` environment variables, the `[workbench]`
    table of `.streamlit/secrets.toml`. Top-level keys of that file (provider keys such as
    OPENAI_API_KEY) are kept in `secrets`, never shown, and handed to LiteLLM through the environment.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_default=True)

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    lance_uri: str = ""  # a folder (default <data dir>/lancedb) or s3://bucket/prefix
    files_uri: str = ""  # uploaded files and kept originals: a folder (default the data dir) or s3://bucket/prefix
    job_lease_s: float = DEFAULT_JOB_LEASE_S  # a running job not renewed for this long is taken by another process
    default_backend: str = DEFAULT_BACKEND
    default_embedding: str = DEFAULT_EMBEDDING
    chunk_strategy: str = DEFAULT_CHUNK_STRATEGY
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    embed_batch_size: int = DEFAULT_EMBED_BATCH
    ingest_batch_chunks: int = DEFAULT_INGEST_BATCH
    admin_user: str = DEFAULT_ADMIN  # the built-in administrator's name
    admin_password: str = Field(default="", repr=False)  # sets the built-in admin's password on a first start
    cookie_key: str = Field(default="", repr=False)  # signs login cookies; default: generated into the data dir
    secrets_key: str = Field(default="", repr=False)  # seals provider keys saved in the app; default: the cookie key
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    max_unzipped_mb: int = DEFAULT_MAX_UNZIPPED_MB
    max_zip_ratio: int = DEFAULT_MAX_ZIP_RATIO
    max_chars: int = parse_limits.DEFAULT_MAX_CHARS  # parsed characters per document
    max_rows: int = parse_limits.DEFAULT_MAX_ROWS  # table rows per document
    max_depth: int = parse_limits.DEFAULT_MAX_DEPTH  # nesting of JSON
    max_markup_mb: int = parse_limits.DEFAULT_MAX_MARKUP_MB  # XML inside an Office file
    max_chunks: int = parse_limits.DEFAULT_MAX_CHUNKS  # chunks per document
    max_parse_seconds: float = parse_limits.DEFAULT_MAX_PARSE_SECONDS
    max_ocr_pages: int = parse_limits.DEFAULT_MAX_OCR_PAGES
    max_ocr_page_seconds: float = parse_limits.DEFAULT_MAX_OCR_PAGE_SECONDS
    max_ocr_seconds: float = parse_limits.DEFAULT_MAX_OCR_SECONDS
    ocr: Literal["auto", "always", "never"] = "auto"  # scanned pages and images read offline (auto: no text layer)
    vision_model: str = ""
    judge_model: str = ""  # chat model of the LLM reranker (`--rerank llm`)
    chat_model: str = "local/smollm2-135m"
    moderation_model: str = ""  # the safety filter's moderation model through LiteLLM (empty: the offline rule set)
    model_timeout_s: float = DEFAULT_MODEL_TIMEOUT_S  # per remote model call (LiteLLM `timeout`)
    model_retries: int = (
        DEFAULT_MODEL_RETRIES  # for remote calls that fail for a passing reason (LiteLLM `num_retries`)
    )
    models_file: Path = Path("models.yaml")  # LiteLLM proxy-style model_list; optional
    # where the Models page looks for model servers on this machine (loopback only): kind:port, comma-separated
    local_model_ports: str = DEFAULT_LOCAL_MODEL_PORTS
    milvus_uri: str = ""  # a file path (Milvus Lite, default <data dir>/milvus.db) or http(s)://host:19530
    milvus_token: str = Field(default="", repr=False)  # "user:password" or a Zilliz API key
    milvus_db: str = ""
    milvus_consistency: str = "Strong"
    milvus_search_params: str = ""  # JSON, e.g. {"nprobe": 16} or {"ef": 64}
    milvus_partition: str = ""
    milvus_filter: str = ""  # a Milvus boolean expression added to every search, e.g. metadata["team"] == "finance"
    vision_prompt: str = DEFAULT_VISION_PROMPT
    api_rate_per_minute: int = DEFAULT_API_RATE  # per API key; 0: no limit
    audit_days: int = DEFAULT_AUDIT_DAYS  # records of remote model calls are kept this long; 0: forever
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'catalog.db'}")
        if not self.lance_uri:
            object.__setattr__(self, "lance_uri", str(self.data_dir / "lancedb"))
        if not self.files_uri:
            object.__setattr__(self, "files_uri", str(self.data_dir))
        if self.job_lease_s < 3:
            raise InvalidInput(
                f"The setting {ENV_PREFIX}JOB_LEASE_S must be at least 3 seconds, not {self.job_lease_s:g}."
            )
        ChunkSettings(self.chunk_strategy, self.chunk_size, self.chunk_overlap)  # type: ignore[arg-type]  # validates
        password = sa_password(self.database_url)
        redact.remember(
            [
                *self.secrets.values(),
                self.milvus_token,
                self.cookie_key,
                self.secrets_key,
                self.admin_password,
                password,
            ]
        )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env, secrets_file = _SOURCES.get()
        return (
            init_settings,
            _Environment(settings_cls, env),
            TomlConfigSettingsSource(settings_cls, toml_file=secrets_file, toml_table_header=(SECRETS_SECTION,)),
        )

    def replace(self, **changes: object) -> Settings:
        """A copy with some values changed (validated like the original)."""
        derived = {"database_url", "lance_uri", "files_uri"} - set(changes)  # recomputed from data_dir unless given
        return _build({**self.model_dump(exclude=derived), **changes}, env={}, secrets_file=None)

    @property
    def limits(self) -> parse_limits.Limits:
        return parse_limits.Limits(
            max_chars=self.max_chars,
            max_rows=self.max_rows,
            max_depth=self.max_depth,
            max_markup_bytes=self.max_markup_mb * 2**20,
            max_chunks=self.max_chunks,
            max_parse_seconds=self.max_parse_seconds,
            max_ocr_pages=self.max_ocr_pages,
            max_ocr_page_seconds=self.max_ocr_page_seconds,
            max_ocr_seconds=self.max_ocr_seconds,
        )

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    @property
    def chunking(self) -> ChunkSettings:
        """The default chunking for new stores."""
        return ChunkSettings(self.chunk_strategy, self.chunk_size, self.chunk_overlap)  # type: ignore[arg-type]


class _Environment(EnvSettingsSource):
    """`WORKBENCH_*` variables from a given mapping: the process environment, or a test's own."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls, env_prefix=ENV_PREFIX, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._env.items()}


_SOURCES: ContextVar[tuple[Mapping[str, str], Path | None]] = ContextVar("settings_sources", default=({}, None))


def sa_password(url: str) -> str:
    """The password inside a database URL such as postgresql+psycopg://user:password@host/db ('' if none)."""
    found = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url)
    return found.group(1) if found else ""


def load_settings(
    env: Mapping[str, str] | None = None, *, secrets_file: Path | None = None, **overrides: object
) -> Settings:
    """Build Settings: explicit overrides win over the environment, which wins over secrets.toml."""
    env = os.environ if env is None else env
    secrets_path = secrets_file or Path(env.get(f"{ENV_PREFIX}SECRETS_FILE", DEFAULT_SECRETS_FILE))
    from_file = _read_secrets(secrets_path)  # read here first, so that a broken file gets a plain sentence
    secrets = {k: str(v) for k, v in from_file.items() if not isinstance(v, dict)}
    has_section = isinstance(from_file.get(SECRETS_SECTION), dict)
    return _build({**overrides, "secrets": secrets}, env=env, secrets_file=secrets_path if has_section else None)


def _build(values: Mapping[str, object], *, env: Mapping[str, str], secrets_file: Path | None) -> Settings:
    """Settings from these sources, with a plain sentence for the first value that does not fit."""
    token = _SOURCES.set((env, secrets_file))
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "value"
        kind = {"int_parsing": "a whole number", "float_parsing": "a number"}.get(error["type"], "valid")
        raise InvalidInput(
            f"The setting {ENV_PREFIX}{name.upper()} must be {kind}, not {error.get('input')!r}."
        ) from None
    finally:
        _SOURCES.reset(token)


def _read_secrets(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"The settings file {path} could not be read: {exc}") from exc
