"""The ``explore`` command: one training step of a saved model as a page to walk in the browser.

``python -m tinygrad_cnn explore --model runs/demo/model.npz [--image I] --out step.html``
rebuilds the model ``train`` wrote (its ``metrics.json`` names the model and the dataset, as for
``explain``), runs one forward pass in training mode on held-out image ``I`` with its label and
the cross-entropy loss, and writes :func:`tinygrad_cnn.explore`'s page: open it from disk.
"""

from __future__ import annotations

import argparse
import os
import time

from tinygrad_cnn import functional as F
from tinygrad_cnn.cli.explain import trained_model
from tinygrad_cnn.cli.usage import UsageError
from tinygrad_cnn.explorer import explore
from tinygrad_cnn.tensor import Tensor


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``explore`` command's options."""
    p.add_argument("--model", metavar="NPZ", required=True, help="model.npz written by train")
    p.add_argument("--image", type=int, default=0, help="which held-out image (default: 0)")
    p.add_argument("--out", metavar="HTML", default="step.html", help="the page to write")
    p.add_argument("--data", metavar="DIR", help="the dataset's folder, for non-digits runs")
    p.add_argument("--check", action="store_true", help="run check_graph for the page's button")


def run(args: argparse.Namespace) -> str:
    """Write the page; a user mistake raises UsageError (one line, exit status 2)."""
    model, ds, settings = trained_model(args.model, args.data)
    if not 0 <= args.image < len(ds.x_test):
        raise UsageError(f"--image must be in [0, {len(ds.x_test)}), got {args.image}")
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a folder; give the page's file name (step.html)")
    t0 = time.perf_counter()
    model.train()
    x, y = ds.x_test[args.image : args.image + 1], ds.y_test[args.image : args.image + 1]
    loss = F.cross_entropy(model(Tensor(x)), y)
    try:
        page = explore(loss, params=dict(model.named_parameters()),
                       title=f"{settings.get('model', 'default')}: one training step on image "
                             f"{args.image} (label {int(y[0])})", check=args.check)  # fmt: skip
    except RuntimeError as e:  # Graphviz's dot missing
        raise UsageError(str(e)) from None
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    path = page.save(args.out)
    size = os.path.getsize(path) / 1e6
    print(f"wrote {path} ({size:.1f} MB, {len(page.data['nodes'])} nodes, {len(page.steps)} "
          f"backward steps, {time.perf_counter() - t0:.1f} s): open it in a browser")  # fmt: skip
    return path
