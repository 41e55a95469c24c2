"""Hypothesis strategies for op inputs, and the checks the property tests run on every op.

Public, so you can property-test ops you register yourself::

    from hypothesis import given
    from tinygrad_cnn import testing

    @given(case=MyOp.strategy())
    def test_my_op(case):
        testing.check_op(MyOp, case)

A strategy draws an :class:`OpCase`: the op's array inputs (float64 for the differentiable ones)
and its keyword attributes, exactly as ``Op.forward`` receives them. Strategies are valid by
construction (shapes are drawn first, then everything derived from them), and the strategies of
non-smooth ops keep values away from kinks and ties, so finite differences are meaningful.

Needs ``hypothesis`` (the ``dev`` extra).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinygrad_cnn.gradcheck import gradcheck
from tinygrad_cnn.ops.registry import Op
from tinygrad_cnn.tensor import Tensor


@dataclasses.dataclass
class OpCase:
    """One valid call of an op: ``op.forward(ctx, *args, **attrs)``."""

    args: tuple[np.ndarray, ...]
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.args)
        return f"OpCase(args=[{shapes}], attrs={self.attrs!r})"


# -- building blocks ---------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def floats(shape, lo: float = -2.0, hi: float = 2.0):
    """float64 arrays of ``shape`` with values in ``[lo, hi]``."""
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, width=64))


def away_from_zero(shape, lo: float = 0.1, hi: float = 2.0):
    """float64 arrays whose values have ``lo <= |x| <= hi``."""
    mag = st.floats(lo, hi, width=64)
    return hnp.arrays(np.float64, shape, elements=st.one_of(mag, mag.map(lambda x: -x)))


def on_grid(shape, offset: float = 0.0, step: float = 0.5, k: int = 6):
    """float64 arrays with values ``offset + step * j`` for integer ``|j| <= k``.

    Two grids with different offsets never meet, which keeps comparisons away from ties.
    """
    return hnp.arrays(
        np.float64, shape, elements=st.integers(-k, k).map(lambda j: offset + step * j)
    )


@st.composite
def distinct(draw, shape, step: float = 0.25):
    """float64 arrays of ``shape`` whose values are pairwise at least ``step`` apart."""
    n = int(np.prod(shape))
    perm = draw(st.permutations(range(n)))
    return (np.array(perm, dtype=np.float64).reshape(shape) - n / 2) * step


def broadcast_pair(min_dims: int = 0, max_dims: int = 3):
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, max_side=4
    )


@st.composite
def axes(draw, ndim: int):
    """A normalized ``axis`` attribute: a sorted tuple of distinct dims (possibly all)."""
    if ndim == 0:
        return ()
    return tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1))))


# -- strategies of the built-in ops ------------------------------------------------------------


def unary_inputs():
    return shapes().flatmap(floats).map(lambda a: OpCase((a,)))


def positive_inputs():
    return shapes().flatmap(lambda s: floats(s, 0.2, 3.0)).map(lambda a: OpCase((a,)))


def nonzero_inputs():
    return shapes().flatmap(away_from_zero).map(lambda a: OpCase((a,)))


@st.composite
def binary_inputs(draw):
    sa, sb = draw(broadcast_pair()).input_shapes
    return OpCase((draw(floats(sa)), draw(floats(sb))))


@st.composite
def div_inputs(draw):
    sa, sb = draw(broadcast_pair()).input_shapes
    return OpCase((draw(floats(sa)), draw(away_from_zero(sb, 0.5, 2.0))))


@st.composite
def pow_inputs(draw):
    sa, sb = draw(broadcast_pair()).input_shapes
    return OpCase((draw(floats(sa, 0.5, 2.0)), draw(floats(sb, -2.0, 2.0))))


@st.composite
def untied_pair_inputs(draw):
    sa, sb = draw(broadcast_pair()).input_shapes
    return OpCase((draw(on_grid(sa)), draw(on_grid(sb, offset=0.25))))


@st.composite
def clip_inputs(draw):
    a = draw(shapes().flatmap(lambda s: on_grid(s, offset=0.25)))
    lo = draw(st.none() | st.integers(-6, 4).map(lambda j: 0.5 * j))
    hi = draw(st.none() | st.integers(-4, 6).map(lambda j: 0.5 * j))
    if lo is None and hi is None:
        lo = 0.0
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return OpCase((a,), {"min": lo, "max": hi})


@st.composite
def where_inputs(draw):
    sc, sa, sb = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)
    ).input_shapes
    return OpCase((draw(hnp.arrays(np.bool_, sc)), draw(floats(sa)), draw(floats(sb))))


def cast_inputs():
    return unary_inputs().map(lambda c: OpCase(c.args, {"dtype": np.dtype(np.float64)}))


@st.composite
def reduce_inputs(draw, values=floats):
    shape = draw(shapes())
    return OpCase(
        (draw(values(shape)),), {"axis": draw(axes(len(shape))), "keepdims": draw(st.booleans())}
    )


def distinct_reduce_inputs():
    return reduce_inputs(values=distinct)


@st.composite
def var_inputs(draw):
    case = draw(reduce_inputs())
    count = int(np.prod([case.args[0].shape[i] for i in case.attrs["axis"]]))
    case.attrs["correction"] = draw(st.sampled_from([0, 1])) if count > 1 else 0
    return case


@st.composite
def reshape_inputs(draw):
    shape = draw(shapes())
    new = list(draw(st.permutations(shape)))
    if len(new) >= 2 and draw(st.booleans()):
        new[:2] = [new[0] * new[1]]
    return OpCase((draw(floats(shape)),), {"shape": tuple(new)})


@st.composite
def transpose_inputs(draw):
    shape = draw(shapes())
    perm = tuple(draw(st.permutations(range(len(shape)))))
    return OpCase((draw(floats(shape)),), {"axes": perm})


@st.composite
def broadcast_inputs(draw):
    target = draw(shapes(max_dims=4))
    drop = draw(st.integers(0, len(target)))
    src = tuple(1 if draw(st.booleans()) else n for n in target[drop:])
    return OpCase((draw(floats(src)),), {"shape": target})


@st.composite
def getitem_inputs(draw):
    shape = draw(shapes(min_dims=1))
    if draw(st.booleans()):
        index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
        if not isinstance(index, tuple):
            index = (index,)
    else:  # integer-array index on one axis, with repeats so gradients must accumulate
        ax = draw(st.integers(0, len(shape) - 1))
        n = shape[ax]
        idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
        index = (slice(None),) * ax + (idx,)
    return OpCase((draw(floats(shape)),), {"index": index})


@st.composite
def concatenate_inputs(draw):
    shape = draw(shapes(min_dims=1))
    ax = draw(st.integers(0, len(shape) - 1))
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    args = tuple(draw(floats(shape[:ax] + (k,) + shape[ax + 1 :])) for k in sizes)
    return OpCase(args, {"axis": ax})


@st.composite
def stack_inputs(draw):
    shape = draw(shapes())
    n = draw(st.integers(1, 3))
    return OpCase(
        tuple(draw(floats(shape)) for _ in range(n)), {"axis": draw(st.integers(0, len(shape)))}
    )


@st.composite
def pad_inputs(draw):
    shape = draw(shapes())
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return OpCase(
        (draw(floats(shape)),), {"widths": widths, "value": draw(st.sampled_from([0.0, -1.5]))}
    )


@st.composite
def matmul_inputs(draw):
    sa, sb = draw(
        hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=4)
    ).input_shapes
    return OpCase((draw(floats(sa)), draw(floats(sb))))


# -- the checks --------------------------------------------------------------------------------


def _inputs(case: OpCase, dtype: Any = None) -> list[Tensor]:
    out = []
    for a in case.args:
        if a.dtype.kind == "f":
            out.append(Tensor(a if dtype is None else a.astype(dtype), requires_grad=True))
        else:
            out.append(Tensor(a))
    return out


def _upstream(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_vjp(op: type[Op], case: OpCase, **tolerances: Any) -> None:
    """The op's VJP agrees with central differences in float64 (raises GradcheckError)."""
    gradcheck(lambda *xs: op.apply(*xs, **case.attrs), _inputs(case), **tolerances)


def check_adjoint(op: type[Op], case: OpCase, rtol: float = 1e-9) -> None:
    """For each input ``x`` the op is linear (or affine) in, with the others held fixed:
    ``<f(x) - f(0), g> == <x, vjp(g)>``. Subtracting ``f(0)`` removes the part that does not
    depend on ``x`` (``b`` in ``a + b``), so the test is exact for every such op."""
    for i in op.linear_in:
        if i >= len(case.args) or case.args[i].dtype.kind != "f":
            continue
        xs = [Tensor(a) for a in case.args]
        xs[i].requires_grad_(True)
        out = op.apply(*xs, **case.attrs)
        zeroed = [Tensor(np.zeros_like(a) if k == i else a) for k, a in enumerate(case.args)]
        offset = op.apply(*zeroed, **case.attrs).data
        g = _upstream(out.shape, np.float64, seed=i)
        out.backward(g)
        lhs = float(np.sum((out.data - offset) * g))
        rhs = float(np.sum(case.args[i] * xs[i].grad.data))
        # rounding scales with the terms before cancellation, not with their difference
        scale = float(np.sum(np.abs(out.data * g)) + np.sum(np.abs(offset * g))) + 1e-300
        if abs(lhs - rhs) > rtol * scale:
            raise AssertionError(
                f"op '{op.name}': adjoint test failed for input {i}: <f(x) - f(0), g> = {lhs!r} "
                f"but <x, vjp(g)> = {rhs!r}"
            )


def check_invariants(op: type[Op], case: OpCase, dtype: Any = np.float32) -> None:
    """Inputs and the upstream gradient are not mutated; gradients do not share memory with them
    or with each other; the output and the gradients keep the inputs' dtype (run in ``dtype``)."""
    xs = _inputs(case, dtype)
    before = [x.data.copy() for x in xs]
    out = op.apply(*xs, **case.attrs)
    expected = np.dtype(case.attrs.get("dtype", dtype))  # a cast op names its output dtype
    if out.dtype != expected:
        raise AssertionError(
            f"op '{op.name}': output dtype {out.dtype} for {np.dtype(dtype)} inputs"
        )
    g = _upstream(out.shape, dtype)
    g_before = g.copy()
    out.backward(g)
    for i, (x, b) in enumerate(zip(xs, before)):
        if not np.array_equal(x.data, b):
            raise AssertionError(f"op '{op.name}': input {i} was mutated")
    if not np.array_equal(g, g_before):
        raise AssertionError(f"op '{op.name}': the upstream gradient was mutated")
    grads = [x.grad.data for x in xs if x.requires_grad]
    arrays = [x.data for x in xs] + [g, out.data]
    for i, gr in enumerate(grads):
        if gr.dtype != np.dtype(dtype):
            raise AssertionError(f"op '{op.name}': gradient {i} has dtype {gr.dtype}")
        for other in arrays + grads[:i]:
            if gr.size and np.shares_memory(gr, other):
                raise AssertionError(f"op '{op.name}': gradient {i} shares memory")


def check_op(op: type[Op], case: OpCase) -> None:
    """All of the above: finite differences, adjoint (linear inputs), invariants."""
    check_vjp(op, case)
    check_adjoint(op, case)
    check_invariants(op, case)


# -- convolution and pooling: draw the output size and the geometry, derive the input size ------


@st.composite
def _axis_geometry(draw, max_kernel=3, max_stride=3, max_dilation=2, max_pad=2, max_out=3):
    """One spatial axis: (kernel, stride, dilation, pad_before, pad_after, input size, out size).

    Covers 1x1 kernels, strides larger than the kernel, padding 0, and the kernel equal to the
    padded input (out = 1, no slack).
    """
    k = draw(st.integers(1, max_kernel))
    s = draw(st.integers(1, max_stride))
    d = draw(st.integers(1, max_dilation)) if k > 1 else 1
    out = draw(st.integers(1, max_out))
    slack = draw(st.integers(0, s - 1))  # rows the last window leaves unread
    padded = (out - 1) * s + d * (k - 1) + 1 + slack
    pb = draw(st.integers(0, min(max_pad, padded - 1)))
    pa = draw(st.integers(0, min(max_pad, padded - 1 - pb)))
    return k, s, d, pb, pa, padded - pb - pa, out


@st.composite
def _conv_arrays(draw, x_shape, w_shape, bias_size):
    """Input and weight in [-1, 1], and half the time a bias for the output channels."""
    args = (draw(floats(x_shape, -1.0, 1.0)), draw(floats(w_shape, -1.0, 1.0)))
    if draw(st.booleans()):
        args += (draw(floats((bias_size,), -1.0, 1.0)),)
    return args


@st.composite
def conv2d_inputs(draw):
    from tinygrad_cnn.ops.conv import Geometry

    groups = draw(st.integers(1, 3))
    c_in_g, c_out_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kh, sh, dh, pt, pb, h, _ = draw(_axis_geometry())
    kw, sw, dw, pl, pr, w, _ = draw(_axis_geometry())
    c_out = c_out_g * groups
    args = draw(_conv_arrays((n, c_in_g * groups, h, w), (c_out, c_in_g, kh, kw), c_out))
    geo = Geometry(kh, kw, sh, sw, dh, dw, pt, pb, pl, pr)
    return OpCase(args, {"geometry": geo, "groups": groups})


@st.composite
def conv_transpose2d_inputs(draw):
    from tinygrad_cnn.ops.conv import Geometry

    groups = draw(st.integers(1, 3))
    c_in_g, c_out_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    hw, geo_axes = [], []
    for _ in range(2):  # per axis: the conv2d this transposes maps `size` back to `out`
        k, s, d, p, _, _, out = draw(_axis_geometry(max_pad=0))
        p = draw(st.integers(0, (d * (k - 1)) // 2))
        op = draw(st.integers(0, max(s, d) - 1))
        size = (out - 1) * s - 2 * p + d * (k - 1) + op + 1
        if size < 1:
            p, size = 0, (out - 1) * s + d * (k - 1) + op + 1
        hw.append(size)
        geo_axes.append((k, s, d, p, out))
    (kh, sh, dh, ph, h), (kw, sw, dw, pw, w) = geo_axes
    x_shape, w_shape = (n, c_in_g * groups, h, w), (c_in_g * groups, c_out_g, kh, kw)
    args = draw(_conv_arrays(x_shape, w_shape, c_out_g * groups))
    geo = Geometry(kh, kw, sh, sw, dh, dw, ph, ph, pw, pw)
    return OpCase(args, {"geometry": geo, "groups": groups, "out_hw": tuple(hw)})


@st.composite
def pool2d_inputs(draw, mode=None):
    from tinygrad_cnn.ops.pool import pool_out_size

    mode = mode or draw(st.sampled_from(["max", "average"]))
    dims = []
    for _ in range(2):
        k = draw(st.integers(1, 3))
        s = draw(st.integers(1, 3))
        d = draw(st.integers(1, 2)) if mode == "max" and k > 1 else 1
        p = draw(st.integers(0, (d * (k - 1) + 1) // 2 if mode == "max" else k // 2))
        size = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 6))
        dims.append((k, s, d, p, size))
    ceil_mode = draw(st.booleans())
    for k, s, d, p, size in dims:
        if pool_out_size(size, k, s, p, d, ceil_mode) < 1:
            ceil_mode = False
    for k, s, d, p, size in dims:
        # with dilation, a window can fall entirely on padding: its max is -inf (as in PyTorch)
        # and it has no gradient to check, so such geometries are not drawn
        for i in range(pool_out_size(size, k, s, p, d, ceil_mode)):
            assume(any(0 <= i * s - p + j * d < size for j in range(k)))
    (kh, sh, dh, ph, h), (kw, sw, dw, pw, w) = dims
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    # max pooling: distinct values, so no window has a tie and finite differences are exact
    x = draw(distinct(shape)) if mode == "max" else draw(floats(shape, -1.0, 1.0))
    attrs = {
        "kernel_size": (kh, kw),
        "stride": (sh, sw),
        "padding": (ph, pw),
        "dilation": (dh, dw),
        "ceil_mode": ceil_mode,
        "count_include_pad": draw(st.booleans()),
        "mode": mode,
    }
    return OpCase((x,), attrs)


# -- losses ------------------------------------------------------------------------------------


@st.composite
def softmax_inputs(draw):
    shape = draw(shapes(min_dims=1))
    return OpCase((draw(floats(shape, -3.0, 3.0)),), {"axis": draw(st.integers(0, len(shape) - 1))})


@st.composite
def cross_entropy_inputs(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    logits = draw(floats((n, c), -3.0, 3.0))
    target = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return OpCase((logits, target), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))})
