"""Reductions with PyTorch's names and meanings: ``dim`` (None: all dims; an int; a tuple of
ints) and ``keepdim``, with NumPy's ``axis`` and ``keepdims`` accepted as aliases.

``max``/``min`` with a ``dim`` return ``(values, indices)`` as PyTorch does, the gradient going
to the element at the index; without one, the maximum of all elements, whose gradient tied
maxima share equally (as ``amax``/``amin``, and PyTorch's ``max()``, do).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import dtypes
from tinygrad_cnn.engine import apply, as_tensor
from tinygrad_cnn.functional.elementwise import abs, maximum, minimum, pow, sqrt
from tinygrad_cnn.ops.reduce import LogSumExp, Max, Mean, Min, Sum, Var
from tinygrad_cnn.ops.shape import GetItem
from tinygrad_cnn.tensor import Tensor


class ReturnTypes(NamedTuple):
    """``(values, indices)``, as ``torch.return_types.max``/``min``."""

    values: Tensor
    indices: Tensor


def _dims(fn: str, dim: Any, axis: Any, keepdim: Any, keepdims: Any) -> tuple[Any, bool]:
    """PyTorch's ``dim``/``keepdim``, or NumPy's ``axis``/``keepdims`` for them (not both)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{fn}: got both dim and its alias axis; pass one")
        dim = axis
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{fn}: got both keepdim and its alias keepdims; pass one")
        keepdim = keepdims
    return dim, bool(keepdim)


def _reduce(op: Any, a: Any, dim: Any, keepdim: bool, nonempty: bool = False, **kw) -> Tensor:
    """Normalise ``dim`` and apply a reduction op; ``nonempty`` refuses empty dims (max, ...)."""
    a = as_tensor(a)
    axes = _args.axes(op.name, dim, a.ndim)
    if nonempty and any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"{op.name}: cannot reduce over an empty dimension (shape {a.shape})")
    return apply(op, (a,), {"axis": axes, "keepdims": bool(keepdim), **kw})


def _accumulating(fn: str, a: Tensor, dtype: Any) -> Tensor:
    """``a`` in the dtype a sum accumulates in: ``dtype`` if given; bool and integers as int64."""
    if dtype is not None:
        return a.to(dtypes.as_dtype(fn, dtype))
    return a.to(dtypes.int64) if a.dtype.kind in "biu" else a


def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
        axis: Any = None, keepdims: Any = None) -> Tensor:  # fmt: skip
    """Sum over ``dim`` (None: all); integers and bools sum as int64, as PyTorch.

    >>> sum(Tensor([[1.0, 2.0], [3.0, 4.0]]), dim=0)
    Tensor([4., 6.], dtype=float32)
    """
    if axis is not None or keepdims is not None:
        dim, keepdim = _dims("sum", dim, axis, keepdim, keepdims)
    a = as_tensor(input)
    if dtype is not None or a._data.dtype.kind != "f":
        a = _accumulating("sum", a, dtype)
    return _reduce(Sum, a, dim, bool(keepdim))


def mean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: Any = None) -> Tensor:  # fmt: skip
    """Mean over ``dim`` (None: all) of a floating tensor (or of ``dtype``)."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _dims("mean", dim, axis, keepdim, keepdims)
    a = as_tensor(input)
    if dtype is not None:
        a = a.to(dtypes.as_dtype("mean", dtype))
    if a.dtype.kind != "f":
        raise RuntimeError(
            f"mean: input dtype should be floating point, got {a.dtype}; convert with .float() "
            "or pass dtype="
        )
    return _reduce(Mean, a, dim, keepdim)


def amax(input: Any, dim: Any = (), keepdim: bool = False, *, axis: Any = None,
         keepdims: Any = None) -> Tensor:  # fmt: skip
    """The maximum over ``dim`` (``()`` or None: all dims); tied maxima share the gradient."""
    dim, keepdim = _dims("amax", dim, axis, keepdim, keepdims)
    return _reduce(Max, input, None if dim == () else dim, keepdim, nonempty=True)


def amin(input: Any, dim: Any = (), keepdim: bool = False, *, axis: Any = None,
         keepdims: Any = None) -> Tensor:  # fmt: skip
    """The minimum over ``dim`` (``()`` or None: all dims); tied minima share the gradient."""
    dim, keepdim = _dims("amin", dim, axis, keepdim, keepdims)
    return _reduce(Min, input, None if dim == () else dim, keepdim, nonempty=True)


def _arg(fn: str, a: Tensor, dim: Any, keepdim: bool, pick: Any) -> Tensor:
    if a.numel() == 0:
        raise ValueError(f"{fn}: cannot reduce an empty tensor (shape {a.shape})")
    if dim is None:
        out = np.asarray(pick(a._data.reshape(-1)), dtype=np.int64)
        return Tensor._wrap(out.reshape((1,) * a.ndim) if keepdim else out, False)
    d = _args.axis(fn, dim, a.ndim)
    if a.ndim and a.shape[d] == 0:
        raise ValueError(f"{fn}: cannot reduce over an empty dimension (shape {a.shape})")
    out = pick(a._data, axis=d, keepdims=keepdim) if a.ndim else np.asarray(0)
    return Tensor._wrap(np.asarray(out, dtype=np.int64), False)


def argmax(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: Any = None) -> Tensor:  # fmt: skip
    """The index of the (first) maximum over ``dim``, int64; None: in the flattened tensor."""
    dim, keepdim = _dims("argmax", dim, axis, keepdim, keepdims)
    return _arg("argmax", as_tensor(input), dim, keepdim, np.argmax)


def argmin(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: Any = None) -> Tensor:  # fmt: skip
    """The index of the (first) minimum over ``dim``, int64; None: in the flattened tensor."""
    dim, keepdim = _dims("argmin", dim, axis, keepdim, keepdims)
    return _arg("argmin", as_tensor(input), dim, keepdim, np.argmin)


def _extreme(fn: str, input: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any, other: Any):
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
        return (maximum if fn == "max" else minimum)(input, dim)
    if other is not None:
        return (maximum if fn == "max" else minimum)(input, other)
    dim, keepdim = _dims(fn, dim, axis, keepdim, keepdims)
    a = as_tensor(input)
    if dim is None:
        return _reduce(Max if fn == "max" else Min, a, None, keepdim, nonempty=True)
    d = _args.axis(fn, dim, a.ndim)
    idx = _arg(fn, a, d, True, np.argmax if fn == "max" else np.argmin)  # (..., 1, ...)
    values = gather(a, d, idx)
    if not keepdim and a.ndim:
        shape = a.shape[:d] + a.shape[d + 1 :]
        values, idx = values.reshape(shape), Tensor._wrap(idx._data.reshape(shape), False)
    return ReturnTypes(values, idx)


def max(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: Any = None, other: Any = None) -> Any:  # fmt: skip
    """``max(input)``: the largest element; ``max(input, dim)``: ``(values, indices)`` along
    ``dim``; ``max(input, other)``: the elementwise maximum. As ``torch.max``.

    >>> values, indices = max(Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 7.0], [1, 0])
    """
    return _extreme("max", input, dim, keepdim, axis, keepdims, other)


def min(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: Any = None, other: Any = None) -> Any:  # fmt: skip
    """``min(input)``, ``min(input, dim)`` -> ``(values, indices)``, or ``min(input, other)``."""
    return _extreme("min", input, dim, keepdim, axis, keepdims, other)


def gather(input: Any, dim: int, index: Any) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for ``dim=0`` (and so on), as ``torch.gather``:
    ``index`` (int64) has input's number of dims; the gradient accumulates at the indices."""
    a = as_tensor(input)
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    d = _args.axis("gather", dim, a.ndim)
    if idx.dtype.kind not in "iu" or idx.ndim != a.ndim:
        raise TypeError(
            f"gather: index must be an integer tensor with {a.ndim} dims, got {idx.dtype} "
            f"of shape {idx.shape}"
        )
    if any(idx.shape[k] > a.shape[k] for k in range(a.ndim) if k != d):
        raise ValueError(f"gather: index {idx.shape} is larger than input {a.shape} off dim {d}")
    if idx.size and (idx.min() < -a.shape[d] or idx.max() >= a.shape[d]):
        raise IndexError(f"gather: index out of range for dim {d} of size {a.shape[d]}")
    grid = list(np.indices(idx.shape, sparse=True))
    grid[d] = idx
    return apply(GetItem, (a,), {"index": tuple(grid)})


def logsumexp(input: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
              keepdims: Any = None) -> Tensor:  # fmt: skip
    """``log(sum(exp(input), dim))``, stable for large inputs."""
    dim, keepdim = _dims("logsumexp", dim, axis, keepdim, keepdims)
    return _reduce(LogSumExp, input, dim, keepdim, nonempty=True)


def _correction(fn: str, dim: Any, unbiased: Any, correction: Any) -> tuple[Any, float]:
    if isinstance(dim, bool):  # var(x, True): the unbiased flag, as torch.var(input, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{fn}: pass unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    _args.finite(fn, "correction", correction, 0)
    return dim, correction


def var(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None, axis: Any = None, keepdims: Any = None) -> Tensor:  # fmt: skip
    """Variance over ``dim``, divided by ``N - correction``: 1 (unbiased, the default) unless
    ``unbiased=False`` or ``correction`` says otherwise, as ``torch.var``.

    >>> x = Tensor([1.0, 2.0, 3.0, 4.0])
    >>> round(var(x).item(), 4), var(x, unbiased=False).item(), var(x, correction=0).item()
    (1.6667, 1.25, 1.25)
    """
    dim, keepdim = _dims("var", dim, axis, keepdim, keepdims)
    dim, correction = _correction("var", dim, unbiased, correction)
    return _reduce(Var, input, dim, keepdim, correction=correction)


def std(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None, axis: Any = None, keepdims: Any = None) -> Tensor:  # fmt: skip
    """Standard deviation: the square root of :func:`var`, with its arguments."""
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                    keepdims=keepdims))  # fmt: skip


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:  # fmt: skip
    """The ``p``-norm over ``dim`` (None: all elements): 2 or ``"fro"`` (the default), 1, inf,
    -inf, or any other number, as ``torch.norm``."""
    a = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    if p in ("fro", 2, 2.0):
        return sqrt(sum(a * a, dim, keepdim))
    if p in (np.inf, float("inf")):
        return amax(abs(a), () if dim is None else dim, keepdim)
    if p in (-np.inf, float("-inf")):
        return amin(abs(a), () if dim is None else dim, keepdim)
    _args.finite("norm", "p", p)
    if p == 1:
        return sum(abs(a), dim, keepdim)
    if p == 0:
        return sum((a != 0).to(a.dtype), dim, keepdim)
    return pow(sum(pow(abs(a), p), dim, keepdim), 1.0 / p)
