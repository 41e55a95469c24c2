"""Shape ops: every one is linear, so each passes the exact adjoint test, and each VJP is another
shape op (getitem's is scatter_add, whose VJP is getitem again): all are ``higher_order``.

``squeeze``, ``unsqueeze``, ``flatten`` and ``swapaxes`` are compositions (of ``reshape`` and
``transpose``) in :mod:`tinygrad_cnn.functional`.
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op


@register_op(linear_in=(0,), higher_order=True)
class Reshape(Op):
    name = "reshape"

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def vjp(ctx, g):
        return (g.reshape(ctx.shape),)


@register_op(linear_in=(0,), higher_order=True)
class Transpose(Op):
    """Permute the axes (``axes`` is a full permutation)."""

    name = "transpose"

    @staticmethod
    def forward(ctx, a, *, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def vjp(ctx, g):
        return (ctx.xp.transpose(g, tuple(np.argsort(ctx.axes))),)


@register_op(linear_in=(0,), higher_order=True)
class BroadcastTo(Op):
    """Broadcast to ``shape`` (a read-only view); the engine sums the gradient back down."""

    name = "broadcast_to"

    @staticmethod
    def forward(ctx, a, *, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def vjp(ctx, g):
        return (g,)


def is_advanced(index) -> bool:
    """True if ``index`` (a normalized tuple) holds an integer or boolean array."""
    return any(isinstance(i, np.ndarray) for i in index)


@register_op(linear_in=(0,), higher_order=True)
class GetItem(Op):
    """``a[index]``: basic and integer/boolean-array indexing. Repeated indices accumulate."""

    name = "getitem"

    @staticmethod
    def forward(ctx, a, *, index):
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def vjp(ctx, g):
        return (ctx.xp.scatter_add(g, ctx.shape, ctx.index),)


def scatter_add(g: np.ndarray, shape: tuple[int, ...], index: tuple) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    if is_advanced(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


@register_op(linear_in=(0,), higher_order=True)
class ScatterAdd(Op):
    """The adjoint of ``getitem``: ``g`` added into zeros of ``shape`` at ``index``."""

    name = "scatter_add"

    @staticmethod
    def forward(ctx, g, *, shape, index):
        ctx.index = index
        return scatter_add(g, shape, index)

    @staticmethod
    def vjp(ctx, g):
        return (g[ctx.index],)


@register_op(linear_in=(0, 1), higher_order=True)
class SetItem(Op):
    """``a`` with ``a[index] = value`` (``value`` broadcast to the indexed part): what
    ``x[index] = value`` records. The gradient of ``a`` is zero where it was overwritten; the
    gradient of ``value`` is the upstream gradient there (summed back to value's shape)."""

    name = "setitem"

    @staticmethod
    def forward(ctx, a, value, *, index):
        out = a.copy()
        out[index] = value
        keep = np.ones(a.shape, dtype=a.dtype)
        keep[index] = 0
        ctx.keep, ctx.index, ctx.part = keep, index, out[index].shape
        return out

    @staticmethod
    def vjp(ctx, g):
        need_a, need_v = ctx.needs_input_grad
        gv = g[ctx.index] if need_v else None
        return (g * ctx.keep if need_a else None), gv


@register_op(linear_in=(0, 1, 2), higher_order=True)
class Concatenate(Op):
    name = "concatenate"

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def vjp(ctx, g):
        parts = ctx.xp.split(g, ctx.splits, axis=ctx.axis)
        return tuple(p if need else None for p, need in zip(parts, ctx.needs_input_grad))


@register_op(linear_in=(0, 1, 2), higher_order=True)
class Stack(Op):
    name = "stack"

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def vjp(ctx, g):
        g = ctx.xp.moveaxis(g, ctx.axis, 0)
        return tuple(g[i] if need else None for i, need in enumerate(ctx.needs_input_grad))


@register_op(linear_in=(0,), higher_order=True)
class Pad(Op):
    """Constant padding; ``widths`` is NumPy's ((before, after), ...) per dimension."""

    name = "pad"

    @staticmethod
    def forward(ctx, a, *, widths, value):
        ctx.crop = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        if a.ndim == 0:
            return a.copy()
        return np.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def vjp(ctx, g):
        return (g[ctx.crop],)
