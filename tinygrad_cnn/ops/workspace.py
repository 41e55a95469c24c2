"""A small pool of large scratch buffers, reused across calls to avoid page faults.

A fresh 80 MB array costs the kernel about as much time to fault in as the copy that fills it
(measured on conv2d's 85 MB im2col buffer: 6.5 ms to fill a reused one, 15 ms a fresh one).
Conv and pool ask this pool for their big temporaries and for the column matrices they save for
backward; a buffer is handed out again
only when nothing but the pool refers to it (its reference count says so), so an array still
saved in a graph, or held by a user, is never reused. Buffers under ``MIN_BYTES`` are left to
NumPy; the pool keeps at most ``MAX_BUFFERS`` and drops the least recently used. One lock guards
the pool, so models in several threads never get the same buffer.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait

import numpy as np

MIN_BYTES = 1 << 20
MAX_BUFFERS = 8

_pool: OrderedDict[int, np.ndarray] = OrderedDict()  # id -> flat uint8 buffer
_lock = threading.Lock()
_FREE_REFCOUNT = 3  # the pool's dict, the loop variable, and getrefcount's own argument


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, from the pool when a free buffer fits exactly."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    with _lock:  # the view made here counts as a reference before another thread looks
        # values(), not items(): the items iterator caches its (key, value) tuple, an extra ref
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
    with _lock:
        _pool.clear()


# -- splitting memory-bound loops across cores ---------------------------------------------------
# NumPy releases the GIL inside copies and ufunc loops, so two threads copying disjoint channel
# ranges run in parallel. GEMMs already use every core through BLAS; the copies around them
# (im2col, col2im, padding) would otherwise run on one.

_THREADS = max(1, int(os.environ.get("TINYGRAD_CNN_NUM_THREADS", os.cpu_count() or 1)))
PARALLEL_MIN_BYTES = 1 << 21
# Worker threads are daemons that wait on one queue. A daemon never holds up interpreter exit,
# so a Ctrl-C at any point (even between a worker's start and its bookkeeping, where a
# ThreadPoolExecutor's non-daemon worker would be left for exit to wait on for ever) cannot hang.
_tasks: queue.SimpleQueue = queue.SimpleQueue()
_workers: list[threading.Thread] = []
_start_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: forget the parent's workers (the child
    would queue copies that nothing runs and wait for ever) and any lock held at the fork."""
    global _tasks, _start_lock, _lock
    _workers.clear()
    _tasks, _start_lock, _lock = queue.SimpleQueue(), threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


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


def _work() -> None:
    while True:
        future, fn, args = _tasks.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # handed to the caller, who re-raises it
                future.set_exception(e)


def _start_workers(count: int) -> None:
    with _start_lock:
        while len(_workers) < count:
            t = threading.Thread(target=_work, name="tinygrad_cnn-copy", daemon=True)
            _workers.append(t)  # counted first: an interrupt now costs one idle thread at most
            t.start()


def parallel_ranges(fn: Callable[[int, int], None], n: int, nbytes: int) -> None:
    """Call ``fn(start, stop)`` over a split of ``range(n)``: in threads when the work is big.
    The calling thread takes the first part; all parts finish before an error is raised."""
    parts = min(_THREADS, n)
    if parts < 2 or nbytes < PARALLEL_MIN_BYTES:
        fn(0, n)
        return
    if len(_workers) < parts - 1:
        _start_workers(parts - 1)
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = []
    for a, b in zip(bounds[1:-1], bounds[2:]):
        futures.append(Future())
        _tasks.put((futures[-1], fn, (a, b)))
    try:
        fn(bounds[0], bounds[1])
    finally:
        wait(futures)  # the others write into the same arrays: never leave them running
    for f in futures:
        if f.exception() is not None:
            raise f.exception()
