"""Shape functions: reshape and its relatives, transpose, broadcasting, indexing, joining, padding.

``flatten``, ``squeeze``, ``unsqueeze`` and ``swapaxes`` are compositions of the ``reshape`` and
``transpose`` ops; ``expand`` is ``broadcast_to`` with -1 for kept dims.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor, promote
from tinygrad_cnn.ops.shape import (
    BroadcastTo,
    Concatenate,
    GetItem,
    Pad,
    Reshape,
    SetItem,
    Stack,
    Transpose,
)
from tinygrad_cnn.tensor import Tensor


def _shape_args(fn: str, shape: tuple) -> Any:
    """``f(x, 2, 3)`` or ``f(x, (2, 3))``: PyTorch's methods take either."""
    return shape[0] if len(shape) == 1 and not _args.is_int(shape[0]) else shape


def reshape(input: Any, *shape: Any) -> Tensor:
    """The same data in a new ``shape`` (one entry may be -1): ``reshape(x, (2, -1))`` or
    ``x.reshape(2, -1)``."""
    a = as_tensor(input)
    shape = _args.shape("reshape", _shape_args("reshape", shape))
    known = int(np.prod([s for s in shape if s != -1]))
    n_unknown = shape.count(-1)
    ok = n_unknown <= 1 and all(s >= -1 for s in shape)
    if ok and n_unknown == 1:
        ok = known > 0 and a.numel() % known == 0
        shape = tuple(a.numel() // known if s == -1 else s for s in shape) if ok else shape
    elif ok:
        ok = known == a.numel()
    if not ok:
        raise RuntimeError(f"reshape: shape {shape} is invalid for input of shape {a.shape}")
    return apply(Reshape, (a,), {"shape": shape})


view = reshape


def view_as(input: Any, other: Tensor) -> Tensor:
    """Reshaped to ``other``'s shape."""
    return reshape(input, other.shape)


reshape_as = view_as


def permute(input: Any, *dims: Any) -> Tensor:
    """The dimensions in the order ``dims``: ``permute(x, (2, 0, 1))`` or
    ``x.permute(2, 0, 1)``."""
    a = as_tensor(input)
    dims = _args.ints("permute", "dims", _shape_args("permute", dims))
    n = max(a.ndim, 1)
    if any(not -n <= x < n for x in dims) or sorted(x % n for x in dims) != list(range(a.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of {a.ndim} dims")
    return apply(Transpose, (a,), {"axes": tuple(x % n for x in dims)})


def transpose(input: Any, dim0: int, dim1: int) -> Tensor:
    """Dimensions ``dim0`` and ``dim1`` swapped, as ``torch.transpose``.

    >>> transpose(Tensor([[1.0, 2.0]]), 0, 1).shape
    (2, 1)
    """
    a = as_tensor(input)
    i, j = _args.axis("transpose", dim0, a.ndim), _args.axis("transpose", dim1, a.ndim)
    axes = list(range(a.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return apply(Transpose, (a,), {"axes": tuple(axes)})


swapaxes = swapdims = transpose


def t(input: Any) -> Tensor:
    """A matrix transposed; 0-D and 1-D tensors as they are (as ``torch.t``)."""
    a = as_tensor(input)
    if a.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {a.ndim} ({a.shape})")
    return transpose(a, 0, 1) if a.ndim == 2 else a


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one, like ``torch.flatten``."""
    a = as_tensor(input)
    if a.ndim == 0:
        return reshape(a, (1,))
    s, e = _args.axis("flatten", start_dim, a.ndim), _args.axis("flatten", end_dim, a.ndim)
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]
    return apply(Reshape, (a,), {"shape": shape})


def squeeze(input: Any, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Drop size-1 dimensions (all of them, or those in ``dim`` that have size 1)."""
    a = as_tensor(input)
    dim = axis if dim is None else dim
    axes = _args.axes("squeeze", dim, a.ndim)
    shape = tuple(n for i, n in enumerate(a.shape) if not (i in axes and n == 1))
    return apply(Reshape, (a,), {"shape": shape})


def unsqueeze(input: Any, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (``-1`` appends one)."""
    a = as_tensor(input)
    pos = _args.axis("unsqueeze", dim, a.ndim + 1)
    shape = a.shape[:pos] + (1,) + a.shape[pos:]
    return apply(Reshape, (a,), {"shape": shape})


def repeat(input: Any, *sizes: Any) -> Tensor:
    """The tensor tiled ``sizes`` times along each dimension (new leading dimensions when
    ``sizes`` is longer), as ``torch.Tensor.repeat``; the gradient sums the copies."""
    a = as_tensor(input)
    sizes = _args.ints("repeat", "sizes", _shape_args("repeat", sizes))
    if len(sizes) < a.ndim or any(n < 0 for n in sizes):
        raise RuntimeError(
            f"repeat: needs at least {a.ndim} non-negative sizes for shape {a.shape}, got {sizes}"
        )
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    inter = tuple(v for n in shape for v in (1, n))  # (1, s0, 1, s1, ...)
    tiled = tuple(v for r, n in zip(sizes, shape) for v in (r, n))  # (r0, s0, r1, s1, ...)
    out = broadcast_to(reshape(a, inter), tiled)
    return reshape(out, tuple(r * n for r, n in zip(sizes, shape)))


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Up to ``chunks`` pieces along ``dim``, each ``ceil(size / chunks)`` long but the last, as
    ``torch.chunk``."""
    a = as_tensor(input)
    chunks = _args.positive_int("chunk", "chunks", chunks)
    d = _args.axis("chunk", dim, a.ndim)
    step = max(-(-a.shape[d] // chunks), 1)
    return split(a, step, d)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along ``dim``: of ``split_size_or_sections`` each (the last may be shorter), or
    of the listed sizes, which must add up to the dimension, as ``torch.split``."""
    a = as_tensor(tensor)
    d = _args.axis("split", dim, a.ndim)
    n = a.shape[d]
    if _args.is_int(split_size_or_sections):
        size = _args.positive_int("split", "split_size", split_size_or_sections)
        sizes = [min(size, n - k) for k in range(0, n, size)] or [0]
    else:
        sizes = list(_args.ints("split", "split_size_or_sections", split_size_or_sections))
        if sum(sizes) != n or any(k < 0 for k in sizes):
            raise RuntimeError(f"split: sizes {sizes} do not add up to dim {d}'s size {n}")
    pre, out, start = (slice(None),) * d, [], 0
    for k in sizes:
        out.append(apply(GetItem, (a,), {"index": (*pre, slice(start, start + k))}))
        start += k
    return tuple(out)


def broadcast_to(a: Any, shape: Any) -> Tensor:
    """Broadcast to ``shape`` as NumPy does; the gradient is summed back."""
    a = as_tensor(a)
    shape = _args.shape("broadcast_to", shape)
    try:
        ok = np.broadcast_shapes(a.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}")
    return apply(BroadcastTo, (a,), {"shape": shape})


def expand(input: Any, *sizes: Any) -> Tensor:
    """Like ``torch.Tensor.expand``: broadcast to ``sizes``, where -1 keeps a dimension."""
    a = as_tensor(input)
    shape = _args.shape("expand", _shape_args("expand", sizes))
    lead = len(shape) - a.ndim
    if lead < 0:
        raise ValueError(f"expand: shape {shape} has fewer dimensions than the tensor {a.shape}")
    shape = tuple(a.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    return broadcast_to(a, shape)


def setitem(input: Any, index: Any, value: Any) -> Tensor:
    """``input`` with ``input[index] = value`` (value broadcast), out of place and recorded: what
    ``x[index] = value`` does in the graph."""
    a = as_tensor(input)
    index = _normalize_index(index, a.shape)
    v = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, a.dtype), False)
    try:
        part = a._data[index].shape
        ok = np.broadcast_shapes(part, v.shape) == part
    except (IndexError, ValueError) as e:
        raise IndexError(f"setitem: {e} (tensor shape {a.shape})") from None
    if not ok:
        raise RuntimeError(
            f"setitem: a value of shape {v.shape} does not broadcast to the indexed part "
            f"{part} of a tensor of shape {a.shape}"
        )
    if v.dtype != a.dtype:
        v = v.to(a.dtype) if v.requires_grad else Tensor._wrap(v._data.astype(a.dtype), False)
    return apply(SetItem, (a, v), {"index": index})


def _normalize_index(index: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i._data
        if isinstance(i, (list, np.ndarray)):
            i = np.asarray(i)
            if i.dtype.kind not in "biu":
                raise IndexError(f"getitem: index arrays must be integer or boolean, got {i.dtype}")
        elif not (i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))):
            raise IndexError(f"getitem: unsupported index {i!r} for a tensor of shape {shape}")
        out.append(i)
    return tuple(out)


def getitem(a: Any, index: Any) -> Tensor:
    """``a[index]``: ints, slices, None, Ellipsis, and integer or boolean arrays.

    Repeated integer indices accumulate their gradients (the VJP uses ``np.add.at``).
    """
    a = as_tensor(a)
    index = _normalize_index(index, a.shape)
    try:
        a._data[index]  # validate against NumPy's rules before recording (cheap: a view or copy)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None
    return apply(GetItem, (a,), {"index": index})


def _same_ndim_check(op: str, tensors: Sequence[Tensor], axis: int, match_axis: bool) -> None:
    shapes = [t.shape for t in tensors]
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or any(
            x != y for k, (x, y) in enumerate(zip(s, first)) if match_axis or k != axis
        ):
            where = "" if match_axis else f" except on axis {axis}"
            raise ValueError(f"{op}: tensors must match in shape{where}, got {shapes}")


def expand_as(input: Any, other: Tensor) -> Tensor:
    """Broadcast to ``other``'s shape."""
    return expand(input, other.shape)


def concatenate(tensors: Sequence[Any], dim: int = 0, *, axis: Any = None) -> Tensor:
    """Join tensors along an existing dimension ``dim`` (``axis`` is NumPy's name for it)."""
    axis = dim if axis is None else axis
    tensors = list(promote(*[as_tensor(t) for t in tensors])) if tensors else []
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    if tensors[0].ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    axis = _args.axis("concatenate", axis, tensors[0].ndim)
    _same_ndim_check("concatenate", tensors, axis, match_axis=False)
    return apply(Concatenate, tuple(tensors), {"axis": axis})


cat = concat = concatenate


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: Any = None) -> Tensor:
    """Join same-shape tensors along a new dimension ``dim`` (``axis``: NumPy's name)."""
    axis = dim if axis is None else axis
    tensors = list(promote(*[as_tensor(t) for t in tensors])) if tensors else []
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = _args.axis("stack", axis, tensors[0].ndim + 1)
    _same_ndim_check("stack", tensors, axis, match_axis=True)
    return apply(Stack, tuple(tensors), {"axis": axis})


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: Any = None) -> Tensor:
    """Padding in ``torch.nn.functional.pad``'s convention: ``pad`` lists (before, after) pairs
    starting from the LAST dimension (``(left, right)`` pads the last dim, ``(left, right, top,
    bottom)`` the last two). ``mode``: ``"constant"`` (with ``value``, default 0), or
    ``"reflect"``, ``"replicate"``, ``"circular"``, which gather the border values (and send
    their gradients back to them).

    >>> pad(Tensor([[1.0]]), (1, 0, 0, 2)).shape
    (3, 2)
    >>> pad(Tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    a = as_tensor(input)
    pad = _args.ints("pad", "pad", pad)
    if isinstance(mode, (int, float)) and value is None:  # pad(x, p, 0.5): NumPy-era value
        mode, value = "constant", mode
    _args.choice("pad", "mode", mode, PAD_MODES)
    value = 0.0 if value is None else value
    _args.number("pad", "value", value)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise ValueError(
            f"pad: expected an even number of values, at most 2 per dimension "
            f"({2 * a.ndim} for shape {a.shape}), got {len(pad)}"
        )
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if mode != "constant":
        return _pad_by_index(a, widths, mode)
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: padding must be non-negative, got {pad}")
    return apply(Pad, (a,), {"widths": tuple(widths), "value": value})


def _pad_by_index(a: Tensor, widths: list, mode: str) -> Tensor:
    """reflect/replicate/circular padding as one gather per padded dimension."""
    for d, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        n = a.shape[d]
        if (
            lo < 0
            or hi < 0
            or n == 0
            or (mode == "reflect" and max(lo, hi) >= n)
            or (mode == "circular" and max(lo, hi) > n)
        ):
            raise ValueError(
                f"pad: {mode} padding of ({lo}, {hi}) does not fit dimension {d} of size {n}"
            )
        pos = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            pos = np.abs(pos) % period
            pos = np.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = np.clip(pos, 0, n - 1)
        else:
            pos = pos % n
        a = apply(GetItem, (a,), {"index": (slice(None),) * d + (pos,)})
    return a
