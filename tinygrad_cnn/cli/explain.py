"""The ``explain`` command: what a trained digits CNN looks at, as four PNG pictures.

``python -m tinygrad_cnn explain --model runs/demo/model.npz --out DIR [--count N]`` loads the
weights ``train`` wrote for the digits (the default CNN, or LeNet-5 when the ``metrics.json``
beside them says ``--model lenet5``), takes the first N held-out digits, and writes
``filters.png`` (the first conv layer's filters), ``feature_maps.png`` (that layer's activations
for the first digit), ``saliency.png`` and ``gradcam.png`` (each digit beside its map, titled with
the true and predicted label).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from tinygrad_cnn import data, explain
from tinygrad_cnn.cli.components import make_model
from tinygrad_cnn.cli.usage import UsageError
from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.tensor import Tensor


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``explain`` command's options."""
    p.add_argument("--model", metavar="NPZ", required=True, help="model.npz written by train")
    p.add_argument("--out", metavar="DIR", default=".", help="where the PNGs go")
    p.add_argument("--count", type=int, default=8, help="held-out digits to explain (1-64)")


def _pairs(images: np.ndarray, maps: np.ndarray, titles: list[str], what: str, cmap: str):
    """Each digit (gray) followed by its map (``cmap``): panels, titles, colormaps."""
    panels = np.stack([images, maps], axis=1).reshape(-1, *images.shape[1:])
    names = [name for t in titles for name in (t, what)]
    return panels, names, ["gray", cmap] * len(images)


def _model(path: str, ds: data.Dataset):
    """The architecture the run that wrote ``path`` trained (its metrics.json says which)."""
    name = "default"
    metrics = os.path.join(os.path.dirname(os.path.abspath(path)), "metrics.json")
    if os.path.isfile(metrics):
        try:
            with open(metrics) as f:
                name = json.load(f).get("model", "default")
        except (OSError, ValueError, AttributeError):
            pass  # unreadable: try the default CNN, whose load names what does not fit
    if name not in ("default", "lenet5"):
        raise UsageError(
            f"--model {path}: explain draws the default CNN and LeNet-5 (their conv layers at "
            f"positions 0 and 3), not --model {name}"
        )
    return make_model(name, ds)


def run(args: argparse.Namespace) -> list[str]:
    """Write the four pictures; a user mistake raises UsageError (one line, exit status 2)."""
    if not 1 <= args.count <= 64:
        raise UsageError(f"--count must be between 1 and 64, got {args.count}")
    ds = data.load_digits()
    model = _model(args.model, ds)
    try:
        model.load(args.model)
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"--model {args.model}: {str(e).splitlines()[0]}") from None
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    x, y = ds.x_test[: args.count], ds.y_test[: args.count]
    with no_grad():
        pred = model(Tensor(x))._data.argmax(axis=1)
    titles = [f"true {t}, pred {p}" for t, p in zip(y, pred)]
    images = x[:, 0]
    paths = [os.path.join(args.out, f) for f in ("filters", "feature_maps", "saliency", "gradcam")]
    w = explain.filters(model[0])[:, 0]
    explain.plot_grid(paths[0] + ".png", w, [f"filter {k}" for k in range(len(w))], "coolwarm")
    maps = explain.feature_maps(model, x[:1])["1"][0]  # conv 1 after its ReLU, first digit
    names = [f"{titles[0]}: ch {k}" if k == 0 else f"ch {k}" for k in range(len(maps))]
    explain.plot_grid(paths[1] + ".png", maps, names, "viridis")
    sal = explain.saliency(model, x)
    explain.plot_grid(paths[2] + ".png", *_pairs(images, sal, titles, "saliency", "hot"))
    cam = explain.grad_cam(model, model[4], x)  # conv 2 after its ReLU
    explain.plot_grid(paths[3] + ".png", *_pairs(images, cam, titles, "Grad-CAM", "jet"))
    written = [p + ".png" for p in paths]
    print("wrote " + ", ".join(os.path.basename(p) for p in written) + f" to {args.out}")
    return written
