"""A against B: bench_conv.py's workloads in two source trees, in alternating processes.

Run: python benchmarks/ab.py --a DIR --b DIR [--rounds 5] [--repeat 15]

On a shared machine identical runs differ by 20% or more, so one run of each tells little. This
runs ``benchmarks/bench_conv.py`` of each tree in a fresh process, A then B, ``--rounds`` times,
and reports for each workload the minimum over all rounds of each tree's per-run minimum, and
B / A. Each tree imports its own ``tinygrad_cnn``. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are
unset in the child processes (a user's machine sets neither; with them NumPy's BLAS runs older
kernels on some CPUs). Do not run it while tests run: the machine has two cores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<median>[\d.]+)\s+(?P<min>[\d.]+)\b")


def run_tree(tree: Path, repeat: int) -> dict[str, float]:
    """One bench_conv.py run in ``tree``: workload name -> its minimum time (ms)."""
    unset = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPATH"] = str(tree)
    script = tree / "benchmarks" / "bench_conv.py"
    out = subprocess.run(
        [sys.executable, str(script), "--repeat", str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
    ).stdout
    times = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m and not line.startswith(("float32", "PyTorch", "workload", "reference")):
            times[m["name"]] = float(m["min"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="the baseline source tree")
    parser.add_argument("--b", type=Path, required=True, help="the tree to compare with it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per workload and run")
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {"a": {}, "b": {}}
    for r in range(args.rounds):
        for key in ("a", "b"):
            for name, ms in run_tree(getattr(args, key), args.repeat).items():
                best[key][name] = min(ms, best[key].get(name, float("inf")))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{'workload (forward + backward), min over rounds':<52}{'A ms':>9}{'B ms':>9}{'B/A':>7}")
    for name, a in best["a"].items():
        b = best["b"].get(name)
        if b is not None:
            print(f"{name:<52}{a:>9.2f}{b:>9.2f}{b / a:>7.3f}")


if __name__ == "__main__":
    main()
