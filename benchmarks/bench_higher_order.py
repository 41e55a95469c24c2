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
from bench_conv import _torch, lenet_params, measure

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor
from tinygrad_cnn import functional as F


def logits(fn, p, x):
    h = fn.max_pool2d(fn.relu(fn.conv2d(x, p["w1"], p["b1"], padding=2)), 2)
    h = fn.max_pool2d(fn.relu(fn.conv2d(h, p["w2"], p["b2"], padding=2)), 2)
    return h.flatten(1) @ p["w3"] + p["b3"]


def ours(init, x0, y):
    p = {k: Tensor(v.copy(), requires_grad=True) for k, v in init.items()}

    def plain():
        loss = F.cross_entropy(logits(F, p, Tensor(x0)), y)
        loss.backward()

    def penalty():
        x = Tensor(x0, requires_grad=True)
        loss = F.cross_entropy(logits(F, p, x), y)
        (gx,) = tg.grad(loss, x, create_graph=True)
        (loss + 0.1 * (gx * gx).sum()).backward()

    return plain, penalty


def theirs(torch, init, x0, y):
    tf = torch.nn.functional
    p = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    ty = torch.tensor(y)

    def plain():
        tf.cross_entropy(logits(tf, p, torch.tensor(x0)), ty).backward()

    def penalty():
        x = torch.tensor(x0, requires_grad=True)
        loss = tf.cross_entropy(logits(tf, p, x), ty)
        (gx,) = torch.autograd.grad(loss, x, create_graph=True)
        (loss + 0.1 * (gx * gx).sum()).backward()

    return plain, penalty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each step")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    init = lenet_params(rng)
    x0 = rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    fns = dict(zip(("ours plain", "ours penalty"), ours(init, x0, y)))
    torch = _torch()
    if torch is not None:
        fns.update(zip(("torch plain", "torch penalty"), theirs(torch, init, x0, y)))
    times = measure(fns, args.repeat)
    print(f"{'step, LeNet batch 64':<24}{'min ms':>9}{'median ms':>11}")
    for name, t in times.items():
        print(f"{name:<24}{1e3 * min(t):>9.2f}{1e3 * np.median(t):>11.2f}")
    for who in ("ours", "torch"):
        if f"{who} plain" in times:
            ratio = min(times[f"{who} penalty"]) / min(times[f"{who} plain"])
            print(f"{who}: a penalty step costs {ratio:.2f}x a plain step (minima)")


if __name__ == "__main__":
    main()
