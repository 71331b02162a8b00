"""Catalog queries: stores' policies, the use counted against their limits, and the decisions their checks made."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from core.catalog.rows import now, utc
from core.catalog.schema import policy_decisions, quota_use, stores
from core.records import Store


@dataclass(frozen=True)
class Counter:
    """One count a charge adds to: a subject's tokens in a day, or spending in a month; a cap of None: not capped."""

    subject: str  # "user:alice" or "key:<id>"
    period: str  # "2026-12-08" or "2026-12"
    max_tokens: int | None = None
    max_cost: float | None = None


@dataclass(frozen=True)
class Use:
    store_id: str
    subject: str
    period: str
    tokens: int
    cost: float


@dataclass(frozen=True)
class Decision:
    """One check that flagged, withheld, refused or blocked something (the audit's record of it)."""

    user: str
    channel: str
    key_id: str | None
    store: str
    store_id: str
    policy: str  # injection, safety, tokens, budget
    subject: str  # question, passage, answer, call, upload
    what: str
    action: str  # flagged, withheld, refused, blocked
    reason: str
    score: float | None = None
    created_at: datetime | None = None


class PolicyQueries:
    engine: Engine

    def change_policy(self, store: Store, change: Callable[[object], Mapping[str, object]]) -> Mapping[str, object]:
        """Read, change and write a store's policy in one transaction (a row lock on PostgreSQL): an owner's change
        and an administrator's saved at once both count."""
        row = stores.c.id == store.id
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(stores.c.policy).where(row).with_for_update()).scalar()
            record = dict(change(current))
            conn.execute(stores.update().where(row).values(policy=record))
        return record

    def charge(
        self, counters: Sequence[tuple[str, Counter]], *, tokens: int, cost: float
    ) -> tuple[str, Counter] | None:
        """Add a call's tokens and cost to each (store id, counter), all or none: each addition is one atomic
        statement that only applies while the counter stays within its cap (so replicas charging at once cannot pass
        it together), and the transaction is rolled back when one would pass it. Returns the one that refused."""
        with self.engine.begin() as conn:
            for store_id, counter in counters:
                if not self._add(conn, store_id, counter, tokens=tokens, cost=cost):
                    conn.rollback()
                    return store_id, counter
        return None

    def settle(self, counters: Sequence[tuple[str, Counter]], *, tokens: int, cost: float) -> None:
        """Correct the counters by what a call really used against what was held for it (either sign, never capped)."""
        if not tokens and not cost:
            return
        q = quota_use.c
        with self.engine.begin() as conn:
            for store_id, counter in counters:
                where = (q.store_id == store_id) & (q.subject == counter.subject) & (q.period == counter.period)
                conn.execute(
                    quota_use.update()
                    .where(where)
                    .values(
                        tokens=sa.case((q.tokens + tokens < 0, 0), else_=q.tokens + tokens),
                        cost=sa.case((q.cost + cost < 0, 0.0), else_=q.cost + cost),
                    )
                )

    def _add(self, conn: Connection, store_id: str, counter: Counter, *, tokens: int, cost: float) -> bool:
        if (counter.max_tokens is not None and tokens > counter.max_tokens) or (
            counter.max_cost is not None and cost > counter.max_cost
        ):
            return False  # more than the whole cap: the first charge of a period inserts without the WHERE below
        q = quota_use.c
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(quota_use)
        within: list[sa.ColumnElement[bool]] = [sa.true()]
        if counter.max_tokens is not None:
            within.append(q.tokens + tokens <= counter.max_tokens)
        if counter.max_cost is not None:
            within.append(q.cost + cost <= counter.max_cost)
        statement = (
            insert.values(store_id=store_id, subject=counter.subject, period=counter.period, tokens=tokens, cost=cost)
            .on_conflict_do_update(
                index_elements=[q.store_id, q.subject, q.period],
                set_={"tokens": q.tokens + tokens, "cost": q.cost + cost},
                where=sa.and_(*within),
            )
            .returning(q.tokens)
        )
        return conn.execute(statement).first() is not None

    def use(self, *, store_ids: Sequence[str] | None = None, periods: Sequence[str] = ()) -> list[Use]:
        """What was counted in these periods (of these stores, or all)."""
        q = quota_use.c
        query = sa.select(quota_use).where(q.period.in_(list(periods))).order_by(q.store_id, q.subject, q.period)
        if store_ids is not None:
            query = query.where(q.store_id.in_(list(store_ids)))
        with self.engine.connect() as conn:
            return [Use(r.store_id, r.subject, r.period, int(r.tokens), float(r.cost)) for r in conn.execute(query)]

    def record_decisions(self, decisions: Sequence[Decision]) -> None:
        if not decisions:
            return
        rows = [
            {
                "created_at": d.created_at or now(),
                "user_name": d.user,
                "channel": d.channel,
                "key_id": d.key_id,
                "store": d.store,
                "store_id": d.store_id,
                "policy": d.policy,
                "subject": d.subject,
                "what": d.what[:2000],
                "score": d.score,
                "action": d.action,
                "reason": d.reason[:2000],
            }
            for d in decisions
        ]
        with self.engine.begin() as conn:
            conn.execute(policy_decisions.insert(), rows)

    def decisions(
        self,
        *,
        since: datetime | None = None,
        store_ids: Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 200,
    ) -> tuple[int, list[Decision]]:
        """How many decisions there are in the period, and one page of them, newest first."""
        d = policy_decisions.c
        where = [d.created_at >= since] if since is not None else []
        if store_ids is not None:
            where.append(d.store_id.in_(list(store_ids)))
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(policy_decisions).where(*where)).scalar() or 0
            rows = conn.execute(
                sa.select(policy_decisions).where(*where).order_by(d.id.desc()).offset(max(0, offset)).limit(limit)
            ).all()
        return int(total), [
            Decision(
                user=r.user_name,
                channel=r.channel,
                key_id=r.key_id,
                store=r.store,
                store_id=r.store_id,
                policy=r.policy,
                subject=r.subject,
                what=r.what,
                action=r.action,
                reason=r.reason,
                score=r.score,
                created_at=utc(r.created_at),
            )
            for r in rows
        ]

    def forget_decisions_before(self, cutoff: datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(policy_decisions.delete().where(policy_decisions.c.created_at < cutoff)).rowcount or 0
