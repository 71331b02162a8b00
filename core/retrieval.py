"""One retrieval function for the search page, the chat and the CLI: modes, fusion, reranking, filters, many stores.

Everything here sits above the store protocol: backends return plain vector and BM25 lists; fusion,
reranking, thresholds and multi-store merging happen once, the same way for every backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from core import glossary
from core.catalog import Catalog
from core.embedding import Embedder, UsageSink
from core.errors import EmbeddingMismatch, InvalidInput
from core.fusion import fuse
from core.options import (
    Mode,
    RerankKind,
    SearchOptions,
    Unit,
)
from core.ranking import by_page, fusion_weight, names_of, prefer_named, prefer_statements
from core.records import Hit, ReadyDocuments, ScoreBreakdown, Store
from core.rerank import UsageRecorder as RerankUsage
from core.rerank import rerank_scores
from core.rewrite import rewritten
from core.stores import VectorStore, Where

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One store to search, with what it takes to search it."""

    store: Store
    backend: VectorStore
    embedder: Embedder
    on_usage: UsageSink | None = None


@dataclass(frozen=True)
class RerankModels:
    """What the model rerankers need from the workbench: the judge's default model, model-list names, usage."""

    judge_model: str = ""
    rewrite_model: str = ""  # rewrites questions in the documents' words (SearchOptions.rewrite)
    resolve: Callable[[str], tuple[str, dict[str, Any]]] = lambda name: (name, {})
    on_usage: RerankUsage | None = None


def check_embedding(store: Store, model: str | None) -> None:
    """Refuse to query a store with another model than the one it was built with."""
    if model is not None and model != store.embedding_model:
        raise EmbeddingMismatch(
            f"Store '{store.name}' was built with {store.embedding_model} ({store.embedding_dim} dimensions); "
            f"it cannot be searched with {model}. Search it with its own model, or ingest the files into a new store."
        )


def search(
    query: str,
    targets: Sequence[Target],
    *,
    catalog: Catalog,
    options: SearchOptions,
    models: RerankModels | None = None,
    limit: int | None = None,
    screen: Callable[[list[Hit]], list[Hit]] | None = None,
) -> list[Hit]:
    """The best chunks for the query across the targets, best first; [] when nothing matches.

    `limit` (default top_k) lets evaluation look deeper than the 50 hits a person may ask for. `screen` (the stores'
    injection check) marks the hits it withholds: before a model reranker reads them (which then reads only the
    others), else on the hits returned.
    """
    if not query.strip():
        raise InvalidInput("Type something to search for.")
    limit = limit or options.top_k
    pool = max(options.candidates, limit)
    models = models or RerankModels()
    queries = [query]
    if options.rewrite:
        extra = rewritten(query, models.rewrite_model, resolve=models.resolve, on_usage=models.on_usage)
        queries += [extra] if extra else []
    contexts = []
    for target in targets:  # a measure the question names is also searched in its line items' words (core.glossary)
        measures = glossary.expansions(query, glossary.store_terms(target.store.glossary))
        asked = [(q, "") for q in queries] + [(e.query, e.note) for e in measures]
        found = _candidates([q for q, _ in asked], target, catalog=catalog, options=options, pool=pool)
        contexts.append(_merged(found, [note for _, note in asked]))
    weights = {c.target.store.name: c.weight for c in contexts}
    weight = lambda hit: weights[hit.store or ""]  # noqa: E731
    if len(contexts) == 1:
        hits = fuse(
            contexts[0].vector_hits, contexts[0].keyword_hits, options, weight=weight, cosines=contexts[0].cosines
        )
    else:
        hits = _fuse_stores(contexts, options, pool, weight)
    expanded = {key: note for c in contexts for key, note in c.expanded.items()}
    if expanded:
        hits = [
            replace(h, breakdown=replace(h.breakdown or ScoreBreakdown(), expansion=expanded[h.key]))
            if h.key in expanded
            else h
            for h in hits
        ]
    hits = prefer_named(query, hits, [names_of(c.documents) for c in contexts])
    hits = prefer_statements(query, hits, [t for c in contexts for t in glossary.store_terms(c.target.store.glossary)])
    if options.rerank.kind is RerankKind.MMR:
        hits = _mmr(hits, contexts, lambda_=options.mmr_lambda, k=limit)
    elif options.rerank.kind is not RerankKind.NONE and hits:
        withheld: list[Hit] = []
        if screen is not None and options.rerank.kind in (RerankKind.LITELLM, RerankKind.LLM):
            hits = screen(hits)
            withheld, hits, screen = [h for h in hits if h.withheld], [h for h in hits if not h.withheld], None
        if hits:
            scores = rerank_scores(
                query,
                hits,
                options.rerank,
                judge_model=models.judge_model,
                on_usage=models.on_usage,
                resolve=models.resolve,
            )
            hits = _apply_scores(hits, scores)
        hits += withheld
    if options.unit is Unit.PAGE:
        hits = by_page(hits)
    if options.threshold is not None:
        hits = [h for h in hits if h.score >= options.threshold]
    return screen(hits[:limit]) if screen is not None else hits[:limit]


@dataclass
class _Context:
    target: Target
    vector_hits: list[Hit]  # the store's first-stage lists, fused once over all stores that share a model
    keyword_hits: list[Hit]
    cosines: dict[tuple[str, int], float]  # the query's cosine with hits only BM25 found (weighted fusion)
    weight: float  # the vector share for this store
    documents: ReadyDocuments  # the store's ready documents (to see which ones a question names)
    expanded: dict[tuple[str, int], str] = field(default_factory=dict)  # hits a glossary expansion scored best


BOTH_LISTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bm25")  # a search's BM25 list beside its vector one
READY_IDS_MAX = 1000  # up to this many ready documents a search's ready-only filter names them; past it, the unready
READY_ROUNDS = 3  # searches asked again, each leaving out the unknown documents the last one listed


def _candidates(
    queries: Sequence[str], target: Target, *, catalog: Catalog, options: SearchOptions, pool: int
) -> list[_Context]:
    """The store's first-stage lists for each phrasing of the question; what the catalog says of the store (hidden
    chunks, filters, ready documents, the fusion weight) is read once for all of them."""
    store = target.store
    hidden = frozenset(catalog.disabled_chunks(store))  # chunks an editor disabled are never retrieved
    where = Where(hidden=hidden) if hidden else None
    if options.filters.active:
        f = options.filters
        ids = catalog.matching_ids(
            store,
            filenames=f.filenames,
            extensions=f.extensions,
            after=f.after,
            before=f.before,
            metadata=f.metadata,
            condition=f.condition,
        )
        where = Where(frozenset(ids), hidden)
    documents = catalog.ready_documents(store)  # read again only when the store changed
    weight = options.weight
    if weight is None:
        weight = fusion_weight(len(documents), documents.chunks)
    unready: list[frozenset[str]] = []  # the store's unready documents, read once when a phrasing needs them

    def ready_only(listed: set[str]) -> Where:
        """Chunks of ready documents only: their ids where they are few (from the cached list: no catalog read),
        else leaving out the documents that are not ready and those listed (not known to the catalog: their
        removal not finished), a few however many are ready."""
        if len(documents) <= READY_IDS_MAX:
            return Where(frozenset(d.id for d in documents.documents), hidden)
        if not unready:
            unready.append(frozenset(catalog.unready_ids(store)))
        return Where(hidden=hidden, excluded=unready[0] | listed)

    return [_lists_of(q, target, options, pool, where, ready_only, weight, documents, catalog) for q in queries]


def _lists_of(
    query: str,
    target: Target,
    options: SearchOptions,
    pool: int,
    where: Where | None,
    ready_only: Callable[[set[str]], Where],
    weight: float,
    documents: ReadyDocuments,
    catalog: Catalog,
) -> _Context:
    store, backend = target.store, target.backend
    wants_vector = options.mode in (Mode.VECTOR, Mode.HYBRID)
    if wants_vector:
        check_embedding(store, target.embedder.model)
    embedded: list[np.ndarray] = []  # the query's vector, made once, after the BM25 search has been asked for

    def query_vector() -> np.ndarray:
        if not embedded:
            vector = target.embedder.embed_query(query, on_usage=target.on_usage)
            if vector.shape[0] != store.embedding_dim:
                raise EmbeddingMismatch(
                    f"{target.embedder.model} gives {vector.shape[0]}-dimensional vectors but store '{store.name}' holds {store.embedding_dim}."
                )
            embedded.append(vector)
        return embedded[0]

    def lists(where: Where | None) -> tuple[list[Hit], list[Hit]]:
        """The vector and BM25 lists; in hybrid search the BM25 one is asked for first, beside the query's embedding
        and the vector search (both searches run in the backend's native code, outside the interpreter lock: the
        slower one sets the time, not the sum)."""
        keyword: Future[list[Hit]] | None = None
        if options.mode in (Mode.FULLTEXT, Mode.HYBRID):
            keyword = BOTH_LISTS.submit(backend.fulltext, store.collection, query, top_k=pool, where=where)
        try:
            vector = (
                backend.search(store.collection, query_vector(), top_k=pool, where=where, exact=options.exact)
                if wants_vector
                else []
            )
        finally:  # an embedding that failed still waits for its BM25 search (its own error is the one told)
            if keyword is not None:
                wait([keyword])
        return vector, keyword.result() if keyword is not None else []

    vector_hits, keyword_hits = lists(where)
    if where is None or where.document_ids is None:  # chunks of unfinished or failed documents may be listed
        left_out: set[str] = set()
        for _ in range(READY_ROUNDS):
            found = {h.document_id for h in [*vector_hits, *keyword_hits]}
            unready = found - catalog.ready_ids(store, found)
            if not unready:
                break
            left_out |= unready  # they would take places in the pool: ask again, ready only
            vector_hits, keyword_hits = lists(ready_only(left_out))
        else:  # still chunks the catalog does not know after every round: they go, the pool a little short
            found = {h.document_id for h in [*vector_hits, *keyword_hits]}
            known = catalog.ready_ids(store, found)
            vector_hits = [h for h in vector_hits if h.document_id in known]
            keyword_hits = [h for h in keyword_hits if h.document_id in known]
    cosines: dict[tuple[str, int], float] = {}
    if options.mode is Mode.HYBRID:  # also for RRF: the calibrated relevance needs them
        in_vector = {h.key for h in vector_hits}
        missing = [h for h in keyword_hits if h.key not in in_vector]
        if missing:
            vectors = backend.vectors(store.collection, missing)
            cosines = {h.key: float(v @ query_vector()) for h, v in zip(missing, vectors, strict=True)}
    named = lambda hits: [replace(h, store=store.name) for h in hits]  # noqa: E731
    return _Context(
        target=target,
        vector_hits=named(vector_hits),
        keyword_hits=named(keyword_hits),
        cosines=cosines,
        weight=weight,
        documents=documents,
    )


def _merged(contexts: list[_Context], notes: Sequence[str]) -> _Context:
    """One store's lists for several phrasings of a question: each chunk once, with its best score in each list.
    A chunk whose best score in either list came from a glossary expansion is noted with it (`notes`, one per
    phrasing, '' for the question itself and its rewrite)."""
    if len(contexts) == 1:
        return contexts[0]
    expanded: dict[tuple[str, int], str] = {}

    def best(lists: list[list[Hit]]) -> list[Hit]:
        found: dict[tuple[str, int], Hit] = {}
        origin: dict[tuple[str, int], str] = {}
        for note, hits in zip(notes, lists, strict=True):
            for hit in hits:
                if hit.key not in found or hit.score > found[hit.key].score:
                    found[hit.key], origin[hit.key] = hit, note
        expanded.update({k: n for k, n in origin.items() if n})
        return sorted(found.values(), key=lambda h: -h.score)

    cosines: dict[tuple[str, int], float] = {}
    for context in contexts:
        for key, value in context.cosines.items():
            cosines[key] = max(value, cosines.get(key, value))
    first = contexts[0]
    return replace(
        first,
        vector_hits=best([c.vector_hits for c in contexts]),
        keyword_hits=best([c.keyword_hits for c in contexts]),
        cosines=cosines,
        expanded=expanded,
    )


def _fuse_stores(
    contexts: list[_Context], options: SearchOptions, pool: int, weight: Callable[[Hit], float]
) -> list[Hit]:
    """Several stores ranked as one: stores that share an embedding model pool their first-stage lists
    (cosines of one model compare across stores; BM25 scores too, roughly) and are fused once, exactly as if
    they were one store. So an irrelevant store's best hit no longer ties with a relevant store's best, and a
    threshold means the same in every store. Groups with different models meet on their fused scores, each
    already normalised to 0..1 by the fusion."""
    groups: dict[str, list[_Context]] = {}
    for context in contexts:
        groups.setdefault(context.target.embedder.model, []).append(context)
    merged: list[Hit] = []
    for members in groups.values():
        vector = sorted((h for c in members for h in c.vector_hits), key=lambda h: -h.score)[:pool]
        keyword = sorted((h for c in members for h in c.keyword_hits), key=lambda h: -h.score)[:pool]
        cosines = {k: v for c in members for k, v in c.cosines.items()}
        merged += fuse(vector, keyword, options, weight=weight, cosines=cosines)
    return sorted(merged, key=lambda h: -h.score)[:pool]


def _apply_scores(hits: list[Hit], scores: list[float | None]) -> list[Hit]:
    """Reorder by reranker scores; hits the reranker could not score keep their order after the scored ones."""
    scored = [
        replace(h, score=s, breakdown=replace(h.breakdown or ScoreBreakdown(), rerank=s))
        for h, s in zip(hits, scores, strict=True)
        if s is not None
    ]
    unscored = [h for h, s in zip(hits, scores, strict=True) if s is None]
    if not scored:
        log.warning("reranker scored none of %d hits; keeping the first-stage order", len(hits))
    return sorted(scored, key=lambda h: -h.score) + unscored


def _mmr(hits: list[Hit], contexts: list[_Context], *, lambda_: float, k: int) -> list[Hit]:
    """Maximal marginal relevance: first-stage relevance (the fused or single-list score, scaled to the best) traded
    against cosine similarity to the hits already chosen (computed per store: their models may differ)."""
    if not hits:
        return hits
    by_store = {c.target.store.name: c for c in contexts}
    stores = [h.store or "" for h in hits]
    dimension = max(c.target.store.embedding_dim for c in contexts)
    vectors = np.zeros((len(hits), dimension), dtype=np.float32)
    for name in dict.fromkeys(stores):
        context = by_store[name]
        indices = [i for i, s in enumerate(stores) if s == name]
        stored = context.target.backend.vectors(context.target.store.collection, [hits[i] for i in indices])
        vectors[indices, : stored.shape[1]] = stored
    scores = np.array([h.score for h in hits], dtype=np.float32)
    top = float(np.abs(scores).max())
    relevance = scores / top if top > 0 else np.ones(len(hits), dtype=np.float32)
    same_store = np.equal.outer(np.array(stores, dtype=object), np.array(stores, dtype=object))
    similarity = np.where(same_store, vectors @ vectors.T, 0.0)
    redundancy = np.full(len(hits), -np.inf, dtype=np.float32)
    remaining = np.ones(len(hits), dtype=bool)
    order: list[int] = []
    values: dict[int, float] = {}
    while remaining.any() and len(order) < k:
        value = lambda_ * relevance - (1 - lambda_) * np.where(np.isinf(redundancy), 0.0, redundancy)
        best = int(np.argmax(np.where(remaining, value, -np.inf)))
        values[best] = float(value[best])
        order.append(best)
        remaining[best] = False
        redundancy = np.maximum(redundancy, similarity[best])
    order += [i for i in range(len(hits)) if remaining[i]]
    return [
        replace(hits[i], breakdown=replace(hits[i].breakdown or ScoreBreakdown(), rerank=values.get(i))) for i in order
    ]
