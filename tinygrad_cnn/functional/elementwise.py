"""Elementwise functions: arithmetic, nonlinearities, comparisons that select, casts.

Each applies one op of :mod:`tinygrad_cnn.ops.elementwise`. Tie rules are the ops' (see there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import dtypes
from tinygrad_cnn.engine import apply, as_tensor, operands
from tinygrad_cnn.ops.elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Clone,
    Div,
    Exp,
    LeakyRelu,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from tinygrad_cnn.ops.unary import Rounding
from tinygrad_cnn.tensor import Tensor


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    return apply(Add, operands(input, other if alpha == 1 else mul(other, alpha)), {})


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    return apply(Sub, operands(input, other if alpha == 1 else mul(other, alpha)), {})


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    return apply(Mul, operands(a, b), {})


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``input / other`` with broadcasting (true division, integers giving floats); with
    ``rounding_mode`` ``"trunc"`` or ``"floor"`` the quotient rounded that way (gradient zero),
    integers staying integers, as ``torch.div``."""
    a, b = operands(input, other)
    if rounding_mode is None:
        if a.dtype.kind in "biu" and b.dtype.kind in "biu":  # true division: the default float
            a, b = a.to(dtypes.get_default_dtype()), b.to(dtypes.get_default_dtype())
        return apply(Div, (a, b), {})
    _args.choice("div", "rounding_mode", rounding_mode, ("trunc", "floor"))
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        x, y = np.broadcast_arrays(a._data, b._data)
        if np.any(y == 0):
            raise RuntimeError("div: integer division by zero")
        q = np.floor_divide(x, y)
        if rounding_mode == "trunc":  # floor and trunc differ where the division is inexact
            q = q + ((q < 0) & (q * y != x))
        return Tensor._wrap(q, False)
    return apply(Rounding, (apply(Div, (a, b), {}),), {"fn": rounding_mode})


def neg(a: Any) -> Tensor:
    """``-a``."""
    return apply(Neg, (as_tensor(a),), {})


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b``; ``b`` may be a number or a tensor (its gradient needs ``a > 0``)."""
    return apply(Pow, operands(a, b), {})


def exp(a: Any) -> Tensor:
    """Elementwise ``e**a``."""
    return apply(Exp, (as_tensor(a),), {})


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    return apply(Log, (as_tensor(a),), {})


def sqrt(a: Any) -> Tensor:
    """Elementwise square root (its gradient ``1 / (2 sqrt(a))`` needs ``a > 0``)."""
    return apply(Sqrt, (as_tensor(a),), {})


def abs(a: Any) -> Tensor:
    """``|a|``; the gradient at 0 is 0."""
    return apply(Abs, (as_tensor(a),), {})


def relu(a: Any, inplace: bool = False) -> Tensor:
    """``max(a, 0)``; the gradient at 0 is 0. ``inplace`` is accepted for PyTorch's
    signature; the result is always a new tensor.

    >>> relu(Tensor([-1.0, 0.0, 2.0]))
    Tensor([0., 0., 2.], dtype=float32)
    """
    return apply(Relu, (as_tensor(a),), {})


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    """``input`` where positive, else ``negative_slope * input`` (the gradient at 0 is the slope),
    as ``torch.nn.functional.leaky_relu``.

    >>> leaky_relu(Tensor([-2.0, 0.0, 3.0]), 0.1)
    Tensor([-0.2,  0. ,  3. ], dtype=float32)
    """
    slope = _args.finite("leaky_relu", "negative_slope", negative_slope)
    return apply(LeakyRelu, (as_tensor(input),), {"negative_slope": slope})


def sigmoid(a: Any) -> Tensor:
    """``1 / (1 + exp(-a))``, computed without overflow."""
    return apply(Sigmoid, (as_tensor(a),), {})


def tanh(a: Any) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return apply(Tanh, (as_tensor(a),), {})


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum with broadcasting; where ``a == b`` each gets half the gradient."""
    return apply(Maximum, operands(a, b), {})


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum with broadcasting; where ``a == b`` each gets half the gradient."""
    return apply(Minimum, operands(a, b), {})


def clip(a: Any, min: Any = None, max: Any = None) -> Tensor:
    """Clamp into ``[min, max]``; the gradient passes where ``min <= a <= max`` (bounds included).
    Tensor bounds clamp elementwise (``maximum``/``minimum``, with their gradients).

    >>> clip(Tensor([-2.0, 0.5, 3.0]), -1, 1)
    Tensor([-1. ,  0.5,  1. ], dtype=float32)
    """
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a if min is None else maximum(a, min)
        return out if max is None else minimum(out, max)
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    return apply(Clip, (as_tensor(a),), {"min": min, "max": max})


clamp = clip


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` is true, else ``other``; all three broadcast together."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = operands(input, other)
    return apply(Where, (Tensor._wrap(cond, False), a, b), {})


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` is true, else ``input`` (mask broadcast to input's shape);
    the filled elements get no gradient."""
    a = as_tensor(input)
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
    try:
        ok = np.broadcast_shapes(m.shape, a.shape) == a.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"masked_fill: mask of shape {m.shape} does not broadcast to {a.shape}")
    v = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, a.dtype), False)
    return apply(Where, (Tensor._wrap(m, False), v.to(a.dtype), a), {})


def clone(a: Any) -> Tensor:
    """A copy that stays in the graph."""
    return apply(Clone, (as_tensor(a),), {})


def cast(a: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype``. Only floating results can carry gradients."""
    a = as_tensor(a)
    dtype = dtypes.as_dtype("cast", dtype)
    if a.dtype == dtype:
        return a
    if a.requires_grad and dtype.kind != "f":  # the result leaves the graph, as in PyTorch
        return Tensor._wrap(a._data.astype(dtype), False)
    return apply(Cast, (a,), {"dtype": dtype})
