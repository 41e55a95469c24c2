"""What the health monitor costs: a LeNet-5 training step (batch 64, 28x28, SGD) without a
monitor and with one recording every step.

Run: python benchmarks/bench_monitor.py [--rounds 5] [--steps 30]

Each round is a fresh process holding two identical models, one monitored: their steps
alternate, so both see the same moments of a noisy machine. Each process times ``--steps``
steps of each after two warm-up steps; the table gives, per setting, the minimum over the
rounds of each process's minimum and median, and the ratio monitored / plain.
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the child processes (a user's machine sets
neither). Do not run it while tests run: two cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def one_run(steps: int, every: int) -> dict[str, tuple[float, float]]:
    """Seconds per step of each setting: (minimum, median) over ``steps`` timed steps."""
    import numpy as np

    from tinygrad_cnn import Tensor, models, optim
    from tinygrad_cnn import functional as F
    from tinygrad_cnn.monitor import Monitor
    from tinygrad_cnn.random import manual_seed

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    runs = {}
    for setting in ("plain", "monitored"):
        manual_seed(0)
        model = models.lenet5()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        mon = Monitor(model, every=every) if setting == "monitored" else None
        runs[setting] = (model, opt, mon, [])
    for i in range(steps + 2):
        for model, opt, mon, times in runs.values():
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if mon is not None:
                mon.log_loss(loss)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    runs["monitored"][2].report()  # closes the last step: its cost is in the loop already
    return {s: (min(r[3]), statistics.median(r[3])) for s, r in runs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        found = one_run(args.steps, args.every)
        print(" ".join(f"{v}" for s in ("plain", "monitored") for v in found[s]))
        return
    unset = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    found: dict[str, list[tuple[float, float]]] = {"plain": [], "monitored": []}
    for _ in range(args.rounds):
        cmd = [sys.executable, __file__, "--child", "--steps", str(args.steps),
               "--every", str(args.every)]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        pb, pm, mb, mm = map(float, out.split())
        found["plain"].append((pb, pm))
        found["monitored"].append((mb, mm))
    print(f"LeNet-5 step, batch 64, 28x28; {args.rounds} rounds of {args.steps} steps, every="
          f"{args.every}")  # fmt: skip
    print(f"{'setting':<12}{'min ms':>10}{'median ms':>12}")
    rows = {s: (min(b for b, _ in v) * 1e3, min(m for _, m in v) * 1e3) for s, v in found.items()}
    for s, (b, m) in rows.items():
        print(f"{s:<12}{b:>10.2f}{m:>12.2f}")
    (pb, pm), (mb, mm) = rows["plain"], rows["monitored"]
    print(f"monitored / plain: {mb / pb:.3f} (minima), {mm / pm:.3f} (medians)")


if __name__ == "__main__":
    main()
