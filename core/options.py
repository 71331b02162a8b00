"""The option records every layer shares: how to chunk, search, answer and ingest. Validated on creation.

Everything that takes options imports them from here, so no module needs another's internals for them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.conditions import Condition
from core.errors import InvalidInput
from core.parsing.options import ParseOptions

MAX_TOP_K = 50
DEFAULT_SIZE = 512
DEFAULT_OVERLAP = 50


class Strategy(enum.StrEnum):
    RECURSIVE = "recursive"  # size and overlap in characters, cut at the largest separator
    TOKENS = "tokens"  # size and overlap in tokens of the embedding model's tokenizer
    HEADING = "heading"  # never across a heading (Markdown, DOCX, HTML sections)
    PAGE = "page"  # one chunk per page, slide or sheet; long ones split into even parts
    SENTENCE = "sentence"  # whole sentences packed up to the size; overlap in whole sentences


def check_chunking(size: int, overlap: int) -> None:
    """Refuse sizes the chunker cannot honour."""
    if size < 1 or not 0 <= overlap < size:
        raise InvalidInput(f"Chunk overlap ({overlap}) must be at least 0 and smaller than the chunk size ({size}).")


@dataclass(frozen=True)
class ChunkSettings:
    strategy: Strategy = Strategy.RECURSIVE
    size: int = DEFAULT_SIZE
    overlap: int = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "strategy", Strategy(self.strategy))
        except ValueError:
            known = ", ".join(s.value for s in Strategy)
            raise InvalidInput(f"Unknown chunking strategy '{self.strategy}'. Choose one of: {known}.") from None
        check_chunking(self.size, self.overlap)

    @property
    def unit(self) -> str:
        return "tokens" if self.strategy is Strategy.TOKENS else "characters"


DEFAULT_TOP_K = 5
DEFAULT_CANDIDATES = 50
MAX_CANDIDATES = 1000


class Mode(enum.StrEnum):
    VECTOR = "vector"  # cosine similarity of embeddings
    FULLTEXT = "fulltext"  # BM25 over the chunk text
    HYBRID = "hybrid"  # both, fused


class Fusion(enum.StrEnum):
    RRF = "rrf"  # reciprocal rank fusion: ranks only, robust to score scales
    WEIGHTED = "weighted"  # weight * normalised vector score + (1 - weight) * normalised BM25 score


class Unit(enum.StrEnum):
    PAGE = "page"  # one result per page: scored by its best window (chunks without a page stay chunks)
    CHUNK = "chunk"  # every matching window on its own


class RerankKind(enum.StrEnum):
    NONE = "none"
    MMR = "mmr"  # maximal marginal relevance: trade relevance for diversity
    LLM = "llm"  # a chat model scores each passage
    LITELLM = "litellm"  # a rerank model through litellm.rerank (Cohere, Jina, Voyage, ...)
    CROSS_ENCODER = "cross-encoder"  # a local sentence-transformers cross-encoder directory


@dataclass(frozen=True)
class Reranker:
    kind: RerankKind = RerankKind.NONE
    target: str = ""  # the model name or the cross-encoder directory

    @classmethod
    def parse(cls, spec: str) -> Reranker:
        """`none`, `mmr`, `llm[:MODEL]`, `litellm:MODEL` or `cross-encoder:PATH`."""
        name, _, target = spec.partition(":")
        try:
            kind = RerankKind(name.strip().lower())
        except ValueError:
            raise InvalidInput(
                f"Unknown reranker '{spec}'. Use none, mmr, llm[:MODEL], litellm:MODEL or cross-encoder:PATH."
            ) from None
        if kind in (RerankKind.LITELLM, RerankKind.CROSS_ENCODER) and not target.strip():
            raise InvalidInput(
                f"The {kind.value} reranker needs a {'model' if kind is RerankKind.LITELLM else 'path'}: {kind.value}:..."
            )
        return cls(kind=kind, target=target.strip())

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.target}" if self.target else self.kind.value


@dataclass(frozen=True)
class Filters:
    """Which documents may answer: by name, file type, upload date, and free metadata."""

    filenames: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    after: datetime | None = None
    before: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    condition: Condition | None = None  # and/or conditions on documents (the API's filters), with the rest

    @property
    def active(self) -> bool:
        return bool(self.filenames or self.extensions or self.after or self.before or self.metadata or self.condition)

    @classmethod
    def parse(cls, pairs: Sequence[str]) -> Filters:
        """From `key=value` strings: document=NAME, type=pdf, after=2026-01-31, before=..., any other key is metadata."""
        names: list[str] = []
        types: list[str] = []
        dates: dict[str, datetime] = {}
        metadata: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key or not value:
                raise InvalidInput(f"A filter is written key=value (for example type=pdf), not '{pair}'.")
            if key in ("document", "filename"):
                names.append(value)
            elif key == "type":
                types.append(value.lower().lstrip("."))
            elif key in ("after", "before"):
                try:
                    # a date without a zone is the user's local time; the catalog keeps UTC
                    dates[key] = datetime.fromisoformat(value).astimezone().astimezone(UTC)
                except ValueError:
                    raise InvalidInput(f"The {key} filter needs a date like 2026-01-31, not '{value}'.") from None
            else:
                metadata[key] = value
        return cls(tuple(names), tuple(types), dates.get("after"), dates.get("before"), metadata)

    @classmethod
    def from_form(
        cls, documents: Sequence[str], types: Sequence[str], after: object, before: object, metadata: str
    ) -> Filters:
        """From a filter form: chosen names and types, two optional dates, and 'key=value, key=value' metadata."""
        pairs = [f"document={n}" for n in documents] + [f"type={t}" for t in types]
        pairs += [f"{key}={day}" for key, day in (("after", after), ("before", before)) if day]
        return cls.parse(pairs + [p.strip() for p in metadata.split(",") if p.strip()])


@dataclass(frozen=True)
class SearchOptions:
    """How to search; validated on creation."""

    top_k: int = DEFAULT_TOP_K
    mode: Mode = Mode.HYBRID
    # Weighted fusion by default: RRF keeps only ranks, so a weak BM25 list (filings full of numbers and
    # boilerplate) pulls its poor matches level with strong vector matches; weighting the normalised scores
    # keeps how much better a match is. Measured (bench/longdocs.py, bench/eval_retrieval.py): FinanceBench dev
    # page-recall@5 0.19 (RRF) -> 0.36, SciFact test nDCG@10 0.717 -> 0.723.
    fusion: Fusion = Fusion.WEIGHTED
    weight: float | None = None  # share of the vector score in weighted fusion; None: the store's (fusion_weight)
    unit: Unit = Unit.PAGE
    rewrite: bool = False  # also search the question as a chat model rewrites it in the documents' words
    exact: bool = False  # read every vector, not the store's vector index (LanceDB stores past their index size)
    threshold: float | None = None  # drop hits whose final score is below this
    candidates: int = DEFAULT_CANDIDATES  # pool per list for fusion and reranking
    rerank: Reranker = field(default_factory=Reranker)
    filters: Filters = field(default_factory=Filters)
    mmr_lambda: float = 0.5  # 1 = pure relevance, 0 = pure diversity
    # chat refuses, without calling a model, when the best hit's cosine is below this (None: the embedding
    # model's measured default, see core.embedding.MIN_RELEVANCE)
    min_relevance: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise InvalidInput(f"top-k must be between 1 and {MAX_TOP_K}, not {self.top_k}.")
        if self.weight is not None and not 0.0 <= self.weight <= 1.0:
            raise InvalidInput(f"The fusion weight must be between 0 and 1, not {self.weight}.")
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise InvalidInput(f"The MMR lambda must be between 0 and 1, not {self.mmr_lambda}.")
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise InvalidInput(f"The candidate pool must be between 1 and {MAX_CANDIDATES}, not {self.candidates}.")
        for name, kind in (("mode", Mode), ("fusion", Fusion), ("unit", Unit)):
            try:
                object.__setattr__(self, name, kind(getattr(self, name)))
            except ValueError:
                known = ", ".join(m.value for m in kind)
                raise InvalidInput(f"Unknown {name} '{getattr(self, name)}'. Choose one of: {known}.") from None

    def settings(self) -> dict[str, object]:
        """The retrieval settings as plain JSON values (filters aside: they belong to one question)."""
        return {
            "top_k": self.top_k,
            "mode": self.mode.value,
            "fusion": self.fusion.value,
            "weight": self.weight,
            "unit": self.unit.value,
            "rewrite": self.rewrite,
            "exact": self.exact,
            "threshold": self.threshold,
            "candidates": self.candidates,
            "rerank": str(self.rerank),
            "mmr_lambda": self.mmr_lambda,
            "min_relevance": self.min_relevance,
        }

    def describe(self) -> str:
        """A short label made from the settings themselves (so that a label cannot say one thing and run another)."""
        label = {"vector": "vector", "fulltext": "full-text"}.get(self.mode.value, "hybrid")
        if self.mode is Mode.HYBRID:
            if self.fusion is Fusion.RRF:
                label += " RRF"
            else:
                label += " weighted " + (f"{self.weight:g}" if self.weight is not None else "auto")
        label += " by chunk" if self.unit is Unit.CHUNK else ""
        label += " + rewrite" if self.rewrite else ""
        label += " exact" if self.exact else ""
        return label + (f" + {self.rerank}" if self.rerank.kind is not RerankKind.NONE else "")

    @classmethod
    def parse(cls, text: str, **defaults: object) -> SearchOptions:
        """Options written as 'mode=vector top_k=10 weight=0.7 rerank=mmr' (as on the command line)."""
        values: dict[str, object] = dict(defaults)
        for pair in text.split():
            key, sep, value = pair.partition("=")
            if not sep or key not in SETTING_NAMES:
                known = ", ".join(SETTING_NAMES)
                raise InvalidInput(f"Search settings are written key=value with keys {known}; not '{pair}'.")
            if key == "weight" and value == "auto":
                values[key] = None
                continue
            if key in ("rewrite", "exact"):
                if value.lower() not in ("on", "off", "true", "false", "yes", "no"):
                    raise InvalidInput(f"The search setting {key} is on or off, not '{value}'.")
                values[key] = value.lower() in ("on", "true", "yes")
                continue
            try:
                values[key] = NUMBER_SETTINGS.get(key, str)(value)
            except ValueError:
                raise InvalidInput(f"The search setting {key} needs a number, not '{value}'.") from None
        return cls.from_settings(values)

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> SearchOptions:
        """Options from `settings()` output (and, for one question, `filters`: a Filters record); unknown keys are
        ignored, missing ones take the defaults."""
        known = {k: v for k, v in values.items() if k in SETTING_NAMES}
        if isinstance(values.get("filters"), Filters):
            known["filters"] = values["filters"]
        if "rerank" in known:
            known["rerank"] = Reranker.parse(str(known["rerank"]))
        return cls(**known)  # type: ignore[arg-type]


NUMBER_SETTINGS: dict[str, type] = {
    "top_k": int,
    "candidates": int,
    "weight": float,
    "threshold": float,
    "mmr_lambda": float,
    "min_relevance": float,
}
SETTING_NAMES = (
    "top_k",
    "mode",
    "fusion",
    "weight",
    "unit",
    "rewrite",
    "exact",
    "threshold",
    "candidates",
    "rerank",
    "mmr_lambda",
    "min_relevance",
)


class AnswerMode(enum.StrEnum):
    AUTO = "auto"  # quoted with the bundled model (135M parameters invent figures), written with a configured one
    EXTRACTIVE = "extractive"  # the sources' own sentences and table rows, quoted with their citations
    GENERATIVE = "generative"  # written by the chat model, then checked against the sources


@dataclass(frozen=True)
class AskOptions:
    model: str = ""  # registry name or LiteLLM model string; empty: the configured chat model
    mode: AnswerMode = AnswerMode.AUTO
    temperature: float = 0.2
    max_tokens: int = 512
    system_prompt: str | None = None
    refuse_without_sources: bool = True
    search: SearchOptions = field(default_factory=SearchOptions)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", AnswerMode(self.mode))
        except ValueError:
            known = ", ".join(m.value for m in AnswerMode)
            raise InvalidInput(f"Unknown answer mode '{self.mode}'. Choose one of: {known}.") from None

    def settings(self) -> dict[str, object]:
        """The answer and retrieval settings as plain JSON values (a conversation keeps them)."""
        answer = {
            "model": self.model,
            "answer_mode": self.mode.value,  # the search settings' own "mode" sits beside it
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        return {**answer, "system_prompt": self.system_prompt, **self.search.settings()}

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> AskOptions:
        """Options from `settings()` output; unknown keys are ignored, missing ones take the defaults."""
        known = {k: v for k, v in values.items() if k in ("model", "temperature", "max_tokens", "system_prompt")}
        mode = values.get("answer_mode", AnswerMode.AUTO)
        return cls(**known, mode=mode, search=SearchOptions.from_settings(values))  # type: ignore[arg-type]


@dataclass(frozen=True)
class IngestOptions:
    """Per-upload choices over the store's defaults."""

    chunking: ChunkSettings | None = None
    # chunking for some files only, by file name or by type (".xlsx"): a file's own wins over its type's
    chunking_for: Mapping[str, ChunkSettings] = field(default_factory=dict)
    replace: bool = False  # a new version of a file with the same name replaces the old one
    metadata: Mapping[str, str] = field(default_factory=dict)  # stored on every document, usable in filters
    parse: ParseOptions | None = None  # None: the workbench's configured parse options

    def chunking_of(self, filename: str) -> ChunkSettings | None:
        """This file's chunking: its own, its type's, the upload's, or None (the store's default)."""
        extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        return self.chunking_for.get(filename) or self.chunking_for.get(extension) or self.chunking
