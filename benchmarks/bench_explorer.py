"""The explorer page: how long making it takes and how big it is, for LeNet-5 on one 28x28 image
and the small ResNet on one 32x32 image (forward pass done; the replayed backward, the Graphviz
layout and the encoding are what is timed).

Run: python benchmarks/bench_explorer.py [--repeat 5]   (needs Graphviz's dot)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, models
from tinygrad_cnn import functional as F


def measure(name: str, model, shape, repeat: int) -> None:
    tg.manual_seed(0)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    times, size, page = [], 0, None
    for _ in range(repeat):
        loss = F.cross_entropy(model(Tensor(x)), [3])
        t0 = time.perf_counter()
        page = tg.explore(loss, params=dict(model.named_parameters()))
        with tempfile.TemporaryDirectory() as d:
            size = os.path.getsize(page.save(os.path.join(d, "step.html")))
        times.append(time.perf_counter() - t0)
    print(f"{name:<10}{len(page.data['nodes']):>7}{len(page.steps):>7}{min(times):>10.2f}"
          f"{size / 1e6:>10.2f}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    print(f"{'model':<10}{'nodes':>7}{'steps':>7}{'min s':>10}{'MB':>10}")
    measure("LeNet-5", models.lenet5(), (1, 1, 28, 28), args.repeat)
    measure("ResNet", models.resnet(3, 10), (1, 3, 32, 32), args.repeat)


if __name__ == "__main__":
    main()
