"""A key's rate limit is counted in the catalog, so that API replicas (here: two catalogs on one database, as two
processes would hold) share it: together they allow what one would, not twice it."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from core.catalog import Catalog
from core.errors import RateLimited
from core.ratelimit import RateLimit


def test_two_replicas_counting_at_once_allow_one_bucket_between_them(any_database: str) -> None:
    replicas = [Catalog(any_database), Catalog(any_database)]
    at = time.time()

    def take(i: int) -> bool:
        return replicas[i % 2].take_token("key_a", capacity=6.0, per_second=1.0, at=at) is not None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(take, range(24)))
    assert sum(taken) == 6  # a full bucket: six at once, whichever replica counted them
    assert replicas[1].take_token("key_b", capacity=6.0, per_second=1.0, at=at) == 5.0  # each key its own
    later = [replicas[i % 2].take_token("key_a", capacity=6.0, per_second=1.0, at=at + 2.5) for i in range(4)]
    assert [left is not None for left in later] == [True, True, False, False]  # 2.5 s refilled two and a half
    assert replicas[0].bucket("key_a") == pytest.approx((0.5, at + 2.5))


def test_a_refused_request_says_how_long_to_wait(any_database: str) -> None:
    limit = RateLimit(60, Catalog(any_database))
    for _ in range(int(limit.capacity)):
        limit.take("key_c")
    with pytest.raises(RateLimited, match="at most 60 a minute. Try again in 1 s.") as refused:
        limit.take("key_c")
    assert refused.value.retry_after == 1
    RateLimit(0, Catalog(any_database)).take("key_c")  # 0: no limit
