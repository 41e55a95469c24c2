"""Pooling: argument checks, then the one ``pool2d`` op; see :mod:`tinygrad_cnn.ops.pool`."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import Node, apply, as_tensor
from tinygrad_cnn.functional.reduce import max as fmax
from tinygrad_cnn.functional.reduce import mean
from tinygrad_cnn.functional.shape import stack
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.ops.pool import Pool2d
from tinygrad_cnn.tensor import Tensor

MODES = {"max": "max", "average": "average", "avg": "average"}


def pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    mode: str = "max",
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Max or average pooling over an NCHW input; one registered op for both.

    ``mode``: ``"max"`` or ``"average"`` (``"avg"`` too). ``stride`` defaults to ``kernel_size``;
    ``padding`` is at most half the kernel; ``dilation`` is for max pooling only;
    ``count_include_pad`` (average) counts the zero padding in each window's divisor.
    Max pooling sends each window's gradient to its first maximum (row-major), so tied windows do
    not double-count.

    >>> import numpy as np
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> pool2d(x, 2)[0, 0].numpy()
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    >>> pool2d(x, 2, mode="average")[0, 0].numpy()
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    args = (kernel_size, stride, padding, mode, dilation, ceil_mode, count_include_pad)
    return _pool2d("pool2d", input, *args)


def _pool2d(fn, input, kernel_size, stride, padding, mode, dilation, ceil_mode, count_include_pad):
    x = as_tensor(input)
    mode = MODES[_args.choice(fn, "mode", mode, sorted(MODES))]
    _args.nchw(fn, "input", x)
    _args.floating(fn, "input", x)
    kernel = _args.int_or_pair(fn, "kernel_size", kernel_size, 1)
    geo = Geometry.from_args(
        kernel,
        kernel if stride is None else _args.int_or_pair(fn, "stride", stride, 1),
        _args.int_or_pair(fn, "padding", padding, 0),
        _args.int_or_pair(fn, "dilation", dilation, 1),
    )
    if mode == "average" and (geo.dh, geo.dw) != (1, 1):
        raise ValueError(f"{fn}: dilation is only supported with mode='max', got {dilation!r}")
    span_h, span_w = geo.span
    if geo.pt > span_h // 2 or geo.pl > span_w // 2:
        raise ValueError(
            f"{fn}: padding {padding!r} must be at most half the kernel size "
            f"({geo.kh}x{geo.kw}, dilation {(geo.dh, geo.dw)})"
        )
    _args.windows_fit(fn, geo, x.shape, bool(ceil_mode))
    attrs = {
        "geometry": geo,
        "mode": mode,
        "ceil_mode": bool(ceil_mode),
        "count_include_pad": bool(count_include_pad),
    }
    return apply(Pool2d, (x,), attrs)


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling, as ``torch.nn.functional.max_pool2d`` (same positional order). With
    ``return_indices``, also each maximum's position in its input plane (``h * W + w``, int64)."""
    args = (kernel_size, stride, padding, "max", dilation, ceil_mode, True)
    out = _pool2d("max_pool2d", input, *args)
    if not return_indices:
        return out
    x = as_tensor(input)
    geometry = out._node.attrs["geometry"] if out._node is not None else None
    if geometry is None:  # not recorded: the windows again, from the same arguments
        geometry = _geometry("max_pool2d", kernel_size, stride, padding, dilation)
    return out, _max_indices(x, geometry, bool(ceil_mode), out.shape[2:])


def _geometry(fn: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> Geometry:
    kernel = _args.int_or_pair(fn, "kernel_size", kernel_size, 1)
    return Geometry.from_args(
        kernel,
        kernel if stride is None else _args.int_or_pair(fn, "stride", stride, 1),
        _args.int_or_pair(fn, "padding", padding, 0),
        _args.int_or_pair(fn, "dilation", dilation, 1),
    )


def _max_indices(x: Tensor, geometry: Geometry, ceil_mode: bool, out_hw: tuple) -> Tensor:
    """The flat input position (``h * W + w``) of each window's first maximum, as PyTorch's
    ``return_indices`` gives it: (N, C, Ho, Wo) int64."""
    ctx = Node()
    h, w = x.shape[2:]
    Pool2d.forward(ctx, x._data, geometry=geometry, mode="max", ceil_mode=ceil_mode,
                   count_include_pad=True)  # fmt: skip
    geo, k = ctx.geo, ctx.argmax.astype(np.int64)  # k: the tap, row-major in the window
    i = np.arange(out_hw[0])[:, None]
    j = np.arange(out_hw[1])[None, :]
    rows = i * geo.sh - geo.pt + (k // geo.kw) * geo.dh
    cols = j * geo.sw - geo.pl + (k % geo.kw) * geo.dw
    return Tensor._wrap((rows * w + cols).astype(np.int64), False)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed ``output_size`` over the windows of :func:`adaptive_avg_pool2d`;
    each output's gradient goes to its window's first maximum. With ``return_indices``, also
    the positions (``h * W + w``) of the maxima."""
    x, (h, w), (oh, ow), rows, cols = _adaptive("adaptive_max_pool2d", input, output_size)
    values, where = [], []
    for r0, r1 in rows:
        row_v, row_i = [], []
        for c0, c1 in cols:
            window = x[:, :, r0:r1, c0:c1]
            v, idx = fmax(window.flatten(2), dim=2)  # the first maximum, row-major
            k = idx._data
            row_v.append(v)
            row_i.append((r0 + k // (c1 - c0)) * w + c0 + k % (c1 - c0))
        values.append(stack(row_v, dim=-1))
        where.append(np.stack(row_i, axis=-1))
    out = stack(values, dim=-2)
    if not return_indices:
        return out
    return out, Tensor._wrap(np.stack(where, axis=-2).astype(np.int64), False)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` (same positional order)."""
    args = (kernel_size, stride, padding, "average", 1, ceil_mode, count_include_pad)
    return _pool2d("avg_pool2d", input, *args)


def global_avg_pool2d(input: Any) -> Tensor:
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1), like ``AdaptiveAvgPool2d(1)``."""
    x = as_tensor(input)
    _args.nchw("global_avg_pool2d", "input", x)
    return mean(x, axis=(2, 3), keepdims=True)


def _adaptive(fn: str, input: Any, output_size: Any) -> tuple:
    """The input, its (H, W), the output size and PyTorch's adaptive windows: output cell ``i``
    of ``out`` along a side of ``n`` covers ``floor(i * n / out)`` to ``ceil((i + 1) * n / out)``
    (exclusive), so windows may overlap."""
    x = as_tensor(input)
    _args.nchw(fn, "input", x)
    oh, ow = _args.int_or_pair(fn, "output_size", output_size, 1, keep_none=True)
    h, w = x.shape[2:]
    oh, ow = (h if oh is None else oh), (w if ow is None else ow)
    rows = [(i * h // oh, -(-(i + 1) * h // oh)) for i in range(oh)]
    cols = [(j * w // ow, -(-(j + 1) * w // ow)) for j in range(ow)]
    return x, (h, w), (oh, ow), rows, cols


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed ``output_size`` (an int, or a pair whose None keeps that side),
    over PyTorch's windows: output cell ``i`` of ``out`` along a side of ``n`` averages positions
    ``floor(i * n / out)`` to ``ceil((i + 1) * n / out) - 1``, so windows may overlap.

    >>> adaptive_avg_pool2d(Tensor([[[[0.0, 1.0, 2.0, 3.0, 4.0]] * 5]]), 2)[0, 0]
    Tensor([[1., 3.],
            [1., 3.]], dtype=float32)
    """
    x, (h, w), (oh, ow), rows, cols = _adaptive("adaptive_avg_pool2d", input, output_size)
    if (oh, ow) == (1, 1):
        return mean(x, axis=(2, 3), keepdims=True)
    if h % oh == 0 and w % ow == 0:  # equal windows side by side: one pooling op
        return avg_pool2d(x, (h // oh, w // ow))
    cells = [
        stack([mean(x[:, :, r0:r1, c0:c1], axis=(2, 3)) for c0, c1 in cols], axis=-1)
        for r0, r1 in rows
    ]
    return stack(cells, axis=-2)
