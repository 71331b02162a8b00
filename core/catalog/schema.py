"""The catalog's tables and indexes (its engine and the upgrade of an earlier version's catalog: core.catalog.migrations)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("sessions_valid_after", sa.DateTime(timezone=True), nullable=True),  # sign-ins before it have ended
)

sign_in_failures = sa.Table(  # per name as typed (known or not), so that unknown names lock out the same way
    "sign_in_failures",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),  # tries counted before the password is checked; success clears
    sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
)

stores = sa.Table(
    "stores",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("backend", sa.String(40), nullable=False),
    sa.Column("embedding_model", sa.String(200), nullable=False),
    sa.Column("embedding_dim", sa.Integer, nullable=False),
    sa.Column("chunk_size", sa.Integer, nullable=False),
    sa.Column("chunk_overlap", sa.Integer, nullable=False),
    sa.Column("chunk_strategy", sa.String(20), nullable=False, default="recursive"),
    sa.Column("owner", sa.String(120), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("search_defaults", sa.JSON, nullable=True),  # the retrieval settings chat uses for this store
    sa.Column("metadata", sa.JSON, nullable=True),  # the owner's own key-value pairs (the API's metadata)
    sa.Column("redact_personal_data", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("ocr", sa.String(10), nullable=False, default="", server_default=""),  # "": the server's setting
    sa.Column("policy", sa.JSON, nullable=True),  # injection check, safety filter, limits, budgets (core.policy)
    sa.Column("glossary", sa.JSON, nullable=True),  # the owner's own measures: {"ARR": "annual recurring revenue"}
    # counts every change to the store's documents (added, ready, failed, removed, relabelled), in the transaction
    # that makes it: what a process caches of a store's documents is good while this is unchanged (a key lookup)
    sa.Column("documents_version", sa.Integer, nullable=False, default=0, server_default="0"),
    # the same for its files' jobs: moved when one is added, ends, is cancelled or removed (not while it runs)
    sa.Column("jobs_version", sa.Integer, nullable=False, default=0, server_default="0"),
)

quota_use = sa.Table(  # what each user and key used of a store's limits, per day (tokens) and month (spending)
    "quota_use",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("subject", sa.String(200), primary_key=True),  # "user:alice" or "key:<key id>"
    sa.Column("period", sa.String(10), primary_key=True),  # "2026-12-08" (a UTC day) or "2026-12" (a month)
    sa.Column("tokens", sa.BigInteger, nullable=False, default=0),
    sa.Column("cost", sa.Float, nullable=False, default=0.0),
)

policy_decisions = sa.Table(  # every check a store's policy made that flagged, withheld, refused or blocked
    "policy_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("user_name", sa.String(120), nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("key_id", sa.String(40), nullable=True),
    sa.Column("store", sa.String(120), nullable=False),
    sa.Column("store_id", sa.String(32), nullable=False),
    sa.Column("policy", sa.String(20), nullable=False),  # injection, safety, tokens, budget
    sa.Column("subject", sa.String(20), nullable=False),  # question, passage, answer, call, upload
    sa.Column("what", sa.Text, nullable=False),  # which passage (file, page), or the words checked
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("action", sa.String(10), nullable=False),  # flagged, withheld, refused, blocked
    sa.Column("reason", sa.Text, nullable=False),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_name", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),
)

groups = sa.Table(  # teams of users that stores are shared with at once (administrators manage them)
    "groups",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("group_name", sa.String(120), sa.ForeignKey("groups.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_name", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
)

group_grants = sa.Table(
    "group_grants",
    metadata,
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_name", sa.String(120), sa.ForeignKey("groups.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("filename", sa.String(500), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("chunk_count", sa.Integer, nullable=False, default=0),
    sa.Column("page_count", sa.Integer, nullable=True),
    sa.Column("uploaded_by", sa.String(120), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("notes", sa.JSON, nullable=True),  # what reading the file noted (Document.notes)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("worker", sa.String(200), nullable=True),  # host:pid of the process writing it, while processing
)

api_keys = sa.Table(  # keys other programs act with as their user; only a hash of each is kept
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_name", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("prefix", sa.String(20), nullable=False),  # the key's first characters, shown to tell keys apart
    sa.Column("hash", sa.String(64), nullable=False, unique=True),  # sha256 of the whole key
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
)

files = sa.Table(  # files uploaded for later ingest (the API's /files, the Upload page's queue); bytes on disk
    "files",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("filename", sa.String(500), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

rate_buckets = sa.Table(  # per API key: a token bucket every process counts in, so replicas share one limit
    "rate_buckets",
    metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),  # requests the key may still make at once
    sa.Column("counted_at", sa.Float, nullable=False),  # when (seconds since the epoch) tokens was last counted
)

jobs = sa.Table(  # one file being added to one store in the background; what a vector-store file is
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("file_id", sa.String(32), nullable=False, index=True),
    sa.Column("batch_id", sa.String(32), nullable=True, index=True),
    sa.Column("filename", sa.String(500), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("user_name", sa.String(120), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("key_id", sa.String(40), nullable=True),
    sa.Column("options", sa.JSON, nullable=False, default=dict),  # chunking and attributes
    sa.Column("status", sa.String(12), nullable=False, index=True),  # queued, running, completed, failed, cancelled
    sa.Column("stage", sa.String(200), nullable=False, default="", server_default=""),
    sa.Column("done", sa.Integer, nullable=False, default=0, server_default="0"),  # chunks written
    sa.Column("total", sa.Integer, nullable=False, default=0, server_default="0"),  # chunks to write (0: not known)
    sa.Column("document_id", sa.String(32), nullable=True),
    sa.Column("error_code", sa.String(20), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("worker", sa.String(200), nullable=True),  # host:pid of the process running it
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),  # its holder renews it while it works
    sa.Column("attempts", sa.Integer, nullable=False, default=0, server_default="0"),  # times it was claimed
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)

chunk_changes = sa.Table(  # an editor's change to one chunk: disabled (never retrieved) or its text edited
    "chunk_changes",
    metadata,
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("chunk_index", sa.Integer, primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("edited", sa.Boolean, nullable=False, default=False),
    sa.Column("changed_by", sa.String(120), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("user_name", sa.String(120), nullable=False),
    sa.Column("store", sa.String(120), nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost", sa.Float, nullable=False, default=0.0),
    sa.Column("latency_ms", sa.Float, nullable=False, default=0.0),
    sa.Column("ok", sa.Boolean, nullable=False, default=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("documents", sa.Integer, nullable=False, default=0, server_default="0"),  # ingest volume
    sa.Column("pages", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("chunks", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("grounded", sa.Boolean, nullable=True),  # a chat answer: held up against its sources or not
    sa.Column("channel", sa.String(8), nullable=False, default="app", server_default="app"),  # app, api or cli
    sa.Column("key_id", sa.String(40), nullable=True),  # the API key it came with
    sa.Column("redactions", sa.JSON, nullable=True),  # kind -> count of personal data kept from a remote model
)

usage_stores = sa.Table(  # the stores an event touched: one row each (a question may span several)
    "usage_stores",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("usage_events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("store", sa.String(120), primary_key=True),  # its name when recorded (kept once the store is gone)
    sa.Column("store_id", sa.String(32), nullable=True, index=True),  # its history follows the store when renamed
)


conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_name", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

conversation_stores = sa.Table(
    "conversation_stores",
    metadata,
    sa.Column(
        "conversation_id", sa.String(32), sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)

# One live copy of a file per store: two ingests of the same file at once (two tabs, two processes) cannot both
# claim it; the loser reports a duplicate. Failed attempts may repeat.
ONE_LIVE_COPY = sa.Index(
    "documents_one_live_copy",
    documents.c.store_id,
    documents.c.content_hash,
    unique=True,
    sqlite_where=documents.c.status != "failed",
    postgresql_where=documents.c.status != "failed",
)

# One live attempt per file and store: the same file attached twice at once (two requests, two tabs) makes one job.
ONE_LIVE_JOB = sa.Index(
    "jobs_one_live_attempt",
    jobs.c.store_id,
    jobs.c.file_id,
    unique=True,
    sqlite_where=jobs.c.status.notin_(["failed", "cancelled"]),
    postgresql_where=jobs.c.status.notin_(["failed", "cancelled"]),
)

# A store's ready documents by status and last change: its counts and version (`ready_version`) read the index only.
STORE_STATUS = sa.Index(
    "documents_store_status_updated", documents.c.store_id, documents.c.status, documents.c.updated_at
)

# The Documents page: a store's documents newest first, a page at a time, without sorting the store.
STORE_NEWEST = sa.Index("documents_store_created", documents.c.store_id, documents.c.created_at, documents.c.id)

# The file a searched document came from (`file_ids`), found without reading the store's other jobs.
JOB_DOCUMENTS = sa.Index("jobs_store_document", jobs.c.store_id, jobs.c.document_id)
# A store's newest jobs (the upload panel's, polled twice a second), walked from the newest without a sort.
JOB_RECENT = sa.Index("jobs_store_created", jobs.c.store_id, jobs.c.created_at)

question_sets = sa.Table(  # evaluation question sets saved with a store, re-run after it changes
    "question_sets",
    metadata,
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("content", sa.Text, nullable=False),  # JSON lines, as core.evaluation writes them
    sa.Column("questions", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False, default="complete"),
    sa.Column("citations", sa.JSON, nullable=False, default=list),
    sa.Column("sources", sa.JSON, nullable=False, default=list),
    sa.Column("model", sa.String(200), nullable=False, default=""),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("feedback", sa.Integer, nullable=False, default=0),
    sa.Column("feedback_comment", sa.Text, nullable=False, default=""),
    sa.Column("mode", sa.String(12), nullable=False, default="", server_default=""),
    sa.Column("grounding", sa.JSON, nullable=True),  # core.grounding.Grounding.as_record()
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


model_connections = sa.Table(  # model servers an administrator connected on the Models page
    "model_connections",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(60), nullable=False, unique=True),  # its models are named "<name>/<model>"
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("api_base", sa.String(500), nullable=False, default=""),
    sa.Column("api_version", sa.String(40), nullable=False, default=""),  # Azure OpenAI's
    sa.Column("sealed_key", sa.Text, nullable=True),  # core.vault: readable only with the server's secrets key
    sa.Column("key_prefix", sa.String(20), nullable=False, default=""),
    sa.Column("models", sa.JSON, nullable=False, default=list),  # [{"name": ..., "kind": chat|embedding|rerank}]
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

app_settings = sa.Table(  # what administrators choose in the app for everyone (model defaults, local servers seen)
    "app_settings",
    metadata,
    sa.Column("key", sa.String(60), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_by", sa.String(120), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
