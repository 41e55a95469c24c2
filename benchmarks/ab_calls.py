"""A against B in one process: the conv kernels and the LeNet step of two trees, calls alternating.

Run: python benchmarks/ab_calls.py --a DIR [--b DIR] [--cases 1,4] [--calls 150] [--lenet]

``ab.py`` compares two trees in alternating processes; between processes (and minutes) this
machine's speed moves by 20-30%, so differences under about 10% drown. Here both trees live in
one process and each call of A is followed by the same call of B (then B before A, in turn):
whatever the machine does at that moment, it does to both. Tree A's ``tinygrad_cnn`` is copied
to a temporary directory as the package ``tinygrad_cnn_a`` (the name rewritten in its sources);
tree B (by default this checkout) is imported as it is. Each tree keeps its own buffer pool and
copy threads, as two processes would.

For each of bench_conv.py's convolutions (``--cases`` numbers them from 0 in its order) it
times the forward, the input gradient and the weight gradient on arrays, and with ``--lenet``
bench_conv.py's LeNet step, and prints the minimum, first quartile and median of each, and B / A
of each. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are dropped before NumPy loads (see ab.py).
Do not run it while tests run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # before NumPy loads its BLAS
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
NAME = re.compile(r"\btinygrad_cnn\b")


def load_renamed(tree: Path, dest: Path, name: str = "tinygrad_cnn_a"):
    """Tree's ``tinygrad_cnn`` as the package ``name``: its sources copied under ``dest``, the
    package's own name rewritten in each, and imported from there."""
    source = tree / "tinygrad_cnn"
    target = dest / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*.py"):
        path.write_text(NAME.sub(name, path.read_text()))
    sys.path.insert(0, str(dest))
    return importlib.import_module(name)


def kernels(pkg, case) -> dict[str, Callable[[], object]]:
    """The three conv kernels of ``pkg`` on one bench convolution, on the same arrays each time."""
    conv = importlib.import_module(f"{pkg.__name__}.ops.conv")
    geometry = importlib.import_module(f"{pkg.__name__}.ops.geometry")
    xs, ws, stride, padding = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32) * 0.1
    geo = geometry.Geometry.from_args(ws[2:], stride, padding)
    g = rng.standard_normal(conv.conv2d(x, w, geo, 1).shape, dtype=np.float32)
    return {
        "forward": lambda: conv.conv2d(x, w, geo, 1),
        "input grad": lambda: conv.conv_transpose2d(g, w, x.shape, geo, 1),
        "weight grad": lambda: conv.conv2d_weight(x, g, geo, 1),
    }


def lenet(pkg) -> Callable[[], object]:
    """bench_conv.py's LeNet step (batch 64) with ``pkg``'s Tensor and functional."""
    from bench_conv import lenet_params, lenet_step

    functional = importlib.import_module(f"{pkg.__name__}.functional")
    rng = np.random.default_rng(0)
    params = {k: pkg.Tensor(v, requires_grad=True) for k, v in lenet_params(rng).items()}
    x = pkg.Tensor(rng.standard_normal((64, 1, 28, 28), dtype=np.float32))
    y = rng.integers(0, 10, 64)
    return lambda: lenet_step(params, x, y, functional=functional)


def alternate(a: Callable, b: Callable, calls: int) -> tuple[list[float], list[float]]:
    """Seconds per call of ``a`` and of ``b``, each call of one next to one of the other."""
    a(), b()  # warm: buffer pools, copy threads
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(calls):
        order = ((a, times[0]), (b, times[1])) if i % 2 == 0 else ((b, times[1]), (a, times[0]))
        for fn, out in order:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return times


def quantiles(t: list[float]) -> tuple[float, float, float]:
    """Minimum, first quartile and median, in ms."""
    s = sorted(t)
    return tuple(s[int(q * (len(s) - 1))] * 1e3 for q in (0.0, 0.25, 0.5))


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from bench_conv import CONV_WORKLOADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=Path, required=True, help="the baseline source tree")
    p.add_argument("--b", type=Path, default=HERE.parent, help="default: this checkout")
    p.add_argument("--cases", default=",".join(str(i) for i in range(len(CONV_WORKLOADS))))
    p.add_argument("--calls", type=int, default=150, help="calls of each per row (default 150)")
    p.add_argument("--lenet", action="store_true", help="also the LeNet training step")
    args = p.parse_args(argv)
    try:
        cases = [CONV_WORKLOADS[int(i)] for i in args.cases.split(",")] if args.cases else []
    except (ValueError, IndexError):
        p.error(f"--cases takes numbers 0 to {len(CONV_WORKLOADS) - 1}, got {args.cases!r}")
    if args.calls < 1:
        p.error(f"--calls must be at least 1, got {args.calls}")
    for tree in (args.a, args.b):
        if not (tree / "tinygrad_cnn" / "__init__.py").is_file():
            p.error(f"no tinygrad_cnn package in {tree}")
    with tempfile.TemporaryDirectory() as tmp:
        pkg_a = load_renamed(args.a, Path(tmp))
        sys.path.insert(0, str(args.b))
        pkg_b = importlib.import_module("tinygrad_cnn")
        print(f"A {args.a}, B {Path(pkg_b.__file__).parent.parent}: ms per call, min/q25/median")
        print(f"{'':52}{'A':>21}{'B':>21}  B/A: min   q25   median")
        rows = [(f"{c} {k}", a, b) for c in cases for (k, a), b in _pairs(pkg_a, pkg_b, c)]
        if args.lenet:
            rows.append(("LeNet training step, batch 64", lenet(pkg_a), lenet(pkg_b)))
        for label, a, b in rows:
            qa, qb = (quantiles(t) for t in alternate(a, b, args.calls))
            ratios = "".join(f"{y / x:>6.3f}" for x, y in zip(qa, qb))
            cols = ["/".join(f"{v:.2f}" for v in q) for q in (qa, qb)]
            print(f"{label:<52}{cols[0]:>21}{cols[1]:>21}    {ratios}", flush=True)
    return 0


def _pairs(pkg_a, pkg_b, case):
    ka, kb = kernels(pkg_a, case), kernels(pkg_b, case)
    return [((k, ka[k]), kb[k]) for k in ka]


if __name__ == "__main__":
    sys.exit(main())
