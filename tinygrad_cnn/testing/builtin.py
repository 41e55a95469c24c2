"""The hypothesis strategies of the built-in ops, and :data:`STRATEGIES`, the one map from an op's
name to its strategy.

Built-in ops name no strategy themselves (the ops know nothing of testing);
:func:`strategy_for` finds an op's strategy: the one its ``register_op`` gave, else the one here.
A test fails if a registered op has neither, or if a name here matches no registered op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from tinygrad_cnn.ops.registry import REGISTRY, Op
from tinygrad_cnn.testing.checks import OpCase
from tinygrad_cnn.testing.conv_pool import (
    conv2d_inputs,
    conv2d_weight_inputs,
    conv_transpose2d_inputs,
    pool2d_gather_inputs,
    pool2d_inputs,
    pool2d_spread_inputs,
)
from tinygrad_cnn.testing.strategies import (
    away_from_zero,
    axes,
    broadcast_pair,
    distinct,
    floats,
    on_grid,
    shapes,
)

# -- elementwise, reductions, shape, linear algebra ---------------------------------------------


def unary_inputs():
    return shapes().flatmap(floats).map(lambda a: OpCase((a,)))


def positive_inputs():
    return shapes().flatmap(lambda s: floats(s, 0.2, 3.0)).map(lambda a: OpCase((a,)))


def nonzero_inputs():
    return shapes().flatmap(away_from_zero).map(lambda a: OpCase((a,)))


@st.composite
def leaky_relu_inputs(draw):
    (a,) = draw(nonzero_inputs()).args
    return OpCase((a,), {"negative_slope": draw(st.sampled_from([0.01, 0.2, -0.5, 1.5]))})


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
def normalize_inputs(draw):
    """Distinct values (a spread well away from 0, so 1/std stays moderate) and at least two
    of them in each normalised group."""
    shape = draw(shapes())
    axis = draw(axes(len(shape)))
    if int(np.prod([shape[i] for i in axis])) < 2:
        shape = (*shape[:-1], 3) if shape else (3,)
        axis = (len(shape) - 1,)
    eps = draw(st.sampled_from([1e-5, 0.1, 1.0]))
    a = draw(distinct(shape))
    # weight, or weight and bias: one value per position the normalisation keeps (batch norm's
    # channels), broadcast over the normalised axes
    kept = tuple(1 if i in axis else n for i, n in enumerate(shape))
    affine = [draw(floats(kept)) for _ in range(draw(st.integers(0, 2)))]
    return OpCase((a, *affine), {"axis": axis, "eps": eps})


@st.composite
def normalize_grad_inputs(draw):
    """normalize's inputs, and an upstream gradient of the same shape."""
    case = draw(normalize_inputs())
    a = case.args[0]
    return OpCase((draw(floats(a.shape)), a), case.attrs)


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
def scatter_add_inputs(draw):
    """getitem's cases turned around: the gradient of ``x[index]``, put back into ``x``'s shape."""
    case = draw(getitem_inputs())
    x, index = case.args[0], case.attrs["index"]
    g = draw(floats(x[index].shape))
    return OpCase((g,), {"shape": x.shape, "index": index})


@st.composite
def setitem_inputs(draw):
    """``x[index] = value`` with a basic index (no repeats: which write wins is not defined for
    repeated indices), the value either the indexed part's shape or broadcast to it."""
    shape = draw(shapes(min_dims=1))
    index = draw(hnp.basic_indices(shape, allow_ellipsis=True))
    index = index if isinstance(index, tuple) else (index,)
    part = np.empty(shape)[index].shape
    value_shape = (
        part if draw(st.booleans()) else part[len(part) - draw(st.integers(0, len(part))) :]
    )
    if draw(st.booleans()) and value_shape:
        value_shape = (1,) + value_shape[1:]
    return OpCase((draw(floats(shape)), draw(floats(value_shape))), {"index": index})


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


@st.composite
def einsum_inputs(draw):
    """One to three operands over letters i..l of drawn sizes, each letter at most once per
    operand; the output a drawn subset (so some letters are summed, some only in one operand)."""
    letters = "ijkl"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    inputs = tuple(
        "".join(draw(st.permutations(letters))[: draw(st.integers(0, 3))])
        for _ in range(draw(st.integers(1, 3)))
    )
    used = sorted(set("".join(inputs)))
    output = "".join(c for c in used if draw(st.booleans()))
    args = tuple(draw(floats(tuple(sizes[c] for c in s))) for s in inputs)
    return OpCase(args, {"inputs": inputs, "output": output})


# -- losses ------------------------------------------------------------------------------------


@st.composite
def softmax_inputs(draw):
    shape = draw(shapes(min_dims=1))
    return OpCase((draw(floats(shape, -3.0, 3.0)),), {"axis": draw(st.integers(0, len(shape) - 1))})


def log1p_inputs():
    return shapes().flatmap(lambda s: floats(s, -0.5, 3.0)).map(lambda a: OpCase((a,)))


@st.composite
def rounding_inputs(draw):
    # values on a grid a quarter away from the integers: away from the jumps of every fn
    a = draw(shapes().flatmap(lambda s: on_grid(s, offset=0.25, step=1.0, k=3)))
    fn = draw(st.sampled_from(["floor", "ceil", "round", "trunc", "sign"]))
    return OpCase((a,), {"fn": fn})


@st.composite
def along_axis_inputs(draw, keepdims=False, values=floats):
    shape = draw(shapes(min_dims=1))
    attrs = {"axis": draw(st.integers(0, len(shape) - 1))}
    if keepdims:
        attrs["keepdims"] = draw(st.booleans())
    return OpCase((draw(values(shape)),), attrs)


@st.composite
def cross_entropy_inputs(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    logits = draw(floats((n, c), -3.0, 3.0))
    target = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return OpCase((logits, target), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))})


STRATEGIES: dict[str, Callable[[], Any]] = {
    "add": binary_inputs,
    "sub": binary_inputs,
    "mul": binary_inputs,
    "div": div_inputs,
    "neg": unary_inputs,
    "pow": pow_inputs,
    "exp": unary_inputs,
    "log": positive_inputs,
    "sqrt": positive_inputs,
    "abs": nonzero_inputs,
    "relu": nonzero_inputs,
    "leaky_relu": leaky_relu_inputs,
    "sigmoid": unary_inputs,
    "tanh": unary_inputs,
    "erf": unary_inputs,
    "maximum": untied_pair_inputs,
    "minimum": untied_pair_inputs,
    "clip": clip_inputs,
    "where": where_inputs,
    "clone": unary_inputs,
    "cast": cast_inputs,
    "sum": reduce_inputs,
    "mean": reduce_inputs,
    "max": distinct_reduce_inputs,
    "min": distinct_reduce_inputs,
    "logsumexp": reduce_inputs,
    "var": var_inputs,
    "normalize": normalize_inputs,
    "normalize_grad": normalize_grad_inputs,
    "reshape": reshape_inputs,
    "transpose": transpose_inputs,
    "broadcast_to": broadcast_inputs,
    "getitem": getitem_inputs,
    "scatter_add": scatter_add_inputs,
    "setitem": setitem_inputs,
    "concatenate": concatenate_inputs,
    "stack": stack_inputs,
    "pad": pad_inputs,
    "matmul": matmul_inputs,
    "einsum": einsum_inputs,
    "conv2d": conv2d_inputs,
    "conv_transpose2d": conv_transpose2d_inputs,
    "conv2d_weight": conv2d_weight_inputs,
    "pool2d": pool2d_inputs,
    "pool2d_spread": pool2d_spread_inputs,
    "pool2d_gather": pool2d_gather_inputs,
    "softmax": softmax_inputs,
    "log_softmax": softmax_inputs,
    "cross_entropy": cross_entropy_inputs,
    "sin": unary_inputs,
    "cos": unary_inputs,
    "log1p": log1p_inputs,
    "expm1": unary_inputs,
    "rounding": rounding_inputs,
    "cumsum": along_axis_inputs,
    "prod": lambda: along_axis_inputs(keepdims=True, values=away_from_zero),
}


def strategy_for(op: type[Op] | str) -> Any:
    """The hypothesis strategy of ``op`` (an Op class or a registered name): the ``strategy``
    given to ``register_op``, else the built-in one. LookupError if it has none."""
    if isinstance(op, str):
        op = REGISTRY[op]
    make = op.strategy or STRATEGIES.get(op.name)
    if make is None:
        raise LookupError(
            f"op '{op.name}' has no hypothesis strategy: pass strategy= to register_op"
        )
    return make()
