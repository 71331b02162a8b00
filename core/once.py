"""A thread-safe memo for things that must load once per process (models), however many callers ask at once.

`functools.cache` is not a once-guard: two first callers both miss and both load. Here the first caller
of a key loads it while later callers of the same key wait for that result; other keys load in parallel.
A failed load is not remembered, so the next caller tries again.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Once(Generic[P, T]):
    def __init__(self, factory: Callable[P, T]) -> None:
        self.factory = factory
        self.values: dict[Hashable, T] = {}
        self.locks: dict[Hashable, threading.Lock] = {}
        self.guard = threading.Lock()
        functools.update_wrapper(self, factory)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        key = (args, tuple(sorted(kwargs.items())))
        if key in self.values:
            return self.values[key]
        with self.guard:
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.values:
                self.values[key] = self.factory(*args, **kwargs)
            return self.values[key]


def once(factory: Callable[P, T]) -> Once[P, T]:
    """Decorate a loader so that each distinct argument list is loaded exactly once per process."""
    return Once(factory)
