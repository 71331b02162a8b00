"""A request rate limit per API key: a token bucket that refills steadily, so a client may burst a little and then
keeps to the rate. Counted in the catalog, in one atomic statement per request, so that every API replica on every
machine counts against the same limit (N replicas counting apart would allow N times it)."""

from __future__ import annotations

import math
import time
from typing import Protocol

from core.errors import RateLimited

BURST_SHARE = 10  # a full bucket holds a tenth of a minute's requests (at least 5)


class Buckets(Protocol):
    def take_token(self, key_id: str, *, capacity: float, per_second: float, at: float) -> float | None: ...

    def bucket(self, key_id: str) -> tuple[float, float] | None: ...


class RateLimit:
    def __init__(self, per_minute: int, buckets: Buckets) -> None:
        self.per_minute = per_minute
        self.capacity = max(5.0, per_minute / BURST_SHARE)
        self._buckets = buckets

    def take(self, key: str) -> None:
        """Count one request of `key`; refused with the seconds to wait when its bucket is empty."""
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        at = time.time()  # wall clock: the replicas' machines share it (NTP), not their monotonic clocks
        if self._buckets.take_token(key, capacity=self.capacity, per_second=rate, at=at) is not None:
            return
        tokens, when = self._buckets.bucket(key) or (0.0, at)
        tokens = min(self.capacity, tokens + max(0.0, at - when) * rate)
        wait = max(1, math.ceil((1.0 - tokens) / rate))
        raise RateLimited(
            f"Too many requests with this key: at most {self.per_minute} a minute. Try again in {wait} s.",
            retry_after=wait,
        )
