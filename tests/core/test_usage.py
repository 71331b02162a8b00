"""Usage you can chart: tables by day, model, user and store from seeded events, and who may see which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.config import Settings
from core.ingest import Upload
from core.records import UsageEvent
from core.workbench import Workbench

DAY1 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def seeded(settings: Settings) -> Workbench:
    wb = Workbench(settings)
    for name in ("alice", "bob", "carol"):
        wb.users.add(wb.actor("admin"), name)
    wb.stores.create(wb.actor("alice"), "finance")
    wb.stores.create(wb.actor("bob"), "travel")
    events = [
        UsageEvent(
            "chat",
            "alice",
            "gpt-4o",
            stores=("finance",),
            prompt_tokens=100,
            completion_tokens=20,
            cost=0.01,
            latency_ms=800,
            created_at=DAY1,
        ),
        UsageEvent(
            "chat",
            "alice",
            "gpt-4o",
            stores=("finance",),
            prompt_tokens=300,
            completion_tokens=40,
            cost=0.03,
            latency_ms=1200,
            created_at=DAY2,
        ),
        UsageEvent(
            "chat",
            "bob",
            "local/smollm2-135m",
            stores=("finance", "travel"),
            prompt_tokens=50,
            completion_tokens=10,
            latency_ms=400,
            created_at=DAY2,
        ),
        UsageEvent(
            "embedding",
            "bob",
            "local/all-minilm-l6-v2",
            stores=("travel",),
            prompt_tokens=30,
            latency_ms=20,
            created_at=DAY2,
        ),
        UsageEvent(
            "chat", "carol", "gpt-4o", stores=("travel",), ok=False, error="rate limited", latency_ms=5, created_at=DAY2
        ),
        UsageEvent(
            "ingest",
            "alice",
            "local/all-minilm-l6-v2",
            stores=("finance",),
            documents=2,
            pages=30,
            chunks=90,
            created_at=DAY1,
        ),
    ]
    for event in events:
        wb.catalog.record_usage(event)
    return wb


def test_requests_per_day_by_kind_count_each_event_once(seeded: Workbench) -> None:
    table = seeded.usage.report(seeded.actor("admin")).requests_per_day()
    counts = {(row.day.date().isoformat(), row.kind): row.requests for row in table.itertuples()}
    assert counts == {
        ("2026-11-01", "chat"): 1,
        ("2026-11-01", "ingest"): 1,
        ("2026-11-02", "chat"): 3,  # bob's question over two stores is one request
        ("2026-11-02", "embedding"): 1,
    }


def test_tokens_and_cost_per_day_by_model(seeded: Workbench) -> None:
    table = seeded.usage.report(seeded.actor("admin")).tokens_and_cost_per_day()
    day2 = table[table["day"] == pd.Timestamp("2026-11-02")].set_index("model")
    assert day2.loc["gpt-4o", "tokens"] == 340 and day2.loc["gpt-4o", "cost"] == pytest.approx(0.03)
    assert day2.loc["local/smollm2-135m", "tokens"] == 60


def test_latency_percentiles_leave_failed_calls_out(seeded: Workbench) -> None:
    table = seeded.usage.report(seeded.actor("admin")).latency().set_index(["model", "kind"])
    gpt = table.loc[("gpt-4o", "chat")]
    assert gpt["requests"] == 2 and gpt["p50_ms"] == pytest.approx(1000) and gpt["p95_ms"] == pytest.approx(1180)


def test_top_users_and_stores(seeded: Workbench) -> None:
    report = seeded.usage.report(seeded.actor("admin"))
    assert report.top_users()[["user", "requests"]].values.tolist() == [["alice", 3], ["bob", 2], ["carol", 1]]
    stores = report.top_stores()[["store", "requests"]].values.tolist()
    assert stores == [["finance", 4], ["travel", 3]]  # bob's two-store question counts for both


def test_ingest_volume_per_day(seeded: Workbench) -> None:
    table = seeded.usage.report(seeded.actor("admin")).ingest_volume()
    assert table[["documents", "pages", "chunks"]].values.tolist() == [[2, 30, 90]]


def test_a_user_sees_their_own_use_and_the_use_of_stores_they_own(seeded: Workbench) -> None:
    bob = seeded.usage.report(seeded.actor("bob")).table()
    # his own events, and carol's question on travel (his store); not alice's use of her own store
    assert sorted(zip(bob["user"], bob["kind"], strict=True)) == [
        ("bob", "chat"),
        ("bob", "embedding"),
        ("carol", "chat"),
    ]
    carol = seeded.usage.report(seeded.actor("carol")).table()
    assert carol["user"].tolist() == ["carol"] and carol["error"].tolist() == ["rate limited"]
    assert len(seeded.usage.report(seeded.actor("admin")).table()) == 6


def test_period_user_and_store_filters(seeded: Workbench) -> None:
    since = datetime(2026, 11, 2, tzinfo=UTC)
    assert len(seeded.usage.report(seeded.actor("admin"), since=since).table()) == 4
    assert set(seeded.usage.report(seeded.actor("admin"), user="alice").table()["kind"]) == {"chat", "ingest"}
    travel = seeded.usage.report(seeded.actor("admin"), store="travel").table()
    assert sorted(travel["user"]) == ["bob", "bob", "carol"]
    assert travel[travel["kind"] == "chat"]["store"].tolist().count("finance, travel") == 1  # both stores, one row


def test_an_empty_period_gives_empty_tables_with_their_columns(seeded: Workbench) -> None:
    report = seeded.usage.report(seeded.actor("admin"), since=datetime(2030, 1, 1, tzinfo=UTC))
    assert list(report.requests_per_day().columns) == ["day", "kind", "requests"]
    assert report.latency().empty and report.top_stores().empty and report.table().empty


def test_real_operations_are_recorded_with_one_row_per_store(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "a")
    workbench.stores.create(workbench.actor("admin"), "b")
    workbench.documents.ingest(workbench.actor("admin"), "a", [Upload("x.txt", b"Alpha text about pumps.")])
    workbench.search.run(workbench.actor("admin"), "a,b", "pumps")
    events = workbench.catalog.usage()
    ingest = [e for e in events if e.kind == "ingest"]
    assert [(e.stores, e.documents, e.chunks) for e in ingest] == [(("a",), 1, 1)]
    query_embeddings = [e for e in events if e.kind == "embedding" and e.prompt_tokens and e.stores != ("a",)]
    assert [e.stores for e in query_embeddings] == [("b",)]  # each store's query embedding on its own store
    assert all("," not in (e.store or "") for e in events)  # never a comma-joined name


def test_a_renamed_store_keeps_its_whole_usage_history(settings: Settings, any_database: str) -> None:
    wb = Workbench(settings.replace(database_url=any_database))
    wb.users.add(wb.actor("admin"), "olivia")
    olivia = wb.actor("olivia")
    wb.stores.create(olivia, "kb")
    wb.documents.ingest(olivia, "kb", [Upload("notes.txt", b"Zebras migrate across the Serengeti in July.")])
    wb.search.run(olivia, "kb", "zebras")
    before = len(wb.usage.report(olivia, store="kb").table())
    wb.stores.rename(olivia, "kb", "wildlife")
    wb.search.run(olivia, "wildlife", "zebras")
    after = wb.usage.report(olivia, store="wildlife").table()
    assert before >= 2 and len(after) == before + 1  # the new search embeds its query: one more event
    assert set(after["store"]) == {"wildlife"} and wb.usage.report(olivia, store="kb").events.empty
    assert not wb.usage.report(olivia).top_stores().empty


def test_usage_recorded_by_store_name_is_linked_to_the_store_on_upgrade(settings: Settings) -> None:
    import sqlalchemy as sa

    from core.catalog import Catalog
    from core.catalog.schema import usage_stores

    wb = Workbench(settings)
    store = wb.stores.create(wb.actor("admin"), "kb")
    wb.catalog.record_usage(UsageEvent("chat", "admin", "m", stores=("kb",)))
    with wb.catalog.engine.begin() as conn:  # as an earlier version wrote it: by name only
        conn.execute(usage_stores.update().values(store_id=None))
    Catalog(wb.catalog.url)  # the next start upgrades the catalog
    with wb.catalog.engine.connect() as conn:
        assert conn.execute(sa.select(usage_stores.c.store_id)).scalars().all() == [store.id]
    wb.stores.rename(wb.actor("admin"), "kb", "kb-2026")
    assert list(wb.usage.report(wb.actor("admin")).events["store"]) == ["kb-2026"]


def test_each_event_keeps_the_channel_it_came_through(workbench: Workbench) -> None:
    from core.records import Channel

    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(workbench.actor("admin", Channel.CLI), "kb", [Upload("a.txt", b"Pumps need oil.")])
    workbench.search.run(workbench.actor("admin", Channel.API, key_id="key-1"), "kb", "pumps")
    events = workbench.usage.report(workbench.actor("admin")).table()
    assert set(events["channel"]) == {"cli", "api"}
    assert [e.key_id for e in workbench.catalog.usage() if e.channel == "api"] == ["key-1"]
