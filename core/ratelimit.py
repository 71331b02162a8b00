"""A request rate limit per API key: a token bucket that refills steadily, so a client may burst a little and then
keeps to the rate. Kept in the process (each API server counts its own requests)."""

from __future__ import annotations

import math
import threading
import time

from core.errors import RateLimited

BURST_SHARE = 10  # a full bucket holds a tenth of a minute's requests (at least 5)


class RateLimit:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.capacity = max(5.0, per_minute / BURST_SHARE)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Count one request of `key`; refused with the seconds to wait when its bucket is empty."""
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        at = time.monotonic()
        with self._lock:
            tokens, when = self._buckets.get(key, (self.capacity, at))
            tokens = min(self.capacity, tokens + (at - when) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, at)
                wait = math.ceil((1.0 - tokens) / rate)
                raise RateLimited(
                    f"Too many requests with this key: at most {self.per_minute} a minute. Try again in {wait} s.",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1.0, at)
