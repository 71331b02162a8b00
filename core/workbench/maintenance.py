"""Index upkeep in the background: after files are added to a store, one thread per process folds the new rows
into the store's indexes and builds the ones its size calls for (a vector index past a few tens of thousands of
chunks), never inside a request. The command line, which has no such thread, does it before it returns."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.catalog import Catalog
from core.errors import NotFound
from core.records import Store
from core.stores import VectorStore

log = logging.getLogger(__name__)

SETTLE_S = 2.0  # a store is maintained once no file has been added to it for this long (a batch, not each file)


@dataclass(frozen=True)
class Maintained:
    """One store's last upkeep in this process."""

    store: str
    seconds: float
    at: float  # time.time()


class Maintenance:
    def __init__(self, catalog: Catalog, backend: Callable[[str], VectorStore]) -> None:
        self._catalog, self._backend = catalog, backend
        self._pending: dict[str, float] = {}  # store id -> when it was last asked for
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy = False  # a store is being maintained now
        self.last: dict[str, Maintained] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self, stores: list[Store]) -> None:
        """Start the thread (once); the stores given are looked at first (rows a stopped process left unindexed)."""
        with self._lock:
            if self.running and not self._stop.is_set():
                return
            self._stop = threading.Event()  # a thread still finishing a long build after `stop` keeps its own
            for store in stores:
                self._pending.setdefault(store.id, 0.0)
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="workbench-indexes", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def request(self, store: Store) -> None:
        """Files were added to the store: fold them in soon, in the background, or now where no thread runs."""
        if not self.running:
            self.run(store)
            return
        with self._lock:
            self._pending[store.id] = time.monotonic()
        self._wake.set()

    def idle(self) -> bool:
        """Nothing waits to be maintained (for tests and benches)."""
        with self._lock:
            return not self._pending and not self._busy

    def run(self, store: Store) -> float:
        """Maintain one store now; returns the seconds it took. Failures are logged: the rows stay searchable."""
        started = time.perf_counter()
        try:
            self._backend(store.backend).maintain(store.collection)
        except NotFound:
            return 0.0  # the store went meanwhile
        except Exception:
            log.warning(
                "maintaining the indexes of %s failed; its new rows are searched without them",
                store.name,
                exc_info=True,
            )
        seconds = time.perf_counter() - started
        self.last[store.id] = Maintained(store.name, seconds, time.time())
        return seconds

    def _loop(self, stop: threading.Event) -> None:
        self._look_at_start()
        while not stop.is_set():
            due = self._next_due()
            if due is None:
                self._wake.wait(SETTLE_S)
                self._wake.clear()
                continue
            try:
                store = self._catalog.get_store_by_id(due)
            except NotFound:
                store = None
            except Exception:  # the catalog out of reach: ask again later
                log.warning("could not read store %s for its upkeep", due, exc_info=True)
                with self._lock:
                    self._pending.setdefault(due, time.monotonic())
                    self._busy = False
                stop.wait(SETTLE_S)
                continue
            if store is not None:
                self.run(store)
            with self._lock:
                self._busy = False

    def _look_at_start(self) -> None:
        """Keep only the queued stores whose backend says an index is due (rows a stopped process left unindexed, a
        store that outgrew its exact search): the others are not touched at every start."""
        with self._lock:
            queued = [i for i, asked in self._pending.items() if asked == 0.0]
        for store_id in queued:
            try:
                store = self._catalog.get_store_by_id(store_id)
                due = self._backend(store.backend).indexing(store.collection).due
            except Exception:  # a store whose data is missing or out of reach: its next ingest asks again
                due = False
            with self._lock:
                if not due and self._pending.get(store_id) == 0.0:
                    del self._pending[store_id]

    def _next_due(self) -> str | None:
        with self._lock:
            now = time.monotonic()
            for store_id, asked in self._pending.items():
                if now - asked >= SETTLE_S:
                    del self._pending[store_id]
                    self._busy = True
                    return store_id
            return None
