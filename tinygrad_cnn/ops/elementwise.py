"""Elementwise ops. Each forward sits beside its VJP.

Every VJP here is ``higher_order``: it computes with operators and ``ctx.xp`` only, so
``backward(create_graph=True)`` records it (see :mod:`tinygrad_cnn.ops.xp`).

Binary ops broadcast like NumPy; their VJPs return gradients at the output's shape and the engine
sums them back down to each input's shape.

Tie policies (the same as PyTorch), each tested with forced ties:

- ``abs``: gradient ``sign(x)``, so 0 at x == 0.
- ``relu``: gradient 0 at x == 0.
- ``maximum``/``minimum``: where the two inputs are equal, each gets half the gradient.
- ``clip``: the bounds are inclusive: at x == min or x == max the gradient passes through.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op

# NumPy's float32 maximum against a scalar (a broadcast, stride 0) runs a slow loop: 0.22 ms on
# LeNet's first activation (1.6 MB), against a block of zeros 0.13 ms (float64: the other way
# round, 0.15 against 0.22). So float32 relu takes the maximum a block at a time.
_BLOCK = 1 << 14
_ZEROS = np.zeros(_BLOCK, np.float32)
_ZEROS.flags.writeable = False


def _relu(a: np.ndarray) -> np.ndarray:
    """``np.maximum(a, 0)``: the same numbers (NaN stays NaN), by blocks for float32."""
    if a.dtype != np.float32 or a.size < 4 * _BLOCK or not a.flags.c_contiguous:
        return np.maximum(a, 0)
    out = np.empty(a.shape, a.dtype)
    flat, flat_out = a.reshape(-1), out.reshape(-1)
    for i in range(0, a.size, _BLOCK):
        j = min(a.size, i + _BLOCK)
        np.maximum(flat[i:j], _ZEROS[: j - i], out=flat_out[i:j])
    return out


@register_op(linear_in=(0, 1), higher_order=True)
class Add(Op):
    name = "add"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def vjp(ctx, g):
        return g, g


@register_op(linear_in=(0, 1), higher_order=True)
class Sub(Op):
    name = "sub"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def vjp(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


@register_op(linear_in=(0, 1), higher_order=True)
class Mul(Op):
    name = "mul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a * b

    @staticmethod
    def vjp(ctx, g):
        na, nb = ctx.needs_input_grad
        return (g * ctx.b if na else None), (g * ctx.a if nb else None)


@register_op(linear_in=(0,), higher_order=True)
class Div(Op):
    name = "div"

    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        need = ctx.needs_input_grad
        # the output only for b's gradient: saved values are checked for in-place changes
        ctx.b, ctx.out = b, (out if need and need[1] else None)
        return out

    @staticmethod
    def vjp(ctx, g):
        na, nb = ctx.needs_input_grad
        ga = g / ctx.b
        return (ga if na else None), (-ga * ctx.out if nb else None)


@register_op(linear_in=(0,), higher_order=True)
class Neg(Op):
    name = "neg"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def vjp(ctx, g):
        return (-g,)


@register_op(higher_order=True)
class Pow(Op):
    """``a ** b``; the exponent's gradient ``out * log(a)`` is computed only when it is needed."""

    name = "pow"

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        need = ctx.needs_input_grad
        ctx.a, ctx.b, ctx.out = a, b, (out if need and need[1] else None)
        return out

    @staticmethod
    def vjp(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        ga = g * b * a ** (b - 1) if na else None
        gb = g * ctx.out * ctx.xp.log(a) if nb else None
        return ga, gb


@register_op(higher_order=True)
class Exp(Op):
    name = "exp"

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.exp(a)
        return ctx.out

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.out,)


@register_op(higher_order=True)
class Log(Op):
    name = "log"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log(a)

    @staticmethod
    def vjp(ctx, g):
        return (g / ctx.a,)


@register_op(higher_order=True)
class Sqrt(Op):
    name = "sqrt"

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.sqrt(a)
        return ctx.out

    @staticmethod
    def vjp(ctx, g):
        return (g / (2 * ctx.out),)


@register_op(smooth=False, higher_order=True)
class Abs(Op):
    name = "abs"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.abs(a)

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.xp.sign(ctx.a),)  # sign(0) == 0


@register_op(smooth=False, higher_order=True)
class Relu(Op):
    name = "relu"

    @staticmethod
    def forward(ctx, a):
        ctx.mask = a > 0
        return _relu(a)

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.mask,)  # gradient 0 at a == 0


@register_op(smooth=False, higher_order=True)
class LeakyRelu(Op):
    """``a`` where ``a > 0``, else ``negative_slope * a``; the gradient at 0 is the slope (as
    PyTorch)."""

    name = "leaky_relu"

    @staticmethod
    def forward(ctx, a, *, negative_slope):
        ctx.scale = np.where(a > 0, 1.0, negative_slope).astype(a.dtype)
        return a * ctx.scale

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.scale,)


@register_op(higher_order=True)
class Sigmoid(Op):
    name = "sigmoid"

    @staticmethod
    def forward(ctx, a):
        out = 0.5 * (1.0 + np.tanh(0.5 * a))  # = 1 / (1 + exp(-a)), without overflow
        ctx.out = out
        return out

    @staticmethod
    def vjp(ctx, g):
        s = ctx.out
        return (g * s * (1 - s),)


@register_op(higher_order=True)
class Tanh(Op):
    name = "tanh"

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.tanh(a)
        return ctx.out

    @staticmethod
    def vjp(ctx, g):
        return (g * (1 - ctx.out * ctx.out),)


_ERF = np.frompyfunc(math.erf, 1, 1)


def erf(a: np.ndarray) -> np.ndarray:
    """The error function, exact to float64 (NumPy has none: ``math.erf`` per element, about
    0.1 us each, so gelu costs more than the other activations)."""
    return np.asarray(_ERF(a), dtype=a.dtype)


@register_op(higher_order=True)
class Erf(Op):
    """The error function; its derivative is ``2 / sqrt(pi) * exp(-x**2)`` (gelu uses it)."""

    name = "erf"

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return erf(a)

    @staticmethod
    def vjp(ctx, g):
        return (g * (2.0 / math.sqrt(math.pi)) * ctx.xp.exp(-(ctx.a * ctx.a)),)


def _split_ties(ctx, g, first_wins):
    na, nb = ctx.needs_input_grad
    half = np.where(ctx.tie, 0.5, 1.0).astype(g.dtype)
    ga = g * np.where(first_wins | ctx.tie, half, 0) if na else None
    gb = g * np.where(~first_wins | ctx.tie, half, 0) if nb else None
    return ga, gb


@register_op(smooth=False, higher_order=True)
class Maximum(Op):
    name = "maximum"

    @staticmethod
    def forward(ctx, a, b):
        ctx.first, ctx.tie = a > b, a == b
        return np.maximum(a, b)

    @staticmethod
    def vjp(ctx, g):
        return _split_ties(ctx, g, ctx.first)


@register_op(smooth=False, higher_order=True)
class Minimum(Op):
    name = "minimum"

    @staticmethod
    def forward(ctx, a, b):
        ctx.first, ctx.tie = a < b, a == b
        return np.minimum(a, b)

    @staticmethod
    def vjp(ctx, g):
        return _split_ties(ctx, g, ctx.first)


@register_op(smooth=False, higher_order=True)
class Clip(Op):
    """Clamp to ``[min, max]`` (either may be None); the gradient passes where min <= a <= max."""

    name = "clip"

    @staticmethod
    def forward(ctx, a, *, min=None, max=None):
        inside = np.ones(a.shape, dtype=bool)
        if min is not None:
            inside &= a >= min
        if max is not None:
            inside &= a <= max
        ctx.inside = inside
        return np.clip(a, min, max)

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.inside,)


@register_op(linear_in=(1, 2), higher_order=True)
class Where(Op):
    """``where(cond, a, b)``: ``a`` where cond is true, else ``b`` (all three broadcast)."""

    name = "where"

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return np.where(cond, a, b)

    @staticmethod
    def vjp(ctx, g):
        _, na, nb = ctx.needs_input_grad
        c, xp = ctx.cond, ctx.xp
        return None, (xp.where(c, g, 0) if na else None), (xp.where(c, 0, g) if nb else None)


@register_op(linear_in=(0,), higher_order=True)
class Clone(Op):
    name = "clone"

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def vjp(ctx, g):
        return (g,)


@register_op(linear_in=(0,), higher_order=True)
class Cast(Op):
    """Convert to ``dtype``; the gradient is converted back to the input's dtype."""

    name = "cast"

    @staticmethod
    def forward(ctx, a, *, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def vjp(ctx, g):
        return (g.astype(ctx.dtype),)
