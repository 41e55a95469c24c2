"""Per-op engine overhead in CPU instructions, counted by valgrind: repeatable on a noisy machine.

Run: python benchmarks/engine_instructions.py [--tree DIR] [--ops add,mul,...] [-n N]

Wall-clock figures on a shared machine vary by 20% or more between identical runs; instruction
counts do not. For each op this runs Python under ``valgrind --tool=callgrind`` twice, once
making the op N times and once not at all, and reports the difference per op: the instructions
one op costs (the same 4x4 float32 workloads as bench_engine.py). ``--tree`` names the source
tree to import tinygrad_cnn from (default: this checkout), so two commits can be compared.
Identical runs agree to about 100 instructions per op. Needs valgrind (Debian: apt-get install
valgrind); about a minute per op.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

WORKLOAD = """
import sys
import numpy as np
from tinygrad_cnn import Tensor
op, n = sys.argv[1], int(sys.argv[2])
a = Tensor(np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32), requires_grad=True)
b = Tensor(np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32), requires_grad=True)
def chain():  # 50 recorded muls, a sum, then backward: forward + backward per op
    y = a
    for _ in range(50):
        y = y * b
    y.sum().backward()
    a.grad = b.grad = None
fns = {"add": lambda: a + b, "mul": lambda: a * b, "matmul": lambda: a @ b,
       "tanh": lambda: a.tanh(), "sum": lambda: a.sum(), "mul_scalar": lambda: a * 2.0}
if op == "chain":
    for _ in range(n // 51):
        chain()
else:
    f = fns[op]
    for _ in range(n):
        f()
"""
OPS = ["add", "mul", "matmul", "tanh", "sum", "mul_scalar", "chain"]


def count(tree: Path, op: str, n: int) -> int:
    """Instructions callgrind counts for the workload making ``op`` n times."""
    return callgrind(tree, WORKLOAD, op, str(n))


def callgrind(tree: Path, script: str, *args: str) -> int:
    """Instructions callgrind counts for ``python -c script *args``, importing ``tree``'s
    tinygrad_cnn, with one BLAS thread and one copy thread."""
    # one BLAS thread: idle worker threads spin for a time that depends on the machine's load
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
    env["TINYGRAD_CNN_NUM_THREADS"] = "1"
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # a user's machine sets neither
        env.pop(var, None)
    # address-space randomisation moves counts by about 0.5% between identical runs: turn it off
    cmd = ["setarch", os.uname().machine, "-R"] if shutil.which("setarch") else []
    cmd += ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [sys.executable, "-c", script, *args]
    # in the tree: ``python -c`` imports from its working directory first
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--ops", default=",".join(OPS), help="comma-separated, from: " + ", ".join(OPS))
    p.add_argument("-n", type=int, default=20400, help="ops per run (default 20400)")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("engine_instructions: valgrind is not installed (apt-get install valgrind)")
    ops = args.ops.split(",")
    unknown = sorted(set(ops) - set(OPS))
    if unknown:
        sys.exit(f"engine_instructions: unknown ops {unknown}; choose from {OPS}")
    base = count(args.tree, "add", 0)
    print(f"tree {args.tree}: instructions per op (thousands), {args.n} ops per run")
    for op in ops:
        per_op = (count(args.tree, op, args.n) - base) / args.n
        print(f"{op:<12}{per_op / 1e3:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
