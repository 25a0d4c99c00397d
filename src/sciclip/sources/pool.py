"""Parallel map that keeps input order and bounds memory.

``Pool.imap`` reads its whole input eagerly; here the input is a stream of tarball members (hundreds of
MB), so at most ``window`` items are in flight and results come back in input order, which keeps shard
contents deterministic whatever the number of workers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int | None = None) -> Iterator[R]:
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = window or 2 * workers
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        it = iter(items)
        try:
            for item in it:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
        except GeneratorExit:
            for f in pending:
                f.cancel()
            raise
        except Exception:
            # the input broke off (a damaged archive): hand back what was submitted before it, then raise
            while pending:
                yield pending.popleft().result()
            raise
        while pending:
            yield pending.popleft().result()
