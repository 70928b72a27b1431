"""One process pool per worker count, shared by the stages that fan batches out (clean, fingerprint).

Workers are started once and reused: a scan maps clean and fingerprint batches onto the
same processes, which keep their per-process caches (the rewrite vocabulary) between calls.
"""
from __future__ import annotations

import atexit
from concurrent.futures import ProcessPoolExecutor

__all__ = ["close_pools", "worker_pool"]

_pools: dict[int, ProcessPoolExecutor] = {}


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """The shared pool of `jobs` processes, started on first use."""
    pool = _pools.get(jobs)
    if pool is None:
        pool = _pools[jobs] = ProcessPoolExecutor(max_workers=jobs)
    return pool


@atexit.register
def close_pools() -> None:
    """Stop the shared workers (the next `worker_pool` call starts fresh ones): verify does
    before it forks its own, since idle workers keep the memory of their last batches."""
    for pool in _pools.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _pools.clear()
