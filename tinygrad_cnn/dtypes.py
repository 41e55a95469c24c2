"""Dtypes with PyTorch's names and PyTorch's promotion rules.

The dtype objects are NumPy's (``tinygrad_cnn.float32 is np.dtype("float32")``), so a Tensor's
``.dtype`` compares equal to both. Promotion follows ``torch.result_type``:

- operands fall in categories, bool < integer < floating;
- tensors with dimensions decide the dtype among themselves (:func:`promote_types`);
- a zero-dimensional tensor changes it only when its category is higher (``int_tensor +
  tensor(2.5, dtype=float64)`` is float64), and a Python number only when its category is
  higher, to the default dtype of that category (``int_tensor * 0.5`` is float32,
  ``float16_tensor * 2.0`` stays float16, ``bool_tensor + 1`` is int64).

>>> import numpy as np
>>> result_type(np.zeros(3, np.int64), 0.5)
dtype('float32')
>>> result_type(np.zeros(3, np.float32), np.zeros((), np.float64))
dtype('float32')
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float16 = half = np.dtype("float16")
float32 = float = np.dtype("float32")
float64 = double = np.dtype("float64")
uint8 = np.dtype("uint8")
int8 = np.dtype("int8")
int16 = short = np.dtype("int16")
int32 = int = np.dtype("int32")
int64 = long = np.dtype("int64")
bool = np.dtype("bool")

_default = [float32]  # the default floating dtype (a list: set_default_dtype changes it)
_BUILTIN_BOOL, _BUILTIN_INT = builtins.bool, builtins.int  # this module's bool and int are dtypes


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors made from Python numbers (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d: Any) -> None:
    """Change the default floating dtype: float16, float32 or float64."""
    dt = as_dtype("set_default_dtype", d)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dt}")
    _default[0] = dt


def as_dtype(fn: str, d: Any) -> np.dtype:
    """``d`` (a dtype, a NumPy type or a name such as ``"float32"``) as a NumPy dtype; TypeError
    naming ``fn`` for anything else (``"banana"``)."""
    try:
        dt = np.dtype(d)
    except TypeError:
        raise TypeError(f"{fn}: dtype must be a dtype such as float32, got {d!r}") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{fn}: unsupported dtype {dt}; use a bool, integer or floating dtype")
    return dt


def category(dt: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating dtypes."""
    return 0 if dt.kind == "b" else 2 if dt.kind == "f" else 1


def _scalar_dtype(x: Any) -> np.dtype:
    if isinstance(x, (_BUILTIN_BOOL, np.bool_)):
        return bool
    if isinstance(x, (_BUILTIN_INT, np.integer)):
        return int64
    return get_default_dtype()


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The smallest dtype both convert to, as ``torch.promote_types``: the higher category wins
    (``int64`` with ``float32`` is float32, where NumPy says float64); within one, NumPy's."""
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _promote(dts: list) -> np.dtype | None:
    out = None
    for dt in dts:
        out = dt if out is None else promote_types(out, dt)
    return out


def result_type(*operands: Any) -> np.dtype:
    """The dtype an op on ``operands`` (arrays, Tensors' arrays, or Python and NumPy numbers)
    computes in, by PyTorch's rules (see the module docstring)."""
    dims, zero_dims, scalars = [], [], []
    for x in operands:
        if isinstance(x, np.ndarray):
            (dims if x.ndim else zero_dims).append(x.dtype)
        else:
            scalars.append(_scalar_dtype(x))
    result = _promote(dims)
    for group in (zero_dims, scalars):
        if not group:
            continue
        top = max(map(category, group))
        if result is None or top > category(result):
            same = [d for d in group if category(d) == top]
            candidate = _promote(same) if group is zero_dims else same[0]
            if group is scalars and top == 2:
                candidate = get_default_dtype()
            result = candidate
    return result if result is not None else get_default_dtype()


_TYPE_NAMES = {
    float32: "torch.FloatTensor",
    float64: "torch.DoubleTensor",
    float16: "torch.HalfTensor",
    int64: "torch.LongTensor",
    int32: "torch.IntTensor",
    int16: "torch.ShortTensor",
    int8: "torch.CharTensor",
    uint8: "torch.ByteTensor",
    bool: "torch.BoolTensor",
}


def type_name(dt: np.dtype) -> str:
    """PyTorch's name for a tensor type of this dtype (``Tensor.type()``)."""
    return _TYPE_NAMES[np.dtype(dt)]


def from_type_name(name: Any) -> np.dtype:
    """A dtype from PyTorch's tensor type name (``"torch.FloatTensor"``) or from a dtype."""
    for dt, known in _TYPE_NAMES.items():
        if name == known:
            return dt
    return as_dtype("type", name)
