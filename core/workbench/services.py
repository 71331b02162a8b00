"""What every operation stands on: settings, the catalog, the vector-store backends and the models, built once
per process; the acting identity resolved once; and the one store check every operation makes."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import numpy as np

from core import access, llm, privacy, providers
from core.access import Action
from core.catalog import GAVE_UP, Catalog
from core.config import Settings, load_settings
from core.embedding import PROBE_TEXT, Embedder, UsageSink, get_embedder
from core.errors import InvalidInput, NotFound, PermissionDenied, StoreNotFound, WorkbenchError
from core.models import ROLES, ROLES_KEY, ConnectedModels, Connection, ModelRegistry, RoleChoice
from core.objects import Objects
from core.options import RerankKind, SearchOptions
from core.originals import Originals
from core.preview import ParseCache
from core.ranking import names_of
from core.records import Actor, Channel, Hit, Role, Store
from core.redact import install_log_redaction
from core.retrieval import RerankModels, Target, check_embedding
from core.retrieval import search as retrieval_search
from core.rewrite import rewrite_model
from core.stores import VectorStore, open_backend
from core.usage import UsageRecorder
from core.vault import Vault
from core.workbench.governance import Governance
from core.workbench.maintenance import Maintenance

log = logging.getLogger(__name__)

FROZEN: list[bool] = []  # whether this process froze what its first warm-up loaded
FROZEN_LOCK = threading.Lock()
WARM_STORES = 50  # stores whose tables and indexes a start opens before anyone asks (the most recently made)
INTERRUPTED = "interrupted: the process writing it stopped before it was complete; upload it again."


def probe(dimension: int) -> np.ndarray:
    """A unit vector to open a table's vector search with."""
    vector = np.zeros(dimension, dtype=np.float32)
    vector[0] = 1.0
    return vector


def store_names(names: str | Sequence[str]) -> list[str]:
    """Store names from a list or a comma-separated string, deduplicated, in order; at least one."""
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else [n.strip() for n in names]
    wanted = [n for n in dict.fromkeys(wanted) if n]
    if not wanted:
        raise InvalidInput("Name at least one store.")
    return wanted


class Services:
    """One per process, shared by every session and thread (it holds no per-user state)."""

    def __init__(self, settings: Settings | None = None) -> None:
        install_log_redaction()  # no secret reaches a log line, whichever library writes it
        self.settings = settings or load_settings()
        for key, value in self.settings.secrets.items():  # provider keys from secrets.toml, for LiteLLM
            os.environ.setdefault(key, value)  # the environment, when it sets one, wins
        self.catalog = Catalog(self.settings.database_url)
        self.catalog.ensure_user(self.settings.admin_user, is_admin=True)
        self.lock = threading.Lock()
        self.parse_cache = ParseCache()
        self.jobs_waiting = threading.Event()  # set when a job is queued, to wake this process's worker
        self.objects = Objects(self.settings.files_uri)  # uploaded files and originals, seen by every process
        self.originals = Originals(self.objects)
        self._vault: Vault | None = None
        connected = ConnectedModels(self._read_models, self._model_key, providers.entries)
        self.models = ModelRegistry.load(self.settings.models_file, connected)
        self._backends: dict[str, VectorStore] = {}
        self._embedders: dict[str, Embedder] = {}
        self.maintenance = Maintenance(self.catalog, self.backend)  # stores' indexes, kept in the background
        self.governance = Governance(self)  # the stores' policies: checks, limits, and the audit of their decisions

    def backend(self, name: str) -> VectorStore:
        with self.lock:
            if name not in self._backends:
                self._backends[name] = open_backend(name, self.settings)
            return self._backends[name]

    def vault(self) -> Vault:
        """What seals the provider keys saved in the app (its key is never in the catalog)."""
        if self._vault is None:
            self._vault = Vault(
                self.settings.secrets_key or access.cookie_key(self.settings.cookie_key, self.settings.data_dir)
            )
        return self._vault

    def _read_models(self) -> tuple[list[Connection], dict[str, RoleChoice]]:
        stored = self.catalog.app_setting(ROLES_KEY) or {}
        roles = {
            role: RoleChoice(str(v.get("default") or ""), None if v.get("allowed") is None else tuple(v["allowed"]))
            for role, v in stored.items()
        }
        return self.catalog.connections(), roles

    def _model_key(self, connection_id: str) -> str:
        sealed = self.catalog.sealed_key(connection_id)
        return self.vault().open(sealed, what="a connection on the Models page") if sealed else ""

    def models_changed(self) -> None:
        """This process changed the connections or role choices: read them again at the next use."""
        if self.models.connected is not None:
            self.models.connected.forget()

    def default_model(self, role: str) -> str:
        """The model a role uses unless one is picked: the Models page's choice, else the settings' when users may
        pick it, else the first they may pick (empty: none)."""
        chosen = self.models.roles().get(role, RoleChoice())
        known = self.models.all()
        if chosen.default in known:
            return chosen.default
        configured = {"chat": self.settings.chat_model, "judge": self.settings.judge_model,
                      "vision": self.settings.vision_model, "embedding": self.settings.default_embedding}  # fmt: skip
        fallback = configured.get(role, "")
        if chosen.allowed and fallback not in chosen.allowed:
            return next((n for n in chosen.allowed if n in known), fallback)
        return fallback

    def allowed_models(self, role: str) -> list[str]:
        """The models users may pick for a role (or a kind), the default first."""
        known = self.models.names(ROLES.get(role, role))
        chosen = self.models.roles().get(role, RoleChoice())
        names = known if chosen.allowed is None else [n for n in chosen.allowed if n in known]
        first = self.default_model(role)
        return [first, *(n for n in names if n != first)] if first in known else names

    def permitted(self, role: str, picked: str) -> str:
        """`picked` if users may pick it for this role (the default always; others when in its list, if it has one)."""
        chosen = self.models.roles().get(role, RoleChoice())
        if chosen.allowed is not None and picked != self.default_model(role) and picked not in chosen.allowed:
            offered = ", ".join(self.allowed_models(role)) or "none"
            raise InvalidInput(f"'{picked}' is not one of the {role} models offered here: {offered}.")
        return picked

    def chat_model(self, picked: str = "") -> str:
        """The model that answers: the one picked, if users may pick it, else the chat default."""
        return self.permitted("chat", picked) if picked else self.default_model("chat")

    def embedder(self, name: str) -> Embedder:
        """The embedder for a model-list name or a LiteLLM model string (bundled models load once per process)."""
        model, params = self.models.resolve(name)
        if model == name and not params:
            return get_embedder(name)
        key = f"{name}\n{model}\n{sorted(params.items())!r}"  # a connection's new key or address: a new embedder
        with self.lock:
            if key not in self._embedders:
                self._embedders[key] = Embedder(name, target=model, params=params)
            return self._embedders[key]

    def warm_up(self) -> list[str]:
        """Load the bundled models the stores use (and the default), and open their backends, so that the first
        search after a start is as fast as the next; returns the models loaded. Failures are logged, not raised."""
        started = time.perf_counter()
        access.stand_in_hash()  # made now: the first unknown name to sign in waits no longer than a known one
        try:
            stores = self.catalog.list_stores()
        except Exception as exc:  # the catalog is gone (a test's folder) or down: nothing to warm
            log.warning("warm-up: the catalog could not be read: %s", exc)
            return []
        names = {self.settings.default_embedding, *(s.embedding_model for s in stores)}
        loaded = []
        for name in sorted(names):
            try:
                embedder = self.embedder(name)
                if embedder.local:
                    embedder.embed([PROBE_TEXT])
                    loaded.append(name)
            except Exception as exc:  # a model that cannot load says so on first use, in the page that needs it
                log.warning("warm-up: %s did not load: %s", name, exc)
        for store in sorted(stores, key=lambda s: s.created_at, reverse=True)[
            :WARM_STORES
        ]:  # open each table and read its indexes once, as a first search would
            try:
                backend = self.backend(store.backend)
                backend.search(store.collection, probe(store.embedding_dim), top_k=1)
                backend.fulltext(store.collection, PROBE_TEXT, top_k=1)
                names_of(self.catalog.ready_documents(store))  # what a search reads of the catalog, cached
                self.catalog.store_stats(store)
            except Exception as exc:
                log.warning("warm-up: store %s did not open: %s", store.name, exc)
        # What is loaded by the first warm-up (the models' libraries: millions of objects) lives as long as the
        # process: keep it out of the garbage collector's full passes, which otherwise walk all of it and hold the
        # interpreter meanwhile. Once per process: later objects are collected as ever.
        with FROZEN_LOCK:
            if not FROZEN:
                gc.freeze()
                FROZEN.append(True)
        log.info(
            "warm-up: %s loaded, %d stores opened, in %.1f s",
            ", ".join(loaded) or "no model",
            min(len(stores), WARM_STORES),
            time.perf_counter() - started,
        )
        return loaded

    def tidy(self) -> int:
        """`recover`, but only once this process has let go of documents it could not mark (a catalog outage
        mid-ingest): the job worker's idle loop and every ingest ask, so it must cost nothing otherwise."""
        if not GAVE_UP.is_set():
            return 0
        GAVE_UP.clear()
        try:
            return self.recover()
        except Exception:
            GAVE_UP.set()  # still out of reach: the next ask tries again
            raise

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

    def abandon(self, store: Store, content_hash: str, worker: str) -> int:
        """A job taken over from a stopped process: what that process half-wrote of the file loses its chunks and
        is marked interrupted (a complete ingest of the same file then replaces it). Returns how many."""
        ids = self.catalog.written_by(store, content_hash, worker)
        if ids:
            self.backend(store.backend).delete_documents(store.collection, ids)
            self.catalog.mark_failed(ids, INTERRUPTED)
            log.warning("store %s: %d documents half-written by %s were cleaned up", store.name, len(ids), worker)
        return len(ids)

    # who is acting, and on what

    def actor(self, name: str, channel: Channel, *, key_id: str | None = None, since: datetime | None = None) -> Actor:
        """The acting identity for a signed-in name: refused when the name is empty, unknown or disabled, and
        for a browser session begun at `since`, once the user's sessions have ended after it."""
        try:
            user = self.catalog.get_user(name) if name else None
        except NotFound:
            raise PermissionDenied(f"There is no user named '{name}'. Sign in as a known user.") from None
        return Actor(user=access.acting(user, name, since=since), channel=channel, key_id=key_id)

    def role(self, actor: Actor, store: Store) -> Role | None:
        return access.role_on(actor.user, store, self.catalog.granted_role(actor.name, store))

    def store(self, actor: Actor, name: str, action: Action = Action.READ) -> Store:
        """The store if the actor may do `action` on it; a store the actor may not see does not exist for them."""
        try:
            store = self.catalog.get_store(name)
        except NotFound:
            raise StoreNotFound(access.missing_store(name)) from None
        access.authorize(store, self.role(actor, store), action)
        return store

    def store_by_id(self, actor: Actor, store_id: str, action: Action = Action.READ) -> Store:
        """As `store`, by the store's id (which stays when the store is renamed)."""
        try:
            store = self.catalog.get_store_by_id(store_id)
        except NotFound:
            raise StoreNotFound(f"There is no store with the id '{store_id}'.") from None
        role = self.role(actor, store)
        if role is None:  # one the actor may not see is missing, whatever its name
            raise StoreNotFound(f"There is no store with the id '{store_id}'.")
        access.authorize(store, role, action)
        return store

    def stores(self, actor: Actor, names: str | Sequence[str], action: Action = Action.READ) -> list[Store]:
        """Several stores (a list, or names separated by commas), each checked, deduplicated, in order."""
        return [self.store(actor, name, action) for name in store_names(names)]

    def readable(self, actor: Actor) -> list[tuple[Store, Role]]:
        """Every store the actor may see, with their role on it."""
        granted = {} if actor.is_admin else self.catalog.granted_roles(actor.name)  # one query, not one per store
        stores = self.catalog.list_stores()
        return [(s, role) for s in stores if (role := access.role_on(actor.user, s, granted.get(s.id))) is not None]

    # model calls and what they cost

    def usage(self, actor: Actor, kind: str, stores: Sequence[Store] = (), model: str = "") -> UsageRecorder:
        channel, key = actor.channel.value, actor.key_id
        return UsageRecorder(
            self.catalog, kind=kind, user=actor.name, stores=stores, model=model, channel=channel, key_id=key
        )

    def embedding_usage(self, actor: Actor, embedder: Embedder, store: Store) -> UsageSink:
        """Record each embedding call as a usage event of the actor on the store."""
        return self.usage(actor, "embedding", [store], embedder.model).record

    def remote_call(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Retries and a timeout for a remote model, from the settings, unless its model-list entry sets them."""
        if model.startswith(llm.LOCAL_PROVIDER + "/"):
            return dict(params)
        return {"num_retries": self.settings.model_retries, "timeout": self.settings.model_timeout_s, **params}

    def search(
        self,
        actor: Actor,
        stores: Sequence[Store],
        query: str,
        *,
        options: SearchOptions | None = None,
        embedding: str | None = None,
        limit: int | None = None,
    ) -> list[Hit]:
        """Search stores the actor was already authorized for: chat and evaluation check them once, first, then search
        many times. Plumbing: the caller has made the check, so no front end calls it."""
        rerank = (options or SearchOptions()).rerank
        if rerank.target and rerank.kind in (RerankKind.LITELLM, RerankKind.LLM):
            self.permitted("rerank" if rerank.kind is RerankKind.LITELLM else "judge", rerank.target)
        targets = []
        for store in stores:
            check_embedding(store, embedding)
            embedder = self.embedder(store.embedding_model)
            on_usage = self.embedding_usage(actor, embedder, store)
            targets.append(
                Target(store=store, backend=self.backend(store.backend), embedder=embedder, on_usage=on_usage)
            )
        usage = self.usage(actor, "rerank", stores)
        models = RerankModels(
            judge_model=self.default_model("judge"),
            rewrite_model=rewrite_model(self.default_model("judge"), self.default_model("chat")),
            resolve=self.models.resolve,
            on_usage=lambda kind, model, response: usage.record(response, kind=kind, model=model),
        )
        options = self.governance.searched(actor, stores, query, options or SearchOptions())
        with self.governance.governed(actor, stores):
            return retrieval_search(
                query,
                targets,
                catalog=self.catalog,
                options=options,
                models=models,
                limit=limit,
                screen=lambda hits: self.governance.screen(actor, stores, hits),
            )

    def privacy(self, stores: Sequence[Store]) -> AbstractContextManager[privacy.Policy]:
        """The rule for text leaving for remote models while working on these stores: redacted if any asks."""
        return privacy.scope(on=any(s.redact_personal_data for s in stores))
