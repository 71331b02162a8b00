"""Search one store or several, and evaluate search settings on a question set saved with a store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core import access, evaluation
from core.access import Action
from core.answer_evaluation import AnswerEvaluation, evaluate_answers
from core.conditions import Condition
from core.errors import InvalidInput, NotFound
from core.evaluation import Evaluation, Question
from core.options import MAX_TOP_K, AskOptions, Filters, Reranker, SearchOptions
from core.rag import Answer
from core.records import Actor, Hit
from core.workbench.chat import Chat
from core.workbench.services import Services

MAX_EMBED_INPUTS = 2048  # texts in one embeddings request, as OpenAI allows


class Search:
    def __init__(self, services: Services) -> None:
        self._s = services

    def run(
        self,
        actor: Actor,
        stores: str | Sequence[str],
        query: str,
        *,
        options: SearchOptions | None = None,
        embedding: str | None = None,
        limit: int | None = None,
    ) -> list[Hit]:
        """Search one store or several (a list, or names separated by commas), fused into one list."""
        found = self._s.stores(actor, stores)
        return self._s.search(actor, found, query, options=options, embedding=embedding, limit=limit)

    def embed(self, actor: Actor, texts: Sequence[str], *, model: str | None = None) -> tuple[str, np.ndarray]:
        """Embed texts with one of the product's embedding models (the default one unless named): (model, vectors)."""
        name = model or self._s.settings.default_embedding
        if name not in self._s.models.names("embedding"):
            known = ", ".join(self._s.models.names("embedding"))
            raise InvalidInput(f"'{name}' is not an embedding model here. Use one of: {known}.")
        if not texts or any(not isinstance(t, str) or not t for t in texts):
            raise InvalidInput("Send the input as a non-empty text or a list of non-empty texts.")
        if len(texts) > MAX_EMBED_INPUTS:
            raise InvalidInput(f"Send at most {MAX_EMBED_INPUTS} texts at once, not {len(texts)}.")
        embedder = self._s.embedder(name)
        usage = self._s.usage(actor, "embedding", (), embedder.model)
        return name, embedder.embed(list(texts), on_usage=usage.record)

    def files(
        self,
        actor: Actor,
        store: str,
        queries: Sequence[str],
        *,
        limit: int = 10,
        condition: Condition | None = None,
        rerank: bool = True,
        threshold: float | None = None,
        rewrite: bool | None = None,
    ) -> list[FileHit]:
        """Search one store as OpenAI's vector-store search does: the store's saved settings, each query searched
        and the lists merged by best score; `rerank=False` drops the store's reranker. Each hit carries its file
        id and its document's attributes."""
        if not queries or not all(q.strip() for q in queries):
            raise InvalidInput("Send a query: a non-empty text or list of texts.")
        if not 1 <= limit <= MAX_TOP_K:
            raise InvalidInput(f"max_num_results must be between 1 and {MAX_TOP_K}, not {limit}.")
        found = self._s.store(actor, store)
        saved = SearchOptions.from_settings(self._s.catalog.search_defaults(found))
        options = replace(
            saved,
            top_k=limit,
            filters=Filters(condition=condition),
            rerank=saved.rerank if rerank else Reranker(),
            threshold=saved.threshold if threshold is None else threshold,
            rewrite=saved.rewrite if rewrite is None else rewrite,
        )
        best: dict[tuple[str, int], Hit] = {}
        for query in queries:
            for hit in self._s.search(actor, [found], query, options=options):
                if hit.withheld:  # the caller is a program, often a model's tool: it never gets a withheld passage
                    continue
                if hit.key not in best or hit.score > best[hit.key].score:
                    best[hit.key] = hit
        hits = sorted(best.values(), key=lambda h: h.score, reverse=True)[:limit]
        shown = [h.document_id for h in hits]  # the catalog is asked about these, not the whole store
        files = self._s.catalog.file_ids(found.id, shown)
        documents = self._s.catalog.documents_by_id(found, shown)
        return [
            FileHit(
                hit=hit,
                file_id=files.get(hit.document_id, hit.document_id),
                attributes=dict(documents[hit.document_id].metadata) if hit.document_id in documents else {},
            )
            for hit in hits
        ]


@dataclass(frozen=True)
class FileHit:
    """A search hit with the id of the file it came from and its document's attributes."""

    hit: Hit
    file_id: str
    attributes: Mapping[str, object]


class Evaluations:
    """Question sets kept with a store, and runs of them against search settings (anyone who may read it)."""

    def __init__(self, services: Services, chat: Chat) -> None:
        self._s = services
        self._catalog = services.catalog
        self._chat = chat

    def run_answers(
        self,
        actor: Actor,
        store: str,
        questions: Sequence[Question],
        settings: Mapping[str, AskOptions],
        *,
        on_progress: evaluation.Progress | None = None,
    ) -> AnswerEvaluation:
        """Ask a question set of a store with each answer setting and score the answers (nothing is kept as a
        conversation); a question's `answer` is its expected answer."""
        self._s.store(actor, store)

        def ask(question: str, options: AskOptions) -> Answer:
            stream, answer = self._chat.ask(actor, store, question, options=options, keep=False)
            for _ in stream:
                pass
            return answer

        return evaluate_answers(ask, questions, settings, on_progress=on_progress)

    def run(
        self,
        actor: Actor,
        store: str,
        questions: Sequence[Question],
        settings: Mapping[str, SearchOptions],
        *,
        k: int | None = None,
        on_progress: evaluation.Progress | None = None,
    ) -> Evaluation:
        """Run a question set against a store with each setting."""
        found = [self._s.store(actor, store)]
        return evaluation.evaluate(
            lambda question, options: self._s.search(actor, found, question, options=options),
            questions,
            settings,
            k=k,
            on_progress=on_progress,
        )

    def save(self, actor: Actor, store: str, name: str, questions: Sequence[Question]) -> None:
        """Keep a question set with the store, to run again after the store changes (readers may save)."""
        found = self._s.store(actor, store)
        name = name.strip()
        access.check_name(name, "question set")
        if not questions:
            raise InvalidInput("The question set is empty: add at least one question with its document.")
        content = evaluation.write_questions(questions).decode()
        self._catalog.save_question_set(found, name, content, questions=len(questions), user=actor.name)

    def sets(self, actor: Actor, store: str) -> list[dict[str, Any]]:
        return self._catalog.question_sets(self._s.store(actor, store))

    def get(self, actor: Actor, store: str, name: str) -> list[Question]:
        content = self._catalog.question_set(self._s.store(actor, store), name)
        if content is None:
            raise NotFound(f"Store '{store}' has no question set '{name}'.")
        return evaluation.read_questions(content.encode(), f"{name}.jsonl")

    def delete(self, actor: Actor, store: str, name: str) -> None:
        """Its author, or whoever manages the store."""
        found = self._s.store(actor, store)
        saved = {s["name"]: s for s in self._catalog.question_sets(found)}
        if name not in saved:
            raise NotFound(f"Store '{store}' has no question set '{name}'.")
        if saved[name]["created_by"] != actor.name:
            self._s.store(actor, store, Action.MANAGE)
        self._catalog.delete_question_set(found, name)
