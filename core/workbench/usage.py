"""Usage: what the actor may see of who used what (administrators: everything; others: their own use and the
use of the stores they own)."""

from __future__ import annotations

from datetime import datetime

from core.records import Actor, Role, UsageEvent
from core.usage import UsageReport, report
from core.workbench.services import Services


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
