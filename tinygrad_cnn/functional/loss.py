"""softmax, log_softmax and the losses; see :mod:`tinygrad_cnn.ops.loss`."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.autograd import apply, as_tensor, operands
from tinygrad_cnn.functional.elementwise import mul, sub
from tinygrad_cnn.functional.reduce import mean, sum
from tinygrad_cnn.ops.loss import CrossEntropy, LogSoftmax, Softmax
from tinygrad_cnn.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _softmax_dim(fn: str, x: Tensor, dim: Any, axis: Any) -> int:
    """``dim`` (``axis``: NumPy's name); None picks as PyTorch did before dim was required
    (0 for 0-, 1- and 3-D input, else 1), with PyTorch's warning."""
    dim = axis if dim is None else dim
    if dim is None:
        warnings.warn(
            f"{fn}: implicit dimension choice has been deprecated; pass dim=", stacklevel=3
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return _args.axis(fn, dim, x.ndim)


def softmax(input: Any, dim: Any = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably.

    >>> softmax(Tensor([1.0, 1.0]), dim=0).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    x = _args.floating("softmax", "input", x)
    return apply(Softmax, (x,), {"axis": _softmax_dim("softmax", x, dim, axis)})


def log_softmax(input: Any, dim: Any = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``: log-probabilities without overflow."""
    x = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    x = _args.floating("log_softmax", "input", x)
    return apply(LogSoftmax, (x,), {"axis": _softmax_dim("log_softmax", x, dim, axis)})


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits (N, C) and integer class labels (N,), as PyTorch.

    ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one loss per sample).

    >>> logits = Tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0, 1]))
    >>> round(loss.item(), 4)
    0.1269
    """
    x = _args.floating("cross_entropy", "input", as_tensor(input))
    t = np.asarray(target._data if isinstance(target, Tensor) else target)
    _args.choice("cross_entropy", "reduction", reduction, REDUCTIONS)
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
    return apply(CrossEntropy, (x, Tensor._wrap(t, False)), {"reduction": reduction})


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, reduced by ``"mean"``, ``"sum"`` or ``"none"``."""
    _args.choice("mse_loss", "reduction", reduction, REDUCTIONS)
    a, b = operands(input, target)
    if a.shape != b.shape:
        raise ValueError(f"mse_loss: input {a.shape} and target {b.shape} must have one shape")
    d = sub(a, b)
    sq = mul(d, d)
    return sq if reduction == "none" else (mean(sq) if reduction == "mean" else sum(sq))
