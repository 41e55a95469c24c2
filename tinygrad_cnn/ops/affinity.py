"""Where the copy threads run (:mod:`tinygrad_cnn.ops.workspace`'s parallel sections).

Linux often wakes a thread on the CPU of the thread that woke it. After an idle moment (the
bench's pause between blocks, a pause to load data) a copy thread and its caller then shared one
CPU for the next three or four convolutions, each part waiting for the other (sched_getcpu logged
per part): the bench's 14x14 convolution took 13 ms there against 8 ms once the two had spread.
So for the length of a parallel section (:func:`spread`) the calling thread keeps the CPU it is
on, and the workers may run on any other CPU it is allowed; its own mask is restored at the end.
Where affinity cannot be read or set, the scheduler decides alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Iterator


def cpus_allowed() -> int:
    """How many CPUs this process may run on (taskset and cpusets count), else all."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _load_getcpu() -> Callable[[], int] | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        return ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None


getcpu = _load_getcpu()  # None where placement is left to the scheduler
_workers_mask: frozenset | None = None  # what the workers' masks were last set to


def forget_workers() -> None:
    """The workers' masks are unknown (a new worker, a forked child): set them at next use."""
    global _workers_mask
    _workers_mask = None


@contextlib.contextmanager
def spread(workers) -> Iterator[None]:
    """Inside: the calling thread stays on its CPU and the ``workers`` (threads) keep off it;
    the caller's mask is restored at the end."""
    mask = _hold_cpu(workers)
    try:
        yield
    finally:
        if mask is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, mask)


def _hold_cpu(workers) -> set[int] | None:
    """Pin the calling thread to its CPU and give the workers the others it may use; its mask
    before, or None where nothing was changed."""
    global getcpu, _workers_mask
    if getcpu is None:
        return None
    try:
        cpu, mask = getcpu(), os.sched_getaffinity(0)
        others = frozenset(mask - {cpu})
        if cpu not in mask or not others:
            return None
        if others != _workers_mask:
            for t in workers:
                if t.native_id is not None:  # None only if Ctrl-C came before it started
                    os.sched_setaffinity(t.native_id, others)
            _workers_mask = others
        os.sched_setaffinity(0, {cpu})
    except OSError:  # a sandbox may forbid it: leave placement to the scheduler from now on
        getcpu = None
        return None
    return mask
