"""pool2d: max and average pooling over windows, looping over kernel offsets, never pixels.

Max pooling keeps, per window, the index (0 .. kH*kW-1) of its first maximum in row-major order;
its VJP routes each window's gradient to that one element, so a window's input gradients sum to
its output gradient, and overlapping windows accumulate. Average pooling divides by the window's
count (padding included or not, ``count_include_pad``) and spreads the gradient evenly.

Both VJPs are :func:`pool2d_spread`, and its adjoint is :func:`pool2d_gather` (max: read each
window's chosen element; average: the scaled window sum). Registered as ops of the same names,
each the other's VJP, they make pooling differentiable to any order; every VJP here calls them
through ``ctx.xp`` (the kernels on the first-order path, the ops under ``create_graph``).
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.geometry import Geometry, crop, pad_nchw, strided_slice
from tinygrad_cnn.ops.registry import Op, register_op


def _window_counts(k, s, p, out, lo, hi):
    """For each of ``out`` windows along one axis: how many of its k positions lie in [lo, hi).

    Never 0: padding is at most half the kernel, and with ``ceil_mode`` the last window starts
    inside the input, so every window holds an input element."""
    starts = np.arange(out) * s - p
    return np.minimum(starts + k, hi) - np.maximum(starts, lo)


def _first_nan(views: list, argmax: np.ndarray) -> np.ndarray:
    """In windows that hold a NaN (their maximum is NaN, as np.maximum propagates it), the tap
    of the first NaN, so that backward sends the gradient where the output came from, as
    PyTorch does; elsewhere ``argmax`` as it was."""
    first = np.full(argmax.shape, -1)
    for k, v in enumerate(views):
        first[np.isnan(v) & (first < 0)] = k
    return np.where(first >= 0, first, argmax).astype(argmax.dtype)


def avg_divisor(h: int, w: int, geo: Geometry, ho: int, wo: int, count_include_pad: bool):
    """(Ho, Wo) divisors: window sizes clipped to the padded input, or to the input alone."""
    ph, pw = (geo.pt, geo.pl) if count_include_pad else (0, 0)  # the padding that counts
    ch = _window_counts(geo.kh, geo.sh, geo.pt, ho, -ph, h + ph)
    cw = _window_counts(geo.kw, geo.sw, geo.pl, wo, -pw, w + pw)
    return np.outer(ch, cw)


def window_sum(x: np.ndarray, geo: Geometry, ho: int, wo: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, Ho, Wo): each window's sum, separably (kH rows, then kW columns)."""
    xp = pad_nchw(x, geo)
    rows = xp[:, :, strided_slice(0, ho, geo.sh), :].copy()  # (N, C, Ho, Wp)
    for p in range(1, geo.kh):
        rows += xp[:, :, strided_slice(p, ho, geo.sh), :]
    out = rows[..., strided_slice(0, wo, geo.sw)].copy()  # (N, C, Ho, Wo)
    for q in range(1, geo.kw):
        out += rows[..., strided_slice(q, wo, geo.sw)]
    return out


# --8<-- [start:pool_op]
@register_op(smooth=False, higher_order=True)
class Pool2d(Op):
    """Max or average pooling; ``mode`` is "max" or "average".

    ``geometry`` holds the windows as the caller gave them; with ``ceil_mode`` the kernels work on
    ``geometry.fitted(...)``, whose extra bottom/right padding the last windows need. Only the
    caller's padding counts towards ``count_include_pad``.
    """

    name = "pool2d"

    @staticmethod
    def forward(ctx, x, *, geometry, mode, ceil_mode, count_include_pad):
        n, c, h, w = x.shape
        geo = geometry.fitted(h, w, ceil_mode)
        ho, wo = geo.out_size(h, w)
        ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale = geo, x.shape, None, None
        if mode == "max":
            xp = pad_nchw(x, geo, fill=-np.inf)
            views = [xp[:, :, hs, ws] for _, _, hs, ws in geo.offsets(ho, wo)]  # (N, C, Ho, Wo)
            out = np.empty((n, c, ho, wo), x.dtype)
            argmax = np.zeros(out.shape, dtype=np.uint8 if len(views) <= 256 else np.int32)

            def part(n0: int, n1: int) -> None:  # images n0..n1, split across the copy threads
                o, am = out[n0:n1], argmax[n0:n1]
                np.copyto(o, views[0][n0:n1])
                # each offset's strided view copied once: comparing and taking the maximum on
                # contiguous arrays halved the forward (0.38 against 0.81 ms for 2x2 windows)
                v = workspace.scratch("pool-window", o.shape, o.dtype)
                better = workspace.scratch("pool-better", o.shape, np.bool_)
                for k, view in enumerate(views[1:], start=1):
                    np.copyto(v, view[n0:n1])
                    np.greater(v, o, out=better)  # strict: a tie keeps the earlier (row-major)
                    np.maximum(o, v, out=o)
                    # argmax = k where better: arithmetic, since masked writes are ~6x slower
                    am += better * (k - am)

            workspace.parallel_ranges(part, n, x.nbytes)
            if out.dtype.kind == "f" and np.isnan(out).any():
                argmax = _first_nan(views, argmax)
            ctx.argmax = argmax
            return out
        out = window_sum(x, geo, ho, wo)
        ctx.scale = (1.0 / avg_divisor(h, w, geo, ho, wo, count_include_pad)).astype(x.dtype)
        out *= ctx.scale
        return out

    @staticmethod
    def vjp(ctx, g):
        return (ctx.xp.pool2d_spread(g, ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale),)


def pool2d_spread(g, geo: Geometry, x_shape, argmax=None, scale=None) -> np.ndarray:
    """pool2d's VJP: dY (N, C, Ho, Wo) -> dX ``x_shape``. With ``argmax``, each window's gradient
    goes to its chosen element; otherwise ``g * scale`` is spread over the window."""
    ho, wo = g.shape[2:]
    n, c, h, w = x_shape
    hp, wp = h + geo.pt + geo.pb, w + geo.pl + geo.pr
    span_h, span_w = geo.span
    overlap = geo.sh < span_h or geo.sw < span_w
    # windows that tile the input exactly write every element below: no need to zero it
    exact = ho * geo.sh == hp and wo * geo.sw == wp
    tiles = exact and (geo.kh, geo.kw, geo.dh, geo.dw) == (geo.sh, geo.sw, 1, 1)
    alloc = workspace.empty if argmax is not None and tiles else workspace.zeros
    acc = alloc((n, c, hp, wp), g.dtype)
    if argmax is not None:
        offsets = list(geo.offsets(ho, wo))

        def part(n0: int, n1: int) -> None:  # images n0..n1, split across the copy threads
            gi, am = g[n0:n1], argmax[n0:n1]
            for k, (_, _, hs, ws) in enumerate(offsets):
                if overlap:
                    acc[n0:n1, :, hs, ws] += gi * (am == k)
                else:  # each input element is in at most one window: write, do not add
                    np.multiply(gi, am == k, out=acc[n0:n1, :, hs, ws])

        workspace.parallel_ranges(part, n, acc.nbytes)
    else:  # the transpose of the separable sum: spread over columns, then over rows
        gs = g * scale.astype(g.dtype)
        cols = np.zeros((n, c, ho, wp), g.dtype)
        for q in range(geo.kw):
            cols[..., strided_slice(q, wo, geo.sw)] += gs
        for p in range(geo.kh):
            acc[:, :, strided_slice(p, ho, geo.sh), :] += cols
    return acc if (hp, wp) == (h, w) else crop(acc, geo, h, w)


# --8<-- [end:pool_op]


def windows_shape(argmax=None, scale=None) -> tuple[int, int]:
    """(Ho, Wo), the number of windows, from what pool2d saved: ``argmax`` (N, C, Ho, Wo) for
    max pooling, ``scale`` (Ho, Wo) for average pooling."""
    return (argmax if argmax is not None else scale).shape[-2:]


# --8<-- [start:pool_adjoints]
def pool2d_gather(u, geo: Geometry, x_shape, argmax=None, scale=None) -> np.ndarray:
    """The adjoint of :func:`pool2d_spread`: (N, C, H, W) -> (N, C, Ho, Wo), each window's chosen
    element (with ``argmax``) or its sum times ``scale``."""
    ho, wo = windows_shape(argmax, scale)
    if argmax is None:
        return window_sum(u, geo, ho, wo) * scale.astype(u.dtype)
    up = pad_nchw(u, geo)
    out = np.zeros((*u.shape[:2], ho, wo), u.dtype)
    for k, (_, _, hs, ws) in enumerate(geo.offsets(ho, wo)):
        out += up[:, :, hs, ws] * (argmax == k)
    return out


@register_op(linear_in=(0,), higher_order=True)
class Pool2dSpread(Op):
    """pool2d's VJP as an op (see :func:`pool2d_spread`); its own VJP is ``pool2d_gather``."""

    name = "pool2d_spread"

    @staticmethod
    def forward(ctx, g, *, geometry, x_shape, argmax=None, scale=None):
        ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale = geometry, x_shape, argmax, scale
        return pool2d_spread(g, geometry, x_shape, argmax, scale)

    @staticmethod
    def vjp(ctx, u):
        return (ctx.xp.pool2d_gather(u, ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale),)


@register_op(linear_in=(0,), higher_order=True)
class Pool2dGather(Op):
    """The adjoint of ``pool2d_spread`` (see :func:`pool2d_gather`), whose VJP it is."""

    name = "pool2d_gather"

    @staticmethod
    def forward(ctx, u, *, geometry, x_shape, argmax=None, scale=None):
        ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale = geometry, x_shape, argmax, scale
        return pool2d_gather(u, geometry, x_shape, argmax, scale)

    @staticmethod
    def vjp(ctx, g):
        return (ctx.xp.pool2d_spread(g, ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale),)


# --8<-- [end:pool_adjoints]
