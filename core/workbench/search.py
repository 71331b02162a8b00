"""Search one store or several, and evaluate search settings on a question set saved with a store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core import access, evaluation
from core.access import Action
from core.errors import InvalidInput, NotFound
from core.evaluation import Evaluation, Question
from core.options import SearchOptions
from core.records import Actor, Hit
from core.workbench.services import Services


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


class Evaluations:
    """Question sets kept with a store, and runs of them against search settings (anyone who may read it)."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog

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
