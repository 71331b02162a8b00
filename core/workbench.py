"""The composition root: settings, catalog, backends and models, and the product's operations on them.

The CLI and the Streamlit pages call this and nothing below it. Every operation names the acting user
(`user=`, required): an empty, unknown or disabled user is refused, and every store operation checks the
user's role through `core.access` before it touches anything. `as_user(name)` binds a user once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from core import access, evaluation, llm, rag
from core.access import Action
from core.catalog import Catalog, new_id
from core.config import Settings, load_settings
from core.embedding import Embedder, UsageSink, get_embedder
from core.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, WorkbenchError
from core.evaluation import Evaluation, Question
from core.ingest import CancelCheck, Ingestor, ProgressSink, Upload, read_uploads
from core.models import ModelRegistry
from core.options import AskOptions, ChunkSettings, IngestOptions, SearchOptions
from core.parsing.options import ParseOptions
from core.preview import ParseCache, Preview, preview
from core.rag import Answer
from core.rebuild import RebuildProgress, rebuild
from core.records import (
    ChatMessage,
    Chunk,
    Conversation,
    Document,
    DocumentStatus,
    Grant,
    Hit,
    IngestResult,
    IngestStatus,
    MessageStatus,
    Role,
    Store,
    User,
)
from core.redact import install_log_redaction
from core.retrieval import RerankModels, Target, check_embedding
from core.retrieval import search as retrieval_search
from core.stores import VectorStore, open_backend
from core.transfer import ExportSummary, export_store, import_export, read_export
from core.usage import UsageRecorder, UsageReport
from core.usage import report as usage_report

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the process writing it stopped before it was complete; upload it again."


@dataclass(frozen=True)
class StoreSummary:
    store: Store
    documents: int
    chunks: int
    role: Role
    size_bytes: int | None = None  # on disk, where the backend can tell
    updated_at: datetime | None = None  # the last document change, or the store's creation


class Workbench:
    """One per process; shared by every session of the app (it holds no per-user state)."""

    def __init__(self, settings: Settings | None = None) -> None:
        install_log_redaction()  # no secret reaches a log line, whichever library writes it
        self.settings = settings or load_settings()
        for key, value in self.settings.secrets.items():  # provider keys from secrets.toml, for LiteLLM
            os.environ.setdefault(key, value)  # the environment, when it sets one, wins
        self.catalog = Catalog(self.settings.database_url)
        self.catalog.ensure_user(self.settings.admin_user, is_admin=True)
        self._backends: dict[str, VectorStore] = {}
        self._lock = threading.Lock()
        self.parse_cache = ParseCache()
        self.models = ModelRegistry.load(self.settings.models_file)
        self._embedders: dict[str, Embedder] = {}
        self.recover()
        if self.settings.admin_password and self.needs_first_admin():
            self.create_first_admin(self.settings.admin_user, self.settings.admin_password)

    def recover(self) -> int:
        """Clean up after a process that died mid-ingest: its unfinished documents lose their chunks and are
        marked failed ("interrupted"), so that the same files can be uploaded again. Returns how many."""
        count = 0
        for store, ids in self.catalog.abandoned():
            try:
                self.backend(store.backend).delete_documents(store.collection, ids)
            except WorkbenchError as exc:  # a backend that cannot be opened now: try again at the next start
                log.warning("could not clean up %d interrupted documents of %s: %s", len(ids), store.name, exc)
                continue
            self.catalog.mark_failed(ids, INTERRUPTED)
            count += len(ids)
            log.warning("store %s: %d documents interrupted by a stopped process were cleaned up", store.name, len(ids))
        return count

    # plumbing

    def backend(self, name: str) -> VectorStore:
        with self._lock:
            if name not in self._backends:
                self._backends[name] = open_backend(name, self.settings)
            return self._backends[name]

    def embedder(self, name: str) -> Embedder:
        """The embedder for a model-list name or a LiteLLM model string (bundled models load once per process)."""
        model, params = self.models.resolve(name)
        if model == name and not params:
            return get_embedder(name)
        with self._lock:
            if name not in self._embedders:
                self._embedders[name] = Embedder(name, target=model, params=params)
            return self._embedders[name]

    def acting(self, name: str) -> User:
        """The user an operation acts as; refused when the name is empty, unknown or disabled."""
        try:
            user = self.catalog.get_user(name) if name else None
        except NotFound:
            raise PermissionDenied(f"There is no user named '{name}'. Sign in as a known user.") from None
        return access.acting(user, name)

    def as_user(self, name: str) -> ActingWorkbench:
        """This workbench with every operation acting as `name` (a page binds its logged-in user once)."""
        return ActingWorkbench(self, name)

    def _on_usage(self, embedder: Embedder, *, user: str, store: str) -> UsageSink:
        """Record each embedding call as a usage event of the user on the store."""
        return UsageRecorder(self.catalog, kind="embedding", user=user, stores=[store], model=embedder.model).record

    # users and grants

    def add_user(self, name: str, *, user: str, admin: bool = False, password: str | None = None) -> User:
        access.require_admin(self.acting(user))
        if name != name.lower():
            raise InvalidInput(
                f"User names are lowercase (the login form lowercases what people type): use '{name.lower()}'."
            )
        hashed = access.hash_password(password) if password is not None else None
        return self.catalog.add_user(name, is_admin=admin, password_hash=hashed)

    def list_users(self, *, user: str) -> list[User]:
        access.require_admin(self.acting(user))
        return self.catalog.list_users()

    def set_password(self, name: str, password: str, *, user: str, current: str | None = None) -> User:
        """An admin sets anyone's password; a user changes their own with their current one."""
        acting = self.acting(user)
        if not acting.is_admin:
            if acting.name != name:
                raise PermissionDenied("Only an administrator can set another user's password.")
            if acting.has_password and not access.password_matches(current or "", self.catalog.password_hash(name)):
                raise PermissionDenied("Your current password is not right; nothing was changed.")
        self.catalog.get_user(name)
        updated = self.catalog.update_user(name, password_hash=access.hash_password(password))
        self.catalog.set_login_failures(name, 0)  # a new password unlocks the account
        return updated

    def set_admin(self, name: str, admin: bool, *, user: str) -> User:
        acting = self.acting(user)
        access.require_admin(acting)
        target = self.catalog.get_user(name)
        if target.is_admin and not admin and not self._other_admins(name):
            raise PermissionDenied(f"'{name}' is the last administrator; make someone else an administrator first.")
        return self.catalog.update_user(name, is_admin=admin)

    def set_disabled(self, name: str, disabled: bool, *, user: str) -> User:
        """A disabled user can do nothing and cannot log in; their stores and documents stay."""
        acting = self.acting(user)
        access.require_admin(acting)
        if disabled and name == acting.name:
            raise PermissionDenied("You cannot disable your own account.")
        target = self.catalog.get_user(name)
        if disabled and target.is_admin and not self._other_admins(name):
            raise PermissionDenied(f"'{name}' is the last administrator and cannot be disabled.")
        return self.catalog.update_user(name, disabled=disabled)

    def check_login(self, name: str, password: str) -> User:
        """The user if the password is theirs and the account enabled; one message for every failure."""
        try:
            candidate = self.catalog.get_user(name.strip().lower()) if name.strip() else None
        except NotFound:
            candidate = None
        hashed = self.catalog.password_hash(candidate.name) if candidate else None
        failures = access.failures_in_force(*self.catalog.login_failures(candidate.name)) if candidate else 0
        if failures >= access.MAX_LOGIN_FAILURES:
            raise PermissionDenied(
                "Too many failed sign-ins; wait 15 minutes or ask an administrator for a new password."
            )
        if candidate is None or candidate.disabled or not access.password_matches(password, hashed):
            if candidate is not None:
                self.catalog.set_login_failures(candidate.name, failures + 1)
            raise PermissionDenied("Wrong user name or password.")
        self.catalog.set_login_failures(candidate.name, 0)
        return candidate

    def needs_first_admin(self) -> bool:
        """True until some enabled administrator has a password: the login page then offers to create one."""
        return not any(u.is_admin and u.has_password and not u.disabled for u in self.catalog.list_users())

    def create_first_admin(self, name: str, password: str) -> User:
        """The first administrator with a password; refused once there is one (then admins add users)."""
        with self._lock:
            if not self.needs_first_admin():
                raise PermissionDenied("An administrator already exists; sign in, or ask them for an account.")
            name = name.strip().lower()
            access.check_name(name, "user")
            hashed = access.hash_password(password)
            if any(u.name == name for u in self.catalog.list_users()):
                return self.catalog.update_user(name, password_hash=hashed, is_admin=True, disabled=False)
            return self.catalog.add_user(name, is_admin=True, password_hash=hashed)

    def login_credentials(self, only: str | None = None) -> dict[str, Any]:
        """What the login form checks against, in streamlit-authenticator's shape: enabled users with a password,
        their bcrypt hash and the failed logins still in force (the form refuses past MAX_LOGIN_FAILURES).
        `only`: just that user (a signed-in session needs no one else's entry)."""
        entries: dict[str, Any] = {}
        for account in self.catalog.list_users():
            if only is not None and account.name != only:
                continue
            hashed = self.catalog.password_hash(account.name)
            if account.disabled or not hashed:
                continue
            count, last = self.catalog.login_failures(account.name)
            entries[account.name] = {
                "name": account.name,
                "email": "",
                "password": hashed,
                "roles": ["admin" if account.is_admin else "user"],
                "failed_login_attempts": access.failures_in_force(count, last),
                "logged_in": False,
            }
        return {"usernames": entries}

    def record_login_failures(self, name: str, count: int) -> None:
        """Keep the login form's count of failed attempts for a user (0 after a successful login)."""
        if name in {u.name for u in self.catalog.list_users()}:
            self.catalog.set_login_failures(name, count)

    def cookie_key(self) -> str:
        return access.cookie_key(self.settings.cookie_key, self.settings.data_dir)

    def _other_admins(self, name: str) -> bool:
        return any(u.is_admin and not u.disabled and u.name != name for u in self.catalog.list_users())

    def grant(self, store_name: str, user_name: str, role: Role | str, *, user: str) -> Grant:
        store = self.store(store_name, user=user, action=Action.MANAGE)
        return self.catalog.grant(store, user_name, Role(role))

    def revoke(self, store_name: str, user_name: str, *, user: str) -> None:
        self.catalog.revoke(self.store(store_name, user=user, action=Action.MANAGE), user_name)

    def grants(self, store_name: str, *, user: str) -> list[Grant]:
        return self.catalog.grants_of(self.store(store_name, user=user, action=Action.MANAGE))

    # stores

    def create_store(
        self,
        name: str,
        *,
        user: str,
        backend: str | None = None,
        embedding: str | None = None,
        chunking: ChunkSettings | None = None,
        description: str = "",
    ) -> Store:
        owner = self.acting(user)
        backend_name = backend or self.settings.default_backend
        vectors = self.backend(backend_name)
        embedder = self.embedder(embedding or self.settings.default_embedding)
        chunking = chunking or self.settings.chunking
        try:
            store = self.catalog.create_store(
                name,
                backend=backend_name,
                embedding_model=embedder.model,
                embedding_dim=embedder.dimension,
                chunk_size=chunking.size,
                chunk_overlap=chunking.overlap,
                chunk_strategy=chunking.strategy.value,
                owner=owner.name,
                description=description,
            )
        except AlreadyExists:
            raise self._name_taken(name, owner) from None
        try:
            vectors.create(store.collection, dimension=store.embedding_dim)
        except Exception:
            self.catalog.delete_store(store)
            raise
        log.info("created store %s (%s, %s)", name, backend_name, embedder.model)
        return store

    def _name_taken(self, name: str, acting: User) -> AlreadyExists:
        """A taken name: said plainly to whoever may see that store, neutrally to others (no confirmation it exists)."""
        with contextlib.suppress(WorkbenchError):
            self._authorized(name, acting, Action.READ)
            return AlreadyExists(f"A store named '{name}' already exists; choose another name.")
        return AlreadyExists(f"The name '{name}' is not available; choose another name.")

    def store(self, name: str, *, user: str, action: Action = Action.READ) -> Store:
        """The store if the user may do `action` on it; a store the user may not see does not exist for them."""
        return self._authorized(name, self.acting(user), action)[0]

    def _authorized(self, name: str, acting: User, action: Action) -> tuple[Store, Role]:
        try:
            store = self.catalog.get_store(name)
        except NotFound:
            raise NotFound(access.missing_store(name)) from None
        role = access.authorize(acting, store, self.catalog.role_of(acting, store), action)
        return store, role

    def list_stores(self, *, user: str, sizes: bool = False) -> list[StoreSummary]:
        """The stores the user may see, with counts; `sizes` also measures each on disk (slower: a folder walk)."""
        acting = self.acting(user)
        summaries = []
        for store in self.catalog.list_stores():
            role = self.catalog.role_of(acting, store)
            if role is not None:
                documents, chunks = self.catalog.store_stats(store)
                size = None
                with contextlib.suppress(WorkbenchError):  # a backend out of reach: the list still shows the store
                    size = self.backend(store.backend).size_bytes(store.collection) if sizes else None
                summaries.append(
                    StoreSummary(
                        store=store,
                        documents=documents,
                        chunks=chunks,
                        role=role,
                        size_bytes=size,
                        updated_at=self.catalog.last_change(store),
                    )
                )
        return summaries

    def rename_store(self, name: str, new_name: str, *, user: str) -> Store:
        acting = self.acting(user)
        store = self._authorized(name, acting, Action.MANAGE)[0]
        try:
            return self.catalog.rename_store(store, new_name)
        except AlreadyExists:
            raise self._name_taken(new_name, acting) from None

    def rebuild_store(
        self,
        name: str,
        embedding: str,
        *,
        user: str,
        on_progress: Callable[[RebuildProgress], None] | None = None,
    ) -> Store:
        """Re-embed every chunk with another model (owners); searches use the old vectors until it is done."""
        acting = self.acting(user)
        store = self._authorized(name, acting, Action.MANAGE)[0]
        embedder = self.embedder(embedding)
        return rebuild(
            store,
            catalog=self.catalog,
            backend=self.backend(store.backend),
            embedder=embedder,
            on_usage=self._on_usage(embedder, user=acting.name, store=store.name),
            on_progress=on_progress,
        )

    def search_defaults(self, name: str, *, user: str) -> SearchOptions:
        """The store's saved retrieval settings (chat uses them), or the product's defaults."""
        store = self.store(name, user=user)
        return SearchOptions.from_settings(self.catalog.search_defaults(store))

    def set_search_defaults(self, name: str, options: SearchOptions, *, user: str) -> None:
        """Save retrieval settings as the store's default (editors and owners)."""
        store = self.store(name, user=user, action=Action.EDIT)
        self.catalog.set_search_defaults(store, options.settings())

    def evaluate(
        self,
        name: str,
        questions: Sequence[Question],
        settings: Mapping[str, SearchOptions],
        *,
        user: str,
        k: int | None = None,
        on_progress: evaluation.Progress | None = None,
    ) -> Evaluation:
        """Run a question set against a store with each setting (anyone who may read the store)."""
        store = self.store(name, user=user)
        return evaluation.evaluate(
            lambda question, options: self.search(store.name, question, user=user, options=options),
            questions,
            settings,
            k=k,
            on_progress=on_progress,
        )

    def save_question_set(self, name: str, set_name: str, questions: Sequence[Question], *, user: str) -> None:
        """Keep a question set with the store, to run again after the store changes (readers may save)."""
        store = self.store(name, user=user)
        set_name = set_name.strip()
        access.check_name(set_name, "question set")
        if not questions:
            raise InvalidInput("The question set is empty: add at least one question with its document.")
        content = evaluation.write_questions(questions).decode()
        self.catalog.save_question_set(store, set_name, content, questions=len(questions), user=self.acting(user).name)

    def question_sets(self, name: str, *, user: str) -> list[dict[str, Any]]:
        return self.catalog.question_sets(self.store(name, user=user))

    def question_set(self, name: str, set_name: str, *, user: str) -> list[Question]:
        content = self.catalog.question_set(self.store(name, user=user), set_name)
        if content is None:
            raise NotFound(f"Store '{name}' has no question set '{set_name}'.")
        return evaluation.read_questions(content.encode(), f"{set_name}.jsonl")

    def delete_question_set(self, name: str, set_name: str, *, user: str) -> None:
        """Its author, or whoever manages the store."""
        acting = self.acting(user)
        store = self._authorized(name, acting, Action.READ)[0]
        saved = {s["name"]: s for s in self.catalog.question_sets(store)}
        if set_name not in saved:
            raise NotFound(f"Store '{name}' has no question set '{set_name}'.")
        if saved[set_name]["created_by"] != acting.name:
            self._authorized(name, acting, Action.MANAGE)
        self.catalog.delete_question_set(store, set_name)

    def delete_store(self, name: str, *, user: str) -> None:
        store = self.store(name, user=user, action=Action.MANAGE)
        self.backend(store.backend).drop(store.collection)
        self.catalog.delete_store(store)
        log.info("deleted store %s", name)

    def ask(
        self,
        names: str | Sequence[str],
        question: str,
        *,
        user: str,
        conversation: str | None = None,
        options: AskOptions | None = None,
    ) -> tuple[Generator[str, None, None], Answer]:
        """Stream an answer from the stores' documents; the Answer is complete once the stream ends.

        Without `conversation` a new one starts, titled by the question. Follow-up questions are rewritten
        into a standalone search query from the conversation. The question and the answer (with its cited
        and retrieved sources) are saved when the stream ends, also when it is closed early (status
        stopped, the partial answer kept) or the model fails (status failed, with the reason).
        """
        acting = self.acting(user)
        if not question.strip():
            raise InvalidInput("Type a question.")
        wanted = self.store_names(names)
        stores = [self._authorized(name, acting, Action.READ)[0] for name in wanted]
        options = options or AskOptions(search=SearchOptions.from_settings(self.catalog.search_defaults(stores[0])))
        model_name = options.model or self.settings.chat_model
        model, params = self.models.resolve(model_name)
        params = self._remote_call(model, params)
        history: list[tuple[str, str]] = []
        if conversation is not None:
            self.catalog.get_conversation(conversation, user=acting.name)  # refused unless it is theirs
            history = [
                (m.role, m.content)
                for m in self.catalog.messages(conversation)
                if m.status in (MessageStatus.COMPLETE, MessageStatus.STOPPED, MessageStatus.REFUSED)
            ]
        answer = Answer(question=question, model=model_name, conversation_id=conversation or "")
        usage = UsageRecorder(self.catalog, kind="chat", user=acting.name, stores=wanted, model=model_name)
        pipeline = rag.answer_stream(
            answer,
            history=history,
            search=lambda query: self.search(wanted, query, user=acting.name, options=options.search),
            model=model,
            params=params,
            options=options,
            stores=wanted,
            on_usage=lambda response, error: usage.record(response, error=error),
        )
        return self._saved(pipeline, answer, stores=stores, options=options, user=acting.name), answer

    def _saved(
        self, pipeline: Iterator[str], answer: Answer, *, stores: list[Store], options: AskOptions, user: str
    ) -> Generator[str, None, None]:
        """The pipeline's stream; when it ends, however it ends, the question and answer join the conversation."""
        settings = _options_record(options)
        if answer.conversation_id:
            self.catalog.update_conversation(answer.conversation_id, stores=stores, options=settings)
        else:
            answer.conversation_id = self.catalog.create_conversation(
                user=user, title=answer.question, stores=stores, options=settings
            )
        try:
            yield from pipeline
        finally:
            if answer.status is MessageStatus.COMPLETE and answer.text == "" and answer.error is None:
                answer.status = MessageStatus.STOPPED  # closed before the first piece
            _, answer.message_id = self.catalog.add_messages(
                answer.conversation_id,
                [
                    {"role": "user", "content": answer.question},
                    {
                        "role": "assistant",
                        "content": answer.text,
                        "status": answer.status.value,
                        "citations": [asdict(c) for c in answer.citations],
                        "sources": [asdict(c) for c in answer.retrieved],
                        "model": answer.model,
                        "error": answer.error,
                    },
                ],
            )

    def conversations(self, *, user: str) -> list[Conversation]:
        """The user's own conversations, the most recent first."""
        return self.catalog.list_conversations(user=self.acting(user).name)

    def conversation(self, conversation_id: str, *, user: str) -> tuple[Conversation, list[ChatMessage]]:
        """A conversation of the user's with its messages; sources from stores they may no longer read are hidden."""
        acting = self.acting(user)
        found = self.catalog.get_conversation(conversation_id, user=acting.name)
        readable = {s.store.name for s in self.list_stores(user=acting.name)}
        messages = [
            replace(
                m,
                citations=tuple(c for c in m.citations if c.store in readable),
                sources=tuple(c for c in m.sources if c.store in readable),
            )
            for m in self.catalog.messages(conversation_id)
        ]
        return found, messages

    def rename_conversation(self, conversation_id: str, title: str, *, user: str) -> Conversation:
        acting = self.acting(user)
        self.catalog.get_conversation(conversation_id, user=acting.name)
        if not title.strip():
            raise InvalidInput("Give the conversation a title.")
        self.catalog.update_conversation(conversation_id, title=title)
        return self.catalog.get_conversation(conversation_id, user=acting.name)

    def delete_conversation(self, conversation_id: str, *, user: str) -> None:
        acting = self.acting(user)
        self.catalog.get_conversation(conversation_id, user=acting.name)
        self.catalog.delete_conversation(conversation_id)

    def feedback(self, message_id: int, *, user: str, rating: int, comment: str = "") -> None:
        """Thumbs up (+1), down (-1) or neither (0) on an answer of the user's own, with an optional comment."""
        if rating not in (-1, 0, 1):
            raise InvalidInput("Feedback is +1 (helpful), -1 (not helpful) or 0 (none).")
        self.catalog.set_feedback(message_id, user=self.acting(user).name, rating=rating, comment=comment.strip())

    def export_conversation(self, conversation_id: str, *, user: str) -> str:
        """The conversation as Markdown, with each answer's cited sources."""
        found, messages = self.conversation(conversation_id, user=user)
        return rag.markdown(found, messages)

    def forget_chat(self, names: str | Sequence[str], *, user: str) -> None:
        """Delete the user's conversations over exactly these stores."""
        wanted = self.store_names(names)
        acting = self.acting(user)
        for name in wanted:
            self._authorized(name, acting, Action.READ)
        for found in self.catalog.list_conversations(user=acting.name):
            if list(found.stores) == wanted:
                self.catalog.delete_conversation(found.id)

    def latest_conversation(self, names: str | Sequence[str], *, user: str) -> str | None:
        """The user's most recent conversation over exactly these stores (the command line continues it)."""
        wanted = self.store_names(names)
        acting = self.acting(user)
        for name in wanted:
            self._authorized(name, acting, Action.READ)
        return next((c.id for c in self.catalog.list_conversations(user=acting.name) if list(c.stores) == wanted), None)

    def usage(
        self,
        *,
        user: str,
        since: datetime | None = None,
        until: datetime | None = None,
        of_user: str | None = None,
        store: str | None = None,
    ) -> UsageReport:
        """Usage in a period, optionally of one user or one store: everything for an administrator, otherwise
        the viewer's own use and the use of the stores they own."""
        acting = self.acting(user)
        owned = [s.store.name for s in self.list_stores(user=acting.name) if s.role is Role.OWNER]
        return usage_report(
            self.catalog,
            viewer_is_admin=acting.is_admin,
            viewer=acting.name,
            owned_stores=owned,
            since=since,
            until=until,
            user=of_user,
            store=store,
        )

    def _remote_call(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Retries and a timeout for a remote model, from the settings, unless its model-list entry sets them."""
        if model.startswith(llm.LOCAL_PROVIDER + "/"):
            return dict(params)
        return {"num_retries": self.settings.model_retries, "timeout": self.settings.model_timeout_s, **params}

    def store_names(self, names: str | Sequence[str]) -> list[str]:
        """Store names from a list or a comma-separated string, deduplicated, in order."""
        wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        wanted = [n for n in dict.fromkeys(wanted) if n]
        if not wanted:
            raise InvalidInput("Name at least one store.")
        return wanted

    def export_store(self, name: str, *, user: str, fmt: str = "parquet") -> ExportSummary:
        """Write the store's ready documents, chunk texts and vectors into the data directory's exports folder."""
        store = self.store(name, user=user, action=Action.MANAGE)
        if fmt not in ("parquet", "jsonl"):
            raise InvalidInput(f"Export as parquet or jsonl, not '{fmt}'.")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.settings.data_dir / "exports" / f"{store.id}-{stamp}.{fmt}"
        documents = self.catalog.list_documents(store, status=DocumentStatus.READY)
        return export_store(store, documents, self.backend(store.backend), path)

    def import_store(
        self,
        data: bytes,
        *,
        filename: str,
        user: str,
        name: str | None = None,
        backend: str | None = None,
    ) -> Store:
        """Recreate an exported store from its file's bytes (under its own name unless `name` says otherwise),
        owned by the acting user, without re-embedding."""
        owner = self.acting(user)
        suffix = Path(filename).suffix.lower()
        scratch = self.settings.data_dir / "imports" / f"{new_id()}{suffix}"
        scratch.parent.mkdir(parents=True, exist_ok=True)
        scratch.write_bytes(data)
        try:
            exported = read_export(scratch, shown_as=filename)
            backend_name = backend or self.settings.default_backend
            store = import_export(
                exported,
                catalog=self.catalog,
                backend=self.backend(backend_name),
                backend_name=backend_name,
                name=name,
                owner=owner.name,
            )
        finally:
            scratch.unlink(missing_ok=True)
        log.info("imported store %s from %s into %s", store.name, filename, backend_name)
        return store

    def documents(self, name: str, *, user: str) -> list[Document]:
        return self.catalog.list_documents(self.store(name, user=user))

    def document_chunks(self, name: str, document_id: str, *, user: str) -> list[Chunk]:
        """One document's chunks with their locations, in order (the document viewer)."""
        store = self.store(name, user=user)
        if not any(d.id == document_id for d in self.catalog.list_documents(store)):
            raise NotFound(f"'{name}' has no such document; it may have been deleted.")
        return self.backend(store.backend).document_chunks(store.collection, document_id)

    def delete_document(self, name: str, document_id: str, *, user: str) -> None:
        """Remove one document and its chunks (editors and owners)."""
        store = self.store(name, user=user, action=Action.EDIT)
        if not any(d.id == document_id for d in self.catalog.list_documents(store)):
            raise NotFound(f"'{name}' has no such document; it may have been deleted already.")
        self.backend(store.backend).delete_documents(store.collection, [document_id])
        self.catalog.delete_document(document_id)

    # ingest and search

    def parse_options(
        self, *, user: str, store: str | None, vision_model: str | None = None, vision_prompt: str | None = None
    ) -> ParseOptions:
        """Parsing choices from the settings, with this upload's overrides; vision calls are recorded as usage."""
        acting = self.acting(user)
        if store is not None:
            self._authorized(store, acting, Action.EDIT)

        usage = UsageRecorder(self.catalog, kind="vision", user=acting.name, stores=[store] if store else [])

        def record(model: str, outcome: llm.CompletionResponse | Exception) -> None:
            if isinstance(outcome, Exception):
                usage.record(None, error=str(outcome), model=model)
            else:
                usage.record(outcome, model=model)

        chosen = self.settings.vision_model if vision_model is None else vision_model
        target, params = self.models.resolve(chosen) if chosen else ("", {})
        return ParseOptions(
            vision_model=target,
            vision_params=params,
            vision_prompt=vision_prompt or self.settings.vision_prompt,
            max_unzipped_bytes=self.settings.max_unzipped_mb * 2**20,
            max_zip_ratio=self.settings.max_zip_ratio,
            limits=self.settings.limits,
            on_usage=record,
        )

    def ingest(
        self,
        name: str,
        uploads: Sequence[Upload | IngestResult],
        *,
        user: str,
        options: IngestOptions | None = None,
        on_progress: ProgressSink | None = None,
        cancelled: CancelCheck | None = None,
    ) -> list[IngestResult]:
        """Write files into a store: one result per upload; progress events as it goes; `cancelled()` is
        checked between files and batches. Interrupted or cancelled, it leaves no half document."""
        acting = self.acting(user)
        store = self._authorized(name, acting, Action.EDIT)[0]
        embedder = self.embedder(store.embedding_model)
        options = options or IngestOptions()
        if options.parse is None:  # the configured parse options (vision model, zip limits, usage records)
            options = replace(options, parse=self.parse_options(user=acting.name, store=store.name))
        backend = self.backend(store.backend)
        backend.count(store.collection)  # connect first: a backend out of reach is said now, not after the embedding
        ingestor = Ingestor(
            catalog=self.catalog,
            backend=backend,
            embedder=embedder,
            store=store,
            user=acting.name,
            batch_chunks=self.settings.ingest_batch_chunks,
            max_bytes=self.settings.max_upload_bytes,
            options=options,
            on_usage=self._on_usage(embedder, user=acting.name, store=store.name),
            parse=lambda filename, data, digest, opts: self.parse_cache.parse(
                filename, data, digest, opts, remember=False
            )[0],
        )
        results = ingestor.run(uploads, on_progress=on_progress, cancelled=cancelled)
        written = [r for r in results if r.status is IngestStatus.WRITTEN]
        if written:
            UsageRecorder(
                self.catalog, kind="ingest", user=acting.name, stores=[store.name], model=store.embedding_model
            ).ingested(
                documents=len(written), pages=sum(r.pages or 0 for r in written), chunks=sum(r.chunks for r in written)
            )
        if any(r.status is IngestStatus.WRITTEN for r in results):
            try:
                self.backend(store.backend).maintain(store.collection)
            except Exception:  # the documents are written and searchable; tidying the index can wait for next time
                log.warning("maintaining %s after ingest failed", store.name, exc_info=True)
        return results

    def ingest_paths(
        self,
        name: str,
        paths: Sequence[Path],
        *,
        user: str,
        options: IngestOptions | None = None,
        on_progress: ProgressSink | None = None,
        cancelled: CancelCheck | None = None,
    ) -> list[IngestResult]:
        """Ingest files from this machine's disk: for the command line, never for a page."""
        self.store(name, user=user, action=Action.EDIT)  # fail fast, before reading any file
        uploads = list(read_uploads(paths, max_bytes=self.settings.max_upload_bytes))
        return self.ingest(name, uploads, user=user, options=options, on_progress=on_progress, cancelled=cancelled)

    def preview(
        self,
        filename: str,
        data: bytes,
        *,
        chunking: ChunkSettings,
        embedding: str | None = None,
        user: str,
        vision_model: str | None = None,
        vision_prompt: str | None = None,
    ) -> Preview:
        """What ingest would make of a file with these settings; nothing is embedded or written."""
        acting = self.acting(user)
        return preview(
            filename,
            data,
            settings=chunking,
            embedder=self.embedder(embedding or self.settings.default_embedding),
            options=self.parse_options(
                user=acting.name, store=None, vision_model=vision_model, vision_prompt=vision_prompt
            ),
            cache=self.parse_cache,
            max_bytes=self.settings.max_upload_bytes,
        )

    def search(
        self,
        names: str | Sequence[str],
        query: str,
        *,
        user: str,
        options: SearchOptions | None = None,
        embedding: str | None = None,
        limit: int | None = None,
    ) -> list[Hit]:
        """Search one store or several (a list, or names separated by commas), fused into one list."""
        acting = self.acting(user)
        wanted = self.store_names(names)
        targets = []
        for name in wanted:
            store = self._authorized(name, acting, Action.READ)[0]
            check_embedding(store, embedding)
            embedder = self.embedder(store.embedding_model)
            on_usage = self._on_usage(embedder, user=acting.name, store=store.name)
            targets.append(
                Target(store=store, backend=self.backend(store.backend), embedder=embedder, on_usage=on_usage)
            )

        usage = UsageRecorder(self.catalog, kind="rerank", user=acting.name, stores=wanted)
        models = RerankModels(
            judge_model=self.settings.judge_model,
            resolve=self.models.resolve,
            on_usage=lambda kind, model, response: usage.record(response, kind=kind, model=model),
        )
        return retrieval_search(
            query, targets, catalog=self.catalog, options=options or SearchOptions(), models=models, limit=limit
        )


class ActingWorkbench:
    """The workbench as one user sees it: every operation acts as that user; plumbing passes through."""

    def __init__(self, workbench: Workbench, user: str) -> None:
        object.__setattr__(self, "workbench", workbench)
        object.__setattr__(self, "user", user)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.workbench, name, value)  # settings, models, ... belong to the one workbench

    def __delattr__(self, name: str) -> None:
        delattr(self.workbench, name)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.workbench, name)
        if name in ACTING and callable(value):
            return functools.partial(value, user=self.user)
        return value


ACTING = frozenset(
    {
        "add_user",
        "list_users",
        "set_password",
        "set_admin",
        "set_disabled",
        "grant",
        "revoke",
        "grants",
        "conversations",
        "conversation",
        "rename_conversation",
        "delete_conversation",
        "feedback",
        "export_conversation",
        "latest_conversation",
        "usage",
        "create_store",
        "store",
        "list_stores",
        "rename_store",
        "rebuild_store",
        "search_defaults",
        "set_search_defaults",
        "delete_store",
        "ask",
        "forget_chat",
        "export_store",
        "import_store",
        "documents",
        "document_chunks",
        "delete_document",
        "parse_options",
        "ingest",
        "ingest_paths",
        "preview",
        "search",
        "evaluate",
        "save_question_set",
        "question_sets",
        "question_set",
        "delete_question_set",
    }
)


def _options_record(options: AskOptions) -> dict[str, object]:
    """The settings a conversation was last asked with, as plain JSON values."""
    search = options.search
    return {
        "model": options.model,
        "temperature": options.temperature,
        "max_tokens": options.max_tokens,
        "system_prompt": options.system_prompt,
        "top_k": search.top_k,
        "mode": search.mode.value,
        "fusion": search.fusion.value,
        "weight": search.weight,
        "threshold": search.threshold,
        "rerank": str(search.rerank),
    }
