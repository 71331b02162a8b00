"""Usage: what the actor may see of who used what (administrators: everything; others: their own use and the
use of the stores they own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import access
from core import policy as policies
from core.access import Action
from core.catalog.policies import Decision
from core.errors import InvalidInput
from core.records import Actor, Role, UsageEvent
from core.usage import UsageReport, report
from core.workbench.services import Services

MAX_AUDIT_PAGE = 1000


@dataclass(frozen=True)
class AuditTotals:
    calls: int
    tokens: int
    redacted: int


@dataclass(frozen=True)
class LimitUse:
    """One user's or key's use of a store's limit in the current day or month."""

    store: str
    who: str  # "alice", or "key 'nightly' (alice)"
    kind: str  # tokens a day, spending a month
    used: float
    limit: float
    resets_at: datetime

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.used)


class Usage:
    def __init__(self, services: Services) -> None:
        self._s = services

    def call(self, actor: Actor, route: str, *, latency_ms: float, status: int, error: str | None = None) -> None:
        """Record one request to the API (who, with which key, what, how long, how it ended)."""
        self._s.catalog.record_usage(
            UsageEvent(
                kind="api",
                user=actor.name,
                model=route,
                channel=actor.channel.value,
                key_id=actor.key_id,
                latency_ms=latency_ms,
                ok=status < 400,
                error=error if status >= 400 else None,
            )
        )

    def audit(
        self, actor: Actor, *, since: datetime | None = None, page: int = 1, per_page: int | None = None
    ) -> list[UsageEvent]:
        """The recorded calls to a remote model, newest first (administrators): who, through what, on which
        stores, which model, tokens, and the personal data kept from it; every one, or one page of `per_page`.
        Records older than the retention (`WORKBENCH_AUDIT_DAYS`) are deleted first."""
        access.require_admin(actor.user, "see the audit of remote model calls")
        if per_page is not None and not 1 <= per_page <= MAX_AUDIT_PAGE:
            raise InvalidInput(f"Show between 1 and {MAX_AUDIT_PAGE} calls a page, not {per_page}.")
        self.forget_expired()
        offset = (max(1, page) - 1) * per_page if per_page else 0
        return self._s.catalog.usage(since=since, remote_calls=True, newest_first=True, offset=offset, limit=per_page)

    def audit_totals(self, actor: Actor, *, since: datetime | None = None) -> AuditTotals:
        """How many remote calls the period holds, their tokens and the personal data redacted (administrators)."""
        access.require_admin(actor.user, "see the audit of remote model calls")
        self.forget_expired()
        calls, tokens, redacted = self._s.catalog.remote_call_totals(since=since)
        return AuditTotals(calls=calls, tokens=tokens, redacted=redacted)

    def limits(self, actor: Actor, *, at: datetime | None = None) -> list[LimitUse]:
        """Each user's and key's use of the stores' daily token limits and monthly budgets now (administrators: every
        store's; owners: their stores'; everyone: their own and their keys')."""
        at = at or datetime.now(UTC)
        day, month = policies.day(at), policies.month(at)
        visible = {s.id: (s, role) for s, role in self._s.readable(actor)}
        keys = {k.id: k for k in self._s.catalog.keys(None)}  # named, for rows the actor may see (checked below)
        rows = []
        for use in self._s.catalog.use(store_ids=list(visible), periods=[day, month]):
            store, role = visible[use.store_id]
            kind, _, subject = use.subject.partition(":")
            key = keys.get(subject) if kind == "key" else None
            mine = subject == actor.name if kind == "user" else key is not None and key.user == actor.name
            if not (actor.is_admin or role is Role.OWNER or mine):
                continue
            rules = policies.StorePolicy.of(store.policy)
            who = subject if kind == "user" else f"key '{key.name}' ({key.user})" if key else f"key {subject}"
            if use.period == day:
                limit = rules.tokens_per_day_user if kind == "user" else rules.tokens_per_day_key
                if limit:
                    rows.append(LimitUse(store.name, who, "tokens a day", use.tokens, limit, policies.resets(day, at)))
            else:
                budget = rules.budget_per_month_user if kind == "user" else rules.budget_per_month_key
                if budget:
                    rows.append(
                        LimitUse(
                            store.name, who, "spending a month (USD)", use.cost, budget, policies.resets(month, at)
                        )
                    )
        return rows

    def decisions(
        self,
        actor: Actor,
        *,
        store: str | None = None,
        since: datetime | None = None,
        page: int = 1,
        per_page: int = 200,
    ) -> tuple[int, list[Decision]]:
        """What the stores' policies decided (injection check, safety filter, limits, changes), newest first: of one
        store for whoever manages it, of every store for administrators. How many there are, and one page."""
        if not 1 <= per_page <= MAX_AUDIT_PAGE:
            raise InvalidInput(f"Show between 1 and {MAX_AUDIT_PAGE} decisions a page, not {per_page}.")
        if store is not None:
            ids: list[str] | None = [self._s.store(actor, store, Action.MANAGE).id]
        else:
            access.require_admin(actor.user, "see the decisions of every store's policy")
            ids = None
        self.forget_expired()
        return self._s.catalog.decisions(
            since=since, store_ids=ids, offset=(max(1, page) - 1) * per_page, limit=per_page
        )

    def forget_expired(self) -> int:
        """Delete the records of remote model calls older than the retention; how many."""
        days = self._s.settings.audit_days
        if days <= 0:
            return 0
        cutoff = datetime.now(UTC) - timedelta(days=days)
        return self._s.catalog.forget_remote_calls_before(cutoff) + self._s.catalog.forget_decisions_before(cutoff)

    def report(
        self,
        actor: Actor,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        store: str | None = None,
        channel: str | None = None,
        key: str | None = None,
    ) -> UsageReport:
        """Usage in a period, optionally of one user, store, channel (app, api, cli) or API key."""
        owned = [s.name for s, role in self._s.readable(actor) if role is Role.OWNER]
        return report(
            self._s.catalog,
            viewer_is_admin=actor.is_admin,
            viewer=actor.name,
            owned_stores=owned,
            since=since,
            until=until,
            user=user,
            store=store,
            channel=channel,
            key=key,
        )
