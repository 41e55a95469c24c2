"""The ``explain`` command: what a trained CNN looks at, as four PNG pictures.

``python -m tinygrad_cnn explain --model runs/demo/model.npz --out DIR [--count N]
[--layer NAME] [--maps NAME]`` rebuilds the model ``train`` wrote (the ``metrics.json`` beside
the weights names the model and the dataset: the default CNN, LeNet-5 or the ResNet, on the
digits or a dataset in ``--data``), takes the first N held-out images, and writes:

- ``filters.png``: the first convolution's filters (their first input channel);
- ``feature_maps.png``: the activations of ``--maps`` (default: the first convolution) for the
  first image;
- ``saliency.png`` and ``gradcam.png``: each image beside its map, titled with the true and
  predicted label; Grad-CAM on ``--layer`` (default: the last convolution).

The layers are found from the model itself (``explain.conv_layers``), so any CNN works.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

from tinygrad_cnn import explain
from tinygrad_cnn.cli.components import load_dataset, make_model
from tinygrad_cnn.cli.usage import UsageError
from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.tensor import Tensor


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``explain`` command's options."""
    p.add_argument("--model", metavar="NPZ", required=True, help="model.npz written by train")
    p.add_argument("--out", metavar="DIR", default=".", help="where the PNGs go")
    p.add_argument("--count", type=int, default=8, help="held-out images to explain (1-64)")
    p.add_argument("--layer", metavar="NAME", help="Grad-CAM's layer (default: the last conv)")
    p.add_argument("--maps", metavar="NAME", help="the layer whose feature maps are drawn")
    p.add_argument("--data", metavar="DIR", help="the dataset's folder, for non-digits runs")


def _pairs(images: np.ndarray, maps: np.ndarray, titles: list[str], what: str, cmap: str):
    """Each image (gray) followed by its map (``cmap``): panels, titles, colormaps."""
    panels = np.stack([images, maps], axis=1).reshape(-1, *images.shape[1:])
    names = [name for t in titles for name in (t, what)]
    return panels, names, ["gray", cmap] * len(images)


def _run_settings(path: str) -> dict:
    """What the run that wrote ``path`` used (its metrics.json), or the defaults."""
    metrics = os.path.join(os.path.dirname(os.path.abspath(path)), "metrics.json")
    try:
        with open(metrics) as f:
            saved = json.load(f)
        return saved if isinstance(saved, dict) else {}
    except (OSError, ValueError):
        return {}  # none or unreadable: the default CNN on the digits, whose load names misfits


def trained_model(path: str, data: str | None) -> tuple[Any, Any, dict]:
    """The model ``train`` wrote to ``path`` (``metrics.json`` beside it names the model and the
    dataset), its weights loaded, with the dataset and the run's settings; UsageError naming
    ``--model`` when the file is missing or is not such a model."""
    if not os.path.isfile(path):
        raise UsageError(
            f"--model {path}: checkpoint not found (no such file; train writes runs/NAME/model.npz)"
        )
    settings = _run_settings(path)
    ds = load_dataset(str(settings.get("dataset", "digits")), data or settings.get("data"))
    model = make_model(str(settings.get("model", "default")), ds)
    try:
        model.load(path)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise UsageError(
            f"--model {path}: not a model this command can rebuild ({str(e).splitlines()[0]}); "
            "pass the model.npz that train wrote, with its metrics.json beside it"
        ) from None
    return model, ds, settings


def _layer(model, name: str | None, flag: str, default: str):
    if name is None:
        return default
    if name not in dict(model.named_modules()):
        convs = ", ".join(n for n, _ in explain.conv_layers(model))
        raise UsageError(f"{flag} {name}: no such layer; the convolutions are {convs}")
    return name


def run(args: argparse.Namespace) -> list[str]:
    """Write the four pictures; a user mistake raises UsageError (one line, exit status 2)."""
    if not 1 <= args.count <= 64:
        raise UsageError(f"--count must be between 1 and 64, got {args.count}")
    model, ds, _ = trained_model(args.model, args.data)
    model.eval()
    convs = explain.conv_layers(model)
    if not convs:
        raise UsageError(f"--model {args.model}: the model has no convolution to explain")
    cam_layer = _layer(model, args.layer, "--layer", convs[-1][0])
    maps_layer = _layer(model, args.maps, "--maps", convs[0][0])
    os.makedirs(args.out, exist_ok=True)
    x, y = ds.x_test[: args.count], ds.y_test[: args.count]
    with no_grad():
        pred = model(Tensor(x))._data.argmax(axis=1)
    titles = [f"true {t}, pred {p}" for t, p in zip(y, pred)]
    images = x.mean(axis=1)  # colour images drawn in gray
    paths = [os.path.join(args.out, f) for f in ("filters", "feature_maps", "saliency", "gradcam")]
    w = explain.filters(convs[0][1])[:, 0]
    explain.plot_grid(paths[0] + ".png", w, [f"filter {k}" for k in range(len(w))], "coolwarm")
    maps = explain.feature_maps(model, x[:1])[maps_layer][0][:64]
    names = [f"{maps_layer} ch {k}" if k == 0 else f"ch {k}" for k in range(len(maps))]
    explain.plot_grid(paths[1] + ".png", maps, names, "viridis")
    sal = explain.saliency(model, x)
    explain.plot_grid(paths[2] + ".png", *_pairs(images, sal, titles, "saliency", "hot"))
    cam = explain.grad_cam(model, cam_layer, x)
    explain.plot_grid(
        paths[3] + ".png", *_pairs(images, cam, titles, f"Grad-CAM {cam_layer}", "jet")
    )
    written = [p + ".png" for p in paths]
    print("wrote " + ", ".join(os.path.basename(p) for p in written) + f" to {args.out}")
    return written
