"""Token limits and spending budgets, charged before each model call is made.

A store operation (an answer, a search, an upload) opens `scope(meter)` around the work it drives, as it opens the
privacy scope; `core.llm`, the one place calls leave for a model, asks `reserve` with the call's estimated tokens
and cost before it calls, and `settle` with what the call really used afterwards. The estimate is cautious (three
characters a token, and the whole answer budget), so that what is held is rarely less than what is used.

Counts live in the catalog (`quota_use`), so every process and replica shares them: a reservation is one atomic
conditional statement per counter (see `Catalog.charge`), and two replicas together cannot pass a limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core import policy as policies
from core import privacy
from core.catalog import Catalog
from core.catalog.policies import Counter
from core.errors import InvalidInput, OverLimit, RateLimited
from core.records import Store

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3  # cautious: numbers and tables take more tokens than prose
DEFAULT_ANSWER_TOKENS = 1024  # held for an answer whose call sets no max_tokens


class LimitReached(RateLimited, OverLimit):
    """A store's daily token limit or monthly budget refused a call before it was made (HTTP 429, Retry-After)."""


class TooManyTokens(InvalidInput, OverLimit):
    """One request or upload that needs more tokens than its store allows for one."""


Decide = Callable[[Store, str, str, str], None]  # store, policy (tokens, budget), subject, reason


@dataclass
class Held:
    meter: Meter
    tokens: int
    cost: float
    charged: list[tuple[str, Counter]] = field(default_factory=list)  # (store id, counter)


class Meter:
    """The limits of one operation of one user (and key) over some stores."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        user: str,
        key_id: str | None,
        stores: Sequence[Store],
        upload: bool = False,
        decide: Decide | None = None,
    ) -> None:
        self.catalog, self.user, self.key_id, self.upload = catalog, user, key_id, upload
        self.stores = [(s, policies.StorePolicy.of(s.policy)) for s in stores]
        self.decide = decide
        self.used = 0  # tokens held by this operation so far

    @property
    def active(self) -> bool:
        return any(self._per_operation(p) or self._counters(p, datetime.now(UTC)) for _, p in self.stores)

    def _per_operation(self, rules: policies.StorePolicy) -> int:
        return rules.tokens_per_ingest if self.upload else rules.tokens_per_request

    def _counters(self, rules: policies.StorePolicy, at: datetime) -> list[Counter]:
        day, month = policies.day(at), policies.month(at)
        out = []
        if rules.tokens_per_day_user:
            out.append(Counter(f"user:{self.user}", day, max_tokens=rules.tokens_per_day_user))
        if rules.tokens_per_day_key and self.key_id:
            out.append(Counter(f"key:{self.key_id}", day, max_tokens=rules.tokens_per_day_key))
        if rules.budget_per_month_user:
            out.append(Counter(f"user:{self.user}", month, max_cost=rules.budget_per_month_user))
        if rules.budget_per_month_key and self.key_id:
            out.append(Counter(f"key:{self.key_id}", month, max_cost=rules.budget_per_month_key))
        return out

    def reserve(self, tokens: int, cost: float) -> Held:
        """Hold a call's estimated tokens and cost on every limit of the operation's stores, or refuse it in words.
        Token counters count calls that use tokens, spending counters calls that cost something (a free local
        model is never refused by an overspent budget)."""
        held = Held(self, tokens, cost)
        at = datetime.now(UTC)
        subject = "upload" if self.upload else "call"
        counters: list[tuple[str, Counter]] = []
        for store, rules in self.stores:
            limit = self._per_operation(rules)
            if limit and self.used + tokens > limit:
                what = "an upload" if self.upload else "one request"
                advice = "Upload fewer or smaller files at once." if self.upload else "Ask with fewer sources."
                message = (
                    f"Store '{store.name}' allows {limit:,} tokens for {what}; this would need about "
                    f"{self.used + tokens:,}. {advice}"
                )
                self._decided(store, "tokens", subject, message)
                raise TooManyTokens(message)
            counters += [
                (store.id, c)
                for c in self._counters(rules, at)
                if (c.max_tokens is not None and tokens > 0) or (c.max_cost is not None and cost > 0)
            ]
        if counters:
            refused = self.catalog.charge(counters, tokens=tokens, cost=cost)
            if refused is not None:
                store = next(s for s, _ in self.stores if s.id == refused[0])
                message, wait = self._refusal(store, refused[1], tokens=tokens, cost=cost, at=at)
                self._decided(store, "budget" if refused[1].max_cost is not None else "tokens", subject, message)
                raise LimitReached(message, retry_after=wait)
        held.charged = counters
        self.used += tokens
        return held

    def settle(self, held: Held, *, tokens: int, cost: float) -> None:
        """Put right what a call held by what it used (a call that failed: by nothing)."""
        self.used += tokens - held.tokens
        if held.charged:
            try:
                self.catalog.settle(held.charged, tokens=tokens - held.tokens, cost=cost - held.cost)
            except Exception:  # the call is made; its count stays at what was held rather than failing the answer
                log.warning("settling a call's use of its stores' limits failed", exc_info=True)
        held.charged = []

    def _decided(self, store: Store, rule: str, subject: str, reason: str) -> None:
        if self.decide is not None:
            self.decide(store, rule, subject, reason)

    def _refusal(self, store: Store, counter: Counter, *, tokens: int, cost: float, at: datetime) -> tuple[str, int]:
        used = next(
            (
                u
                for u in self.catalog.use(store_ids=[store.id], periods=[counter.period])
                if u.subject == counter.subject
            ),
            None,
        )
        who, whose = ("This API key has", "each API key") if counter.subject.startswith("key:") else ("You have", "each user")  # fmt: skip
        resets = policies.resets(counter.period, at)
        wait = max(1, int((resets - at).total_seconds()) + 1)
        when = f"{resets:%H:%M} UTC" if counter.max_tokens is not None else f"{resets:%-d %B} (UTC)"
        if counter.max_tokens is not None:
            spent = used.tokens if used else 0
            left = max(0, counter.max_tokens - spent)
            text = (
                f"{who} used {spent:,} of the {counter.max_tokens:,} tokens a day that store '{store.name}' allows "
                f"{whose} ({left:,} left); this call needs about {tokens:,}."
            )
        else:
            spent_cost = used.cost if used else 0.0
            left_cost = max(0.0, (counter.max_cost or 0.0) - spent_cost)
            text = (
                f"{who} spent ${spent_cost:,.2f} of the ${counter.max_cost:,.2f} a month that store '{store.name}' "
                f"allows {whose} (${left_cost:,.2f} left); this call would cost about ${cost:,.4f}."
            )
        return f"{text} The count starts again at {when}, in {_duration(wait)}.", wait


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = max(1, rest // 60) if not days and not hours else rest // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


_meter: ContextVar[Meter | None] = ContextVar("workbench_quota_meter", default=None)


def current() -> Meter | None:
    return _meter.get()


@contextmanager
def scope(meter: Meter | None) -> Iterator[Meter | None]:
    """Within it, model calls are charged to `meter` (None: to nothing); an inner scope wins while it lasts."""
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)


def scoped(stream: Iterator[str], meter: Meter | None) -> Generator[str, None, None]:
    """A lazy stream (a chat answer) that runs each step inside the meter's scope, whichever thread drives it."""
    return privacy.stepped(stream, lambda: scope(meter))


def reserve(tokens: int, cost: float) -> Held | None:
    """Hold an estimated call on the current meter (None when no operation limits anything)."""
    meter = _meter.get()
    return meter.reserve(tokens, cost) if meter is not None else None


def settle(held: Held | None, *, tokens: int, cost: float) -> None:
    """Correct a hold by what the call used, on the meter that made it (whatever scope is current now)."""
    if held is not None:
        held.meter.settle(held, tokens=tokens, cost=cost)


def estimate(texts: Sequence[str], *, answer_tokens: int = 0) -> int:
    return sum(len(t) for t in texts) // CHARS_PER_TOKEN + len(texts) + answer_tokens
