"""A small pool of large scratch buffers, reused across calls to avoid page faults.

A fresh 80 MB array costs the kernel about as much time to fault in as the copy that fills it
(measured on conv2d's 85 MB im2col buffer: 6.5 ms to fill a reused one, 15 ms a fresh one).
Conv and pool ask this pool for their big temporaries and for the column matrices they save for
backward; a buffer is handed out again
only when nothing but the pool refers to it (its reference count says so), so an array still
saved in a graph, or held by a user, is never reused. Buffers under ``MIN_BYTES`` are left to
NumPy; the pool keeps at most ``MAX_BUFFERS`` and drops the least recently used.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_BYTES = 1 << 20
MAX_BUFFERS = 8

_pool: OrderedDict[int, np.ndarray] = OrderedDict()  # id -> flat uint8 buffer
_FREE_REFCOUNT = 3  # the pool's dict, the loop variable, and getrefcount's own argument


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, from the pool when a free buffer fits exactly."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    # values(), not items(): the items iterator caches its (key, value) tuple, an extra reference
    for buf in _pool.values():
        if buf.nbytes == nbytes and sys.getrefcount(buf) == _FREE_REFCOUNT:
            _pool.move_to_end(id(buf))
            return buf.view(dtype).reshape(shape)
    buf = np.empty(nbytes, np.uint8)
    _pool[id(buf)] = buf
    while len(_pool) > MAX_BUFFERS:
        _pool.popitem(last=False)
    return buf.view(dtype).reshape(shape)


def zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    out = empty(shape, dtype)
    out.fill(0)
    return out


def clear() -> None:
    """Forget every pooled buffer (arrays handed out stay valid)."""
    _pool.clear()


# -- splitting memory-bound loops across cores ---------------------------------------------------
# NumPy releases the GIL inside copies and ufunc loops, so two threads copying disjoint channel
# ranges run in parallel. GEMMs already use every core through BLAS; the copies around them
# (im2col, col2im, padding) would otherwise run on one.

_THREADS = max(1, int(os.environ.get("TINYGRAD_CNN_NUM_THREADS", os.cpu_count() or 1)))
_executor: ThreadPoolExecutor | None = None
PARALLEL_MIN_BYTES = 1 << 21


@contextlib.contextmanager
def threads(count: int, min_bytes: int = PARALLEL_MIN_BYTES) -> Iterator[None]:
    """Split copies over ``count`` threads once they move ``min_bytes`` or more, inside the
    block (for tests: ``threads(3, 0)`` sends even tiny arrays down the threaded branch)."""
    global _THREADS, PARALLEL_MIN_BYTES
    if count < 1 or min_bytes < 0:
        raise ValueError(
            f"threads: count must be >= 1 and min_bytes >= 0, got {count}, {min_bytes}"
        )
    saved = _THREADS, PARALLEL_MIN_BYTES
    _THREADS, PARALLEL_MIN_BYTES = count, min_bytes
    try:
        yield
    finally:
        _THREADS, PARALLEL_MIN_BYTES = saved


def parallel_ranges(fn: Callable[[int, int], None], n: int, nbytes: int) -> None:
    """Call ``fn(start, stop)`` over a split of ``range(n)``: in threads when the work is big."""
    global _executor
    parts = min(_THREADS, n)
    if parts < 2 or nbytes < PARALLEL_MIN_BYTES:
        fn(0, n)
        return
    if _executor is None or _executor._max_workers < parts:
        _executor = ThreadPoolExecutor(parts, thread_name_prefix="tinygrad_cnn")
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_executor.submit(fn, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    errors = [f.exception() for f in futures]  # wait for all before raising the first
    for e in errors:
        if e is not None:
            raise e
