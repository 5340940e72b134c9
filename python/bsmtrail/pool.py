"""Ordered work on threads: a batch function over a stream of batches on worker threads,
results in input order, a bounded number in flight."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], threads: int | None) -> Iterator[R]:
    """``map(fn, items)`` on ``threads`` workers (None: every core), in order, with at
    most ``threads + 1`` items in flight, so memory stays bounded. Worth it when ``fn``
    releases the GIL (Arrow's compute functions do)."""
    n = threads if threads is not None else (os.cpu_count() or 1)
    if n <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > n:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
