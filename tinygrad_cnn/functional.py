"""User-facing functions. Each checks its arguments, then applies one registered op.

Arguments may be Tensors, arrays or Python numbers. A Python number next to a Tensor takes the
Tensor's dtype (``float32_tensor * 2.0`` stays float32), as NumPy 2 and PyTorch do.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.autograd import apply as _apply
from tinygrad_cnn.ops import elementwise as _ew
from tinygrad_cnn.ops import linalg as _la
from tinygrad_cnn.ops import reduce as _rd
from tinygrad_cnn.ops import shape as _sh
from tinygrad_cnn.tensor import Tensor

_wrap = Tensor._wrap
_SCALARS = (int, float, bool, np.number, np.bool_)


def _lift(x: Any, like: Tensor) -> Tensor:
    """Turn a non-Tensor into a constant Tensor; Python numbers take ``like``'s dtype."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        dt = like.data.dtype
        if dt.kind != "f" and isinstance(x, (float, np.floating)):
            dt = np.float32
        return _wrap(np.asarray(x, dtype=dt), False)
    return Tensor(x)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if type(a) is Tensor:
        return a, (b if type(b) is Tensor else _lift(b, a))
    if isinstance(b, Tensor):
        return _lift(a, b), b
    a = Tensor(a)
    return a, _lift(b, a)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# -- elementwise -------------------------------------------------------------------------------


def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    return _apply(_ew.Add, _pair(a, b), {})


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    return _apply(_ew.Sub, _pair(a, b), {})


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    return _apply(_ew.Mul, _pair(a, b), {})


def div(a: Any, b: Any) -> Tensor:
    """``a / b`` with broadcasting."""
    return _apply(_ew.Div, _pair(a, b), {})


def neg(a: Any) -> Tensor:
    """``-a``."""
    return _apply(_ew.Neg, (_tensor(a),), {})


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b``; ``b`` may be a number or a tensor (its gradient needs ``a > 0``)."""
    return _apply(_ew.Pow, _pair(a, b), {})


def exp(a: Any) -> Tensor:
    return _apply(_ew.Exp, (_tensor(a),), {})


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    return _apply(_ew.Log, (_tensor(a),), {})


def sqrt(a: Any) -> Tensor:
    return _apply(_ew.Sqrt, (_tensor(a),), {})


def abs(a: Any) -> Tensor:
    """``|a|``; the gradient at 0 is 0."""
    return _apply(_ew.Abs, (_tensor(a),), {})


def relu(a: Any) -> Tensor:
    """``max(a, 0)``; the gradient at 0 is 0.

    >>> relu(Tensor([-1.0, 0.0, 2.0]))
    Tensor([0., 0., 2.], dtype=float32)
    """
    return _apply(_ew.Relu, (_tensor(a),), {})


def sigmoid(a: Any) -> Tensor:
    """``1 / (1 + exp(-a))``, computed without overflow."""
    return _apply(_ew.Sigmoid, (_tensor(a),), {})


def tanh(a: Any) -> Tensor:
    return _apply(_ew.Tanh, (_tensor(a),), {})


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum with broadcasting; where ``a == b`` each gets half the gradient."""
    return _apply(_ew.Maximum, _pair(a, b), {})


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum with broadcasting; where ``a == b`` each gets half the gradient."""
    return _apply(_ew.Minimum, _pair(a, b), {})


def clip(a: Any, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp into ``[min, max]``; the gradient passes where ``min <= a <= max`` (bounds included).

    >>> clip(Tensor([-2.0, 0.5, 3.0]), -1, 1)
    Tensor([-1. ,  0.5,  1. ], dtype=float32)
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    return _ew.Clip.apply(_tensor(a), min=min, max=max)


clamp = clip


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is true, else ``b``; all three broadcast together."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = _pair(a, b)
    return _ew.Where.apply(_wrap(cond, False), a, b)


def clone(a: Any) -> Tensor:
    """A copy that stays in the graph."""
    return _apply(_ew.Clone, (_tensor(a),), {})


def cast(a: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype``. Only floating results can carry gradients."""
    a = _tensor(a)
    dtype = np.dtype(dtype)
    if a.requires_grad and dtype.kind != "f":
        raise TypeError(f"cast: cannot cast a tensor that requires grad to {dtype}")
    return _ew.Cast.apply(a, dtype=dtype)


# -- linear algebra ----------------------------------------------------------------------------


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands, batched and broadcast leading dims.

    >>> matmul(Tensor([[1.0, 2.0]]), Tensor([[3.0], [4.0]]))
    Tensor([[11.]], dtype=float32)
    """
    a, b = _pair(a, b)
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {sa} and {sb}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {sa} and {sb} do not align: {ka} (last dim of a) != {kb} "
            f"({'dim 0' if len(sb) == 1 else 'second-to-last dim'} of b)"
        )
    if len(sa) > 2 or len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of {sa} and {sb} do not broadcast"
            ) from None
    return _apply(_la.MatMul, (a, b), {})


# -- reductions --------------------------------------------------------------------------------


def _reduce(op: Any, a: Any, axis: Any, keepdims: bool, **kw: Any) -> Tensor:
    a = _tensor(a)
    axes = _rd.normalize_axes(op.name, axis, a.ndim)
    return op.apply(a, axis=axes, keepdims=bool(keepdims), **kw)


def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all)."""
    return _reduce(_rd.Sum, a, axis, keepdims)


def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all)."""
    return _reduce(_rd.Mean, a, axis, keepdims)


def _reduce_nonempty(op: Any, a: Any, axis: Any, keepdims: bool) -> Tensor:
    a = _tensor(a)
    axes = _rd.normalize_axes(op.name, axis, a.ndim)
    if any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"{op.name}: cannot reduce over an empty axis (shape {a.shape})")
    return op.apply(a, axis=axes, keepdims=bool(keepdims))


def max(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _reduce_nonempty(_rd.Max, a, axis, keepdims)


def min(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _reduce_nonempty(_rd.Min, a, axis, keepdims)


def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(a), axis))``, stable for large inputs."""
    return _reduce_nonempty(_rd.LogSumExp, a, axis, keepdims)


def var(a: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``axis`` divided by ``N - correction`` (1: unbiased, as ``torch.var``)."""
    return _reduce(_rd.Var, a, axis, keepdims, correction=correction)


# -- shape -------------------------------------------------------------------------------------


def _shape_arg(op: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(
            f"{op}: shape must be an int or a sequence of ints, got {shape!r}"
        ) from None


def reshape(a: Any, shape: Any) -> Tensor:
    """A tensor with the same data and a new ``shape`` (one entry may be -1)."""
    a = _tensor(a)
    shape = _shape_arg("reshape", shape)
    known = int(np.prod([s for s in shape if s != -1]))
    n_unknown = shape.count(-1)
    ok = n_unknown <= 1 and builtins.all(s >= -1 for s in shape)
    if ok and n_unknown == 1:
        ok = known > 0 and a.size % known == 0
        shape = tuple(a.size // known if s == -1 else s for s in shape) if ok else shape
    elif ok:
        ok = known == a.size
    if not ok:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into {shape}")
    return _sh.Reshape.apply(a, shape=shape)


def _axis(op: str, axis: Any, ndim: int) -> int:
    return _rd.normalize_axes(op, axis, ndim)[0] if ndim else 0


def transpose(a: Any, axes: Any = None) -> Tensor:
    """Permute the dimensions (None: reverse them), like ``np.transpose``."""
    a = _tensor(a)
    if axes is None:
        axes = tuple(range(a.ndim))[::-1]
    else:
        axes = tuple(axes)
        if sorted(int(x) % builtins.max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {a.ndim} dims")
        axes = tuple(int(x) % a.ndim for x in axes)
    return _sh.Transpose.apply(a, axes=axes)


permute = transpose


def swapaxes(a: Any, axis0: int, axis1: int) -> Tensor:
    """Exchange two dimensions."""
    a = _tensor(a)
    i, j = _axis("swapaxes", axis0, a.ndim), _axis("swapaxes", axis1, a.ndim)
    axes = list(range(a.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return _sh.Transpose.apply(a, axes=tuple(axes))


def flatten(a: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one, like ``torch.flatten``."""
    a = _tensor(a)
    if a.ndim == 0:
        return reshape(a, (1,))
    s, e = _axis("flatten", start_dim, a.ndim), _axis("flatten", end_dim, a.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]
    return _sh.Reshape.apply(a, shape=shape)


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """Drop size-1 dimensions (all of them, or those in ``axis`` that have size 1)."""
    a = _tensor(a)
    axes = _rd.normalize_axes("squeeze", axis, a.ndim)
    shape = tuple(n for i, n in enumerate(a.shape) if not (i in axes and n == 1))
    return _sh.Reshape.apply(a, shape=shape)


def unsqueeze(a: Any, axis: int) -> Tensor:
    """Insert a size-1 dimension at ``axis`` (``-1`` appends one)."""
    a = _tensor(a)
    pos = _axis("unsqueeze", axis, a.ndim + 1)
    shape = a.shape[:pos] + (1,) + a.shape[pos:]
    return _sh.Reshape.apply(a, shape=shape)


def broadcast_to(a: Any, shape: Any) -> Tensor:
    """Broadcast to ``shape`` as NumPy does; the gradient is summed back."""
    a = _tensor(a)
    shape = _shape_arg("broadcast_to", shape)
    try:
        ok = np.broadcast_shapes(a.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}")
    return _sh.BroadcastTo.apply(a, shape=shape)


def expand(a: Any, shape: Any) -> Tensor:
    """Like ``torch.Tensor.expand``: broadcast to ``shape``, where -1 keeps a dimension."""
    a = _tensor(a)
    shape = _shape_arg("expand", shape)
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
    a = _tensor(a)
    index = _normalize_index(index, a.shape)
    try:
        a.data[index]  # validate against NumPy's rules before recording (cheap: a view or copy)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None
    return _sh.GetItem.apply(a, index=index)


def _same_ndim_check(op: str, tensors: Sequence[Tensor], axis: int, match_axis: bool) -> None:
    shapes = [t.shape for t in tensors]
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or builtins.any(
            x != y for k, (x, y) in enumerate(zip(s, first)) if match_axis or k != axis
        ):
            where = "" if match_axis else f" except on axis {axis}"
            raise ValueError(f"{op}: tensors must match in shape{where}, got {shapes}")


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    if tensors[0].ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    axis = _axis("concatenate", axis, tensors[0].ndim)
    _same_ndim_check("concatenate", tensors, axis, match_axis=False)
    return _sh.Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new ``axis``."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = _axis("stack", axis, tensors[0].ndim + 1)
    _same_ndim_check("stack", tensors, axis, match_axis=True)
    return _sh.Stack.apply(*tensors, axis=axis)


def pad(a: Any, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding in ``torch.nn.functional.pad``'s convention.

    ``pad`` lists (before, after) pairs starting from the LAST dimension:
    ``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two.

    >>> pad(Tensor([[1.0]]), (1, 0, 0, 2)).shape
    (3, 2)
    """
    a = _tensor(a)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise ValueError(
            f"pad: expected an even number of values, at most 2 per dimension "
            f"({2 * a.ndim} for shape {a.shape}), got {len(pad)}"
        )
    if builtins.any(p < 0 for p in pad):
        raise ValueError(f"pad: padding must be non-negative, got {pad}")
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return _sh.Pad.apply(a, widths=tuple(widths), value=value)
