"""Stores: create, list, share, rename, re-embed, export, import and delete; their saved search settings."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core import glossary
from core import policy as policies
from core.access import Action
from core.catalog import new_id
from core.errors import AlreadyExists, InvalidInput, PermissionDenied, WorkbenchError
from core.options import ChunkSettings, SearchOptions
from core.parsing.options import OCR_MODES
from core.rebuild import RebuildProgress, rebuild
from core.records import Access, Actor, DocumentStatus, Grant, GroupGrant, Role, Store
from core.transfer import ExportSummary, export_store, import_export, read_export
from core.workbench.services import Services

log = logging.getLogger(__name__)

MAX_METADATA = 16  # key-value pairs on a store, as OpenAI allows


def check_metadata(metadata: Mapping[str, object]) -> dict[str, str]:
    """Up to 16 pairs of short text: keys up to 64 characters, values up to 512."""
    if len(metadata) > MAX_METADATA:
        raise InvalidInput(f"A store has at most {MAX_METADATA} metadata entries, not {len(metadata)}.")
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 64 or not isinstance(value, str) or len(value) > 512:
            raise InvalidInput("Metadata keys are 1 to 64 characters of text and values up to 512 characters of text.")
    return {str(k): str(v) for k, v in metadata.items()}


@dataclass(frozen=True)
class StoreSummary:
    store: Store
    documents: int
    chunks: int
    role: Role
    size_bytes: int | None = None  # on disk, where the backend can tell
    updated_at: datetime | None = None  # the last document change, or the store's creation


class Stores:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog

    def get(self, actor: Actor, name: str, action: Action = Action.READ) -> Store:
        """The store if the actor may do `action` on it; a store they may not see does not exist for them."""
        return self._s.store(actor, name, action)

    def by_id(self, actor: Actor, store_id: str, action: Action = Action.READ) -> Store:
        """The store with this id, checked as `get` checks a name."""
        return self._s.store_by_id(actor, store_id, action)

    def summary(self, actor: Actor, name: str) -> StoreSummary:
        """One store with its counts, the actor's role and its last change."""
        store = self._s.store(actor, name)
        role = self._s.role(actor, store)
        assert role is not None  # the store check passed
        return self._summary(store, role, sizes=False)

    def visible(self, actor: Actor, *, sizes: bool = False) -> list[StoreSummary]:
        """The stores the actor may see, with counts; `sizes` also measures each on disk (slower: a folder walk)."""
        return [self._summary(store, role, sizes=sizes) for store, role in self._s.readable(actor)]

    def _summary(self, store: Store, role: Role, *, sizes: bool) -> StoreSummary:
        documents, chunks = self._catalog.store_stats(store)
        size = None
        with contextlib.suppress(WorkbenchError):  # a backend out of reach: the list still shows the store
            size = self._s.backend(store.backend).size_bytes(store.collection) if sizes else None
        updated = self._catalog.last_change(store)
        return StoreSummary(store, documents, chunks, role, size_bytes=size, updated_at=updated)

    def create(
        self,
        actor: Actor,
        name: str,
        *,
        backend: str | None = None,
        embedding: str | None = None,
        chunking: ChunkSettings | None = None,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> Store:
        backend_name = backend or self._s.settings.default_backend
        vectors = self._s.backend(backend_name)
        embedder = self._s.embedder(embedding or self._s.settings.default_embedding)
        chunking = chunking or self._s.settings.chunking
        try:
            store = self._catalog.create_store(
                name,
                backend=backend_name,
                embedding_model=embedder.model,
                embedding_dim=embedder.dimension,
                chunk_size=chunking.size,
                chunk_overlap=chunking.overlap,
                chunk_strategy=chunking.strategy.value,
                owner=actor.name,
                description=description,
                metadata=check_metadata(metadata or {}),
            )
        except AlreadyExists:
            raise self._name_taken(actor, name) from None
        try:
            vectors.create(store.collection, dimension=store.embedding_dim)
        except Exception:
            self._catalog.delete_store(store)
            raise
        log.info("created store %s (%s, %s)", name, backend_name, embedder.model)
        return store

    def _name_taken(self, actor: Actor, name: str) -> AlreadyExists:
        """A taken name: said plainly to whoever may see that store, neutrally to others (no confirmation it exists)."""
        with contextlib.suppress(WorkbenchError):
            self._s.store(actor, name)
            return AlreadyExists(f"A store named '{name}' already exists; choose another name.")
        return AlreadyExists(f"The name '{name}' is not available; choose another name.")

    def rename(self, actor: Actor, name: str, new_name: str) -> Store:
        store = self._s.store(actor, name, Action.MANAGE)
        try:
            return self._catalog.rename_store(store, new_name)
        except AlreadyExists:
            raise self._name_taken(actor, new_name) from None

    def describe(
        self, actor: Actor, name: str, *, description: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> Store:
        """Change a store's description or its key-value metadata (owners)."""
        store = self._s.store(actor, name, Action.MANAGE)
        return self._catalog.describe_store(
            store,
            description=store.description if description is None else description,
            metadata=store.metadata if metadata is None else check_metadata(metadata),
        )

    def rebuild(
        self, actor: Actor, name: str, embedding: str, *, on_progress: Callable[[RebuildProgress], object] | None = None
    ) -> Store:
        """Re-embed every chunk with another model (owners); searches use the old vectors until it is done."""
        store = self._s.store(actor, name, Action.MANAGE)
        embedder = self._s.embedder(embedding)
        with self._s.privacy([store]):  # every chunk goes to the new model: under the store's rule
            return rebuild(
                store,
                catalog=self._catalog,
                backend=self._s.backend(store.backend),
                embedder=embedder,
                on_usage=self._s.embedding_usage(actor, embedder, store),
                on_progress=on_progress,
            )

    def delete(self, actor: Actor, name: str) -> None:
        store = self._s.store(actor, name, Action.MANAGE)
        self._s.backend(store.backend).drop(store.collection)
        self._catalog.delete_store(store)
        self._s.originals.drop(store.id)
        log.info("deleted store %s", name)

    # sharing

    def grant(self, actor: Actor, name: str, user: str, role: Role | str) -> Grant:
        return self._catalog.grant(self._s.store(actor, name, Action.MANAGE), user, Role(role))

    def revoke(self, actor: Actor, name: str, user: str) -> None:
        self._catalog.revoke(self._s.store(actor, name, Action.MANAGE), user)

    def grants(self, actor: Actor, name: str) -> list[Grant]:
        return self._catalog.grants_of(self._s.store(actor, name, Action.MANAGE))

    def grant_group(self, actor: Actor, name: str, group: str, role: Role | str) -> GroupGrant:
        """Share the store with every member of a group (now and later) at one role."""
        return self._catalog.grant_group(self._s.store(actor, name, Action.MANAGE), group, Role(role))

    def revoke_group(self, actor: Actor, name: str, group: str) -> None:
        self._catalog.revoke_group(self._s.store(actor, name, Action.MANAGE), group)

    def group_grants(self, actor: Actor, name: str) -> list[GroupGrant]:
        return self._catalog.group_grants_of(self._s.store(actor, name, Action.MANAGE))

    def access(self, actor: Actor, name: str) -> list[Access]:
        """Who may use the store, each at their highest role, with where it comes from (administrators, who may
        use every store, are listed only when it is shared with them or they own it)."""
        store = self._s.store(actor, name, Action.MANAGE)
        found: dict[str, list[tuple[Role, str]]] = {store.owner: [(Role.OWNER, "owner")]}
        for grant in self._catalog.grants_of(store):
            found.setdefault(grant.user, []).append((grant.role, "shared directly"))
        members = {g.name: g.members for g in self._catalog.list_groups()}
        for shared in self._catalog.group_grants_of(store):
            for user in members.get(shared.group, ()):
                found.setdefault(user, []).append((shared.role, f"group {shared.group}"))
        entries = []
        for user, ways in sorted(found.items()):
            best = max(role.rank for role, _ in ways)
            via = ", ".join(how for role, how in ways if role.rank == best)
            entries.append(Access(user, next(r for r, _ in ways if r.rank == best), via))
        return entries

    # the search settings chat and the search page start from

    def search_defaults(self, actor: Actor, name: str) -> SearchOptions:
        """The store's saved retrieval settings (chat uses them), or the product's defaults."""
        return SearchOptions.from_settings(self._catalog.search_defaults(self._s.store(actor, name)))

    def set_search_defaults(self, actor: Actor, name: str, options: SearchOptions) -> None:
        """Save retrieval settings as the store's default (editors and owners)."""
        self._catalog.set_search_defaults(self._s.store(actor, name, Action.EDIT), options.settings())

    def set_redaction(self, actor: Actor, name: str, on: bool) -> Store:
        """Replace personal data (e-mails, phones, cards, IBANs, national ids) in every text this store sends to a
        remote model (owners; the bundled local models read everything, as nothing leaves the machine)."""
        return self._catalog.set_redaction(self._s.store(actor, name, Action.MANAGE), on)

    def set_ocr(self, actor: Actor, name: str, mode: str) -> Store:
        """How the store's scanned pages are read (owners): auto, always, never, or "" for the server's setting."""
        if mode not in ("", *OCR_MODES):
            raise InvalidInput(f"OCR is auto, always or never (or empty: the server's setting), not '{mode}'.")
        return self._catalog.set_ocr(self._s.store(actor, name, Action.MANAGE), mode)

    def set_glossary(self, actor: Actor, name: str, text: str) -> Store:
        """The store's own analyst measures, one per line as 'measure = line item; line item' (owners): questions
        naming one are also searched in its line items' words (core.glossary). An empty text removes them all."""
        store = self._s.store(actor, name, Action.MANAGE)
        return self._catalog.set_glossary(store, glossary.parse_terms(text))

    def policy(self, actor: Actor, name: str) -> policies.StorePolicy:
        """The store's policy (whoever may read the store sees what is done to their questions and answers)."""
        return policies.StorePolicy.of(self._s.store(actor, name).policy)

    def set_policy(self, actor: Actor, name: str, changes: Mapping[str, object]) -> policies.StorePolicy:
        """Change parts of the store's policy: its owner sets the injection check and the safety filter on their
        data; token limits and budgets, which guard the deployment's models and money, only administrators."""
        store = self._s.store(actor, name, Action.MANAGE)
        limits = sorted(set(changes) - policies.OWNER_FIELDS)
        if limits and not actor.is_admin:
            raise PermissionDenied(
                "Only an administrator sets a store's token limits and budgets; as its owner you may set the "
                "injection check and the safety filter."
            )
        policies.changed(policies.StorePolicy.of(store.policy), changes)  # refused in words before anything is written
        seen: list[policies.StorePolicy] = []

        def change(current: object) -> dict[str, object]:
            seen[:] = [policies.StorePolicy.of(current)]
            return policies.changed(seen[0], changes).record()

        after = policies.StorePolicy.of(self._catalog.change_policy(store, change))
        before = seen[0]
        said = dict(after.shown())
        what = "; ".join(f"{label}: {said[label]}" for label, value in before.shown() if said[label] != value)
        if what:
            self._s.governance.decide(
                actor, store, "policy", "store", what, "changed", "the store's policy was changed"
            )
        return after

    # moving a store between workbenches

    def export(self, actor: Actor, name: str, *, fmt: str = "parquet") -> ExportSummary:
        """Write the store's ready documents, chunk texts and vectors into the data directory's exports folder."""
        store = self._s.store(actor, name, Action.MANAGE)
        if fmt not in ("parquet", "jsonl"):
            raise InvalidInput(f"Export as parquet or jsonl, not '{fmt}'.")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self._s.settings.data_dir / "exports" / f"{store.id}-{stamp}.{fmt}"
        documents = self._catalog.list_documents(store, status=DocumentStatus.READY)
        return export_store(store, documents, self._s.backend(store.backend), path)

    def import_(
        self, actor: Actor, data: bytes, *, filename: str, name: str | None = None, backend: str | None = None
    ) -> Store:
        """Recreate an exported store from its file's bytes (under its own name unless `name` says otherwise),
        owned by the actor, without re-embedding."""
        scratch = self._s.settings.data_dir / "imports" / f"{new_id()}{Path(filename).suffix.lower()}"
        scratch.parent.mkdir(parents=True, exist_ok=True)
        scratch.write_bytes(data)
        backend_name = backend or self._s.settings.default_backend
        try:
            exported = read_export(scratch, shown_as=filename)
            store = import_export(
                exported,
                catalog=self._catalog,
                backend=self._s.backend(backend_name),
                backend_name=backend_name,
                name=name,
                owner=actor.name,
            )
        finally:
            scratch.unlink(missing_ok=True)
        log.info("imported store %s from %s into %s", store.name, filename, backend_name)
        return store
