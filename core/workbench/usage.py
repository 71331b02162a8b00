"""Usage: what the actor may see of who used what (administrators: everything; others: their own use and the
use of the stores they own)."""

from __future__ import annotations

from datetime import datetime

from core.records import Actor, Role
from core.usage import UsageReport, report
from core.workbench.services import Services


class Usage:
    def __init__(self, services: Services) -> None:
        self._s = services

    def report(
        self,
        actor: Actor,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        store: str | None = None,
    ) -> UsageReport:
        """Usage in a period, optionally of one user or one store."""
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
        )
