"""Compiled inner loops, for the stages whose numpy form makes several passes over big temporaries.

A kernel is used through `kernel(name, size)`, which returns None (keep the numpy path) when
numba is not installed, DEDUP_NO_JIT=1 is set, inside `numpy_only()`, or when the input is
smaller than MIN_SIZE. The numpy path stays the reference each kernel must equal bit for bit
(tests compare the two), so which path ran never changes a result, only its speed.

Why a size floor: loading numba and the cached kernels costs a process ~0.6 s (the first run
after install compiles them, ~7 s), which a scan of a few articles would notice and a batch of
a thousand articles repays many times over. Kernels are cached beside this file (`cache=True`).
"""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable

import numpy as np

__all__ = ["MIN_SIZE", "compiled_always", "describe", "jit_available", "joined", "kernel", "loaded_kernel", "numpy_only"]

# Inputs (bytes, tokens or shingles) below which the numpy path runs: the seeds' five
# articles (~25k bytes) stay on numpy; one fingerprint batch of news (~2 MB) goes compiled.
MIN_SIZE = 1 << 16

_numpy_only = False


def _disabled_by_env() -> bool:
    return os.environ.get("DEDUP_NO_JIT", "").strip() not in ("", "0")


def jit_available() -> bool:
    """True when numba imports and DEDUP_NO_JIT is not set."""
    return _kernels() is not None


def kernel(name: str, size: int) -> Callable | None:
    """The compiled kernel `name` of `dedup._kernels` for an input of `size` items, or None."""
    if size < MIN_SIZE or _numpy_only:
        return None
    module = _kernels()
    return None if module is None else getattr(module, name)


def loaded_kernel(name: str) -> Callable | None:
    """The compiled kernel `name` whatever the input's size, if the kernels are loaded in this
    process already (so using one costs no load): for the small per-chunk steps of a stage
    whose main step chose the compiled path through `kernel`."""
    if _numpy_only or "dedup._kernels" not in sys.modules:
        return None
    module = _kernels()
    return None if module is None else getattr(module, name)


def joined(parts: list[bytes]) -> tuple[bytes, np.ndarray]:
    """Encoded texts end to end, as a batch kernel takes them: (their bytes, int64 offsets with
    part t at offsets[t]:offsets[t + 1])."""
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)), out=offsets[1:])
    return b"".join(parts), offsets


def describe() -> str:
    """One line for `dedup scan --profile`: which code the fingerprint and verify loops run."""
    if _disabled_by_env():
        return "numpy (DEDUP_NO_JIT is set)"
    if not jit_available():
        return "numpy (numba is not installed or could not load)"
    import numba

    return f"numba {numba.__version__} (numpy under {MIN_SIZE:,} items)"


@contextmanager
def compiled_always() -> Iterator[None]:
    """Take the compiled path whatever the input's size inside the block: run on a few items,
    a stage loads its kernels into this process (for the processes it will fork, or ahead of
    the stage)."""
    global MIN_SIZE
    previous, MIN_SIZE = MIN_SIZE, 0
    try:
        yield
    finally:
        MIN_SIZE = previous


@contextmanager
def numpy_only() -> Iterator[None]:
    """Run the numpy paths inside the block (tests compare them with the kernels)."""
    global _numpy_only
    previous, _numpy_only = _numpy_only, True
    try:
        yield
    finally:
        _numpy_only = previous


@lru_cache(maxsize=1)
def _kernels():
    if _disabled_by_env():
        return None
    try:
        from dedup import _kernels
    except ImportError:  # numba not installed: the numpy paths do the same work
        return None
    except (RuntimeError, OSError) as error:  # e.g. numba finds no writable cache folder
        warnings.warn(f"dedup: compiled kernels unavailable ({error}); using the numpy code, which gives the same "
                      f"results more slowly (set NUMBA_CACHE_DIR to a writable folder to use them)", RuntimeWarning,
                      stacklevel=3)
        return None
    return _kernels
