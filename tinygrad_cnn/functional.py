"""User-facing functions. Each checks its arguments, then applies one registered op
(straight through ``autograd.apply``: the hot path).

Arguments may be Tensors, arrays or Python numbers. A Python number next to a Tensor takes the
Tensor's dtype (``float32_tensor * 2.0`` stays float32), as NumPy 2 and PyTorch do.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.autograd import apply as _apply
from tinygrad_cnn.ops import conv as _cv
from tinygrad_cnn.ops import elementwise as _ew
from tinygrad_cnn.ops import linalg as _la
from tinygrad_cnn.ops import loss as _ls
from tinygrad_cnn.ops import pool as _pl
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
    """Elementwise ``e**a``."""
    return _apply(_ew.Exp, (_tensor(a),), {})


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    return _apply(_ew.Log, (_tensor(a),), {})


def sqrt(a: Any) -> Tensor:
    """Elementwise square root (its gradient ``1 / (2 sqrt(a))`` needs ``a > 0``)."""
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
    """Elementwise hyperbolic tangent."""
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
    return _apply(_ew.Clip, (_tensor(a),), {"min": min, "max": max})


clamp = clip


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is true, else ``b``; all three broadcast together."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = _pair(a, b)
    return _apply(_ew.Where, (_wrap(cond, False), a, b), {})


def clone(a: Any) -> Tensor:
    """A copy that stays in the graph."""
    return _apply(_ew.Clone, (_tensor(a),), {})


def cast(a: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype``. Only floating results can carry gradients."""
    a = _tensor(a)
    dtype = np.dtype(dtype)
    if a.requires_grad and dtype.kind != "f":
        raise TypeError(f"cast: cannot cast a tensor that requires grad to {dtype}")
    return _apply(_ew.Cast, (a,), {"dtype": dtype})


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


def _reduce(op: Any, a: Any, axis: Any, keepdims: bool, nonempty: bool = False, **kw) -> Tensor:
    """Normalise ``axis`` and apply a reduction op; ``nonempty`` refuses empty axes (max, ...)."""
    a = _tensor(a)
    axes = _rd.normalize_axes(op.name, axis, a.ndim)
    if nonempty and any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"{op.name}: cannot reduce over an empty axis (shape {a.shape})")
    return _apply(op, (a,), {"axis": axes, "keepdims": bool(keepdims), **kw})


def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all)."""
    return _reduce(_rd.Sum, a, axis, keepdims)


def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all)."""
    return _reduce(_rd.Mean, a, axis, keepdims)


def max(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _reduce(_rd.Max, a, axis, keepdims, nonempty=True)


def min(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _reduce(_rd.Min, a, axis, keepdims, nonempty=True)


def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(a), axis))``, stable for large inputs."""
    return _reduce(_rd.LogSumExp, a, axis, keepdims, nonempty=True)


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
    return _apply(_sh.Reshape, (a,), {"shape": shape})


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
    return _apply(_sh.Transpose, (a,), {"axes": axes})


permute = transpose


def swapaxes(a: Any, axis0: int, axis1: int) -> Tensor:
    """Exchange two dimensions."""
    a = _tensor(a)
    i, j = _axis("swapaxes", axis0, a.ndim), _axis("swapaxes", axis1, a.ndim)
    axes = list(range(a.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return _apply(_sh.Transpose, (a,), {"axes": tuple(axes)})


def flatten(a: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one, like ``torch.flatten``."""
    a = _tensor(a)
    if a.ndim == 0:
        return reshape(a, (1,))
    s, e = _axis("flatten", start_dim, a.ndim), _axis("flatten", end_dim, a.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]
    return _apply(_sh.Reshape, (a,), {"shape": shape})


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """Drop size-1 dimensions (all of them, or those in ``axis`` that have size 1)."""
    a = _tensor(a)
    axes = _rd.normalize_axes("squeeze", axis, a.ndim)
    shape = tuple(n for i, n in enumerate(a.shape) if not (i in axes and n == 1))
    return _apply(_sh.Reshape, (a,), {"shape": shape})


def unsqueeze(a: Any, axis: int) -> Tensor:
    """Insert a size-1 dimension at ``axis`` (``-1`` appends one)."""
    a = _tensor(a)
    pos = _axis("unsqueeze", axis, a.ndim + 1)
    shape = a.shape[:pos] + (1,) + a.shape[pos:]
    return _apply(_sh.Reshape, (a,), {"shape": shape})


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
    return _apply(_sh.BroadcastTo, (a,), {"shape": shape})


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
    return _apply(_sh.GetItem, (a,), {"index": index})


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
    return _apply(_sh.Concatenate, tuple(tensors), {"axis": axis})


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new ``axis``."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = _axis("stack", axis, tensors[0].ndim + 1)
    _same_ndim_check("stack", tensors, axis, match_axis=True)
    return _apply(_sh.Stack, tuple(tensors), {"axis": axis})


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
    return _apply(_sh.Pad, (a,), {"widths": tuple(widths), "value": value})


# -- convolution and pooling -------------------------------------------------------------------


def _int_pair(op: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair; ValueError/TypeError otherwise."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not builtins.all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if builtins.any(v < minimum for v in pair):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_nchw(op: str, name: str, t: Tensor) -> None:
    if t.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {t.shape}")


def _check_conv_operands(op, x, weight, bias, groups):
    """Shapes and dtypes shared by conv2d and conv_transpose2d."""
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    _check_nchw(op, "input", x)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D, got shape {weight.shape}")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        dts = f"input {x.dtype}, weight {weight.dtype}" + (
            f", bias {bias.dtype}" if bias is not None else ""
        )
        raise TypeError(
            f"{op}: input, weight and bias must share one dtype, got {dts} "
            "(convert one of them, e.g. Tensor(w.numpy().astype(np.float32)))"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating tensors, got {x.dtype}")
    if x.shape[1] % groups:
        raise ValueError(f"{op}: input channels {x.shape[1]} are not divisible by groups={groups}")


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) over an NCHW input, as ``torch.nn.functional.conv2d``.

    Shapes: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW), bias (C_out,) ->
    (N, C_out, Ho, Wo) with ``Ho = floor((H + pad_top + pad_bottom - dilation*(kH-1) - 1)
    / stride) + 1``. ``stride``/``dilation``: int or pair. ``padding``: int, pair, ``'valid'``
    (no padding) or ``'same'`` (output size = input size; stride 1 only, extra padding goes to the
    bottom/right as in PyTorch).

    >>> x = Tensor(np.ones((1, 1, 4, 4)))
    >>> w = Tensor(np.ones((2, 1, 3, 3)))
    >>> conv2d(x, w, padding=1).shape
    (1, 2, 4, 4)
    >>> conv2d(x, w)[0, 0].numpy()
    array([[9., 9.],
           [9., 9.]])
    """
    op = "conv2d"
    x, weight = _tensor(input), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    _check_conv_operands(op, x, weight, bias, groups)
    c_out, c_in_g, kh, kw = weight.shape
    if c_in_g * groups != x.shape[1]:
        raise ValueError(
            f"{op}: weight {weight.shape} expects {c_in_g * groups} input channels "
            f"(C_in/groups={c_in_g}, groups={groups}), but input {x.shape} has {x.shape[1]}"
        )
    if c_out % groups:
        raise ValueError(f"{op}: out channels {c_out} are not divisible by groups={groups}")
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},), got {bias.shape}")
    sh, sw = _int_pair(op, "stride", stride, 1)
    dh, dw = _int_pair(op, "dilation", dilation, 1)
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if (sh, sw) != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride={stride!r}")
            th, tw = dh * (kh - 1), dw * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ValueError(
                f"{op}: padding must be 'valid', 'same', an int or a pair; got {padding!r}"
            )
    else:
        ph, pw = _int_pair(op, "padding", padding, 0)
        pads = (ph, ph, pw, pw)
    geo = _cv.Geometry(kh, kw, sh, sw, dh, dw, *pads)
    ho, wo = geo.out_size(x.shape[2], x.shape[3])
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{op}: the kernel ({kh}x{kw}, dilation {(dh, dw)}) is larger than the padded input "
            f"({x.shape[2] + pads[0] + pads[1]}x{x.shape[3] + pads[2] + pads[3]}) "
            f"of input {x.shape}"
        )
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return _apply(_cv.Conv2d, inputs, {"geometry": geo, "groups": int(groups)})


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (same argument order).

    It is the gradient of :func:`conv2d` with respect to its input. Shapes: input
    (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW), bias (C_out,) -> (N, C_out, Ho, Wo),
    ``Ho = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1``.
    ``output_padding`` (< stride or < dilation) picks among the input sizes that a strided
    conv2d maps to the same output size.

    >>> x, w = Tensor(np.ones((1, 1, 2, 2))), Tensor(np.ones((1, 1, 3, 3)))
    >>> conv_transpose2d(x, w, stride=2).shape
    (1, 1, 5, 5)
    """
    op = "conv_transpose2d"
    x, weight = _tensor(input), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    _check_conv_operands(op, x, weight, bias, groups)
    c_in, c_out_g, kh, kw = weight.shape
    if c_in != x.shape[1]:
        raise ValueError(
            f"{op}: weight {weight.shape} expects {c_in} input channels, input {x.shape} has "
            f"{x.shape[1]}"
        )
    c_out = c_out_g * groups
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},), got {bias.shape}")
    sh, sw = _int_pair(op, "stride", stride, 1)
    dh, dw = _int_pair(op, "dilation", dilation, 1)
    ph, pw = _int_pair(op, "padding", padding, 0)
    oph, opw = _int_pair(op, "output_padding", output_padding, 0)
    if not (oph < builtins.max(sh, dh) and opw < builtins.max(sw, dw)):
        raise ValueError(
            f"{op}: output_padding {output_padding!r} must be smaller than stride or dilation "
            f"(stride={stride!r}, dilation={dilation!r})"
        )
    h, w = x.shape[2:]
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"{op}: padding {padding!r} leaves an empty output for input {x.shape}")
    geo = _cv.Geometry(kh, kw, sh, sw, dh, dw, ph, ph, pw, pw)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    attrs = {"geometry": geo, "groups": int(groups), "out_hw": (ho, wo)}
    return _apply(_cv.ConvTranspose2d, inputs, attrs)


POOL_MODES = {"max": "max", "average": "average", "avg": "average"}


def pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    mode: str = "max",
    dilation: Any = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Max or average pooling over an NCHW input; one registered op for both.

    ``mode``: ``"max"`` or ``"average"`` (``"avg"`` too). ``stride`` defaults to ``kernel_size``;
    ``padding`` is at most half the kernel; ``dilation`` is for max pooling only;
    ``count_include_pad`` (average) counts the zero padding in each window's divisor.
    Max pooling sends each window's gradient to its first maximum (row-major), so tied windows do
    not double-count.

    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> pool2d(x, 2)[0, 0].numpy()
    array([[ 5.,  7.],
           [13., 15.]])
    >>> pool2d(x, 2, mode="average")[0, 0].numpy()
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    op = "pool2d"
    x = _tensor(input)
    if mode not in POOL_MODES:
        raise ValueError(f"{op}: mode must be one of {sorted(POOL_MODES)}, got {mode!r}")
    mode = POOL_MODES[mode]
    _check_nchw(op, "input", x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got {x.dtype}")
    kh, kw = _int_pair(op, "kernel_size", kernel_size, 1)
    sh, sw = (kh, kw) if stride is None else _int_pair(op, "stride", stride, 1)
    ph, pw = _int_pair(op, "padding", padding, 0)
    dh, dw = _int_pair(op, "dilation", dilation, 1)
    if mode == "average" and (dh, dw) != (1, 1):
        raise ValueError(f"{op}: dilation is only supported with mode='max', got {dilation!r}")
    eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if ph > eff_h // 2 or pw > eff_w // 2:
        raise ValueError(
            f"{op}: padding {padding!r} must be at most half the kernel size "
            f"({kh}x{kw}, dilation {(dh, dw)})"
        )
    h, w = x.shape[2:]
    ho = _pl.pool_out_size(h, kh, sh, ph, dh, ceil_mode)
    wo = _pl.pool_out_size(w, kw, sw, pw, dw, ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{op}: the kernel ({kh}x{kw}, dilation {(dh, dw)}) is larger than the padded input "
            f"({h + 2 * ph}x{w + 2 * pw}) of input {x.shape}"
        )
    attrs = {
        "kernel_size": (kh, kw),
        "stride": (sh, sw),
        "padding": (ph, pw),
        "dilation": (dh, dw),
        "ceil_mode": bool(ceil_mode),
        "count_include_pad": bool(count_include_pad),
        "mode": mode,
    }
    return _apply(_pl.Pool2d, (x,), attrs)


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """Max pooling, as ``torch.nn.functional.max_pool2d`` (same positional order)."""
    return pool2d(input, kernel_size, stride, padding, "max", dilation, ceil_mode)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` (same positional order)."""
    return pool2d(input, kernel_size, stride, padding, "average", 1, ceil_mode, count_include_pad)


def global_avg_pool2d(input: Any) -> Tensor:
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1), like ``AdaptiveAvgPool2d(1)``."""
    x = _tensor(input)
    _check_nchw("global_avg_pool2d", "input", x)
    return mean(x, axis=(2, 3), keepdims=True)


# -- losses ------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def softmax(input: Any, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed stably.

    >>> softmax(Tensor([1.0, 1.0])).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    x = _tensor(input)
    return _apply(_ls.Softmax, (x,), {"axis": _axis("softmax", axis, x.ndim)})


def log_softmax(input: Any, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``: log-probabilities without overflow."""
    x = _tensor(input)
    return _apply(_ls.LogSoftmax, (x,), {"axis": _axis("log_softmax", axis, x.ndim)})


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits (N, C) and integer class labels (N,), as PyTorch.

    ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one loss per sample).

    >>> logits = Tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0, 1]))
    >>> round(loss.item(), 4)
    0.1269
    """
    x = _tensor(input)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
        )
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"cross_entropy: input must be (N, C) logits with N >= 1, got {x.shape}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class labels, got {t.dtype}")
    if t.shape != (x.shape[0],):
        raise ValueError(
            f"cross_entropy: target must have shape ({x.shape[0]},) for input {x.shape}, "
            f"got {t.shape}"
        )
    if t.size and (t.min() < 0 or t.max() >= x.shape[1]):
        raise ValueError(
            f"cross_entropy: target labels must be in [0, {x.shape[1]}), got values from "
            f"{t.min()} to {t.max()}"
        )
    return _apply(_ls.CrossEntropy, (x, _wrap(t, False)), {"reduction": reduction})


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, reduced by ``"mean"``, ``"sum"`` or ``"none"``."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    a, b = _pair(input, target)
    if a.shape != b.shape:
        raise ValueError(f"mse_loss: input {a.shape} and target {b.shape} must have one shape")
    d = sub(a, b)
    sq = mul(d, d)
    return sq if reduction == "none" else (mean(sq) if reduction == "mean" else sum(sq))
