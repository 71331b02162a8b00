"""Catalog queries: usage events."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.catalog.rows import new_key, now, utc
from core.catalog.schema import stores as tables
from core.catalog.schema import usage_events, usage_stores
from core.records import UsageEvent
from core.redact import redact_optional

# a call to a model outside the bundled ones (not an API request's record, nor an ingest's volume)
REMOTE_CALL = (
    (usage_events.c.model != "")
    & ~usage_events.c.model.startswith("local/")
    & usage_events.c.kind.not_in(("api", "ingest"))
)


class UsageQueries:
    engine: Engine

    def record_usage(self, event: UsageEvent) -> None:
        stores = list(dict.fromkeys(event.stores or ((event.store,) if event.store else ())))
        with self.engine.begin() as conn:
            result = conn.execute(
                usage_events.insert().values(
                    created_at=event.created_at or now(),
                    kind=event.kind,
                    user_name=event.user,
                    store=stores[0] if len(stores) == 1 else None,
                    model=event.model,
                    prompt_tokens=event.prompt_tokens,
                    completion_tokens=event.completion_tokens,
                    cost=event.cost,
                    latency_ms=event.latency_ms,
                    ok=event.ok,
                    error=redact_optional(event.error),
                    documents=event.documents,
                    pages=event.pages,
                    chunks=event.chunks,
                    grounded=event.grounded,
                    channel=event.channel,
                    key_id=event.key_id,
                    redactions=dict(event.redactions) or None,
                )
            )
            event_id = new_key(result)
            if stores:
                ids: dict[str, str | None] = dict(zip(event.stores, event.store_ids, strict=False))  # else looked up
                for name in stores:
                    if name not in ids:
                        ids[name] = conn.execute(sa.select(tables.c.id).where(tables.c.name == name)).scalar()
                conn.execute(
                    usage_stores.insert(), [{"event_id": event_id, "store": s, "store_id": ids[s]} for s in stores]
                )

    def forget_remote_calls_before(self, cutoff: datetime) -> int:
        """Delete the records of remote model calls older than `cutoff` (the audit's retention); how many."""
        where = (usage_events.c.created_at < cutoff) & REMOTE_CALL
        with self.engine.begin() as conn:
            old = [r.id for r in conn.execute(sa.select(usage_events.c.id).where(where))]
            for start in range(0, len(old), 500):
                batch = old[start : start + 500]
                conn.execute(usage_stores.delete().where(usage_stores.c.event_id.in_(batch)))
                conn.execute(usage_events.delete().where(usage_events.c.id.in_(batch)))
        return len(old)

    def remote_call_totals(self, *, since: datetime | None = None) -> tuple[int, int, int]:
        """(calls to remote models, tokens sent and received, personal data redacted) in the period: two
        aggregates and the redaction counts of the calls that had any, not every record."""
        where = [REMOTE_CALL] + ([usage_events.c.created_at >= since] if since is not None else [])
        tokens = usage_events.c.prompt_tokens + usage_events.c.completion_tokens
        with self.engine.connect() as conn:
            calls, total = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(tokens), 0)).where(*where)
            ).one()
            redactions = conn.execute(
                sa.select(usage_events.c.redactions).where(*where, usage_events.c.redactions.is_not(None))
            ).scalars()
            redacted = sum(sum(int(n) for n in (r or {}).values()) for r in redactions)
        return int(calls), int(total), redacted

    def usage(
        self,
        *,
        user: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        remote_calls: bool = False,
        newest_first: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[UsageEvent]:
        """Usage records in order (or newest first, a page of `limit` after `offset`); `remote_calls`: only those
        of calls to a remote model (the audit)."""
        order = usage_events.c.id.desc() if newest_first else usage_events.c.id
        query = sa.select(usage_events).order_by(order).offset(max(0, offset)).limit(limit)
        if remote_calls:
            query = query.where(REMOTE_CALL)
        if user is not None:
            query = query.where(usage_events.c.user_name == user)
        if since is not None:
            query = query.where(usage_events.c.created_at >= since)
        if until is not None:
            query = query.where(usage_events.c.created_at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            linked: dict[int, list[str]] = {}
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):
                current = sa.func.coalesce(tables.c.name, usage_stores.c.store)  # a renamed store: its name now
                for link in conn.execute(
                    sa.select(usage_stores.c.event_id, current.label("name"))
                    .select_from(usage_stores.outerjoin(tables, tables.c.id == usage_stores.c.store_id))
                    .where(usage_stores.c.event_id.in_(ids[start : start + 500]))
                ):
                    linked.setdefault(link.event_id, []).append(link.name)
        return [
            UsageEvent(
                kind=r.kind,
                user=r.user_name,
                store=linked[r.id][0] if len(linked.get(r.id, ())) == 1 else r.store,
                stores=tuple(sorted(linked.get(r.id, ()))),
                model=r.model,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost=r.cost,
                latency_ms=r.latency_ms,
                ok=r.ok,
                error=r.error,
                documents=r.documents,
                pages=r.pages,
                chunks=r.chunks,
                grounded=r.grounded,
                channel=r.channel,
                key_id=r.key_id,
                redactions=r.redactions or {},
                created_at=utc(r.created_at),
            )
            for r in rows
        ]
