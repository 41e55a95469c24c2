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
import ctypes
import math
import os
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np

from tinygrad_cnn.ops import affinity

try:  # BLAS's thread count, set to 1 inside blocks that run on several threads
    from threadpoolctl import ThreadpoolController
except ImportError:  # without it, such blocks run one after another, BLAS threaded
    ThreadpoolController = None

# -- the C allocator --------------------------------------------------------------------------
# glibc gives each array of 128 kB or more its own fresh pages (mmap) until frees raise that
# threshold, and returns freed memory at the heap's top to the system: a model's activations, a
# few hundred kB to a few MB each and made anew at every op, then page-fault at every step. The
# LeNet step's median fell from 23-28 ms to 20-22 ms with arrays below 32 MB taken from the
# heap and 64 MB of free heap kept (its minimum and the ResNet step's peak memory unchanged).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MALLOPT = ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 64 << 20))
_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def malloc_settings(environ, platform: str) -> tuple:
    """The (parameter, value) pairs to give glibc's mallopt: none off Linux, and none when
    the environment already sets the allocator's thresholds (yours win)."""
    if platform != "linux" or any(environ.get(v) for v in _MALLOC_VARIABLES):
        return ()
    return MALLOPT


def _tune_malloc() -> None:
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc; other C libraries may not have it
    except (OSError, AttributeError):
        return
    for parameter, value in malloc_settings(os.environ, sys.platform):
        mallopt(parameter, value)


_tune_malloc()

MIN_BYTES = 1 << 20
MAX_BUFFERS = 8

_pool: OrderedDict[int, np.ndarray] = OrderedDict()  # id -> flat uint8 buffer
_lock = threading.Lock()
_FREE_REFCOUNT = 3  # the pool's dict, the loop variable, and getrefcount's own argument


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, from the pool when a free buffer fits exactly."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
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


_local = threading.local()  # each thread's scratch buffers, by slot


def scratch(slot: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A temporary for one step of a block loop: the calling thread's buffer for ``slot``,
    handed out again at that thread's next call with the same slot, so the array must be dead
    by then. Fresh small arrays page-fault on every block (a 200 kB one took longer than its
    GEMM); these stay mapped. Arrays of ``MIN_BYTES`` or more come from :func:`empty`."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes >= MIN_BYTES:
        return empty(shape, dtype)
    buf = getattr(_local, slot, None)
    if buf is None:
        buf = np.empty(MIN_BYTES, np.uint8)
        setattr(_local, slot, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


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
_THREADS = max(1, int(os.environ.get("TINYGRAD_CNN_NUM_THREADS", affinity.cpus_allowed())))
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
    global _tasks, _start_lock, _lock, _blas_lock
    _workers.clear()
    affinity.forget_workers()
    _tasks, _start_lock, _lock = queue.SimpleQueue(), threading.Lock(), threading.Lock()
    _blas_lock = threading.Lock()


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


class _Part:
    """One part of a :func:`parallel_ranges` call, run by a copy thread: ``done`` is held until
    it has run, and ``error`` is what it raised (handed to the caller, who re-raises it)."""

    __slots__ = ("fn", "args", "errors", "done", "error")

    def __init__(self, fn: Callable, args: tuple, errors: dict) -> None:
        self.fn, self.args, self.errors, self.error = fn, args, errors, None
        self.done = threading.Lock()
        self.done.acquire()


def _work() -> None:
    while True:
        part = _tasks.get()
        try:
            with np.errstate(**part.errors):  # the caller's: NumPy keeps it per thread
                part.fn(*part.args)
        except BaseException as e:
            part.error = e
        finally:
            part.done.release()


def _start_workers(count: int) -> None:
    with _start_lock:
        affinity.forget_workers()  # a new thread has its creator's mask: set them all again
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
    errors = np.geterr()
    others = [_Part(fn, (a, b), errors) for a, b in zip(bounds[1:-1], bounds[2:])]
    with affinity.spread(_workers):
        for part in others:
            _tasks.put(part)
        try:
            fn(bounds[0], bounds[1])
        finally:
            for part in others:  # the others write into the same arrays: never leave them running
                part.done.acquire()
    for part in others:
        if part.error is not None:
            raise part.error


# -- blocks of work with GEMMs inside ---------------------------------------------------------
# Two threads each running a GEMM with BLAS's own two threads fight for the cores (measured
# slower than one thread); so while blocks are split across threads, BLAS runs on one thread in
# each. BLAS's thread count is process-wide: a count of the blocks in flight restores it when the
# last one ends, so convolutions in several of the user's threads leave it as it was.

_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved: list[tuple[object, int]] = []
_blas_libs: list | None = None


def _blas_controllers() -> list:
    global _blas_libs
    if _blas_libs is None:
        found = ThreadpoolController().select(user_api="blas") if ThreadpoolController else None
        _blas_libs = list(found.lib_controllers) if found else []
    return _blas_libs


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread inside the block (every BLAS library NumPy has loaded)."""
    global _blas_users
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved[:] = [(lib, lib.get_num_threads()) for lib in _blas_controllers()]
            for lib, _ in _blas_saved:
                lib.set_num_threads(1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, count in _blas_saved:
                    lib.set_num_threads(count)


# OpenBLAS's threads spin for a while after each call that used them (2**28 cycles unless
# OPENBLAS_THREAD_TIMEOUT was set before NumPy loaded it, which an import of NumPy before
# tinygrad_cnn prevents): one spinning thread takes the core the blocks' second thread needs. A
# ResNet step took 200-218 ms with the blocks on one thread and 223-244 ms on two while the
# normalisations' BLAS sums and the small matmuls woke BLAS's threads; 164-180 ms on two with
# those on one BLAS thread. Products smaller than this run on one BLAS thread.
SMALL_BLAS_WORK = 1 << 24


def blas_scope(work: int) -> contextlib.AbstractContextManager:
    """One BLAS thread for a product of ``work`` multiply-adds below ``SMALL_BLAS_WORK``
    (where BLAS's threads gain less than their spinning afterwards costs); else BLAS's own."""
    return one_blas_thread() if work < SMALL_BLAS_WORK else contextlib.nullcontext()


def parallel_blocks(fn: Callable[[int, int], None], count: int, nbytes: int) -> None:
    """:func:`parallel_ranges` over ``count`` blocks whose work includes GEMMs, BLAS on one
    thread in each part. One block, or no way to set BLAS's threads: ``fn(0, count)`` here, with
    BLAS's own threads.

    ``nbytes`` (the blocks' columns) counts twice against ``PARALLEL_MIN_BYTES``: each byte is
    copied and then multiplied. The stride-2 convolution's input gradient, 1.6 MB of columns,
    took 0.72 of its time on two threads (calls alternating in one process)."""
    if count < 2 or not _blas_controllers():
        fn(0, count)
        return
    with one_blas_thread():
        parallel_ranges(fn, count, 2 * nbytes)


# -- blocks of images (the convolutions' unit of work) -------------------------------------------
# Columns per block of images: half of a core's 1 MB L2 here, with room for the block's output
# (tests set 0 for one image per block, or inf for the whole batch in one block).
BLOCK_BYTES = 1 << 20
# At least this many blocks where the batch allows (tests set 1 with BLOCK_BYTES = inf): blocks
# run with one BLAS thread, and a small convolution in one block would wake BLAS's threads,
# which then spin on the core the next convolution's blocks need (SMALL_BLAS_WORK).
MIN_BLOCKS = 2


def block_size(n: int, image_bytes: int) -> int:
    """Images per block: as many as keep a block's columns within ``BLOCK_BYTES``, at least 1,
    and few enough for ``MIN_BLOCKS`` blocks where the batch has that many images."""
    return int(max(1, min(n, BLOCK_BYTES // max(image_bytes, 1), -(-n // MIN_BLOCKS))))


def block_count(n: int, image_bytes: int) -> int:
    """How many blocks :func:`over_blocks` makes of ``n`` images."""
    return -(-n // block_size(n, image_bytes))


def over_blocks(fn, n: int, image_bytes: int, work_bytes: int | None = None) -> None:
    """``fn(k, i0, i1)`` for each block k of images i0..i1 (see :func:`block_size`);
    ``work_bytes`` (default ``n * image_bytes``) is what counts against the threads' threshold.

    Each thread takes the next block not yet taken, so a thread that starts late or runs slow
    does fewer: in the LeNet step the caller waited 0.4 ms per step for the copy thread to
    finish, against 1.6 ms with halves fixed in advance (cProfile, 50 steps). The blocks
    themselves never depend on the threads. A block that raises (or a Ctrl-C) ends the others'
    taking: the error comes once the blocks under way have finished."""
    b, count = block_size(n, image_bytes), block_count(n, image_bytes)
    taken, lock = [0], threading.Lock()

    def run(_k0: int, _k1: int) -> None:
        while True:
            with lock:
                k = taken[0]
                taken[0] += 1
            if k >= count:
                return
            try:
                fn(k, k * b, min(n, (k + 1) * b))
            except BaseException:
                with lock:
                    taken[0] = count
                raise

    parallel_blocks(run, count, n * image_bytes if work_bytes is None else work_bytes)


class Blocks:
    """A kernel's work on ``n`` images, split into blocks that :func:`run` hands out.

    ``start(count)`` is called first with the number of blocks (for per-block outputs), then
    ``block(k, i0, i1)`` for each block k of images i0..i1, on any thread, and ``finish()``
    makes the result. ``image_bytes``: the columns one image's block holds. ``quiet``: for
    blocks whose GEMMs write an array (the function returns it) that some OpenBLAS kernels
    flag invalid on finite data; such blocks run with the invalid flag ignored, and all again,
    as the caller's errstate says, if the array is not finite (a real NaN is then reported)."""

    __slots__ = ("n", "image_bytes", "block", "finish", "start", "quiet")

    def __init__(self, n, image_bytes, block, finish, start=None, quiet=None) -> None:
        self.n, self.image_bytes, self.block, self.finish = n, image_bytes, block, finish
        self.start, self.quiet = start, quiet


def run(*kernels: Blocks) -> list:
    """Each kernel's blocks, in one parallel section when there are several (on the same
    images: block k of each, one after the other, is one unit of work), and their results.
    The blocks are sized by the first kernel's ``image_bytes``, so its results are the same
    bit for bit as when it runs alone; a section costs 35-60 us to start and leaves a thread
    idle at its end, and the second kernel reads the block's images while they are in cache."""
    first = kernels[0]
    n, image_bytes = first.n, first.image_bytes
    count = block_count(n, image_bytes)
    for kernel in kernels:
        if kernel.start is not None:
            kernel.start(count)
    if len(kernels) == 1:
        quiet = first.quiet is not None
        with np.errstate(invalid="ignore") if quiet else contextlib.nullcontext():
            over_blocks(first.block, n, image_bytes)  # the copy threads take this errstate
    else:
        parts = [_quietly(k.block) if k.quiet is not None else k.block for k in kernels]

        def fn(k: int, i0: int, i1: int) -> None:
            for part in parts:
                part(k, i0, i1)

        over_blocks(fn, n, image_bytes, sum(n * k.image_bytes for k in kernels))
    for kernel in kernels:
        if kernel.quiet is not None and not np.isfinite(kernel.quiet()).all():
            over_blocks(kernel.block, n, image_bytes)
    return [kernel.finish() for kernel in kernels]


def _quietly(fn):
    def quiet(k: int, i0: int, i1: int) -> None:
        with np.errstate(invalid="ignore"):
            fn(k, i0, i1)

    return quiet
