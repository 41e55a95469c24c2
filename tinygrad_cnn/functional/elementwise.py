"""Elementwise functions: arithmetic, nonlinearities, comparisons that select, casts.

Each applies one op of :mod:`tinygrad_cnn.ops.elementwise`. Tie rules are the ops' (see there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.autograd import apply, as_tensor, operands
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
from tinygrad_cnn.tensor import Tensor


def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    return apply(Add, operands(a, b), {})


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    return apply(Sub, operands(a, b), {})


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    return apply(Mul, operands(a, b), {})


def div(a: Any, b: Any) -> Tensor:
    """``a / b`` with broadcasting."""
    return apply(Div, operands(a, b), {})


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


def relu(a: Any) -> Tensor:
    """``max(a, 0)``; the gradient at 0 is 0.

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


def clip(a: Any, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp into ``[min, max]``; the gradient passes where ``min <= a <= max`` (bounds included).

    >>> clip(Tensor([-2.0, 0.5, 3.0]), -1, 1)
    Tensor([-1. ,  0.5,  1. ], dtype=float32)
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    return apply(Clip, (as_tensor(a),), {"min": min, "max": max})


clamp = clip


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is true, else ``b``; all three broadcast together."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = operands(a, b)
    return apply(Where, (Tensor._wrap(cond, False), a, b), {})


def clone(a: Any) -> Tensor:
    """A copy that stays in the graph."""
    return apply(Clone, (as_tensor(a),), {})


def cast(a: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype``. Only floating results can carry gradients."""
    a = as_tensor(a)
    dtype = np.dtype(dtype)
    if a.requires_grad and dtype.kind != "f":
        raise TypeError(f"cast: cannot cast a tensor that requires grad to {dtype}")
    return apply(Cast, (a,), {"dtype": dtype})
