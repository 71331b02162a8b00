"""Plain frozen records passed between the layers of the product."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from core.grounding import Grounding

if TYPE_CHECKING:
    from core.options import ChunkSettings


class Role(enum.StrEnum):
    """What a user may do with a store: a viewer searches and chats, an editor also adds and deletes documents,
    an owner also shares, renames, exports and deletes the store. `read`, `write` (the command line's first
    words) still name the viewer and editor roles."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"
    READ = "viewer"  # aliases kept for the command line and older callers
    WRITE = "editor"

    @classmethod
    def _missing_(cls, value: object) -> Role | None:
        word = str(value).strip().lower()
        legacy = {"read": "viewer", "write": "editor"}.get(word, word)
        return next((role for role in cls if role.value == legacy), None)

    @property
    def rank(self) -> int:
        return {"viewer": 1, "editor": 2, "owner": 3}[self.value]

    @property
    def verb(self) -> str:
        """What the role lets a user do, for sentences: 'may read', 'may edit', 'owns'."""
        return {"viewer": "read", "editor": "edit", "owner": "own"}[self.value]


class DocumentStatus(enum.StrEnum):
    """A document's life: processing until every chunk is written, then ready; or failed."""

    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class IngestStatus(enum.StrEnum):
    """What happened to one file handed to ingest."""

    WRITTEN = "written"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the user cancelled before this file was complete; nothing of it was kept


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool = False
    created_at: datetime | None = None
    disabled: bool = False
    has_password: bool = False
    sessions_valid_after: datetime | None = None  # sign-ins before it have ended (sign-out, new password, ...)


@dataclass(frozen=True)
class Session:
    """One browser's sign-in: who, when it began, and the signed token its cookie holds."""

    name: str
    started_at: datetime
    token: str


class Channel(enum.StrEnum):
    """Which front end an operation came through (kept with its usage)."""

    APP = "app"
    API = "api"
    CLI = "cli"
    MCP = "mcp"  # an agent, through the MCP server


@dataclass(frozen=True)
class Actor:
    """Who is acting: resolved once at the edge (sign-in, an API key, the CLI's --user) and passed to every
    core operation first. Core never looks the user up again within the operation."""

    user: User
    channel: Channel = Channel.APP
    key_id: str | None = None  # the API key it came with, if any

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


@dataclass(frozen=True)
class Grant:
    store: str
    user: str
    role: Role


@dataclass(frozen=True)
class Group:
    """A team of users; a store shared with it is shared with each member at the group's role."""

    name: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupGrant:
    store: str
    group: str
    role: Role


@dataclass(frozen=True)
class Access:
    """One person's role on a store and where it comes from ("owner", "shared directly", "group analysts")."""

    user: str
    role: Role
    via: str


@dataclass(frozen=True)
class Store:
    id: str
    name: str
    backend: str
    embedding_model: str
    embedding_dim: int
    chunk_size: int
    chunk_overlap: int
    owner: str
    created_at: datetime
    description: str = ""
    chunk_strategy: str = "recursive"
    generation: int = 0  # bumped by each embedding rebuild: a new collection holds the new vectors
    metadata: Mapping[str, str] = field(default_factory=dict)  # the owner's own key-value pairs
    redact_personal_data: bool = False  # personal data is replaced in every text sent to a remote model
    ocr: str = ""  # scanned pages read by OCR: auto, always, never; "": the server's setting (WORKBENCH_OCR)
    glossary: Mapping[str, str] = field(default_factory=dict)  # the owner's measures -> line items (core.glossary)
    policy: Mapping[str, object] = field(default_factory=dict)  # injection, safety, limits (core.policy.StorePolicy)
    documents_version: int = 0  # moved by every change to its documents, as read with the store (core.catalog)
    jobs_version: int = 0  # moved when a file's job is added, ends or is removed

    @property
    def chunking(self) -> ChunkSettings:
        """How this store chunks uploads unless an upload says otherwise."""
        from core.options import ChunkSettings

        return ChunkSettings(self.chunk_strategy, self.chunk_size, self.chunk_overlap)  # type: ignore[arg-type]

    @property
    def collection(self) -> str:
        """The backend's table or collection name: stable across renames, unique across re-creations and rebuilds."""
        return f"store_{self.id}" if not self.generation else f"store_{self.id}_g{self.generation}"


@dataclass(frozen=True)
class Document:
    id: str
    store_id: str
    filename: str
    content_hash: str
    size_bytes: int
    status: DocumentStatus
    created_at: datetime
    uploaded_by: str
    chunk_count: int = 0
    page_count: int | None = None
    error: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what reading it noted: pages read by OCR and how well, pages with no text


@dataclass(frozen=True, eq=False)
class ReadyDocuments:
    """A store's ready documents at one version of its documents, as a search needs them (names, windows)."""

    documents: tuple[Document, ...]
    chunks: int

    def __len__(self) -> int:
        return len(self.documents)


@dataclass(frozen=True)
class ChunkChange:
    """What an editor did to one chunk, and who did it last."""

    document_id: str
    chunk_index: int
    disabled: bool
    edited: bool
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class Section:
    """A span of parsed text that shares one location: a page, a slide, a heading, a table row. `context` is text a
    chunk of it needs to be read alone (a table's header row); `label` names the location for people ("Sheet 'Q1'",
    "Slide 3"); `row` is a table row number."""

    start: int
    end: int
    page: int | None = None
    heading: str | None = None
    context: str = ""
    label: str | None = None
    row: int | None = None
    unit: str = "row"  # what `row` counts: "row" (a table's), "paragraph" (a Word document's)


@dataclass(frozen=True)
class ParsedDocument:
    """A file turned into text; `sections` cover `text` in order and carry its locations."""

    filename: str
    text: str
    sections: tuple[Section, ...]
    title: str | None = None
    page_count: int | None = None
    warnings: tuple[str, ...] = ()
    partial: bool = False  # a preview's: some scanned pages left unread (the upload reads them all)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document's parsed text; `text == parsed.text[start:end]`.

    `content` is what is shown: the text, after its context (a table's header row) when it has one, so that
    every chunk reads on its own. `header` (the document, period, section and page title, see core.windows) is
    embedded and indexed with it but not shown as its text: `embedded` is what the model reads.
    """

    document_id: str
    filename: str
    text: str
    chunk_index: int
    start: int
    end: int
    page: int | None = None
    heading: str | None = None
    context: str = ""
    location: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # the document's, copied for backend-side filters
    header: str = ""

    @property
    def content(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def embedded(self) -> str:
        return f"{self.header}\n{self.content}" if self.header else self.content


@dataclass(frozen=True)
class ScoreBreakdown:
    """Why a hit came back: its score and rank in each list, the fused score, and the reranker's score."""

    vector: float | None = None  # cosine similarity (also for hits only BM25 found, in weighted fusion)
    vector_rank: int | None = None
    keyword: float | None = None
    keyword_rank: int | None = None
    fused: float | None = None
    rerank: float | None = None
    named: float | None = None  # the bonus of a document the question names
    relevance: float | None = None  # on a scale alike in every query (calibrated fused, cosine, saturated BM25)
    expansion: str | None = None  # the glossary measure whose line items found it ("capex → purchases of ...")
    statement: float | None = None  # the bonus of a page of the financial statement the question's measure is on
    furniture: float | None = None  # the penalty of a page of exhibits, certifications, subsidiaries or auditors

    def describe(self) -> str:
        """'vector 0.712 (#1) · keyword 8.31 (#2) · fused 0.033': the parts that took part, for a result card."""
        parts = [
            (f"vector {self.vector:.3f}" + (f" (#{self.vector_rank})" if self.vector_rank else ""))
            if self.vector is not None
            else "",
            f"keyword {self.keyword:.2f} (#{self.keyword_rank})" if self.keyword is not None else "",
            f"fused {self.fused:.3f}" if self.fused is not None else "",
            f"rerank {self.rerank:.3f}" if self.rerank is not None else "",
            f"named in the question +{self.named:g}" if self.named else "",
            f"found as {self.expansion}" if self.expansion else "",
            f"on the statement the question asks about +{self.statement:g}" if self.statement else "",
            f"a page of exhibits or certifications −{self.furniture:g}" if self.furniture else "",
        ]
        return " · ".join(p for p in parts if p)


@dataclass(frozen=True)
class Hit:
    """One search result, best first; `score` is what it was ranked by (cosine, BM25, fused or rerank score)."""

    text: str
    score: float
    document_id: str
    filename: str
    chunk_index: int
    start: int
    end: int
    page: int | None = None
    heading: str | None = None
    location: str | None = None
    store: str | None = None
    breakdown: ScoreBreakdown | None = None
    header: str = ""  # what the window was embedded and indexed with besides its text (see core.windows)
    windows: int = 1  # when results are pages: how many of the page's windows matched
    caution: str = ""  # why the store's injection check flagged it ("" when it passed or was not checked)
    withheld: bool = False  # kept from every model (the store's policy blocks what the check flags)

    @property
    def key(self) -> tuple[str, int]:
        """Identifies the chunk across lists and stores' results."""
        return (self.document_id, self.chunk_index)


@dataclass(frozen=True)
class IngestResult:
    filename: str
    status: IngestStatus
    chunks: int = 0
    pages: int | None = None
    document_id: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class UsageEvent:
    """One model call or ingest, for the usage charts; `stores` are every store it touched."""

    kind: str  # chat, embedding, rerank, vision, ingest
    user: str
    model: str
    store: str | None = None  # the store when there is exactly one
    stores: tuple[str, ...] = ()
    store_ids: tuple[str, ...] = ()  # the same stores' ids, when the recorder knows them (history follows a rename)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    ok: bool = True
    error: str | None = None
    created_at: datetime | None = None
    documents: int = 0  # with kind ingest: what was written
    pages: int = 0
    chunks: int = 0
    grounded: bool | None = None  # with kind chat: whether the answer held up against its sources
    channel: str = "app"  # the front end it came through: app, api or cli
    key_id: str | None = None  # the API key, for calls through the API
    redactions: Mapping[str, int] = field(default_factory=dict)  # personal data kept from a remote model, by kind


@dataclass(frozen=True)
class Citation:
    n: int
    filename: str
    page: int | None
    location: str | None
    snippet: str
    score: float
    document_id: str
    chunk_index: int
    store: str | None
    matched: bool = False  # True when the answer had no [n] and the source was matched by its words instead
    supported: bool | None = None  # whether this source holds what the sentences citing it say (None: not checked)


class MessageStatus(enum.StrEnum):
    """How an answer ended."""

    COMPLETE = "complete"
    STOPPED = "stopped"  # the user pressed Stop or left: the partial answer is kept
    FAILED = "failed"  # the model failed; `error` says why in plain words
    REFUSED = "refused"  # no source was good enough, so the model was not asked


@dataclass(frozen=True)
class Conversation:
    id: str
    user: str
    title: str
    stores: tuple[str, ...]  # store names, in the order chosen; a deleted store drops out
    created_at: datetime
    updated_at: datetime
    options: Mapping[str, object] = field(default_factory=dict)  # the settings it was last asked with


@dataclass(frozen=True)
class ChatMessage:
    id: int
    conversation_id: str
    role: str  # "user" or "assistant"
    content: str
    created_at: datetime
    status: MessageStatus = MessageStatus.COMPLETE
    citations: tuple[Citation, ...] = ()
    sources: tuple[Citation, ...] = ()  # everything retrieved for the answer, cited or not
    model: str = ""
    error: str | None = None
    feedback: int = 0  # +1 thumbs up, -1 thumbs down, 0 none
    feedback_comment: str = ""
    mode: str = ""  # extractive or generative (answers only)
    grounding: Grounding | None = None  # the check of the answer against its sources (answers only)


@dataclass(frozen=True)
class ApiKey:
    """A key another program acts with as its user; the key itself is shown once and only its hash is kept."""

    id: str
    user: str
    name: str
    prefix: str  # the key's first characters, to tell keys apart
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def state(self, at: datetime) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class NewKey:
    """A key just made: `secret` is the whole key, shown this once."""

    key: ApiKey
    secret: str
