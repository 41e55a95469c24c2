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
