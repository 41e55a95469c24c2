"""Where a training step's time goes: milliseconds per step in each registered op's forward and VJP.

Run: python benchmarks/op_times.py [--model lenet|resnet] [--steps 10] [--rounds 3]

Each op's ``forward`` and ``vjp`` is wrapped with a timer for the run (and restored after), and
the step is bench_conv.py's: the LeNet step with SGD, or the small ResNet's with Adam, batch 64.
A round times ``--steps`` steps after three warm-up steps; the table shows the round with the
shortest step. Times are wall-clock in the calling thread, so an op's time includes the work it
splits across the copy threads and waits for. What is not in any op (the engine, the optimizer,
Python) is the step less the ops' sum. The timers add about a microsecond per call.

On a shared machine the figures move by 20% between runs: compare two trees by running this in
each in turn, several times (``PYTHONPATH=<tree>``), and do not run it while tests run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(1, os.path.dirname(__file__))

import bench_conv  # noqa: E402

from tinygrad_cnn import REGISTRY  # noqa: E402


@contextlib.contextmanager
def op_timers(totals: dict[str, float]) -> Iterator[None]:
    """Add each registered op's forward and VJP time (seconds) to ``totals`` inside the block."""
    saved = []
    for name, op in REGISTRY.items():
        for method in ("forward", "vjp"):
            original = op.__dict__.get(method)
            if not isinstance(original, staticmethod):
                continue
            saved.append((op, method, original))
            setattr(op, method, staticmethod(_timed(original.__func__, f"{name}.{method}", totals)))
    try:
        yield
    finally:
        for op, method, original in saved:
            setattr(op, method, original)


def _timed(fn, label: str, totals: dict[str, float]):
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - t0

    return timed


def step_function(model: str):
    if model == "lenet":
        fns, _, _ = bench_conv.lenet_case(None)
    else:
        fns, _ = bench_conv.resnet_steps(None)
    return fns["ours"]


def measure(model: str, steps: int, rounds: int) -> tuple[float, dict[str, float]]:
    """The best round's seconds per step and seconds per step in each op's forward and VJP."""
    step = step_function(model)
    best: tuple[float, dict[str, float]] | None = None
    totals: dict[str, float] = {}
    with op_timers(totals):
        for _ in range(3):
            step()
        for _ in range(rounds):
            totals.clear()
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            per_step = (time.perf_counter() - t0) / steps
            if best is None or per_step < best[0]:
                best = (per_step, {k: v / steps for k, v in totals.items()})
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("lenet", "resnet"), default="lenet")
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the fastest is shown")
    parser.add_argument("--top", type=int, default=15, help="rows to show")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1 or args.top < 1:
        parser.error(f"--steps, --rounds and --top must be >= 1, got {args.steps}, "
                     f"{args.rounds}, {args.top}")  # fmt: skip
    per_step, ops = measure(args.model, args.steps, args.rounds)
    in_ops = sum(ops.values())
    print(f"{args.model} step: {per_step * 1e3:.2f} ms, in ops {in_ops * 1e3:.2f} ms, "
          f"elsewhere (engine, optimizer, Python) {(per_step - in_ops) * 1e3:.2f} ms")  # fmt: skip
    print(f"{'op':32} {'ms/step':>8} {'share':>6}")
    for label, seconds in sorted(ops.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{label:32} {seconds * 1e3:8.2f} {seconds / per_step:6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
