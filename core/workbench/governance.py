"""The stores' policies at work: the injection check on questions and passages, the safety filter on answers, token
limits and budgets around model calls, and the audit of every decision they make (see core.policy)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from core import injection, quota, safety
from core.catalog.policies import Decision
from core.errors import PermissionDenied
from core.options import SearchOptions
from core.policy import StorePolicy
from core.records import Actor, Chunk, Hit, Store

if TYPE_CHECKING:
    from core.workbench.services import Services


class Governance:
    def __init__(self, services: Services) -> None:
        self._s = services
        self.catalog = services.catalog

    def decide(self, actor: Actor, store: Store, policy: str, subject: str, what: str, action: str, reason: str,
               score: float | None = None) -> None:  # fmt: skip
        """Keep one decision of a store's policy in the audit (who, what, which policy, score, action)."""
        self.catalog.record_decisions([self._decision(actor, store, policy, subject, what, action, reason, score)])

    @staticmethod
    def _decision(actor: Actor, store: Store, policy: str, subject: str, what: str, action: str, reason: str,
                  score: float | None) -> Decision:  # fmt: skip
        return Decision(
            user=actor.name,
            channel=actor.channel.value,
            key_id=actor.key_id,
            store=store.name,
            store_id=store.id,
            policy=policy,
            subject=subject,
            what=what,
            action=action,
            reason=reason,
            score=score,
        )

    def meter(self, actor: Actor, stores: Sequence[Store], *, upload: bool = False) -> quota.Meter | None:
        """What counts this operation's model calls against the stores' limits (None when none limits anything)."""
        meter = quota.Meter(
            self.catalog, user=actor.name, key_id=actor.key_id, stores=stores, upload=upload,
            decide=lambda store, rule, subject, reason: self.decide(actor, store, rule, subject, subject, "refused", reason),
        )  # fmt: skip
        return meter if meter.active else None

    @contextmanager
    def governed(self, actor: Actor, stores: Sequence[Store], *, upload: bool = False) -> Iterator[None]:
        """Model calls within it follow the stores' rules: personal data kept from remote models, and token limits
        and budgets (an operation already metered, such as an answer's search, stays on its own meter)."""
        with ExitStack() as stack:
            stack.enter_context(self._s.privacy(stores))
            if upload or quota.current() is None:
                stack.enter_context(quota.scope(self.meter(actor, stores, upload=upload)))
            yield

    def screen(self, actor: Actor, stores: Sequence[Store], hits: list[Hit]) -> list[Hit]:
        """Each hit (its text and its file's name, which the prompt quotes) checked for injected instructions under
        its store's policy: flagged hits say why, and under `block` they are withheld from every model; the flags
        are kept in the audit, in one write."""
        rules = {s.name: (s, StorePolicy.of(s.policy)) for s in stores}
        out, decided = [], []
        for hit in hits:
            store, policy = rules.get(hit.store or "", (None, None))
            if store is None or policy is None or policy.injection == "off":
                out.append(hit)
                continue
            verdict = max(injection.check(hit.text), injection.check(hit.filename), key=lambda v: v.score)
            if not verdict.fails(policy.injection_threshold):
                out.append(hit)
                continue
            blocked = policy.injection == "block"
            where = hit.filename + (f", page {hit.page}" if hit.page is not None else "") + f", chunk {hit.chunk_index}"
            decided.append(self._decision(actor, store, "injection", "passage", f"{where}: {verdict.evidence}",
                                          "withheld" if blocked else "flagged", verdict.reason, verdict.score))  # fmt: skip
            out.append(replace(hit, caution=f"{verdict.reason} ({verdict.score:.2f})", withheld=blocked))
        self.catalog.record_decisions(decided)
        return out

    def readable(self, actor: Actor, store: Store, chunk: Chunk) -> None:
        """Refuse, in words, a program's read of a chunk its store's injection check withholds (recorded)."""
        hit = Hit(chunk.text, 0.0, chunk.document_id, chunk.filename, chunk.chunk_index, chunk.start, chunk.end,
                  page=chunk.page, store=store.name)  # fmt: skip
        [screened] = self.screen(actor, [store], [hit])
        if screened.withheld:
            raise PermissionDenied(
                f"This passage is withheld by store '{store.name}': {screened.caution}. Its policy keeps such text "
                "from models and the programs that call them."
            )

    def searched(self, actor: Actor, stores: Sequence[Store], query: str, options: SearchOptions) -> SearchOptions:
        """The search's options: a query that fails a blocking store's injection check is searched as typed, never
        sent to the model that rewrites queries (searching for such words is not refused: an analyst may look for
        the poisoned document)."""
        if not options.rewrite:
            return options
        verdict = injection.check(query)
        for store in stores:
            policy = StorePolicy.of(store.policy)
            if policy.injection == "block" and verdict.fails(policy.injection_threshold):
                self.decide(actor, store, "injection", "question", verdict.evidence, "flagged",
                            f"{verdict.reason}; searched without the rewriting model", verdict.score)  # fmt: skip
                return replace(options, rewrite=False)
        return options

    def check_question(self, actor: Actor, stores: Sequence[Store], question: str) -> str | None:
        """The refusal, in words, of a question that reads as injected instructions where a store blocks them
        (flagged ones go on, kept in the audit); None when it may be asked."""
        verdict = injection.check(question)
        refusal = None
        for store in stores:
            policy = StorePolicy.of(store.policy)
            if policy.injection == "off" or not verdict.fails(policy.injection_threshold):
                continue
            blocked = policy.injection == "block"
            self.decide(actor, store, "injection", "question", verdict.evidence,
                        "refused" if blocked else "flagged", verdict.reason, verdict.score)  # fmt: skip
            if blocked:
                refusal = (
                    f"This question was not sent to the model: it reads as instructions to the assistant rather than "
                    f"a question about the documents ({verdict.reason}, score {verdict.score:.2f}). Store "
                    f"'{store.name}' blocks such questions; ask about what the documents say."
                )
        return refusal

    def history(self, stores: Sequence[Store], turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A conversation's earlier turns without those that fail the injection check where a store blocks it (a
        question refused before would otherwise reach the model that rewrites the follow-up)."""
        thresholds = [
            p.injection_threshold for p in map(StorePolicy.of, (s.policy for s in stores)) if p.injection == "block"
        ]
        if not thresholds:
            return turns
        floor = min(thresholds)  # the answers' own notes quote reasons; only the asker's questions are checked
        return [(role, text) for role, text in turns if role != "user" or not injection.check(text).fails(floor)]

    def answer_filter(self, actor: Actor, stores: Sequence[Store]) -> safety.Filter | None:
        """The safety filter on answers over these stores (the strictest of their policies), or None when off; a
        flagged answer is recorded on each store whose policy filters answers."""
        modes = {s.id: StorePolicy.of(s.policy).safety for s in stores}
        mode = "block" if "block" in modes.values() else "flag" if "flag" in modes.values() else "off"
        if mode == "off":
            return None
        moderate = None
        if self._s.settings.moderation_model:
            target, params = self._s.models.resolve(self._s.settings.moderation_model)
            moderate = safety.moderation(self._s.settings.moderation_model, target, self._s.remote_call(target, params))

        def decided(verdict: safety.Verdict) -> None:
            action = "blocked" if mode == "block" else "flagged"
            self.catalog.record_decisions(
                [self._decision(actor, s, "safety", "answer", verdict.evidence, action, f"{verdict.category} ({verdict.by})", None)
                 for s in stores if modes[s.id] != "off"]
            )  # fmt: skip

        return safety.Filter(mode=mode, moderate=moderate, on_flag=decided)
