"""Trigonometric and accurate-near-zero functions, and the rounding family, as ops.

``sin``/``cos`` differentiate into each other (through ``ctx.xp``, so to any order);
``log1p``/``expm1`` keep their precision for tiny inputs, where ``log(1 + x)`` loses it;
``rounding`` applies ``floor``, ``ceil``, ``round``, ``trunc`` or ``sign``: piecewise constant,
so its gradient is zero (as PyTorch's), and it is recorded, so ``backward`` through it works.
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op

ROUNDING = {
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,
    "trunc": np.trunc,
    "sign": np.sign,
}


@register_op(higher_order=True)
class Sin(Op):
    name = "sin"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.sin(a)

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.xp.cos(ctx.a),)


@register_op(higher_order=True)
class Cos(Op):
    name = "cos"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.cos(a)

    @staticmethod
    def vjp(ctx, g):
        return (-(g * ctx.xp.sin(ctx.a)),)


@register_op(higher_order=True)
class Log1p(Op):
    name = "log1p"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log1p(a)

    @staticmethod
    def vjp(ctx, g):
        return (g / (ctx.a + 1),)


@register_op(higher_order=True)
class Expm1(Op):
    name = "expm1"

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.expm1(a)
        return ctx.out

    @staticmethod
    def vjp(ctx, g):
        return (g * (ctx.out + 1),)


@register_op(smooth=False, higher_order=True)
class Rounding(Op):
    """``fn`` (a name in :data:`ROUNDING`) of each element; the gradient is zero."""

    name = "rounding"

    @staticmethod
    def forward(ctx, a, *, fn):
        return ROUNDING[fn](a)

    @staticmethod
    def vjp(ctx, g):
        return (g * 0,)
