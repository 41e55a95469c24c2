"""More of PyTorch's pointwise functions: trigonometry, rounding, remainders, interpolation,
comparisons by name and the predicates (``isnan``, ``isclose``, ``logical_and``, ...).

The differentiable ones apply the ops of :mod:`tinygrad_cnn.ops.unary` or compose existing ops
(``tan`` is ``sin / cos``), so their gradients are those ops' checked VJPs. Comparisons and
predicates return bool Tensors outside the graph, as PyTorch's do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor, operands
from tinygrad_cnn.functional.elementwise import (
    abs,
    clamp,
    div,
    exp,
    log,
    mul,
    neg,
    sqrt,
    sub,
    where,
)
from tinygrad_cnn.ops.unary import Cos, Expm1, Log1p, Rounding, Sin
from tinygrad_cnn.tensor import Tensor

# PyTorch's other names for the arithmetic
multiply, divide, true_divide, subtract, negative, absolute = mul, div, div, sub, neg, abs


def sin(input: Any) -> Tensor:
    """Elementwise sine."""
    return apply(Sin, (as_tensor(input),), {})


def cos(input: Any) -> Tensor:
    """Elementwise cosine."""
    return apply(Cos, (as_tensor(input),), {})


def tan(input: Any) -> Tensor:
    """Elementwise tangent, ``sin / cos``."""
    return div(sin(input), cos(input))


def sinh(input: Any) -> Tensor:
    """Hyperbolic sine, ``(exp(x) - exp(-x)) / 2``."""
    x = as_tensor(input)
    return (exp(x) - exp(-x)) * 0.5


def cosh(input: Any) -> Tensor:
    """Hyperbolic cosine, ``(exp(x) + exp(-x)) / 2``."""
    x = as_tensor(input)
    return (exp(x) + exp(-x)) * 0.5


def log1p(input: Any) -> Tensor:
    """``log(1 + x)``, accurate for tiny ``x``."""
    return apply(Log1p, (as_tensor(input),), {})


def expm1(input: Any) -> Tensor:
    """``exp(x) - 1``, accurate for tiny ``x``."""
    return apply(Expm1, (as_tensor(input),), {})


def log2(input: Any) -> Tensor:
    """Base-2 logarithm."""
    return log(input) * (1 / math.log(2))


def log10(input: Any) -> Tensor:
    """Base-10 logarithm."""
    return log(input) * (1 / math.log(10))


def exp2(input: Any) -> Tensor:
    """``2 ** x``."""
    return exp(as_tensor(input) * math.log(2))


def square(input: Any) -> Tensor:
    """``x * x``."""
    x = as_tensor(input)
    return mul(x, x)


def rsqrt(input: Any) -> Tensor:
    """``1 / sqrt(x)``."""
    return div(1.0, sqrt(input))


def reciprocal(input: Any) -> Tensor:
    """``1 / x``."""
    return div(1.0, input)


def _rounding(fn: str, input: Any) -> Tensor:
    x = as_tensor(input)
    if x.dtype.kind in "biu" and fn != "sign":
        return x.clone()  # integers are their own floor, ceil, round and trunc
    return apply(Rounding, (x,), {"fn": fn})


def floor(input: Any) -> Tensor:
    """The largest integer <= x (gradient zero)."""
    return _rounding("floor", input)


def ceil(input: Any) -> Tensor:
    """The smallest integer >= x (gradient zero)."""
    return _rounding("ceil", input)


def trunc(input: Any) -> Tensor:
    """x rounded toward zero (gradient zero)."""
    return _rounding("trunc", input)


fix = trunc


def sign(input: Any) -> Tensor:
    """-1, 0 or 1 (gradient zero)."""
    return _rounding("sign", input)


sgn = sign


def round(input: Any, *, decimals: int = 0) -> Tensor:
    """Round to ``decimals`` places, halves to even (as PyTorch); gradient zero."""
    if not _args.is_int(decimals):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if decimals == 0:
        return _rounding("round", input)
    scale = 10.0**decimals
    return _rounding("round", as_tensor(input) * scale) / scale


def frac(input: Any) -> Tensor:
    """The fractional part, ``x - trunc(x)``."""
    x = as_tensor(input)
    return x - trunc(x)


def _integer_pair(a: Tensor, b: Tensor) -> bool:
    return a.dtype.kind in "iu" and b.dtype.kind in "iu"


def _int_op(fn: str, ufunc: Any, a: Tensor, b: Tensor) -> Tensor:
    if np.any(b._data == 0):
        raise RuntimeError(f"{fn}: integer division by zero")
    return Tensor._wrap(ufunc(a._data, b._data), False)


def remainder(input: Any, other: Any) -> Tensor:
    """``input - floor(input / other) * other``: the sign of ``other``, as Python's ``%``."""
    a, b = operands(input, other)
    if _integer_pair(a, b):
        return _int_op("remainder", np.remainder, a, b)
    return a - floor(div(a, b)) * b


def fmod(input: Any, other: Any) -> Tensor:
    """``input - trunc(input / other) * other``: the sign of ``input``, as C's ``fmod``."""
    a, b = operands(input, other)
    if _integer_pair(a, b):
        return _int_op("fmod", np.fmod, a, b)
    return a - trunc(div(a, b)) * b


def floor_divide(input: Any, other: Any) -> Tensor:
    """``floor(input / other)``, integers staying integers."""
    a, b = operands(input, other)
    if _integer_pair(a, b):
        return _int_op("floor_divide", np.floor_divide, a, b)
    return floor(div(a, b))


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """``input + weight * (end - input)``."""
    return input + weight * sub(end, input)


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    return as_tensor(input) + mul(tensor1, tensor2) * value


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2``."""
    return as_tensor(input) + div(tensor1, tensor2) * value


def logaddexp(input: Any, other: Any) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow."""
    a, b = operands(input, other)
    m = np.maximum(a._data, b._data)
    m = Tensor._wrap(np.where(np.isfinite(m), m, 0).astype(m.dtype, copy=False), False)
    return log(exp(a - m) + exp(b - m)) + m


def hypot(input: Any, other: Any) -> Tensor:
    """``sqrt(input**2 + other**2)``."""
    a, b = operands(input, other)
    return sqrt(a * a + b * b)


def clamp_min(input: Any, min: Any) -> Tensor:
    """``clamp(input, min=min)``."""
    return clamp(input, min=min)


def clamp_max(input: Any, max: Any) -> Tensor:
    """``clamp(input, max=max)``."""
    return clamp(input, max=max)


def nan_to_num(
    input: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """NaN, +inf and -inf replaced (by 0 and the dtype's largest and lowest finite values by
    default); the gradient passes through the finite elements."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        return x.clone()
    info = np.finfo(x.dtype)
    hi, lo = info.max if posinf is None else posinf, info.min if neginf is None else neginf
    a = x._data
    out = where(Tensor._wrap(np.isnan(a), False), nan, x)
    out = where(Tensor._wrap(np.isposinf(a), False), hi, out)
    return where(Tensor._wrap(np.isneginf(a), False), lo, out)


# -- comparisons and predicates: bool Tensors, outside the graph ----------------------------------


def _bools(values: Any) -> Tensor:
    return Tensor._wrap(np.asarray(values, dtype=bool), False)


def _compare(name: str, ufunc: Any) -> Any:
    def compare(input: Any, other: Any) -> Tensor:
        a, b = operands(input, other)
        return _bools(ufunc(a._data, b._data))

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"``input {name} other`` elementwise, with broadcasting: a bool Tensor."
    return compare


eq = _compare("eq", np.equal)
ne = not_equal = _compare("ne", np.not_equal)
gt = greater = _compare("gt", np.greater)
ge = greater_equal = _compare("ge", np.greater_equal)
lt = less = _compare("lt", np.less)
le = less_equal = _compare("le", np.less_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)


def logical_not(input: Any) -> Tensor:
    """``not x`` elementwise (nonzero is True): a bool Tensor."""
    return _bools(np.logical_not(as_tensor(input)._data))


def isnan(input: Any) -> Tensor:
    """True where the element is NaN."""
    return _bools(np.isnan(as_tensor(input)._data))


def isinf(input: Any) -> Tensor:
    """True where the element is +inf or -inf."""
    return _bools(np.isinf(as_tensor(input)._data))


def isposinf(input: Any) -> Tensor:
    """True where the element is +inf."""
    return _bools(np.isposinf(as_tensor(input)._data))


def isneginf(input: Any) -> Tensor:
    """True where the element is -inf."""
    return _bools(np.isneginf(as_tensor(input)._data))


def isfinite(input: Any) -> Tensor:
    """True where the element is neither NaN nor infinite."""
    return _bools(np.isfinite(as_tensor(input)._data))


def signbit(input: Any) -> Tensor:
    """True where the sign bit is set (negative numbers and -0.0)."""
    return _bools(np.signbit(as_tensor(input)._data))


def isclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise: a bool Tensor."""
    a, b = operands(input, other)
    for name, v in (("rtol", rtol), ("atol", atol)):
        _args.finite("isclose", name, v, 0.0)
    return _bools(np.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=bool(equal_nan)))


def allclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """True if every element is close (:func:`isclose`); a Python bool."""
    a, b = operands(input, other)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"allclose: shapes {a.shape} and {b.shape} do not broadcast") from None
    return bool(isclose(a, b, rtol, atol, equal_nan)._data.all())


def equal(input: Any, other: Any) -> bool:
    """True if both have the same shape and the same elements; a Python bool."""
    a, b = as_tensor(input), as_tensor(other)
    return a.shape == b.shape and bool(np.array_equal(a._data, b._data))
