"""Reductions over ``axis`` (a sorted tuple of dims, normalized by functional) with ``keepdims``.

Tie policy of ``max``/``min``: tied extremes share the gradient equally (as ``torch.amax`` does),
so the gradients of a window's tied maxima sum to its upstream gradient.
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op


def _expand(g, ctx):
    """Put the reduced axes back into ``g`` (as size-1 dimensions) unless keepdims kept them."""
    return g if ctx.keepdims else ctx.xp.expand_dims(g, ctx.axes)


@register_op(linear_in=(0,), higher_order=True)
class Sum(Op):
    name = "sum"

    @staticmethod
    def forward(ctx, a, *, axis, keepdims):
        ctx.axes, ctx.keepdims, ctx.shape = axis, keepdims, a.shape
        return a.sum(axis=axis, keepdims=keepdims)  # the method: np.sum's wrapper costs ~1.5 us

    @staticmethod
    def vjp(ctx, g):
        return (ctx.xp.broadcast_to(_expand(g, ctx), ctx.shape),)


@register_op(linear_in=(0,), higher_order=True)
class Mean(Op):
    name = "mean"

    @staticmethod
    def forward(ctx, a, *, axis, keepdims):
        ctx.axes, ctx.keepdims, ctx.shape = axis, keepdims, a.shape
        ctx.count = int(np.prod([a.shape[i] for i in axis]))
        return a.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def vjp(ctx, g):
        return (ctx.xp.broadcast_to(_expand(g, ctx) / ctx.count, ctx.shape),)


class _Extreme(Op):
    """max and min: the subclass names its ``reduce`` ufunc method."""

    @classmethod
    def forward(cls, ctx, a, *, axis, keepdims):
        ext = cls.reduce(a, axis=axis, keepdims=True)
        ctx.axes, ctx.keepdims = axis, keepdims
        ctx.mask = a == ext
        return ext if keepdims else np.squeeze(ext, axis=axis)

    @staticmethod
    def vjp(ctx, g):
        mask = ctx.mask
        count = mask.sum(axis=ctx.axes, keepdims=True).astype(g.dtype)
        return (mask * (_expand(g, ctx) / count),)


@register_op(smooth=False, higher_order=True)
class Max(_Extreme):
    name = "max"
    reduce = staticmethod(np.maximum.reduce)


@register_op(smooth=False, higher_order=True)
class Min(_Extreme):
    name = "min"
    reduce = staticmethod(np.minimum.reduce)


@register_op(higher_order=True)
class LogSumExp(Op):
    """``log(sum(exp(a)))`` computed stably by shifting by the maximum."""

    name = "logsumexp"

    @staticmethod
    def forward(ctx, a, *, axis, keepdims):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # a row of -inf: log(0) = -inf, as PyTorch
            out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        out = out if keepdims else np.squeeze(out, axis=axis)
        ctx.a, ctx.out, ctx.axes, ctx.keepdims = a, out, axis, keepdims
        return out

    @staticmethod
    def vjp(ctx, g):
        return (_expand(g, ctx) * ctx.xp.exp(ctx.a - _expand(ctx.out, ctx)),)  # g * softmax(a)


@register_op(higher_order=True)
class Var(Op):
    """Variance ``sum((a - mean)**2) / (N - correction)``; correction=1 (unbiased) by default."""

    name = "var"

    @staticmethod
    def forward(ctx, a, *, axis, keepdims, correction):
        n = int(np.prod([a.shape[i] for i in axis]))
        centered = a - np.mean(a, axis=axis, keepdims=True)
        ctx.a, ctx.axes, ctx.keepdims = a, axis, keepdims
        ctx.denom = max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(centered * centered, axis=axis, keepdims=keepdims) / ctx.denom

    @staticmethod
    def vjp(ctx, g):
        scale = 2.0 / ctx.denom if ctx.denom else np.nan  # N <= correction: as PyTorch
        centered = ctx.a - ctx.xp.mean(ctx.a, axis=ctx.axes, keepdims=True)
        return (_expand(g, ctx) * centered * scale,)


@register_op(linear_in=(0,), higher_order=True)
class Cumsum(Op):
    """Running sums along ``axis``; the adjoint sums the gradient from the end backwards."""

    name = "cumsum"

    @staticmethod
    def forward(ctx, a, *, axis):
        ctx.axis = axis
        return np.cumsum(a, axis=axis)

    @staticmethod
    def vjp(ctx, g):
        xp = ctx.xp
        return (xp.flip(xp.cumsum(xp.flip(g, ctx.axis), ctx.axis), ctx.axis),)


@register_op(higher_order=True)
class Prod(Op):
    """The product along ``axis`` (one dim). Each element's derivative is the product of the
    others: ``prod / a`` away from zeros; at a slice's only zero, the product of the rest; 0 at
    the others. Exact to first order everywhere; the second derivative between two elements
    that are both exactly zero comes out 0 (PyTorch's is the product of the rest)."""

    name = "prod"

    @staticmethod
    def forward(ctx, a, *, axis, keepdims):
        ctx.a, ctx.axis, ctx.keepdims = a, axis, keepdims
        return np.prod(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def vjp(ctx, g):
        xp, a, axis = ctx.xp, ctx.a, ctx.axis
        zero = np.asarray(a) == 0
        lone_zero = zero & (zero.sum(axis=axis, keepdims=True) == 1)
        nonzero = xp.where(zero, 1, a)
        others = xp.where(
            lone_zero,
            xp.prod(nonzero, axis=axis, keepdims=True),
            xp.prod(a, axis=axis, keepdims=True) / nonzero,
        )
        return ((g if ctx.keepdims else xp.expand_dims(g, axis)) * others,)
