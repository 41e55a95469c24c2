"""Command line: ``python -m tinygrad_cnn train | graph | bench`` (also ``tinygrad-cnn ...``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-cnn", description="tinygrad_cnn commands")
    sub = parser.add_subparsers(dest="command", required=True)

    from tinygrad_cnn import train as train_module

    t = sub.add_parser("train", help="train the classic CNN (default: the embedded digits)")
    train_module.add_arguments(t)
    g = sub.add_parser("graph", help="draw the default CNN's training step")
    g.add_argument("--out", metavar="DIR", default=".")
    g.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("bench", help="time conv2d, pooling and a training step")
    b.add_argument("--repeat", type=int, default=15, help="timed runs per workload")
    b.add_argument("--quick", action="store_true", help="two workloads only (a smoke test)")

    args = parser.parse_args(argv)
    if args.command == "train":
        train_module.train(args)
    elif args.command == "graph":
        train_module.graph_command(args)
    else:
        from tinygrad_cnn.bench import run

        run(args.repeat, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
