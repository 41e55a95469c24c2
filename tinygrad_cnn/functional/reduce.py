"""Reductions over ``axis`` (None: all dims; an int; a tuple of ints) with ``keepdims``."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn.autograd import apply, as_tensor
from tinygrad_cnn.ops.reduce import LogSumExp, Max, Mean, Min, Sum, Var
from tinygrad_cnn.tensor import Tensor


def _reduce(op: Any, a: Any, axis: Any, keepdims: bool, nonempty: bool = False, **kw) -> Tensor:
    """Normalise ``axis`` and apply a reduction op; ``nonempty`` refuses empty axes (max, ...)."""
    a = as_tensor(a)
    axes = _args.axes(op.name, axis, a.ndim)
    if nonempty and any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"{op.name}: cannot reduce over an empty axis (shape {a.shape})")
    return apply(op, (a,), {"axis": axes, "keepdims": bool(keepdims), **kw})


def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all)."""
    return _reduce(Sum, a, axis, keepdims)


def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all)."""
    return _reduce(Mean, a, axis, keepdims)


def max(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _reduce(Max, a, axis, keepdims, nonempty=True)


def min(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _reduce(Min, a, axis, keepdims, nonempty=True)


def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(a), axis))``, stable for large inputs."""
    return _reduce(LogSumExp, a, axis, keepdims, nonempty=True)


def var(a: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``axis`` divided by ``N - correction`` (1: unbiased, as ``torch.var``)."""
    return _reduce(Var, a, axis, keepdims, correction=correction)
