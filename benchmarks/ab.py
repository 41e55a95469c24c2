"""A against B: bench_conv.py's workloads in two source trees, in alternating processes.

Run: python benchmarks/ab.py --a DIR --b DIR [--rounds 5] [--repeat 15]

On a shared machine identical runs differ by 20% or more, so one run of each tells little. This
runs ``benchmarks/bench_conv.py`` of each tree in a fresh process, ``--rounds`` times, A then B
and B then A in turn, and reports for each workload the minimum over all rounds of each tree's
per-run minimum, and B / A; then the median over rounds of each run's median, and B / A of
those (the bench's ratio to torch is one of medians, and a change can move the median and not
the minimum). Each tree imports its own ``tinygrad_cnn``. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are unset in the child processes (a user's machine sets neither; with them
NumPy's BLAS runs older kernels on some CPUs). Do not run it while tests run: the machine has
two cores. ``ab_calls.py`` alternates single calls of the two trees' kernels in one process,
which resolves smaller differences.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<median>[\d.]+)\s+(?P<min>[\d.]+)\b")


def run_tree(tree: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """One bench_conv.py run in ``tree``: workload name -> its (minimum, median) time (ms)."""
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
            times[m["name"]] = float(m["min"]), float(m["median"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="the baseline source tree")
    parser.add_argument("--b", type=Path, required=True, help="the tree to compare with it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per workload and run")
    args = parser.parse_args()
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {"a": {}, "b": {}}
    for r in range(args.rounds):
        # A first in odd rounds, B first in even ones: the second of two back-to-back runs
        # measured slower, even on workloads whose code did not change
        for key in ("a", "b") if r % 2 == 0 else ("b", "a"):
            for name, times in run_tree(getattr(args, key), args.repeat).items():
                runs[key].setdefault(name, []).append(times)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(
        f"{'workload (forward + backward)':<52}{'min A':>8}{'min B':>8}{'B/A':>7}"
        f"{'median A':>10}{'median B':>10}{'B/A':>7}"
    )
    for name, a_runs in runs["a"].items():
        b_runs = runs["b"].get(name)
        if b_runs is None:
            continue
        (a_min, a_med), (b_min, b_med) = (
            (min(t[0] for t in rs), statistics.median(t[1] for t in rs)) for rs in (a_runs, b_runs)
        )
        print(
            f"{name:<52}{a_min:>8.2f}{b_min:>8.2f}{b_min / a_min:>7.3f}"
            f"{a_med:>10.2f}{b_med:>10.2f}{b_med / a_med:>7.3f}"
        )


if __name__ == "__main__":
    main()
