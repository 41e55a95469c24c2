"""Training throughput of the model zoo, against PyTorch on the same models when it is installed.

Run: python benchmarks/bench_models.py [--images 60000] [--resnet-steps 200] [--rounds 2]

- LeNet-5 on an MNIST-sized epoch: ``--images`` synthetic 28x28 grey images (60,000: a full
  epoch), batches of 64, SGD with momentum;
- the small ResNet on CIFAR-sized input: ``--resnet-steps`` batches of 64 3x32x32 images, Adam.

Each is a complete training step (forward, cross-entropy, backward, update), timed after one
warm-up step. The frameworks alternate, ``--rounds`` times, and the table reports each one's best
round in images per second. PyTorch gets as many threads as the CPUs this process may use
(``--threads``), which is what NumPy's BLAS and the library's copy threads use.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tinygrad_cnn import Tensor, manual_seed, models, optim  # noqa: E402
from tinygrad_cnn import functional as F  # noqa: E402
from tinygrad_cnn.ops.affinity import cpus_allowed  # noqa: E402

BATCH = 64


def batches(shape, count, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((min(count, 16) * BATCH, *shape), dtype=np.float32)  # reused, like an epoch
    y = rng.integers(0, 10, len(x))
    for k in range(count):
        i = (k % 16) * BATCH
        yield x[i : i + BATCH], y[i : i + BATCH]


def ours(name, shape, steps):
    manual_seed(0)
    if name == "lenet5":
        model = models.lenet5(shape)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        model = models.resnet(shape[0])
        opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(xb, yb):
        loss = F.cross_entropy(model(Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return timed(step, shape, steps)


def theirs(torch, name, shape, steps):
    torch.manual_seed(0)
    n = torch.nn
    if name == "lenet5":
        model = n.Sequential(
            n.Conv2d(shape[0], 6, 5, padding=2),
            n.ReLU(),
            n.MaxPool2d(2),
            n.Conv2d(6, 16, 5),
            n.ReLU(),
            n.MaxPool2d(2),
            n.Flatten(),
            n.Linear(400, 120),
            n.ReLU(),
            n.Linear(120, 84),
            n.ReLU(),
            n.Linear(84, 10),
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
        from test_models import torch_resnet  # the same architecture, written with torch.nn

        model = torch_resnet(torch, shape[0], 10)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(xb, yb):
        loss = n.functional.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return timed(step, shape, steps)


def timed(step, shape, steps):
    data = batches(shape, steps + 1)
    step(*next(data))  # warm-up: buffers, caches
    t0 = time.perf_counter()
    for xb, yb in data:
        step(xb, yb)
    return steps * BATCH / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=60_000, help="LeNet-5 images (an MNIST epoch)")
    p.add_argument("--resnet-steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=cpus_allowed())
    args = p.parse_args()
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    work = [
        ("LeNet-5, 1x28x28", "lenet5", (1, 28, 28), max(1, args.images // BATCH)),
        ("ResNet (8 layers), 3x32x32", "resnet", (3, 32, 32), args.resnet_steps),
    ]
    print(f"batch {BATCH}, best of {args.rounds} alternating rounds, {args.threads} threads")
    print("| model | steps | tinygrad_cnn img/s | PyTorch img/s | ratio |\n|---|---|---|---|---|")
    for label, name, shape, steps in work:
        best = {"ours": 0.0, "torch": 0.0}
        for _ in range(args.rounds):
            best["ours"] = max(best["ours"], ours(name, shape, steps))
            if torch is not None:
                best["torch"] = max(best["torch"], theirs(torch, name, shape, steps))
        t = f"{best['torch']:.0f}" if torch is not None else "not installed"
        ratio = f"{best['ours'] / best['torch']:.2f}" if torch is not None else "-"
        print(f"| {label} | {steps} | {best['ours']:.0f} | {t} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
