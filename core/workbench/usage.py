"""Usage: what the actor may see of who used what (administrators: everything; others: their own use and the
use of the stores they own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import access
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

    def forget_expired(self) -> int:
        """Delete the records of remote model calls older than the retention; how many."""
        days = self._s.settings.audit_days
        if days <= 0:
            return 0
        return self._s.catalog.forget_remote_calls_before(datetime.now(UTC) - timedelta(days=days))

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
