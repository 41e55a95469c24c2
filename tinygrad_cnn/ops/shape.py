"""Shape ops: every one is linear, so each passes the exact adjoint test.

``squeeze``, ``unsqueeze``, ``flatten`` and ``swapaxes`` are compositions (of ``reshape`` and
``transpose``) in :mod:`tinygrad_cnn.functional`.
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op


@register_op(linear_in=(0,))
class Reshape(Op):
    name = "reshape"

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def vjp(ctx, g):
        return (g.reshape(ctx.shape),)


@register_op(linear_in=(0,))
class Transpose(Op):
    """Permute the axes (``axes`` is a full permutation)."""

    name = "transpose"

    @staticmethod
    def forward(ctx, a, *, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def vjp(ctx, g):
        return (g.transpose(np.argsort(ctx.axes)),)


@register_op(linear_in=(0,))
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


@register_op(linear_in=(0,))
class GetItem(Op):
    """``a[index]``: basic and integer/boolean-array indexing. Repeated indices accumulate."""

    name = "getitem"

    @staticmethod
    def forward(ctx, a, *, index):
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def vjp(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        if is_advanced(ctx.index):
            np.add.at(out, ctx.index, g)
        else:
            out[ctx.index] = g
        return (out,)


@register_op(linear_in=(0, 1, 2))
class Concatenate(Op):
    name = "concatenate"

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def vjp(ctx, g):
        return tuple(np.split(g, ctx.splits, axis=ctx.axis))


@register_op(linear_in=(0, 1, 2))
class Stack(Op):
    name = "stack"

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def vjp(ctx, g):
        g = np.moveaxis(g, ctx.axis, 0)
        return tuple(g[i] for i in range(g.shape[0]))


@register_op(linear_in=(0,))
class Pad(Op):
    """Constant padding; ``widths`` is NumPy's ((before, after), ...) per dimension."""

    name = "pad"

    @staticmethod
    def forward(ctx, a, *, widths, value=0.0):
        ctx.crop = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        if a.ndim == 0:
            return a.copy()
        return np.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def vjp(ctx, g):
        return (g[ctx.crop],)
