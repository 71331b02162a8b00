"""The stores' policies at work: the injection check on questions and passages, the safety filter on answers, token
limits and budgets around model calls, and the audit of every decision they make (see core.policy)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from core import injection, quota, safety
from core.catalog.policies import Decision
from core.policy import StorePolicy
from core.records import Actor, Hit, Store

if TYPE_CHECKING:
    from core.workbench.services import Services


class Governance:
    def __init__(self, services: Services) -> None:
        self._s = services
        self.catalog = services.catalog

    def decide(self, actor: Actor, store: Store, policy: str, subject: str, what: str, action: str, reason: str,
               score: float | None = None) -> None:  # fmt: skip
        """Keep one decision of a store's policy in the audit (who, what, which policy, score, action)."""
        self.catalog.record_decisions(
            [
                Decision(
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
            ]
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
        """Each hit checked for injected instructions under its store's policy: flagged hits say why, and under
        `block` they are withheld from every model; each flag is kept in the audit."""
        rules = {s.name: (s, StorePolicy.of(s.policy)) for s in stores}
        out = []
        for hit in hits:
            store, policy = rules.get(hit.store or "", (None, None))
            if store is None or policy is None or policy.injection == "off":
                out.append(hit)
                continue
            verdict = injection.check(hit.text)
            if not verdict.fails(policy.injection_threshold):
                out.append(hit)
                continue
            blocked = policy.injection == "block"
            where = (
                f"{hit.filename}"
                + (f", page {hit.page}" if hit.page is not None else "")
                + f", chunk {hit.chunk_index}"
            )
            self.decide(actor, store, "injection", "passage", f"{where}: {verdict.evidence}",
                        "withheld" if blocked else "flagged", verdict.reason, verdict.score)  # fmt: skip
            out.append(replace(hit, caution=f"{verdict.reason} ({verdict.score:.2f})", withheld=blocked))
        return out

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
        return [(role, text) for role, text in turns if not injection.check(text).fails(min(thresholds))]

    def answer_filter(self, actor: Actor, stores: Sequence[Store]) -> safety.Filter | None:
        """The safety filter on answers over these stores (the strictest of their policies), or None when off."""
        modes = [StorePolicy.of(s.policy).safety for s in stores]
        mode = "block" if "block" in modes else "flag" if "flag" in modes else "off"
        if mode == "off":
            return None
        moderate = None
        if self._s.settings.moderation_model:
            target, params = self._s.models.resolve(self._s.settings.moderation_model)
            moderate = safety.moderation(self._s.settings.moderation_model, target, self._s.remote_call(target, params))
        first = stores[0]

        def decided(verdict: safety.Verdict) -> None:
            action = "blocked" if mode == "block" else "flagged"
            self.decide(
                actor, first, "safety", "answer", verdict.evidence, action, f"{verdict.category} ({verdict.by})"
            )

        return safety.Filter(mode=mode, moderate=moderate, on_flag=decided)
