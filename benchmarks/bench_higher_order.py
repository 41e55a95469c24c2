"""The cost of a gradient-penalty step against a plain training step, ours and PyTorch's.

Run: python benchmarks/bench_higher_order.py [--repeat N]

The model is bench_conv.py's LeNet (conv 1->8 k5, relu, max-pool, conv 8->16 k5, relu,
max-pool, linear 784->10, cross-entropy) on a batch of 64 28x28 images, float32. A plain step
is forward + backward; a penalty step adds the input-gradient penalty
``0.1 * |d loss / d x|^2``: forward, a recorded backward (``create_graph=True``), then backward
through both. Prints the minimum and median of each and their ratio, for us and, when it is
installed, for PyTorch on the same model and data (threads matched), alternating in one run.
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_conv import _torch, lenet_params, measure, penalty_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each step")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    init = lenet_params(rng)
    x0 = rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    times = measure(penalty_steps(init, x0, y, _torch()), args.repeat)
    print(f"{'step, LeNet batch 64':<24}{'min ms':>9}{'median ms':>11}")
    for name, t in times.items():
        print(f"{name:<24}{1e3 * min(t):>9.2f}{1e3 * np.median(t):>11.2f}")
    for who in ("ours", "torch"):
        if f"{who} plain" in times:
            ratio = min(times[f"{who} penalty"]) / min(times[f"{who} plain"])
            print(f"{who}: a penalty step costs {ratio:.2f}x a plain step (minima)")


if __name__ == "__main__":
    main()
