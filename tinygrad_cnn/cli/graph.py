"""The ``graph`` command: draw the default CNN's training step."""

from __future__ import annotations

import argparse
import os

import numpy as np

from tinygrad_cnn.cli.report import write_graph
from tinygrad_cnn.models import default_model
from tinygrad_cnn.random import manual_seed


def run(args: argparse.Namespace) -> str:
    """The ``graph`` command: the default CNN's training step on a seeded batch of 8x8 images."""
    manual_seed(args.seed)
    model = default_model((1, 8, 8), 10)
    rng = np.random.default_rng(args.seed)
    x = rng.random((4, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 4)
    os.makedirs(args.out, exist_ok=True)
    path = write_graph(args.out, model, x, y)
    print(f"wrote {path}")
    return path
