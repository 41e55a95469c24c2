"""``interpolate``: resizing (N, C, H, W) images by nearest neighbour or bilinear interpolation,
with PyTorch's sampling rules. A gather of the source pixels (and, for bilinear, a weighted sum
of four), so gradients flow back to the pixels that were read."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor
from tinygrad_cnn.ops.shape import GetItem
from tinygrad_cnn.tensor import Tensor

MODES = ("nearest", "bilinear")


def _sizes(fn: str, x: Tensor, size: Any, scale_factor: Any) -> tuple[tuple, tuple]:
    """The output size and the scale used for sampling (PyTorch uses a given scale_factor)."""
    h, w = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: give exactly one of size and scale_factor")
    if size is not None:
        oh, ow = _args.int_or_pair(fn, "size", size, 1)
        return (oh, ow), (h / oh, w / ow)
    sh, sw = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    _args.finite(fn, "scale_factor", sh, 0.0)
    _args.finite(fn, "scale_factor", sw, 0.0)
    oh, ow = int(math.floor(h * sh)), int(math.floor(w * sw))
    if oh < 1 or ow < 1:
        raise ValueError(f"{fn}: scale_factor {scale_factor} leaves no output pixels")
    return (oh, ow), (1.0 / sh, 1.0 / sw)


def _gather(x: Tensor, rows: np.ndarray, cols: np.ndarray) -> Tensor:
    """``x[:, :, rows[:, None], cols[None, :]]``, recorded."""
    return apply(GetItem, (x,), {"index": (slice(None), slice(None), rows[:, None], cols[None, :])})


def _linear_taps(n_in: int, n_out: int, scale: float, align_corners: bool):
    """For each output position: the two source positions and the weight of the second."""
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = i * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: Any = None, recompute_scale_factor: Any = None,
                antialias: bool = False) -> Tensor:  # fmt: skip
    """Resize (N, C, H, W) images to ``size`` or by ``scale_factor``, as
    ``torch.nn.functional.interpolate``: ``mode="nearest"`` (source pixel ``floor(i * scale)``)
    or ``"bilinear"`` (with or without ``align_corners``).

    >>> interpolate(Tensor([[[[1.0, 2.0]]]]), scale_factor=2).tolist()
    [[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]]
    """
    fn = "interpolate"
    x = as_tensor(input)
    _args.nchw(fn, "input", x)
    _args.choice(fn, "mode", mode, MODES)
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{fn}: align_corners applies to the bilinear mode only")
    (oh, ow), (sh, sw) = _sizes(fn, x, size, scale_factor)
    if recompute_scale_factor:
        sh, sw = x.shape[2] / oh, x.shape[3] / ow
    h, w = x.shape[2:]
    if mode == "nearest":
        rows = np.minimum(np.floor(np.arange(oh) * sh).astype(np.int64), h - 1)
        cols = np.minimum(np.floor(np.arange(ow) * sw).astype(np.int64), w - 1)
        return _gather(x, rows, cols)
    _args.floating(fn, "input", x)
    r0, r1, fy = _linear_taps(h, oh, sh, bool(align_corners))
    c0, c1, fx = _linear_taps(w, ow, sw, bool(align_corners))
    fy, fx = fy.astype(x.dtype)[:, None], fx.astype(x.dtype)[None, :]
    top = _gather(x, r0, c0) * (1 - fx) + _gather(x, r0, c1) * fx
    bottom = _gather(x, r1, c0) * (1 - fx) + _gather(x, r1, c1) * fx
    return top * (1 - fy) + bottom * fy


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:
    """(N, C * r**2, H, W) to (N, C, H * r, W * r): each group of r**2 channels becomes an
    r x r block of pixels (sub-pixel convolution's upsampling)."""
    x = as_tensor(input)
    r = _args.positive_int("pixel_shuffle", "upscale_factor", upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise RuntimeError(
            f"pixel_shuffle: input {x.shape} needs 3 or more dims and channels divisible by {r * r}"
        )
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:
    """The inverse of :func:`pixel_shuffle`: (N, C, H * r, W * r) to (N, C * r**2, H, W)."""
    x = as_tensor(input)
    r = _args.positive_int("pixel_unshuffle", "downscale_factor", downscale_factor)
    if x.ndim < 3 or x.shape[-2] % r or x.shape[-1] % r:
        raise RuntimeError(
            f"pixel_unshuffle: input {x.shape} needs height and width divisible by {r}"
        )
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)
