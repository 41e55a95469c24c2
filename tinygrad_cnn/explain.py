"""What a trained network looks at: saliency maps, Grad-CAM, feature maps and filters.

Each takes a model (an ``nn.Module`` mapping (N, C, H, W) images to (N, classes) logits) and
images as an array or Tensor, and returns NumPy arrays. They read gradients with
:func:`tinygrad_cnn.grad` and activations with forward hooks, so no ``.grad`` and no model state
changes; call ``model.eval()`` first if it has dropout or batch normalisation. ``plot_grid``
writes any of them as a PNG (matplotlib).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.backward import grad
from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.tensor import Tensor


def _images(fn: str, x: Any, model: nn.Module) -> np.ndarray:
    """``x`` as (N, C, H, W) float images in the dtype of the model's parameters (so float64
    NumPy images feed a float32 model, as ``Tensor(x)`` would make them)."""
    a = np.asarray(x._data if isinstance(x, Tensor) else x)
    if a.ndim != 4 or a.dtype.kind != "f":
        raise ValueError(f"{fn}: x must be float images (N, C, H, W), got {a.dtype} {a.shape}")
    dtype = next((p.dtype for p in model.parameters()), a.dtype)
    return a.astype(dtype, copy=False)


def _targets(fn: str, target: Any, logits: np.ndarray) -> np.ndarray:
    """One class per image: ``target`` (an int, or one int per image), or the predicted one."""
    n, classes = logits.shape
    if target is None:
        return logits.argmax(axis=1)
    t = np.broadcast_to(np.asarray(target), (n,)) if np.ndim(target) == 0 else np.asarray(target)
    if t.shape != (n,) or t.dtype.kind not in "iu" or t.min() < 0 or t.max() >= classes:
        raise ValueError(
            f"{fn}: target must be an int or {n} ints in [0, {classes}), got {target!r}"
        )
    return t


def _target_logit(logits: Tensor, t: np.ndarray) -> Tensor:
    """The sum over images of each image's target logit (its gradient is per image)."""
    onehot = np.zeros(logits.shape, logits.dtype)
    onehot[np.arange(len(t)), t] = 1
    return (logits * onehot).sum()


def saliency(model: nn.Module, x: Any, target: Any = None) -> np.ndarray:
    """|d logit_target / d x|, the largest over channels: (N, H, W) (Simonyan et al. 2014).

    ``target``: an int, one int per image, or None for each image's predicted class.
    """
    images = Tensor._wrap(_images("saliency", x, model).copy(), True)
    logits = model(images)
    t = _targets("saliency", target, logits._data)
    (g,) = grad(_target_logit(logits, t), images)
    return np.abs(g._data).max(axis=1)


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every convolution of ``model`` (``Conv2d`` and ``ConvTranspose2d``), by module path, in
    the order the model registers them."""
    return [
        (n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]


def find_layer(fn: str, model: nn.Module, layer: Any) -> nn.Module:
    """``layer`` as a module of ``model``: a module, its path (``"features.3"``), or None for
    the last convolution."""
    if layer is None:
        convs = conv_layers(model)
        if not convs:
            raise ValueError(f"{fn}: the model has no convolution; pass layer=")
        return convs[-1][1]
    if isinstance(layer, str):
        found = dict(model.named_modules()).get(layer)
        if found is None:
            names = [n for n, _ in model.named_modules() if n]
            raise ValueError(f"{fn}: no layer named {layer!r}; the model has {names}")
        return found
    if not any(m is layer for m in model.modules()):
        raise ValueError(f"{fn}: layer {type(layer).__name__} is not a module of the model")
    return layer


def grad_cam(
    model: nn.Module,
    layer: Any = None,
    x: Any = None,
    target: Any = None,
    upsample: bool = True,
    normalize: bool = True,
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): ``ReLU(sum_k alpha_k A_k)`` for the output ``A`` of
    ``layer``, ``alpha_k`` the spatial mean of d logit_target / d A_k. ``layer`` is a module of
    ``model`` or its path (``"layer3.2.conv2"``); None (the default) takes the last convolution.

    With ``upsample=False, normalize=False``: the raw map at the layer's resolution, (N, h, w).
    Otherwise resized to the input (bilinear) and scaled to [0, 1] per image.
    """
    if x is None:
        raise TypeError("grad_cam: x (the images) is required")
    images = _images("grad_cam", x, model)
    layer = find_layer("grad_cam", model, layer)
    seen: list[Tensor] = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append(out))
    try:
        logits = model(Tensor._wrap(images, False))
    finally:
        handle.remove()
    if len(seen) != 1 or seen[0].ndim != 4 or not seen[0].requires_grad:
        raise ValueError(
            "grad_cam: layer must run once per forward and output (N, K, h, w) activations "
            "that depend on the model's parameters"
        )
    acts = seen[0]
    t = _targets("grad_cam", target, logits._data)
    (g,) = grad(_target_logit(logits, t), acts)
    alpha = g._data.mean(axis=(2, 3), keepdims=True)  # (N, K, 1, 1)
    cam = np.maximum((alpha * acts._data).sum(axis=1), 0)  # (N, h, w)
    if upsample:
        cam = resize_bilinear(cam, images.shape[2:])
    if normalize:
        top = cam.max(axis=(1, 2), keepdims=True)
        cam = np.divide(cam, top, out=np.zeros_like(cam), where=top > 0)
    return cam


def resize_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, h, w) -> (N, H, W), bilinear with half-pixel centres: ``F.interpolate(mode="bilinear",
    align_corners=False)`` on arrays."""
    x = Tensor._wrap(np.asarray(maps, dtype=np.result_type(maps, np.float32))[:, None], False)
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)._data[:, 0]


def feature_maps(model: nn.Module, x: Any) -> dict[str, np.ndarray]:
    """Every submodule's output for ``x``, by module path (``"features.3"``), via forward hooks."""
    images = _images("feature_maps", x, model)
    maps: dict[str, np.ndarray] = {}
    handles = []
    for path, module in model.named_modules():
        if path:  # not the model itself

            def keep(m: Any, inputs: Any, out: Any, path: str = path) -> None:
                maps[path] = np.array(out._data)

            handles.append(module.register_forward_hook(keep))
    try:
        with no_grad():
            model(Tensor._wrap(images, False))
    finally:
        for h in handles:
            h.remove()
    return maps


def filters(conv: nn.Module) -> np.ndarray:
    """A conv layer's filters, (C_out, C_in/groups, kH, kW), as a copy."""
    if not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
        raise TypeError(f"filters: expected a Conv2d or ConvTranspose2d, got {type(conv).__name__}")
    return conv.weight._data.copy()


def plot_grid(path: str, images: Any, titles: Any = None, cmap: Any = "gray", cols: int = 8):
    """Write (N, H, W) images (or (N, 1, H, W)) as one PNG grid, each panel titled; ``cmap`` is
    one matplotlib colormap name, or one per panel."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"plot_grid: expected (N, H, W) images, got shape {images.shape}")
    n = len(images)
    cmaps = [cmap] * n if isinstance(cmap, str) else list(cmap)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig = figure(figsize=(1.6 * cols, 1.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmaps[i], interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:  # the old picture or the new one, whole
        fig.savefig(tmp, dpi=100)
    return path


def figure(**kwargs: Any) -> Any:
    """A matplotlib Figure drawn by the Agg canvas: no pyplot, so the caller's backend (a
    notebook's inline plots, say) is left as it was, and nothing needs closing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib: an optional extra
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig
