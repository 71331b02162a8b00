"""Chat: answers streamed from the stores' documents, kept as conversations of their asker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, replace

from core import glossary, privacy, quota, rag, relevance
from core.errors import InvalidInput, WorkbenchError
from core.options import AskOptions, Mode, SearchOptions
from core.rag import Answer
from core.ranking import refusal_minimum
from core.records import Actor, ChatMessage, Conversation, Hit, MessageStatus, Store
from core.workbench.services import Services

KEPT = (MessageStatus.COMPLETE, MessageStatus.STOPPED, MessageStatus.REFUSED)  # what a follow-up builds on
OPENING_S = 30.0  # how long `start` waits for the conversation to exist (a catalog write)
log = logging.getLogger(__name__)


class Running:
    """An answer being written in a thread of its own: `answer.text` grows as it streams; `stop()` ends it
    (what came so far is kept, marked stopped); `done` is set once it is saved."""

    def __init__(self, user: str, answer: Answer, stream: Generator[str, None, None]) -> None:
        self.user, self.answer, self._stream = user, answer, stream
        self.opened, self.done, self._stop = threading.Event(), threading.Event(), threading.Event()

    @property
    def conversation_id(self) -> str:
        return self.answer.conversation_id

    def stop(self) -> None:
        self._stop.set()

    def run(self, finished: Callable[[Running], None]) -> None:
        try:
            for _ in self._stream:
                self.opened.set()
                if self._stop.is_set():
                    break
        except WorkbenchError:
            pass  # saved as failed, with its reason, by the stream itself
        except Exception:
            log.exception("an answer in the background failed")
        finally:
            try:
                self._stream.close()  # stopped: the answer so far is saved as stopped
            except Exception:
                log.exception("saving an answer that was stopped failed")
            self.opened.set()
            self.done.set()
            finished(self)


class Chat:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog
        self._jobs: dict[str, Running] = {}  # answers being written, by conversation
        self._lock = threading.Lock()

    def ask(
        self,
        actor: Actor,
        stores: str | Sequence[str],
        question: str,
        *,
        conversation: str | None = None,
        options: AskOptions | None = None,
        opened: Callable[[str], None] | None = None,
        keep: bool = True,
    ) -> tuple[Generator[str, None, None], Answer]:
        """Stream an answer from the stores' documents; the Answer is complete once the stream ends.

        Without `conversation` a new one starts, titled by the question. Follow-up questions are rewritten
        into a standalone search query from the conversation. The question and the answer (with its cited
        and retrieved sources) are saved when the stream ends, also when it is closed early (status
        stopped, the partial answer kept) or the model fails (status failed, with the reason).
        Without `options`, the first store's saved search settings and the configured model answer.
        With `keep=False` (an evaluation's questions) nothing is saved as a conversation; usage is recorded as ever.
        """
        if not question.strip():
            raise InvalidInput("Type a question.")
        found = self._s.stores(actor, stores)
        if options is None:
            options = AskOptions(search=SearchOptions.from_settings(self._catalog.search_defaults(found[0])))
        model_name = self._s.chat_model(options.model)
        model, params = self._s.models.resolve(model_name)
        history: list[tuple[str, str]] = []
        redact = any(s.redact_personal_data for s in found)
        if conversation is not None:
            earlier = self._catalog.get_conversation(conversation, user=actor.name)  # refused unless it is theirs
            history = [(m.role, m.content) for m in self._catalog.messages(conversation) if m.status in KEPT]
            history = self._s.governance.history(found, history)  # an earlier refused question stays out too
            redact = redact or any(  # earlier answers quote the stores asked before: their rule goes along
                s.redact_personal_data for s in self._catalog.stores_named(earlier.stores)
            )
        answer = Answer(question=question, model=model_name, conversation_id=conversation or "")
        usage = self._s.usage(actor, "chat", found, model_name)
        embedder = self._s.embedder(found[0].embedding_model)
        on_embedding = self._s.embedding_usage(actor, embedder, found[0])
        floor = options.search.min_relevance
        cosine_floor = None
        if floor is None:  # the measured defaults; in hybrid search a close enough cosine answers too
            floor = refusal_minimum(options.search.mode, found[0].embedding_model)
            if options.search.mode is Mode.HYBRID:
                cosine_floor = refusal_minimum(Mode.VECTOR, found[0].embedding_model)
        embed = lambda texts: embedder.embed(texts, on_usage=on_embedding)  # noqa: E731

        def search(query: str) -> list[Hit]:
            hits = self._s.search(actor, found, query, options=options.search)
            if options.search.mode is not Mode.FULLTEXT:
                return hits
            kept = relevance.with_cosines(
                query, [h for h in hits if not h.withheld], embed
            )  # never embed a withheld one
            return kept + [h for h in hits if h.withheld]

        governance = self._s.governance  # the stores' policies: the question checked now, passages as found
        pipeline = rag.answer_stream(  # each step under the stores' rule for text sent to remote models
            answer,
            history=history,
            search=search,
            model=model,
            params=self._s.remote_call(model, params),
            options=options,
            stores=[s.name for s in found],
            on_usage=lambda response, error: usage.record(
                response, error=error, grounded=answer.grounding.grounded if answer.grounding else None
            ),
            embed=embed,
            min_relevance=floor or None,
            min_cosine=cosine_floor,
            terms=[t for s in found for t in glossary.store_terms(s.glossary)],
            refusal=governance.check_question(actor, found, question),
            guard=governance.answer_filter(actor, found),
        )
        pipeline = privacy.scoped(quota.scoped(pipeline, governance.meter(actor, found)), on=redact)
        if not keep:
            return (piece for piece in pipeline), answer
        return self._saved(actor, pipeline, answer, stores=found, options=options, opened=opened), answer

    def start(
        self,
        actor: Actor,
        stores: str | Sequence[str],
        question: str,
        *,
        conversation: str | None = None,
        options: AskOptions | None = None,
    ) -> Running:
        """Answer in the background: the answer goes on, and is saved, when the asker leaves or reloads the page;
        `running` finds it again. Returns once its conversation exists (before the first word)."""
        if conversation is not None and self.running(actor, conversation) is not None:
            raise InvalidInput("An answer is still being written in this conversation; wait for it, or stop it.")
        job: Running | None = None

        def opened(conversation_id: str) -> None:
            assert job is not None  # the stream starts in the job's thread, after the job exists
            with self._lock:
                self._jobs[conversation_id] = job
            job.opened.set()

        stream, answer = self.ask(actor, stores, question, conversation=conversation, options=options, opened=opened)
        job = Running(actor.name, answer, stream)
        threading.Thread(target=job.run, args=(self._finished,), daemon=True, name="answer").start()
        job.opened.wait(timeout=OPENING_S)
        return job

    def running(self, actor: Actor, conversation_id: str) -> Running | None:
        """The actor's answer still being written in this conversation, if any."""
        with self._lock:
            job = self._jobs.get(conversation_id)
        return job if job is not None and job.user == actor.name and not job.done.is_set() else None

    def _finished(self, job: Running) -> None:
        with self._lock:
            if self._jobs.get(job.answer.conversation_id) is job:
                del self._jobs[job.answer.conversation_id]

    def _saved(
        self,
        actor: Actor,
        pipeline: Iterator[str],
        answer: Answer,
        *,
        stores: list[Store],
        options: AskOptions,
        opened: Callable[[str], None] | None = None,
    ) -> Generator[str, None, None]:
        """The pipeline's stream; when it ends, however it ends, the question and answer join the conversation."""
        if answer.conversation_id:
            self._catalog.update_conversation(answer.conversation_id, stores=stores, options=options.settings())
        else:
            answer.conversation_id = self._catalog.create_conversation(
                user=actor.name, title=answer.question, stores=stores, options=options.settings()
            )
        if opened is not None:
            opened(answer.conversation_id)
        try:
            yield from pipeline
        except WorkbenchError as exc:  # the condense step, the search or the model failed: kept with its reason
            answer.status, answer.error = MessageStatus.FAILED, answer.error or str(exc)
            raise
        finally:
            if answer.status is MessageStatus.COMPLETE and answer.text == "" and answer.error is None:
                answer.status = MessageStatus.STOPPED  # closed before the first piece
            reply = {
                "role": "assistant",
                "content": answer.text,
                "status": answer.status.value,
                "citations": [asdict(c) for c in answer.citations],
                "sources": [asdict(c) for c in answer.retrieved],
                "model": answer.model,
                "error": answer.error,
                "mode": answer.mode.value,
                "grounding": answer.grounding.as_record() if answer.grounding else None,
            }
            question = {"role": "user", "content": answer.question}
            _, answer.message_id = self._catalog.add_messages(answer.conversation_id, [question, reply])

    def conversations(self, actor: Actor, *, limit: int | None = None) -> list[Conversation]:
        """The actor's own conversations, the most recent first (the `limit` most recent)."""
        return self._catalog.list_conversations(user=actor.name, limit=limit)

    def conversation(self, actor: Actor, conversation_id: str) -> tuple[Conversation, list[ChatMessage]]:
        """A conversation of the actor's with its messages; sources from stores they may no longer read are hidden."""
        found = self._catalog.get_conversation(conversation_id, user=actor.name)
        readable = {store.name for store, _ in self._s.readable(actor)}
        messages = [
            replace(
                m,
                citations=tuple(c for c in m.citations if c.store in readable),
                sources=tuple(c for c in m.sources if c.store in readable),
            )
            for m in self._catalog.messages(conversation_id)
        ]
        return found, messages

    def rename(self, actor: Actor, conversation_id: str, title: str) -> Conversation:
        self._catalog.get_conversation(conversation_id, user=actor.name)
        if not title.strip():
            raise InvalidInput("Give the conversation a title.")
        self._catalog.update_conversation(conversation_id, title=title)
        return self._catalog.get_conversation(conversation_id, user=actor.name)

    def delete(self, actor: Actor, conversation_id: str) -> None:
        self._catalog.get_conversation(conversation_id, user=actor.name)
        self._catalog.delete_conversation(conversation_id)

    def feedback(self, actor: Actor, message_id: int, *, rating: int, comment: str = "") -> None:
        """Thumbs up (+1), down (-1) or neither (0) on an answer of the actor's own, with an optional comment."""
        if rating not in (-1, 0, 1):
            raise InvalidInput("Feedback is +1 (helpful), -1 (not helpful) or 0 (none).")
        self._catalog.set_feedback(message_id, user=actor.name, rating=rating, comment=comment.strip())

    def export(self, actor: Actor, conversation_id: str) -> str:
        """The conversation as Markdown, with each answer's cited sources."""
        return rag.markdown(*self.conversation(actor, conversation_id))

    def forget(self, actor: Actor, stores: str | Sequence[str]) -> None:
        """Delete the actor's conversations over exactly these stores."""
        wanted = [s.name for s in self._s.stores(actor, stores)]
        for found in self._catalog.list_conversations(user=actor.name):
            if list(found.stores) == wanted:
                self._catalog.delete_conversation(found.id)

    def latest(self, actor: Actor, stores: str | Sequence[str]) -> str | None:
        """The actor's most recent conversation over exactly these stores (the command line continues it)."""
        wanted = [s.name for s in self._s.stores(actor, stores)]
        return next((c.id for c in self._catalog.list_conversations(user=actor.name) if list(c.stores) == wanted), None)
