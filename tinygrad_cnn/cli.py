"""Command line: ``python -m tinygrad_cnn {bench}`` (also the ``tinygrad-cnn`` script)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-cnn", description="tinygrad_cnn commands")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time conv2d, pooling and a training step")
    b.add_argument("--repeat", type=int, default=15, help="timed runs per workload")
    b.add_argument("--quick", action="store_true", help="two workloads only (a smoke test)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from tinygrad_cnn.bench import run

        run(args.repeat, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
