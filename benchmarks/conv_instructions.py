"""conv2d's three kernels in CPU instructions, counted by valgrind: what noise hides in wall time.

Run: python benchmarks/conv_instructions.py [--tree DIR] [--cases 1,4] [-n N]

For each of bench_conv.py's convolutions (``--cases`` numbers them from 0 in its order), this
counts the forward, the input gradient and the weight gradient on arrays, as
engine_instructions.py counts an op: N calls against none, one BLAS thread and one copy thread,
and reports millions of instructions per call. ``--tree`` names the source tree to import
tinygrad_cnn from, so two commits can be compared. Needs valgrind; about a minute per kernel.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from bench_conv import CONV_WORKLOADS  # noqa: E402
from engine_instructions import callgrind  # noqa: E402

WORKLOAD = """
import ast
import sys
import numpy as np
from tinygrad_cnn.ops import conv
from tinygrad_cnn.ops.geometry import Geometry
xs, ws, stride, padding = ast.literal_eval(sys.argv[1])
kernel, n = sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
x = rng.standard_normal(xs, dtype=np.float32)
w = rng.standard_normal(ws, dtype=np.float32)
geo = Geometry.from_args(ws[2:], stride, padding)
g = rng.standard_normal(conv.conv2d(x, w, geo, 1).shape, dtype=np.float32)
calls = {
    "forward": lambda: conv.conv2d(x, w, geo, 1),
    "input grad": lambda: conv.conv_transpose2d(g, w, x.shape, geo, 1),
    "weight grad": lambda: conv.conv2d_weight(x, g, geo, 1),
}
calls[kernel]()  # the first call also fills the buffer pool
for _ in range(n):
    calls[kernel]()
"""
KERNELS = ("forward", "input grad", "weight grad")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--cases", default=",".join(str(i) for i in range(len(CONV_WORKLOADS))))
    p.add_argument("-n", type=int, default=2, help="calls per run (default 2)")
    args = p.parse_args(argv)
    try:
        cases = [CONV_WORKLOADS[int(i)] for i in args.cases.split(",")]
    except (ValueError, IndexError):
        p.error(f"--cases takes numbers 0 to {len(CONV_WORKLOADS) - 1}, got {args.cases!r}")
    if shutil.which("valgrind") is None:
        sys.exit("conv_instructions: valgrind is not installed (apt-get install valgrind)")
    print(f"tree {args.tree}: millions of instructions per call, {args.n} calls per run")
    for case in cases:
        for kernel in KERNELS:
            runs = [callgrind(args.tree, WORKLOAD, repr(case), kernel, str(k)) for k in (0, args.n)]
            print(f"{str(case):<52}{kernel:<13}{(runs[1] - runs[0]) / args.n / 1e6:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
