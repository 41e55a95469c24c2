"""Command line: ``python -m tinygrad_cnn train | explain | explore | graph | bench``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tinygrad_cnn.cli.usage import UsageError, add_debug_flag, check_number, print_error
from tinygrad_cnn.data.download import DownloadError

# The benchmark code lives in the source checkout's benchmarks/ folder, not in the package.
BENCH_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_conv.py"


def load_bench() -> ModuleType:
    """benchmarks/bench_conv.py as a module (it exists in a source checkout only)."""
    if not BENCH_FILE.is_file():
        raise UsageError(
            f"bench: {BENCH_FILE} not found; the benchmarks ship with the source checkout "
            "(git clone), not with an installed package"
        )
    spec = importlib.util.spec_from_file_location("bench_conv", BENCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Run a command; a user mistake is one line on stderr and exit status 2 (``--debug``: the
    traceback); a training run whose loss became NaN or Inf, or a download that failed from
    every source, exits with status 1."""
    from tinygrad_cnn.cli import explain, explore, graph, train

    parser = argparse.ArgumentParser(prog="tinygrad-cnn", description="tinygrad_cnn commands")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the classic CNN (default: the embedded digits)")
    train.add_arguments(t)
    e = sub.add_parser("explain", help="filters, feature maps, saliency and Grad-CAM as PNGs")
    explain.add_arguments(e)
    x = sub.add_parser("explore", help="one training step as a page to walk in the browser")
    explore.add_arguments(x)
    g = sub.add_parser("graph", help="draw the default CNN's training step")
    g.add_argument("--out", metavar="DIR", default=".")
    g.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("bench", help="time conv2d, pooling and a training step")
    b.add_argument("--repeat", type=int, default=15, help="timed runs per workload")
    b.add_argument("--quick", action="store_true", help="two workloads only (a smoke test)")
    for p in (t, e, x, g, b):
        add_debug_flag(p)

    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            train.run(args)
        elif args.command == "explain":
            explain.run(args)
        elif args.command == "explore":
            explore.run(args)
        elif args.command == "graph":
            check_number("--seed", args.seed, 0)
            graph.run(args)
        else:
            check_number("--repeat", args.repeat, 1)
            load_bench().run(args.repeat, args.quick)
    except (UsageError, train.Diverged) as error:
        if args.debug:
            raise
        print_error(f"tinygrad-cnn {args.command}", error)
        raise SystemExit(2 if isinstance(error, UsageError) else 1) from None
    except DownloadError as error:  # not a user mistake: every source failed (each one named)
        if args.debug:
            raise
        print(f"tinygrad-cnn {args.command}: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
