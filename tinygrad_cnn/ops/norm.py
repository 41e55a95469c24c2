"""Normalisation: ``normalize`` (centre and scale over ``axis``) and its VJP as an op,
``normalize_grad``, with the array kernels both run on the first-order path.

Batch, layer and group normalisation are memory-bound: each pass over an activation costs about
as much as the arithmetic. The kernels keep the passes few: sums over the normalised axes are
products with a vector of ones and sums of products are batched dot products (BLAS reads memory
faster than NumPy's reductions, and makes no temporary), and the first-order VJP reads the
normalised values and ``1 / std`` the forward saved instead of computing them again.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.registry import Op, register_op

MIN_RUN = 16  # shorter rows than this are summed by NumPy (one BLAS call per row costs more)


def _rows(a: np.ndarray, axes: tuple[int, ...]):
    """``a`` as rows (R, L) whose sums, added over ``lead`` groups of rows, are the sums over
    ``axes``; None where that takes a copy or BLAS does not apply. Two layouts have it: ``axes``
    the last dims (layer and group norm), and (0, 2, 3, ...) (batch norm: the rows of one
    channel are every C-th)."""
    if a.dtype not in (np.float32, np.float64) or not a.flags.c_contiguous or a.ndim == 0:
        return None
    k = len(axes)
    if axes == tuple(range(a.ndim - k, a.ndim)):
        lead, length = 1, math.prod(a.shape[a.ndim - k :])
    elif a.ndim >= 2 and axes == (0, *range(2, a.ndim)):
        lead, length = a.shape[0], math.prod(a.shape[2:])
    else:
        return None
    if length < MIN_RUN or a.size == 0:
        return None
    return a.reshape(-1, length), lead


def _kept_shape(a: np.ndarray, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(a.shape))


def _row_sums(a: np.ndarray, axes: tuple[int, ...], rows) -> np.ndarray:
    """:func:`sums` on ``rows``, the ``_rows`` of ``a`` (not None)."""
    a2, lead = rows
    with workspace.one_blas_thread():  # see workspace.SMALL_BLAS_WORK
        s = a2 @ np.ones(a2.shape[1], a.dtype)
    return s.reshape(lead, -1).sum(axis=0).reshape(_kept_shape(a, axes))


def sums(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``a.sum(axis=axes, keepdims=True)``, as a product with ones where the layout allows."""
    rows = _rows(a, axes)
    return a.sum(axis=axes, keepdims=True) if rows is None else _row_sums(a, axes, rows)


def fast_sum(a, axis=None, keepdims: bool = False):
    """``np.sum(a, axis, keepdims=keepdims)``, by :func:`sums` where the layout allows (the
    first-order ``ctx.xp.sum``: a conv bias's gradient, the normalisations' weights')."""
    rows = _rows(a, axis) if type(axis) is tuple and type(a) is np.ndarray else None
    if rows is None:
        return np.sum(a, axis=axis, keepdims=keepdims)
    s = _row_sums(a, axis, rows)
    return s if keepdims else s.reshape([n for i, n in enumerate(a.shape) if i not in axis])


def dot_sums(a: np.ndarray, b: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``(a * b).sum(axis=axes, keepdims=True)`` without the product array, where it can."""
    rows = _rows(a, axes)
    if rows is None or b.dtype != a.dtype or not b.flags.c_contiguous:
        return (a * b).sum(axis=axes, keepdims=True)
    a2, lead = rows
    b2 = b.reshape(a2.shape)
    with workspace.one_blas_thread():
        s = np.matmul(a2[:, None, :], b2[:, :, None]).reshape(lead, -1)
    return s.sum(axis=0).reshape(_kept_shape(a, axes))


def _part(x, a: np.ndarray, i: int, j: int):
    """Rows i..j of ``x`` where it runs along ``a``'s first axis, else ``x`` (broadcast)."""
    return x[i:j] if np.ndim(x) == a.ndim and x.shape[0] == a.shape[0] else x


def _in_parts(fn, a: np.ndarray) -> None:
    """``fn(i, j)`` over parts of ``a``'s first axis, split across the copy threads for large
    arrays (each pass is elementwise, so the split does not change a bit of the result)."""
    workspace.parallel_ranges(fn, a.shape[0], a.nbytes)


def normalized(a: np.ndarray, axes: tuple[int, ...], eps: float, scale=None, shift=None):
    """``(a - mean) / sqrt(var + eps)`` over ``axes`` (the biased variance), times ``scale``
    (constant along ``axes``, so it joins ``1 / std``) and plus ``shift`` when given: the
    values, and the mean, variance and ``1 / sqrt(var + eps)`` with the reduced axes kept."""
    n = math.prod(a.shape[i] for i in axes)
    mean = sums(a, axes) / n
    out = np.empty(a.shape, np.result_type(a, mean))
    _in_parts(lambda i, j: np.subtract(a[i:j], _part(mean, a, i, j), out=out[i:j]), a)
    var = dot_sums(out, out, axes) / n
    inv_std = 1 / np.sqrt(var + eps)
    factor = inv_std if scale is None else inv_std * scale

    def finish(i: int, j: int) -> None:
        np.multiply(out[i:j], _part(factor, a, i, j), out=out[i:j])
        if shift is not None:
            np.add(out[i:j], _part(shift, a, i, j), out=out[i:j])

    _in_parts(finish, a)
    return out, mean, var, inv_std


def normalize(a, axes: tuple[int, ...], eps: float, mean=None, inv_std=None) -> np.ndarray:
    """``(a - mean) * inv_std``; ``mean`` and ``inv_std`` computed when not given."""
    if mean is None:
        return normalized(a, axes, eps)[0]
    out = a - mean
    out *= inv_std
    return out


def normalize_grad(g, a, axes: tuple[int, ...], eps: float, y=None, inv_std=None) -> np.ndarray:
    """normalize's VJP on arrays: ``(g - mean(g) - y * mean(g * y)) * inv_std``. ``y`` and
    ``inv_std`` are the forward's (computed from ``a`` when not given)."""
    if y is None:
        y, _, _, inv_std = normalized(a, axes, eps)
    n = math.prod(a.shape[i] for i in axes)
    g = np.ascontiguousarray(g)
    mean_g, mean_gy = sums(g, axes) / n, dot_sums(g, y, axes) / n
    out = np.empty(g.shape, np.result_type(g, mean_g))

    def part(i: int, j: int) -> None:
        o = out[i:j]
        np.subtract(g[i:j], _part(mean_g, a, i, j), out=o)
        along = workspace.empty(o.shape, o.dtype)
        np.multiply(y[i:j], _part(mean_gy, a, i, j), out=along)
        o -= along
        o *= _part(inv_std, a, i, j)

    _in_parts(part, a)
    return out


def weight_axes(ndim: int, weight_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of an ``ndim``-dimensional input that a weight of ``weight_shape`` is broadcast
    along (its gradient is summed over them)."""
    lead = ndim - len(weight_shape)
    return tuple(i for i in range(ndim) if i < lead or weight_shape[i - lead] == 1)


def affine_grad(xp, g, a, weight, axes, eps: float, need, mean=None, inv_std=None):
    """normalize's VJP with a weight (and a bias when ``len(need) == 3``), written once on
    ``xp``: the input's through ``normalize_grad`` of ``g * weight``, the weight's ``g`` times
    the normalised values, the bias's ``g``, both summed over the axes the weight is broadcast
    along (the engine sums the rest). ``mean`` and ``inv_std``: the forward's, on arrays."""
    y = xp.normalize(a, axes, eps, mean, inv_std)
    ga = xp.normalize_grad(g * weight, a, axes, eps, y, inv_std) if need[0] else None
    along = weight_axes(a.ndim, weight.shape)
    gw = xp.sum(g * y, axis=along, keepdims=True) if need[1] else None
    gb = xp.sum(g, axis=along, keepdims=True) if len(need) > 2 and need[2] else None
    return (ga, gw, gb)[: len(need)]


def fused_affine_grad(g, a, weight, axes, need, mean, inv_std):
    """:func:`affine_grad` on arrays where the weight is constant along the normalised axes
    (batch norm), in half as many passes: with ``Sg`` and ``Sgy`` the sums of ``g`` and
    ``g * y`` (the bias's and the weight's gradients), the input's is
    ``weight / std * (g - Sg / n - y * Sgy / n)``, and ``y`` is never made. None for other
    weights and mixed dtypes."""
    applies = (
        weight_axes(a.ndim, weight.shape) == tuple(axes)
        and g.dtype == a.dtype == weight.dtype
        and a.dtype.kind == "f"
    )
    if not applies:
        return None
    n = math.prod(a.shape[i] for i in axes)
    sg = sums(g, axes)
    centered = np.empty(a.shape, a.dtype)
    _in_parts(lambda i, j: np.subtract(a[i:j], _part(mean, a, i, j), out=centered[i:j]), a)
    sgy = dot_sums(g, centered, axes) * inv_std
    ga = None
    if need[0]:
        k = weight * inv_std
        along = k * inv_std * (sgy / n)  # y * Sgy / n, times the weight / std, is centered * this
        shift = k * (sg / n)
        ga = np.empty(a.shape, a.dtype)

        def part(i: int, j: int) -> None:
            c = centered[i:j]
            np.multiply(g[i:j], _part(k, a, i, j), out=ga[i:j])
            c *= _part(along, a, i, j)
            c += _part(shift, a, i, j)
            ga[i:j] -= c

        _in_parts(part, a)
    grads = (ga, sgy if need[1] else None, sg if len(need) > 2 and need[2] else None)
    return grads[: len(need)]


@register_op(higher_order=True)
class Normalize(Op):
    """``(a - mean) / sqrt(var + eps)`` over ``axis`` (the biased variance), then ``* weight``
    and ``+ bias`` when given (broadcast against ``a``): batch, layer and group normalisation's
    core as one op, where its composition of eight ops made a third of a ResNet training step.

    The VJP in ``a`` is ``normalize_grad`` of ``g * weight`` (``ctx.xp``): on the first-order
    path the kernel, reading ``1 / std`` saved here and the normalised values (the output, or
    with weight and bias the input normalised again with the saved statistics); under
    ``create_graph`` the ``normalize_grad`` op, which computes them from the input again, so that
    they depend on it and the second order is right. The weight's gradient is ``g`` times the
    normalised values, the bias's ``g``. The forward also keeps the batch's mean and variance on
    ``ctx`` (``ctx.mean``, ``ctx.var``), which batch norm's running estimates read.
    """

    name = "normalize"

    @staticmethod
    def forward(ctx, a, weight=None, bias=None, *, axis, eps):
        # a weight constant along the normalised axes joins 1 / std, and the bias the same pass
        joined = weight is None or weight_axes(a.ndim, weight.shape) == tuple(axis)
        if joined:
            out, mean, var, inv_std = normalized(a, axis, eps, weight, bias)
        else:
            out, mean, var, inv_std = normalized(a, axis, eps)
            out *= weight
            if bias is not None:
                out += bias
        ctx.a, ctx.axes, ctx.eps, ctx.weight = a, axis, eps, weight
        ctx.mean, ctx.var, ctx.inv_std = mean, var, inv_std
        if weight is None and bias is None:
            ctx.out = out  # the normalised values: the VJP reads them
        return out

    @staticmethod
    def vjp(ctx, g):
        xp, need, a, axes, eps = ctx.xp, ctx.needs_input_grad, ctx.a, ctx.axes, ctx.eps
        if len(need) == 1:
            return (xp.normalize_grad(g, a, axes, eps, ctx.out, ctx.inv_std),)
        return xp.normalize_affine_grad(g, a, ctx.weight, axes, eps, need, ctx.mean, ctx.inv_std)


@register_op(linear_in=(0,), higher_order=True)
class NormalizeGrad(Op):
    """normalize's VJP as an op: ``(g - mean(g) - y * mean(g * y)) * s``, where
    ``y = normalize(a)`` and ``s = 1 / sqrt(var(a) + eps)``.

    Its VJP gives normalize's second derivatives. In ``g`` it is linear and symmetric, so the
    VJP is ``normalize_grad(u, a)`` again; in ``a``, with ``gc = g - mean(g)``, ``uc`` likewise,
    ``m_uy = mean(u * y)`` and ``m_gy = mean(g * y)``:
    ``s**2 * ((3 * m_uy * m_gy - mean(gc * u)) * y - m_gy * uc - m_uy * gc)``.
    """

    name = "normalize_grad"

    @staticmethod
    def forward(ctx, g, a, *, axis, eps):
        ctx.g, ctx.a, ctx.axes, ctx.eps = g, a, axis, eps
        return normalize_grad(g, a, axis, eps)

    @staticmethod
    def vjp(ctx, u):
        xp, (need_g, need_a), g, a, axes = ctx.xp, ctx.needs_input_grad, ctx.g, ctx.a, ctx.axes
        gg = xp.normalize_grad(u, a, axes, ctx.eps) if need_g else None
        ga = None
        if need_a:

            def mean(t):
                return xp.mean(t, axis=axes, keepdims=True)

            centered = a - mean(a)
            s2 = 1 / (mean(centered * centered) + ctx.eps)
            y = centered * s2**0.5
            gc, uc = g - mean(g), u - mean(u)
            m_uy, m_gy = mean(u * y), mean(g * y)
            ga = s2 * ((3 * m_uy * m_gy - mean(gc * u)) * y - m_gy * uc - m_uy * gc)
        return gg, ga
