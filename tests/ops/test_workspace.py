"""The buffer pool and the copy threads: safe from several threads, and never a hang at exit."""

import os
import queue
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import functional as F
from tinygrad_cnn import nn, optim, tensor
from tinygrad_cnn.ops import affinity, workspace


def test_an_interrupt_right_after_a_worker_starts_does_not_hang_the_exit():
    # A KeyboardInterrupt between a copy thread's start and its bookkeeping used to leave a
    # non-daemon thread that interpreter exit waited on for ever.
    script = textwrap.dedent(
        """
        import threading
        from tinygrad_cnn.ops import workspace

        start = threading.Thread.start
        def start_then_interrupt(self):
            start(self)
            raise KeyboardInterrupt
        threading.Thread.start = start_then_interrupt
        try:
            with workspace.threads(3, 0):
                workspace.parallel_ranges(lambda a, b: None, 6, 1)
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "interrupted\n"), done.stderr


def test_the_threads_work_after_an_interrupted_start(monkeypatch):
    start = threading.Thread.start

    def start_then_interrupt(self):
        start(self)
        raise KeyboardInterrupt

    workers = len(workspace._workers)
    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    with workspace.threads(workers + 3, 0):
        try:
            workspace.parallel_ranges(lambda a, b: None, 99, 1)
        except KeyboardInterrupt:
            pass
    monkeypatch.setattr(threading.Thread, "start", start)
    out = []
    with workspace.threads(3, 0):
        workspace.parallel_ranges(lambda a, b: out.append((a, b)), 6, 1)
    assert sorted(out) == [(0, 2), (2, 4), (4, 6)]


def test_the_copy_threads_are_named_daemons_one_fewer_than_the_parts():
    before = len(workspace._workers)
    parts = before + 3  # needs before + 2 workers: the caller takes one part itself
    out = []
    with workspace.threads(parts, 0):
        workspace.parallel_ranges(lambda a, b: out.append((a, b)), 2 * parts, 1)
    assert len(out) == parts
    assert len(workspace._workers) == before + 2
    assert all(isinstance(t, threading.Thread) and t.daemon for t in workspace._workers)
    copies = [t for t in threading.enumerate() if t.name == "tinygrad_cnn-copy"]
    assert len(copies) == len(workspace._workers) and all(t.daemon for t in copies)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_threads_instead_of_waiting_for_ever():
    with workspace.threads(3, 0):
        workspace.parallel_ranges(lambda a, b: None, 6, 1)  # the parent has workers now
    assert workspace._workers
    read, write = os.pipe()
    # another thread of the parent holds both locks at the moment of the fork: the child's
    # copies never get them back unless it starts with fresh ones
    with workspace._lock, workspace._start_lock:
        pid = os.fork()
        if pid == 0:  # the child: the parent's workers are not here
            code = 1
            try:
                out = []
                with workspace.threads(2, 0):  # the fewest threads: one worker to start
                    workspace.parallel_ranges(lambda a, b: out.append((a, b)), 4, 1)
                with workspace.threads(3, 0):
                    workspace.parallel_ranges(lambda a, b: out.append((a, b)), 6, 1)
                buf = workspace.empty((workspace.MIN_BYTES,), np.uint8)  # pooled: takes _lock
                ok = sorted(out) == [(0, 2), (0, 2), (2, 4), (2, 4), (4, 6)]
                ok = ok and buf.nbytes == workspace.MIN_BYTES
                code = 0 if ok else 1
            finally:
                os.write(write, bytes([code]))
                os._exit(code)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 30)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert ready, "the forked child hung"
    assert os.read(read, 1) == b"\x00"
    os.close(read)


def test_the_fork_handler_forgets_the_workers_the_queue_and_the_locks(monkeypatch):
    # the same handler, called in this process (where the test can see what it replaced)
    with workspace.threads(3, 0):
        workspace.parallel_ranges(lambda a, b: None, 6, 1)
    monkeypatch.setattr(workspace, "_workers", list(workspace._workers))  # a copy to clear
    monkeypatch.setattr(affinity, "_workers_mask", frozenset({0}))  # placed in the parent
    names = ("_tasks", "_start_lock", "_lock", "_blas_lock")
    old = [getattr(workspace, name) for name in names]
    for name in names:
        monkeypatch.setattr(workspace, name, getattr(workspace, name))  # restored afterwards
    with workspace._lock, workspace._start_lock, workspace._blas_lock:  # held, as by a thread
        workspace._after_fork_in_child()  # lost in the fork
    assert workspace._workers == [] and affinity._workers_mask is None
    new = [getattr(workspace, name) for name in names]
    assert all(a is not b for a, b in zip(old, new))
    assert isinstance(new[0], queue.SimpleQueue) and new[0].empty()
    assert not any(lock.locked() for lock in new[1:])


def _who_runs(count, n, nbytes):
    seen = []
    with workspace.threads(count):  # the default threshold, PARALLEL_MIN_BYTES
        workspace.parallel_ranges(
            lambda a, b: seen.append((a, b, threading.get_ident())), n, nbytes
        )
    return sorted(seen)


def test_copies_split_across_threads_from_min_bytes_and_into_count_parts():
    me, big = threading.get_ident(), workspace.PARALLEL_MIN_BYTES
    assert _who_runs(3, 6, big - 1) == [(0, 6, me)]  # small: the calling thread alone
    assert _who_runs(1, 6, big) == [(0, 6, me)]
    # the caller takes the first part, the copy threads the others
    two = _who_runs(2, 6, big)
    assert [s[:2] for s in two] == [(0, 3), (3, 6)] and two[0][2] == me != two[1][2]
    three = _who_runs(3, 7, 10 * big)
    assert [s[:2] for s in three] == [(0, 2), (2, 4), (4, 7)]
    assert three[0][2] == me and me not in {three[1][2], three[2][2]}
    assert [s[:2] for s in _who_runs(3, 2, big)] == [(0, 1), (1, 2)]  # parts <= items


def test_an_error_in_a_workers_part_is_raised_after_every_part_finished():
    finished = []
    parts = len(workspace._workers) + 3  # new workers too (mutation testing sees them start)

    def part(a, b):
        if a == 2:
            raise ArithmeticError(f"part {a}")
        finished.append(a)

    with workspace.threads(parts, 0):
        with pytest.raises(ArithmeticError, match="part 2"):  # a worker's part, not the caller's
            workspace.parallel_ranges(part, 2 * parts, 1)
    assert sorted(finished) == [0] + list(range(4, 2 * parts, 2))


def test_the_workers_compute_under_the_callers_errstate():
    # NumPy keeps errstate per thread: a worker's part would otherwise warn where the caller
    # asked for an error (or for silence)
    def part(a, b):
        np.float64(1.0) / np.zeros(b - a)

    with workspace.threads(2, 0):
        with np.errstate(divide="raise"):
            with pytest.raises(FloatingPointError):
                workspace.parallel_ranges(part, 2, 1)
        with np.errstate(divide="ignore"):
            workspace.parallel_ranges(part, 2, 1)  # the suite turns a warning into an error


def test_scratch_hands_each_thread_its_own_buffer_per_slot_again_and_again():
    a = workspace.scratch("test", (3, 4), np.float32)
    b = workspace.scratch("test", (5,), np.float64)
    other = workspace.scratch("test-other", (3, 4), np.float32)
    assert np.shares_memory(a, b) and not np.shares_memory(a, other)
    assert a.shape == (3, 4) and a.dtype == np.float32 and b.dtype == np.float64
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(workspace.scratch("test", (3, 4), "f4")))
    t.start()
    t.join()
    assert not np.shares_memory(a, theirs[0])
    big = workspace.scratch("test", (workspace.MIN_BYTES,), np.uint8)  # from the pool instead
    assert not np.shares_memory(a, big)


needs_two_cpus = pytest.mark.skipif(
    affinity.getcpu is None or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity (Linux) and two CPUs to run on",
)


def _where_parts_run(count=2):
    """Each part's (thread, CPU, mask) under parallel_ranges with ``count`` threads."""
    seen = []

    def part(a, b):
        seen.append((threading.get_ident(), affinity.getcpu(), os.sched_getaffinity(0)))

    with workspace.threads(count, 0):
        workspace.parallel_ranges(part, count, 1)
    return seen


@needs_two_cpus
def test_the_caller_keeps_its_cpu_the_workers_take_others_and_its_mask_comes_back():
    before = os.sched_getaffinity(0)
    seen = _where_parts_run(3)
    mine = [s for s in seen if s[0] == threading.get_ident()]
    theirs = [s for s in seen if s[0] != threading.get_ident()]
    assert len(mine) == 1 and len(theirs) == 2
    (_, cpu, mask), allowed = mine[0], before - {mine[0][1]}
    assert mask == {cpu}  # pinned while its part ran
    assert all(c != cpu and m == allowed for _, c, m in theirs)
    assert os.sched_getaffinity(0) == before


@needs_two_cpus
def test_a_caller_with_a_mask_of_its_own_keeps_it_and_the_workers_stay_inside_it():
    before = os.sched_getaffinity(0)
    own = set(sorted(before)[:2])
    os.sched_setaffinity(0, own)
    try:
        seen = _where_parts_run()
        assert os.sched_getaffinity(0) == own
        with pytest.raises(ArithmeticError):  # restored when a part fails too
            with workspace.threads(2, 0):
                workspace.parallel_ranges(lambda a, b: 1 / 0, 2, 1)
        assert os.sched_getaffinity(0) == own
    finally:
        os.sched_setaffinity(0, before)
    (me, cpu, _), (_, other, mask) = sorted(seen, key=lambda s: s[0] != threading.get_ident())
    assert me == threading.get_ident() and mask == own - {cpu} == {other}


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_where_affinity_cannot_be_set_the_scheduler_places_the_threads(monkeypatch):
    def refuse(*args):
        raise PermissionError("not here")

    monkeypatch.setattr(os, "sched_setaffinity", refuse, raising=False)
    monkeypatch.setattr(affinity, "_workers_mask", None)
    monkeypatch.setattr(affinity, "getcpu", affinity.getcpu or (lambda: 0))
    with workspace.threads(2, 0):
        out = np.zeros(6)
        workspace.parallel_ranges(lambda a, b: out.__setitem__(slice(a, b), 1), 6, 1)
    assert out.tolist() == [1] * 6 and affinity.getcpu is None  # and not asked again


def test_the_default_thread_count_is_the_cpus_the_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert affinity.cpus_allowed() == 1
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert affinity.cpus_allowed() == 5


def test_each_block_runs_once_and_a_thread_that_lags_takes_fewer(monkeypatch):
    monkeypatch.setattr(workspace, "BLOCK_BYTES", 0)  # one image per block
    ran, me, lagging = [], threading.get_ident(), threading.Event()

    def block(k, i0, i1):
        if threading.get_ident() == me:
            assert lagging.wait(10)  # until the copy thread holds a block
        else:
            lagging.set()
            time.sleep(0.2)  # its block lags: meanwhile the caller takes all the others
        ran.append(((k, i0, i1), threading.get_ident()))

    with workspace.threads(2, 0):
        workspace.over_blocks(block, 12, 1)
    assert sorted(b for b, _ in ran) == [(k, k, k + 1) for k in range(12)]
    assert sum(t != me for _, t in ran) == 1


def test_a_block_that_raises_stops_the_other_threads_taking_blocks(monkeypatch):
    monkeypatch.setattr(workspace, "BLOCK_BYTES", 0)  # one image per block
    ran, me, started = [], threading.get_ident(), threading.Event()

    def block(k, i0, i1):
        ran.append(k)
        if threading.get_ident() == me:
            assert started.wait(10)  # the copy thread holds a block
            raise KeyboardInterrupt  # as a Ctrl-C would
        started.set()
        time.sleep(0.2)  # meanwhile the caller's block raises

    with workspace.threads(2, 0), pytest.raises(KeyboardInterrupt):
        workspace.over_blocks(block, 12, 1)
    assert len(ran) == 2  # the two blocks under way, none taken after


@pytest.mark.skipif(not workspace._blas_controllers(), reason="no way to set BLAS's threads")
def test_blocks_run_with_one_blas_thread_and_leave_the_count_as_it_was():
    libs = workspace._blas_controllers()
    before = [lib.get_num_threads() for lib in libs]
    seen = []

    def part(a, b):
        seen.append([lib.get_num_threads() for lib in libs])

    with workspace.threads(2, 0):
        workspace.parallel_blocks(part, 4, 1)
        with workspace.one_blas_thread():  # nested, as in two threads at once: restored once
            workspace.parallel_blocks(part, 4, 1)
            assert [lib.get_num_threads() for lib in libs] == [1] * len(libs)
    assert seen == [[1] * len(libs)] * 4
    assert [lib.get_num_threads() for lib in libs] == before


def test_one_block_runs_here_with_blas_threads_untouched():
    seen = []
    workspace.parallel_blocks(lambda a, b: seen.append((a, b, threading.get_ident())), 1, 1 << 30)
    assert seen == [(0, 1, threading.get_ident())]


def test_four_threads_share_the_pool_safely():
    # sizes that differ, so that buffers are added and dropped all the time, and a thread
    # switch every microsecond: without the lock this fails at once ("OrderedDict mutated
    # during iteration", or two threads handed one buffer)
    errors, kept = [], []

    def take():
        live = []
        try:
            for i in range(3000):
                live.append(workspace.empty((workspace.MIN_BYTES // 8 + i % 3,), np.float64))
                live[-1].fill(i)
                if len(live) > 2:
                    live.pop(0)
            kept.extend(live)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=take) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    for i, a in enumerate(kept):
        assert not any(np.shares_memory(a, b) for b in kept[i + 1 :])


def _model_and_data(seed):
    tg.manual_seed(seed)  # the generator is global (as in PyTorch): models are made in turn
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 32 * 32, 10)
    )
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)  # a 7 MB im2col: pooled
    return model, x, rng.integers(0, 10, 64)


def _train(model, x, y):
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(tensor(x)), y).backward()
        opt.step()


def test_two_models_training_in_two_threads_match_training_them_one_after_the_other():
    alone = [_model_and_data(s) for s in (1, 2)]
    for job in alone:
        _train(*job)
    together = [_model_and_data(s) for s in (1, 2)]
    ts = [threading.Thread(target=_train, args=job) for job in together]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # equal to float32 rounding, not bit for bit: while one thread's convolution runs its blocks,
    # BLAS is on one thread for the whole process, and BLAS's result can differ in the last bit
    # with its thread count; a buffer handed to both threads would differ by far more
    for (m1, _, _), (m2, _, _) in zip(alone, together):
        for a, b in zip(m1.parameters(), m2.parameters()):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


# -- the buffer pool -------------------------------------------------------------------------


@pytest.fixture
def empty_pool():
    workspace.clear()
    yield
    workspace.clear()


def _pooled(a):
    """The keys of the pooled buffers ``a`` lives in (keys: holding a buffer would keep it)."""
    return [key for key, buf in workspace._pool.items() if np.shares_memory(a, buf)]


def test_a_freed_buffer_is_handed_out_again_and_a_held_one_never(empty_pool):
    a = workspace.empty((workspace.MIN_BYTES // 8,), np.float64)
    assert a.shape == (workspace.MIN_BYTES // 8,) and a.dtype == np.float64
    (key,) = _pooled(a)
    b = workspace.empty((2, workspace.MIN_BYTES // 8), np.float32)  # same bytes, a is held
    assert not np.shares_memory(a, b) and len(workspace._pool) == 2
    del a
    c = workspace.empty((2, workspace.MIN_BYTES // 2), np.uint8)  # a's buffer is free again
    assert _pooled(c) == [key] and c.shape == (2, workspace.MIN_BYTES // 2)
    assert c.flags.c_contiguous
    assert len(workspace._pool) == 2


def test_only_buffers_of_min_bytes_or_more_are_pooled(empty_pool):
    small = workspace.empty((workspace.MIN_BYTES - 1,), np.uint8)
    assert len(workspace._pool) == 0 and small.shape == (workspace.MIN_BYTES - 1,)
    exact = workspace.empty((workspace.MIN_BYTES,), np.uint8)
    assert len(_pooled(exact)) == 1


def test_the_pool_keeps_max_buffers_and_drops_the_least_recently_used(empty_pool):
    def take(i):  # a buffer of its own size, freed at once
        return _pooled(workspace.empty((workspace.MIN_BYTES + i,), np.uint8))[0]

    first = [take(i) for i in range(workspace.MAX_BUFFERS)]
    assert list(workspace._pool) == first
    assert take(0) == first[0]  # used again: now the most recent
    take(workspace.MAX_BUFFERS)  # one more size: the least recently used (size 1) goes
    assert list(workspace._pool)[:-1] == first[2:] + first[:1]


def test_zeros_are_zero_in_a_reused_buffer_and_clear_keeps_handed_out_arrays(empty_pool):
    a = workspace.empty((workspace.MIN_BYTES // 8,), np.float64)
    a.fill(7.0)
    del a
    z = workspace.zeros((workspace.MIN_BYTES // 8,), np.float64)
    assert len(_pooled(z)) == 1 and not z.any()
    z.fill(3.0)
    workspace.clear()
    assert len(workspace._pool) == 0 and (z == 3.0).all()
    assert not np.shares_memory(workspace.empty(z.shape, z.dtype), z)


def test_the_allocator_is_tuned_on_linux_unless_the_environment_tunes_it():
    assert workspace.malloc_settings({}, "linux") == workspace.MALLOPT
    assert dict(workspace.MALLOPT)[workspace.M_MMAP_THRESHOLD] == 32 << 20
    assert workspace.malloc_settings({}, "darwin") == ()
    for variable in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        assert workspace.malloc_settings({variable: "1"}, "linux") == ()


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_a_freed_activation_is_handed_out_again_from_the_same_pages():
    # with arrays below 32 MB from the heap, a 4 MB array freed and made again reuses its pages
    # (glibc's default would map fresh ones for it, the first time at least)
    code = (
        "import tinygrad_cnn, numpy as np\n"
        "a = np.ones(1 << 20, np.float32); p = a.ctypes.data; del a\n"
        "b = np.ones(1 << 20, np.float32); print(b.ctypes.data == p)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUN"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "True", out.stderr
