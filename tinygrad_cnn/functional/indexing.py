"""Selecting, reordering and rearranging, as PyTorch's: ``flip``, ``roll``, ``tril``/``triu``,
``diag``/``diagonal``/``trace``, ``narrow``/``select``/``unbind``, ``index_select``,
``masked_select``, ``take``, ``movedim``, ``tile``, ``repeat_interleave``, ``tensor_split``,
``nonzero``, and the small products ``outer``, ``dot``, ``mv``, ``addmm``.

Each is indexing (the ``getitem`` op, whose gradient scatters back), ``where`` with a constant
mask, a permutation or a reshape, so gradients come from those ops' VJPs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor
from tinygrad_cnn.functional.elementwise import where
from tinygrad_cnn.functional.linalg import einsum, matmul
from tinygrad_cnn.functional.reduce import gather, norm, sum
from tinygrad_cnn.functional.shape import broadcast_to, permute, repeat, reshape
from tinygrad_cnn.ops.shape import GetItem
from tinygrad_cnn.tensor import Tensor


def _index(a: Tensor, dim: int, index: Any) -> Tensor:
    """``a[:, ..., index]`` with ``index`` at ``dim``."""
    return apply(GetItem, (a,), {"index": (slice(None),) * dim + (index,)})


def _dim_list(fn: str, dims: Any, ndim: int) -> list[int]:
    dims = _args.ints(fn, "dims", dims)
    out = [_args.axis(fn, d, ndim) for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{fn}: dims {dims} repeat a dim")
    return out


def flip(input: Any, dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    a = as_tensor(input)
    index = [slice(None)] * a.ndim
    for d in _dim_list("flip", dims, a.ndim):
        index[d] = slice(None, None, -1)
    return apply(GetItem, (a,), {"index": tuple(index)})


def fliplr(input: Any) -> Tensor:
    """``flip(input, 1)`` (needs 2 or more dims)."""
    if as_tensor(input).ndim < 2:
        raise RuntimeError("fliplr: input must have at least 2 dims")
    return flip(input, 1)


def flipud(input: Any) -> Tensor:
    """``flip(input, 0)``."""
    return flip(input, 0)


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` by ``shifts``, wrapping around (no ``dims``: the
    flattened tensor, then its shape back)."""
    a = as_tensor(input)
    shifts = _args.ints("roll", "shifts", shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: without dims, shifts must be one int, got {shifts}")
        return roll(a.reshape(-1), shifts, 0).reshape(a.shape)
    dims = _dim_list("roll", dims, a.ndim)
    if len(dims) != len(shifts):
        raise RuntimeError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    for s, d in zip(shifts, dims):
        a = _index(a, d, np.roll(np.arange(a.shape[d]), s))
    return a


def _triangle(fn: str, input: Any, diagonal: int, keep: Any) -> Tensor:
    a = as_tensor(input)
    if a.ndim < 2:
        raise RuntimeError(f"{fn}: input must have at least 2 dims, got shape {a.shape}")
    if not _args.is_int(diagonal):
        raise TypeError(f"{fn}: diagonal must be an int, got {diagonal!r}")
    mask = keep(np.ones(a.shape[-2:], dtype=bool), int(diagonal))
    return where(Tensor._wrap(mask, False), a, 0)


def tril(input: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros above."""
    return _triangle("tril", input, diagonal, np.tril)


def triu(input: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros below."""
    return _triangle("triu", input, diagonal, np.triu)


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the ``dim1``/``dim2`` planes (``offset`` above or below), as the last
    dim of the result."""
    a = as_tensor(input)
    d1, d2 = _args.axis("diagonal", dim1, a.ndim), _args.axis("diagonal", dim2, a.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 are both {d1}")
    if not _args.is_int(offset):
        raise TypeError(f"diagonal: offset must be an int, got {offset!r}")
    rest = [d for d in range(a.ndim) if d not in (d1, d2)]
    a = permute(a, *rest, d1, d2)
    n1, n2 = a.shape[-2:]
    rows = np.arange(max(0, -offset), n1)
    cols = rows + offset
    keep = (cols >= 0) & (cols < n2)
    index = (Ellipsis, rows[keep], cols[keep])
    return apply(GetItem, (a,), {"index": index})


_diagonal = diagonal  # diag's argument is called diagonal too


def diag(input: Any, diagonal: int = 0) -> Tensor:
    """A 1-D tensor as the ``diagonal`` of a square matrix, or a matrix's ``diagonal``."""
    a = as_tensor(input)
    if a.ndim == 2:
        return _diagonal(a, diagonal)
    if a.ndim != 1:
        raise RuntimeError(f"diag: input must be 1-D or 2-D, got shape {a.shape}")
    if not _args.is_int(diagonal):
        raise TypeError(f"diag: diagonal must be an int, got {diagonal!r}")
    n, k = a.shape[0], int(diagonal)
    size = n + abs(k)
    rows = np.eye(size, n, -max(0, -k), dtype=a.dtype)  # rows[r, j] = 1 where r = j + max(0, -k)
    cols = np.eye(size, n, -max(0, k), dtype=a.dtype)
    return einsum("j,rj,cj->rc", a, Tensor._wrap(rows, False), Tensor._wrap(cols, False))


def trace(input: Any) -> Tensor:
    """The sum of a matrix's diagonal."""
    a = as_tensor(input)
    if a.ndim != 2:
        raise RuntimeError(f"trace: input must be a matrix, got shape {a.shape}")
    return sum(diagonal(a))


def narrow(input: Any, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements of ``dim`` from ``start`` (a view in PyTorch; a copy here)."""
    a = as_tensor(input)
    d = _args.axis("narrow", dim, a.ndim)
    size = a.shape[d]
    start = int(start.item()) if isinstance(start, Tensor) else start
    if not (_args.is_int(start) and _args.is_int(length)):
        raise TypeError(f"narrow: start and length must be ints, got {start!r}, {length!r}")
    start = start + size if start < 0 else start
    if not (0 <= start <= size and 0 <= length <= size - start):
        raise IndexError(f"narrow: start {start} + length {length} exceeds dim {d} of size {size}")
    return _index(a, d, slice(start, start + length))


def select(input: Any, dim: int, index: int) -> Tensor:
    """The slice at ``index`` of ``dim``, without that dim."""
    a = as_tensor(input)
    d = _args.axis("select", dim, a.ndim)
    if not _args.is_int(index) or not -a.shape[d] <= index < a.shape[d]:
        raise IndexError(f"select: index {index!r} out of range for dim {d} of size {a.shape[d]}")
    return _index(a, d, int(index))


def unbind(input: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, each without it."""
    a = as_tensor(input)
    d = _args.axis("unbind", dim, a.ndim)
    return tuple(_index(a, d, i) for i in range(a.shape[d]))


def _int_index(fn: str, index: Any) -> np.ndarray:
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: index must be an integer tensor, got {idx.dtype}")
    return idx


def index_select(input: Any, dim: int, index: Any) -> Tensor:
    """The entries ``index`` (1-D ints) of ``dim``, in that order."""
    a = as_tensor(input)
    d = _args.axis("index_select", dim, a.ndim)
    idx = _int_index("index_select", index)
    if idx.ndim > 1:
        raise RuntimeError(f"index_select: index must be 1-D, got shape {idx.shape}")
    size = a.shape[d] if a.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"index_select: index out of range for dim {d} of size {size}")
    return _index(a, d, idx.reshape(-1)) if a.ndim else a.reshape(1)[idx.reshape(-1)]


def masked_select(input: Any, mask: Any) -> Tensor:
    """The elements where the bool ``mask`` (broadcast with ``input``) is True, as a 1-D tensor."""
    a = as_tensor(input)
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
    shape = np.broadcast_shapes(a.shape, m.shape)
    if a.shape != shape:
        a = broadcast_to(a, shape)
    return apply(GetItem, (a,), {"index": (np.broadcast_to(m, shape),)})


def take(input: Any, index: Any) -> Tensor:
    """The elements of the flattened ``input`` at ``index``, in ``index``'s shape."""
    a = as_tensor(input)
    idx = _int_index("take", index)
    if idx.size and (idx.min() < -a.numel() or idx.max() >= a.numel()):
        raise IndexError(f"take: index out of range for {a.numel()} elements")
    return apply(GetItem, (a.reshape(-1),), {"index": (idx,)})


def take_along_dim(input: Any, indices: Any, dim: int) -> Tensor:
    """``gather`` along ``dim`` (``indices`` with input's number of dims)."""
    return gather(input, dim, indices)


def movedim(input: Any, source: Any, destination: Any) -> Tensor:
    """Move the dims ``source`` to the positions ``destination``; the rest keep their order."""
    a = as_tensor(input)
    src = _dim_list("movedim", source, a.ndim)
    dst = _dim_list("movedim", destination, a.ndim)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: {len(src)} source dims for {len(dst)} destinations")
    order = [d for d in range(a.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(a, *order)


moveaxis = movedim


def tile(input: Any, dims: Any) -> Tensor:
    """Repeat ``input`` ``dims`` times along each dim (leading 1s fill the shorter one)."""
    a = as_tensor(input)
    dims = _args.ints("tile", "dims", dims)
    dims = (1,) * (a.ndim - len(dims)) + tuple(dims)
    return repeat(a, *dims)


def repeat_interleave(input: Any, repeats: Any, dim: Any = None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place; no ``dim``:
    the flattened tensor."""
    a = as_tensor(input)
    if dim is None:
        a, dim = a.reshape(-1), 0
    d = _args.axis("repeat_interleave", dim, a.ndim)
    r = _int_index("repeat_interleave", repeats)
    if r.ndim > 1 or (r.ndim == 1 and r.shape[0] not in (1, a.shape[d])) or (r < 0).any():
        raise RuntimeError(
            f"repeat_interleave: repeats must be an int >= 0 or one per entry of dim {d} "
            f"(size {a.shape[d]}), got {repeats!r}"
        )
    return _index(a, d, np.repeat(np.arange(a.shape[d]), r.reshape(-1) if r.ndim else r))


def ravel(input: Any) -> Tensor:
    """The elements as a 1-D tensor."""
    return reshape(input, -1)


def unflatten(input: Any, dim: int, sizes: Any) -> Tensor:
    """Split ``dim`` into ``sizes`` (one may be -1)."""
    a = as_tensor(input)
    d = _args.axis("unflatten", dim, a.ndim)
    return reshape(a, *a.shape[:d], *_args.ints("unflatten", "sizes", sizes), *a.shape[d + 1 :])


def tensor_split(input: Any, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split ``dim`` into ``n`` nearly equal parts (an int) or at the given indices."""
    a = as_tensor(input)
    d = _args.axis("tensor_split", dim, a.ndim)
    size, spec = a.shape[d], indices_or_sections
    if _args.is_int(spec):
        if spec < 1:
            raise RuntimeError(f"tensor_split: sections must be >= 1, got {spec}")
        q, r = divmod(size, spec)
        bounds = np.cumsum([0] + [q + 1] * r + [q] * (spec - r))
    else:
        bounds = [
            0,
            *(
                min(max(i + size if i < 0 else i, 0), size)
                for i in _args.ints("tensor_split", "indices", spec)
            ),
            size,
        ]
    return tuple(_index(a, d, slice(lo, max(lo, hi))) for lo, hi in zip(bounds[:-1], bounds[1:]))


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with ``as_tuple`` one
    1-D tensor per dim."""
    a = as_tensor(input)
    idx = np.nonzero(a._data if a.ndim else a._data.reshape(1))
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64), False) for i in idx)
    out = np.stack(idx, axis=1).astype(np.int64) if a.ndim else np.zeros((len(idx[0]), 0), np.int64)
    return Tensor._wrap(out, False)


def argwhere(input: Any) -> Tensor:
    """``nonzero(input)``."""
    return nonzero(input)


def outer(input: Any, vec2: Any) -> Tensor:
    """The outer product of two 1-D tensors."""
    a, b = as_tensor(input), as_tensor(vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: expected two 1-D tensors, got {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


ger = outer


def dot(input: Any, tensor: Any) -> Tensor:
    """The inner product of two 1-D tensors of the same size."""
    a, b = as_tensor(input), as_tensor(tensor)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise RuntimeError(
            f"dot: expected two 1-D tensors of one size, got {a.shape} and {b.shape}"
        )
    return matmul(a, b)


def mv(input: Any, vec: Any) -> Tensor:
    """A matrix times a vector."""
    a, v = as_tensor(input), as_tensor(vec)
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"mv: expected a matrix and a vector, got {a.shape} and {v.shape}")
    return matmul(a, v)


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    product = matmul(mat1, mat2)
    return as_tensor(input) * beta + (product if alpha == 1 else product * alpha)


def dist(input: Any, other: Any, p: Any = 2) -> Tensor:
    """The ``p``-norm of ``input - other``."""
    return norm(as_tensor(input) - other, p)
