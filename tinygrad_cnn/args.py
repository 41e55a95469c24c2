"""Turning user arguments into validated ints, pairs, axes and shapes: the one place that does it.

Every function here takes the calling function's name (``fn``) and the argument's name, so its
errors read ``conv2d: stride must be an int or a pair of ints, got 1.5``. It sits in the bottom
layer, beside ``tensor``, so that every layer uses it: data, ops, functional, nn, optim, models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

# the module, not the class: tensor.py's mixins use these checks while tensor.py is loading
from tinygrad_cnn import tensor as _tensor

if TYPE_CHECKING:
    from tinygrad_cnn.ops.geometry import Geometry
    from tinygrad_cnn.tensor import Tensor


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers, but not for bools."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """True for Python and NumPy ints and floats, but not for bools."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def positive_int(fn: str, name: str, value: Any) -> int:
    """``value`` as an int >= 1; ValueError naming ``fn`` and ``name`` otherwise."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    return int(value)


def non_negative_int(fn: str, name: str, value: Any) -> int:
    """``value`` as an int >= 0; ValueError naming ``fn`` and ``name`` otherwise."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{fn}: {name} must be an int >= 0, got {value!r}")
    return int(value)


def int_or_pair(
    fn: str, name: str, value: Any, minimum: int, keep_none: bool = False
) -> tuple[int | None, int | None]:
    """An int or a pair of ints, each >= ``minimum``, as a pair; TypeError/ValueError otherwise.
    With ``keep_none`` an entry of the pair may be None, and stays None."""
    try:
        pair = (value, value) if is_int(value) else tuple(value)
    except TypeError:  # not iterable: a float, None, ...
        pair = ()
    if len(pair) != 2 or not all(is_int(v) or (keep_none and v is None) for v in pair):
        also = " (or None)" if keep_none else ""
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints{also}, got {value!r}")
    a, b = pair
    if (a is not None and a < minimum) or (b is not None and b < minimum):
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value!r}")
    return (None if a is None else int(a)), (None if b is None else int(b))


def choice(fn: str, name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``; ValueError listing them otherwise."""
    if value not in choices:
        raise ValueError(f"{fn}: {name} must be one of {list(choices)}, got {value!r}")
    return value


def axes(fn: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence of ints) as a sorted tuple of non-negative dims."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, fast
        return (axis % ndim,)
    try:
        given = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    except TypeError:  # not iterable: a float, ...
        given = (axis,)
    out = []
    for a in given:
        if not is_int(a):
            raise TypeError(f"{fn}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{fn}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: axis {axis!r} repeats a dimension")
    return tuple(sorted(out)) if ndim else ()


def axis(fn: str, value: Any, ndim: int) -> int:
    """One axis as a non-negative int (0 for a 0-d tensor)."""
    return axes(fn, value, ndim)[0] if ndim else 0


def ints(fn: str, name: str, value: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple of ints; TypeError naming ``fn`` and ``name``
    for anything else (``2.7`` is refused, not truncated)."""
    if is_int(value):
        return (int(value),)
    try:
        seq = None if isinstance(value, (str, bytes)) else tuple(value)
    except TypeError:  # not iterable: a float, None, ...
        seq = None
    if seq is None or not all(map(is_int, seq)):
        raise TypeError(f"{fn}: {name} must be an int or a sequence of ints, got {value!r}")
    return tuple(int(v) for v in seq)


def shape(fn: str, value: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a shape tuple."""
    return ints(fn, "shape", value)


def number(fn: str, name: str, value: Any) -> float | int | bool:
    """A real Python or NumPy number (not None, a string or an array); TypeError otherwise."""
    if not isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a number, got {value!r}")
    return value


def tensor(fn: str, name: str, value: Any) -> Tensor:
    """``value`` itself if it is a Tensor; TypeError naming ``fn`` otherwise (as PyTorch's layers
    refuse lists and arrays)."""
    if not isinstance(value, _tensor.Tensor):
        raise TypeError(
            f"{fn}: {name} must be a Tensor, got {type(value).__name__} (wrap it: Tensor(x))"
        )
    return value


def finite(fn: str, name: str, value: Any, low: float = -np.inf, high: float = np.inf) -> float:
    """A real number in ``[low, high]`` (so never NaN or Inf unless a bound is infinite)."""
    number(fn, name, value)
    if not (low <= value <= high and np.isfinite(value)):
        raise ValueError(f"{fn}: {name} must be a finite number in [{low}, {high}], got {value!r}")
    return float(value)


def floating(fn: str, name: str, t: Tensor) -> Tensor:
    """``t`` must hold floating-point values (integer logits would give a truncated result)."""
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be a floating-point tensor, got dtype {t.dtype}")
    return t


def nchw(fn: str, name: str, t: Tensor) -> None:
    """``t`` must be a 4-D (N, C, H, W) tensor."""
    if t.ndim != 4:
        raise ValueError(f"{fn}: {name} must be 4-D (N, C, H, W), got shape {t.shape}")


def windows_fit(fn: str, geo: Geometry, x_shape: tuple[int, ...], ceil_mode: bool = False):
    """At least one window fits in the padded input; ValueError naming the sizes otherwise.

    Returns the number of windows along H and W.
    """
    h, w = x_shape[2:]
    ho, wo = geo.out_size(h, w, ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{fn}: the kernel ({geo.kh}x{geo.kw}, dilation {(geo.dh, geo.dw)}) is larger than "
            f"the padded input ({h + geo.pt + geo.pb}x{w + geo.pl + geo.pr}) of input {x_shape}"
        )
    return ho, wo
