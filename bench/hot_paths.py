"""Before and after, in one run: does a request's catalog work grow with the store, or only with what it shows?

    .venv/bin/python bench/hot_paths.py [--before 9b0e37b] [--small 100] [--large 10000] [--repeat 5]

The code before this round's bounded reads is checked out beside the repo (a git worktree) and both run the same
requests in their own processes, one after the other, on stores made the same way: one real document (searched and
answered from) and N more documents in the catalog, each with its job (a vector-store file), N remote-call usage
records, and N/10 other stores. Each request is timed (median of --repeat after one warm-up) with the catalog's
own share: the statements it ran and their time. A request whose work follows the store grows from --small to
--large; one that reads only what it shows stays flat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REQUESTS = [
    "search (core, hybrid)",
    "API search (vector store)",
    "API vector store object",
    "API vector store list",
    "Upload page (jobs panel)",
    "Documents page",
    "Stores page",
    "Audit page, All",
    "Usage page",
    "chat, continuing a conversation",
]


def child(tree: Path, scale: int, repeat: int) -> dict[str, tuple[float, float, int]]:
    """Runs inside the tree's own interpreter path: build the data, time every request."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    scratch = Path(tempfile.mkdtemp(prefix="wb-hot-"))
    os.environ["WORKBENCH_DATA_DIR"] = str(scratch / "data")
    os.environ["WORKBENCH_SECRETS_FILE"] = str(scratch / "none.toml")
    os.environ["WORKBENCH_API_RATE_PER_MINUTE"] = "0"
    import sqlalchemy as sa
    import streamlit as st
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.catalog import new_id, now
    from core.catalog.schema import jobs
    from core.ingest import Upload
    from core.records import Document, DocumentStatus, UsageEvent
    from tests.app.conftest import page_as
    from ui.session import workbench as app_workbench

    st.cache_resource.clear()
    wb = app_workbench()
    wb.runner.stop()
    wb.users.create_first_admin("admin", "a long enough secret")
    me = wb.actor("admin")
    wb.stores.create(me, "kb")
    wb.documents.ingest(me, "kb", [Upload("penguins.txt", b"Penguins live in the Antarctic and eat fish and krill.")])
    store = wb.catalog.get_store("kb")
    docs = [
        Document(new_id(), store.id, f"memo-{n:06}.txt", new_id(), 10, DocumentStatus.PROCESSING, now(), "admin")
        for n in range(scale)
    ]
    wb.catalog.add_documents(docs)
    wb.catalog.mark_ready({d.id: 3 for d in docs})
    with wb.catalog.engine.begin() as conn:
        conn.execute(
            jobs.insert(),
            [
                {"id": new_id(), "store_id": store.id, "file_id": new_id(), "filename": d.filename, "size_bytes": 10,
                 "user_name": "admin", "channel": "api", "options": {}, "status": "completed", "document_id": d.id,
                 "created_at": now(), "stage": "", "done": 3, "total": 3, "attempts": 1}
                for d in docs
            ],
        )  # fmt: skip
    for n in range(scale):
        wb.catalog.record_usage(UsageEvent(kind="chat", user="admin", model="remote-chat", prompt_tokens=n, store="kb"))
    for n in range(scale // 10):
        wb.catalog.create_store(f"other-{n:05}", backend="lancedb", embedding_model=store.embedding_model,
                                embedding_dim=store.embedding_dim, chunk_size=512, chunk_overlap=50, owner="admin")  # fmt: skip
    key = wb.keys.create(me, "bench").secret
    api = TestClient(create_app(wb, run_jobs=False), headers={"Authorization": f"Bearer {key}"})
    stream, first = wb.chat.ask(me, "kb", "Where do penguins live?")
    for _ in stream:
        pass
    conversation = first.conversation_id

    def ask() -> None:
        stream, _answer = wb.chat.ask(me, "kb", "What do they eat?", conversation=conversation)
        for _ in stream:
            pass

    def audit() -> None:
        at = page_as(wb, "audit", "admin")
        at.session_state["audit_period"] = "All"
        at.run()

    calls: dict[str, Callable[[], object]] = {
        REQUESTS[0]: lambda: wb.search.run(me, "kb", "Where do penguins live?"),
        REQUESTS[1]: lambda: api.post(f"/v1/vector_stores/vs_{store.id}/search", json={"query": "penguins"}),
        REQUESTS[2]: lambda: api.get(f"/v1/vector_stores/vs_{store.id}"),
        REQUESTS[3]: lambda: api.get("/v1/vector_stores", params={"limit": 20}),
        REQUESTS[4]: lambda: page_as(wb, "upload", "admin").run(),
        REQUESTS[5]: lambda: page_as(wb, "documents", "admin").run(),
        REQUESTS[6]: lambda: page_as(wb, "stores", "admin").run(),
        REQUESTS[7]: audit,
        REQUESTS[8]: lambda: page_as(wb, "usage", "admin").run(),
        REQUESTS[9]: ask,
    }
    catalog = {"n": 0, "s": 0.0}

    def started(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_started"] = time.perf_counter()

    def ended(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        catalog["n"] += 1
        catalog["s"] += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())

    sa.event.listen(wb.catalog.engine, "before_cursor_execute", started)
    sa.event.listen(wb.catalog.engine, "after_cursor_execute", ended)
    results = {}
    for name, call in calls.items():
        call()
        walls, spent, statements = [], [], []
        for _ in range(repeat):
            catalog.update(n=0, s=0.0)
            clock = time.perf_counter()
            response = call()
            walls.append((time.perf_counter() - clock) * 1000)
            status = getattr(response, "status_code", 200)
            assert status == 200, f"{name}: {status} {getattr(response, 'text', '')}"
            spent.append(catalog["s"] * 1000)
            statements.append(catalog["n"])
        results[name] = (statistics.median(walls), statistics.median(spent), int(statistics.median(statements)))
    return results


def run_child(tree: Path, scale: int, repeat: int) -> dict[str, list[float]]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(tree), "--scale", str(scale), "--repeat", str(repeat)],
        capture_output=True, text=True, cwd=tree, check=False,
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{tree} at {scale}: {done.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="9b0e37b", help="the commit before the bounded reads")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", type=Path)
    parser.add_argument("--scale", type=int)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.scale, args.repeat)))
        return
    before = Path(tempfile.gettempdir()) / f"wb-before-{args.before}"
    if not before.exists():
        subprocess.run(["git", "worktree", "add", "-f", str(before), args.before], cwd=ROOT, check=True)
    found = {}
    for label, tree in (("before", before), ("after", ROOT)):
        for scale in (args.small, args.large):
            found[label, scale] = run_child(tree, scale, args.repeat)
            print(f"{label} at {scale:,}: done", flush=True)
    sys.path.insert(0, str(ROOT / "bench"))
    from common import print_table

    rows = []
    for name in REQUESTS:
        row: dict[str, object] = {"request": name}
        for label in ("before", "after"):
            small, large = found[label, args.small][name], found[label, args.large][name]
            row[f"{label}: ms at {args.small:,} / {args.large:,}"] = f"{small[0]:.0f} / {large[0]:.0f}"
            row[f"{label}: catalog ms"] = f"{small[1]:.1f} / {large[1]:.1f}"
            row[f"{label}: statements"] = f"{small[2]} / {large[2]}"
        rows.append(row)
    print(f"\nEach request on a store of {args.small:,} and of {args.large:,} documents (and as many jobs and remote-call"
          f" records, a tenth as many other stores); median of {args.repeat}\n")  # fmt: skip
    print_table(rows)


if __name__ == "__main__":
    main()
