"""Sorting, selection, running sums, products, truth tests and counting, as PyTorch's.

``sort``, ``topk``, ``kthvalue`` and ``median`` pick their indices on the array and their values
with :func:`~tinygrad_cnn.functional.gather`, so the gradient goes to the picked elements.
``cumsum`` and ``prod`` are ops with their own VJPs. ``all``, ``any``, ``unique``, ``bincount``,
``histc``, ``searchsorted`` and ``bucketize`` answer with new Tensors outside the graph.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import dtypes
from tinygrad_cnn.engine import apply, as_tensor
from tinygrad_cnn.functional.elementwise import where
from tinygrad_cnn.functional.reduce import ReturnTypes, amax, amin, gather, mean, std, sum, var
from tinygrad_cnn.functional.shape import cat
from tinygrad_cnn.ops.reduce import Cumsum, Prod
from tinygrad_cnn.tensor import Tensor


class MinMax(NamedTuple):
    """``(min, max)``, as ``torch.return_types.aminmax``."""

    min: Tensor
    max: Tensor


def _wrap(values: Any, dtype: Any = None) -> Tensor:
    return Tensor._wrap(np.asarray(values, dtype=dtype), False)


def _dim(fn: str, dim: Any, a: Tensor) -> int:
    return _args.axis(fn, dim, a.ndim) if a.ndim else 0


def _argsort(a: Tensor, dim: int, descending: bool) -> np.ndarray:
    """Stable sorting indices along ``dim`` (descending keeps equal elements in order too)."""
    x = a._data if a.ndim else a._data.reshape(1)
    if descending:
        x = -x.astype(np.float64) if x.dtype.kind in "bu" else -x
    order = np.argsort(x, axis=dim, kind="stable")
    return order if a.ndim else order.reshape(())


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> ReturnTypes:
    """``(values, indices)`` sorted along ``dim`` (ties keep their order: stable always)."""
    a = as_tensor(input)
    d = _dim("sort", dim, a)
    order = _argsort(a, d, bool(descending))
    values = gather(a, d, order) if a.ndim else a.clone()
    return ReturnTypes(values, _wrap(order, np.int64))


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64)."""
    return sort(input, dim, descending, stable).indices


def msort(input: Any) -> Tensor:
    """``sort(input, dim=0).values``."""
    return sort(input, 0).values


def topk(
    input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> ReturnTypes:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    a = as_tensor(input)
    d = _dim("topk", dim, a)
    size = a.shape[d] if a.ndim else 1
    if not _args.is_int(k) or not 0 <= k <= size:
        raise RuntimeError(f"topk: k ({k!r}) is out of range for dim {d} of size {size}")
    if a.ndim == 0:
        values, indices = topk(a.reshape(1), k, 0, largest, sorted)
        return ReturnTypes(values.reshape(()), indices.reshape(())) if k else (values, indices)
    order = _argsort(a, d, bool(largest))
    picked = np.take(order, np.arange(k), axis=d)
    return ReturnTypes(gather(a, d, picked), _wrap(picked, np.int64))


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> ReturnTypes:
    """The ``k``-th smallest element along ``dim`` (``k`` from 1) and its index."""
    a = as_tensor(input)
    d = _dim("kthvalue", dim, a)
    size = a.shape[d] if a.ndim else 1
    if not _args.is_int(k) or not 1 <= k <= size:
        raise RuntimeError(f"kthvalue: k ({k!r}) is out of range for dim {d} of size {size}")
    return _pick(a, d, k - 1, keepdim)


def _pick(a: Tensor, d: int, position: int, keepdim: bool) -> ReturnTypes:
    """The element at ``position`` of the sorted ``dim``, and its index."""
    if a.ndim == 0:
        return ReturnTypes(a.clone(), _wrap(0, np.int64))
    order = _argsort(a, d, False)
    index = np.take(order, [position], axis=d)
    values, index = gather(a, d, index), _wrap(index, np.int64)
    if not keepdim:
        values, index = values.squeeze(d), index.squeeze(d)
    return ReturnTypes(values, index)


def median(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """The median (the lower of the two middle elements for an even count, as PyTorch): of all
    elements without ``dim``, else ``(values, indices)`` along ``dim``."""
    a = as_tensor(input)
    if a.numel() == 0:
        raise RuntimeError(f"median: cannot take the median of an empty tensor (shape {a.shape})")
    if dim is None:
        flat = a.reshape(-1)
        return _pick(flat, 0, (flat.shape[0] - 1) // 2, False).values
    d = _dim("median", dim, a)
    size = a.shape[d] if a.ndim else 1
    return _pick(a, d, (size - 1) // 2, keepdim)


def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``; integers and bools accumulate as int64, as PyTorch."""
    a = as_tensor(input)
    if dtype is not None:
        a = a.to(dtypes.as_dtype("cumsum", dtype))
    elif a.dtype.kind in "biu":
        a = a.to(dtypes.int64)
    if a.ndim == 0:
        return a.clone()
    return apply(Cumsum, (a,), {"axis": _dim("cumsum", dim, a)})


def prod(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all elements, or along one ``dim``; integers and bools as int64."""
    a = as_tensor(input)
    if dtype is not None:
        a = a.to(dtypes.as_dtype("prod", dtype))
    elif a.dtype.kind in "biu":
        a = a.to(dtypes.int64)
    if dim is None:
        out = apply(Prod, (a.reshape(-1),), {"axis": 0, "keepdims": False})
        return out.reshape((1,) * a.ndim) if keepdim else out
    if a.ndim == 0:
        return a.clone()
    return apply(Prod, (a,), {"axis": _dim("prod", dim, a), "keepdims": bool(keepdim)})


def _truth(fn: str, reduce: Any, input: Any, dim: Any, keepdim: bool) -> Tensor:
    a = as_tensor(input)
    axes = _args.axes(fn, dim, a.ndim)
    return _wrap(reduce(a._data.astype(bool), axis=axes, keepdims=bool(keepdim)))


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True if every element (along ``dim``) is nonzero: a bool Tensor."""
    return _truth("all", np.all, input, dim, keepdim)


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True if some element (along ``dim``) is nonzero: a bool Tensor."""
    return _truth("any", np.any, input, dim, keepdim)


def count_nonzero(input: Any, dim: Any = None) -> Tensor:
    """The number of nonzero elements (along ``dim``), int64."""
    a = as_tensor(input)
    axes = _args.axes("count_nonzero", dim, a.ndim)
    return _wrap(np.count_nonzero(a._data, axis=axes), np.int64)


def nansum(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The sum, NaN elements counted as zero."""
    a = as_tensor(input)
    return sum(where(_wrap(np.isnan(a._data)), 0, a), dim, keepdim)


def nanmean(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The mean of the elements that are not NaN."""
    a = as_tensor(input)
    count = (~np.isnan(a._data)).sum(axis=_args.axes("nanmean", dim, a.ndim), keepdims=keepdim)
    mean = nansum(a, dim, keepdim) / _wrap(np.maximum(count, 1), a.dtype)
    return where(_wrap(count == 0), float("nan"), mean)  # all NaN: NaN, as PyTorch


def var_mean(input: Any, dim: Any = None, *, correction: Any = 1, keepdim: bool = False):
    """``(var, mean)`` over ``dim``."""
    return var(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Any, dim: Any = None, *, correction: Any = 1, keepdim: bool = False):
    """``(std, mean)`` over ``dim``."""
    return std(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def aminmax(input: Any, *, dim: Any = None, keepdim: bool = False) -> MinMax:
    """``(min, max)`` over ``dim`` (None: all elements)."""
    d = () if dim is None else dim
    return MinMax(amin(input, d, keepdim), amax(input, d, keepdim))


def diff(input: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    """``n``-th forward difference along ``dim`` (after joining ``prepend`` and ``append``)."""
    from_cat = [t for t in (prepend, as_tensor(input), append) if t is not None]
    a = as_tensor(input)
    d = _args.axis("diff", dim, a.ndim)
    if len(from_cat) > 1:
        a = cat([as_tensor(t) for t in from_cat], d)
    if not _args.is_int(n) or n < 0:
        raise ValueError(f"diff: n must be an int >= 0, got {n!r}")
    for _ in range(n):
        lo = (slice(None),) * d + (slice(None, -1),)
        hi = (slice(None),) * d + (slice(1, None),)
        a = (a[hi] != a[lo]) if a.dtype.kind == "b" else a[hi] - a[lo]
    return a


def unique(
    input: Any,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: Any = None,
) -> Any:
    """The distinct elements, sorted (or distinct slices along ``dim``); with
    ``return_inverse``/``return_counts`` a tuple adding where each element went and how many
    times each occurs."""
    a = as_tensor(input)
    axis = None if dim is None else _args.axis("unique", dim, a.ndim)
    values, inverse, counts = np.unique(a._data, return_inverse=True, return_counts=True, axis=axis)
    out = [_wrap(values)]
    if return_inverse:
        out.append(_wrap(inverse.reshape(a.shape if axis is None else -1), np.int64))
    if return_counts:
        out.append(_wrap(counts, np.int64))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ... occurs in a 1-D tensor of non-negative ints (or the sum
    of their ``weights``)."""
    a = as_tensor(input)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise RuntimeError(f"bincount: input must be a 1-D integer tensor, got {a.dtype} {a.shape}")
    if a.numel() and a._data.min() < 0:
        raise RuntimeError("bincount: input must be non-negative")
    if not _args.is_int(minlength) or minlength < 0:
        raise ValueError(f"bincount: minlength must be an int >= 0, got {minlength!r}")
    w = None if weights is None else as_tensor(weights)
    if w is not None and w.shape != a.shape:
        raise RuntimeError(f"bincount: weights {w.shape} must have the shape of input {a.shape}")
    out = np.bincount(a._data, None if w is None else w._data, minlength=minlength)
    kind = np.int64 if w is None else (w.dtype if w.dtype.kind == "f" else np.float64)
    return _wrap(out, kind)


def histc(input: Any, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts in ``bins`` equal bins between ``min`` and ``max`` (both 0: the data's own
    range); elements outside are ignored."""
    a = as_tensor(input)
    bins = _args.positive_int("histc", "bins", bins)
    lo, hi = float(min), float(max)
    if lo == hi and a.numel():
        lo, hi = float(a._data.min()), float(a._data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max ({max}) must be larger than min ({min})")
    counts, _ = np.histogram(a._data, bins=bins, range=(lo, hi))
    return _wrap(counts, a.dtype if a.dtype.kind == "f" else np.float32)


def searchsorted(
    sorted_sequence: Any, input: Any, *, out_int32: bool = False, right: bool = False,
    side: str | None = None, sorter: Any = None,
) -> Tensor:  # fmt: skip
    """Where ``input`` would go in ``sorted_sequence`` (per row, for an N-D sequence): the
    first such place, or with ``right=True`` (``side="right"``) the last."""
    seq, x = as_tensor(sorted_sequence), as_tensor(input)
    if side is not None:
        _args.choice("searchsorted", "side", side, ("left", "right"))
        right = side == "right"
    kind = "right" if right else "left"
    s = seq._data if sorter is None else np.take_along_axis(seq._data, as_tensor(sorter)._data, -1)
    if s.ndim <= 1:
        out = np.searchsorted(s, x._data, side=kind)
    else:
        if s.shape[:-1] != x.shape[:-1]:
            raise RuntimeError(
                f"searchsorted: the sequence {s.shape} and input {x.shape} differ before "
                "the last dim"
            )
        rows = s.reshape(-1, s.shape[-1]), x._data.reshape(-1, x.shape[-1])
        out = np.stack([np.searchsorted(r, v, side=kind) for r, v in zip(*rows)]).reshape(x.shape)
    return _wrap(out, np.int32 if out_int32 else np.int64)


def bucketize(
    input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False
) -> Tensor:
    """The bucket of each element: ``i`` with ``boundaries[i-1] < x <= boundaries[i]``
    (``right=True``: ``boundaries[i-1] <= x < boundaries[i]``)."""
    b = as_tensor(boundaries)
    if b.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape {b.shape}")
    return searchsorted(b, input, out_int32=out_int32, right=right)
