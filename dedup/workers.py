"""One process pool per worker count, shared by the stages that fan batches out (clean, fingerprint).

Workers are started once and reused: a scan maps clean and fingerprint batches onto the
same processes, which keep their per-process caches (the rewrite vocabulary) between calls.
"""
from __future__ import annotations

import atexit
import gc
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["bounded_map", "close_pools", "start_worker", "worker_pool"]

T = TypeVar("T")
R = TypeVar("R")

_pools: dict[int, ProcessPoolExecutor] = {}


def start_worker() -> None:
    """The initializer of a pool whose workers collect garbage: a scan pauses the parent's
    automatic collection (`pipeline._collection_paused`), and a worker forked then would
    inherit the pause. The shared pool's workers outlive the scan; verify's, which do not,
    keep the pause (`pipeline._ready_to_fork`)."""
    gc.enable()


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """The shared pool of `jobs` processes, started on first use."""
    pool = _pools.get(jobs)
    if pool is None:
        pool = _pools[jobs] = ProcessPoolExecutor(max_workers=jobs, initializer=start_worker)
    return pool


def bounded_map(pool: Executor, function: Callable[[T], R], tasks: Iterable[T], in_flight: int) -> Iterator[R]:
    """`pool.map(function, tasks)` in order, with at most `in_flight` tasks submitted and not
    yet read: `Executor.map` builds every task's arguments up front, which for tasks made
    from texts read back from disk (`dedup.textstore`) would hold all of them at once."""
    pending: deque = deque()
    for task in tasks:
        pending.append(pool.submit(function, task))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@atexit.register
def close_pools() -> None:
    """Stop the shared workers (the next `worker_pool` call starts fresh ones): verify does
    before it forks its own, since idle workers keep the memory of their last batches."""
    for pool in _pools.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _pools.clear()
