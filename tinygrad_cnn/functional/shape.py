"""Shape functions: reshape and its relatives, transpose, broadcasting, indexing, joining, padding.

``flatten``, ``squeeze``, ``unsqueeze`` and ``swapaxes`` are compositions of the ``reshape`` and
``transpose`` ops; ``expand`` is ``broadcast_to`` with -1 for kept dims.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.autograd import apply, as_tensor
from tinygrad_cnn.ops.shape import BroadcastTo, Concatenate, GetItem, Pad, Reshape, Stack, Transpose
from tinygrad_cnn.tensor import Tensor


def reshape(a: Any, shape: Any) -> Tensor:
    """A tensor with the same data and a new ``shape`` (one entry may be -1)."""
    a = as_tensor(a)
    shape = _args.shape("reshape", shape)
    known = int(np.prod([s for s in shape if s != -1]))
    n_unknown = shape.count(-1)
    ok = n_unknown <= 1 and all(s >= -1 for s in shape)
    if ok and n_unknown == 1:
        ok = known > 0 and a.size % known == 0
        shape = tuple(a.size // known if s == -1 else s for s in shape) if ok else shape
    elif ok:
        ok = known == a.size
    if not ok:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into {shape}")
    return apply(Reshape, (a,), {"shape": shape})


def transpose(a: Any, axes: Any = None) -> Tensor:
    """Permute the dimensions (None: reverse them), like ``np.transpose``."""
    a = as_tensor(a)
    if axes is None:
        axes = tuple(range(a.ndim))[::-1]
    else:
        axes = _args.ints("transpose", "axes", axes)
        n = max(a.ndim, 1)
        if any(not -n <= x < n for x in axes) or sorted(x % n for x in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {a.ndim} dims")
        axes = tuple(x % n for x in axes)
    return apply(Transpose, (a,), {"axes": axes})


permute = transpose


def swapaxes(a: Any, axis0: int, axis1: int) -> Tensor:
    """Exchange two dimensions."""
    a = as_tensor(a)
    i, j = _args.axis("swapaxes", axis0, a.ndim), _args.axis("swapaxes", axis1, a.ndim)
    axes = list(range(a.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return apply(Transpose, (a,), {"axes": tuple(axes)})


def flatten(a: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one, like ``torch.flatten``."""
    a = as_tensor(a)
    if a.ndim == 0:
        return reshape(a, (1,))
    s, e = _args.axis("flatten", start_dim, a.ndim), _args.axis("flatten", end_dim, a.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]
    return apply(Reshape, (a,), {"shape": shape})


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """Drop size-1 dimensions (all of them, or those in ``axis`` that have size 1)."""
    a = as_tensor(a)
    axes = _args.axes("squeeze", axis, a.ndim)
    shape = tuple(n for i, n in enumerate(a.shape) if not (i in axes and n == 1))
    return apply(Reshape, (a,), {"shape": shape})


def unsqueeze(a: Any, axis: int) -> Tensor:
    """Insert a size-1 dimension at ``axis`` (``-1`` appends one)."""
    a = as_tensor(a)
    pos = _args.axis("unsqueeze", axis, a.ndim + 1)
    shape = a.shape[:pos] + (1,) + a.shape[pos:]
    return apply(Reshape, (a,), {"shape": shape})


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


def expand(a: Any, shape: Any) -> Tensor:
    """Like ``torch.Tensor.expand``: broadcast to ``shape``, where -1 keeps a dimension."""
    a = as_tensor(a)
    shape = _args.shape("expand", shape)
    lead = len(shape) - a.ndim
    if lead < 0:
        raise ValueError(f"expand: shape {shape} has fewer dimensions than the tensor {a.shape}")
    shape = tuple(a.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    return broadcast_to(a, shape)


def _normalize_index(index: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i.data
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
        a.data[index]  # validate against NumPy's rules before recording (cheap: a view or copy)
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


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    if tensors[0].ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    axis = _args.axis("concatenate", axis, tensors[0].ndim)
    _same_ndim_check("concatenate", tensors, axis, match_axis=False)
    return apply(Concatenate, tuple(tensors), {"axis": axis})


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new ``axis``."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = _args.axis("stack", axis, tensors[0].ndim + 1)
    _same_ndim_check("stack", tensors, axis, match_axis=True)
    return apply(Stack, tuple(tensors), {"axis": axis})


def pad(a: Any, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding in ``torch.nn.functional.pad``'s convention.

    ``pad`` lists (before, after) pairs starting from the LAST dimension:
    ``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two.

    >>> pad(Tensor([[1.0]]), (1, 0, 0, 2)).shape
    (3, 2)
    """
    a = as_tensor(a)
    pad = _args.ints("pad", "pad", pad)
    _args.number("pad", "value", value)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise ValueError(
            f"pad: expected an even number of values, at most 2 per dimension "
            f"({2 * a.ndim} for shape {a.shape}), got {len(pad)}"
        )
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: padding must be non-negative, got {pad}")
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return apply(Pad, (a,), {"widths": tuple(widths), "value": value})
