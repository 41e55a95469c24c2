"""softmax, log_softmax and the losses; see :mod:`tinygrad_cnn.ops.loss`."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor, operands
from tinygrad_cnn.functional.elementwise import abs, clip, exp, log, mul, relu, sub, where
from tinygrad_cnn.functional.reduce import mean, sum
from tinygrad_cnn.functional.shape import getitem
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


def _reduce(fn: str, losses: Tensor, reduction: str, weights: Tensor | None = None) -> Tensor:
    """``"none"``: the losses; ``"sum"``: their sum; ``"mean"``: their mean, or, with
    ``weights``, their sum over the sum of the weights (PyTorch's weighted mean)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return sum(losses)
    return sum(losses) / sum(weights) if weights is not None else mean(losses)


def _class_target(fn: str, x: Tensor, t: np.ndarray, ignore_index: int) -> np.ndarray:
    """Integer class labels of shape (N, d1, ...) for (N, C, d1, ...) input, in [0, C) except
    where they equal ``ignore_index``."""
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class labels, got {t.dtype}")
    expected = (x.shape[0], *x.shape[2:])
    if t.shape != expected:
        raise ValueError(
            f"{fn}: target must have shape {expected} for input {x.shape}, got {t.shape}"
        )
    valid = t[t != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= x.shape[1]):
        raise ValueError(
            f"{fn}: target labels must be in [0, {x.shape[1]}), got values from "
            f"{valid.min()} to {valid.max()}"
        )
    return t.astype(np.int64)


def _picked(logp: Tensor, t: np.ndarray, ignore: np.ndarray) -> Tensor:
    """``logp[n, t[n, ...], ...]``, zero where ignored: (N, d1, ...)."""
    safe = np.where(ignore, 0, t)
    grid = list(np.indices(t.shape, sparse=True))
    index = (grid[0], safe, *grid[1:])
    return getitem(logp, index) * (~ignore).astype(logp.dtype)


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean"):  # fmt: skip
    """The negative log-likelihood of the target classes, from log-probabilities (N, C, ...):
    ``-weight[t] * input[n, t]``; ``"mean"`` divides by the summed weights of the targets not
    equal to ``ignore_index``."""
    x = _args.floating("nll_loss", "input", as_tensor(input))
    _args.choice("nll_loss", "reduction", reduction, REDUCTIONS)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"nll_loss: input must be (N, C, ...) with N >= 1, got {x.shape}")
    t = np.asarray(target._data if isinstance(target, Tensor) else target)
    t = _class_target("nll_loss", x, t, ignore_index)
    ignore = t == ignore_index
    picked = _picked(x, t, ignore)
    if weight is None:
        w = Tensor._wrap((~ignore).astype(x.dtype), False)
        return _reduce("nll_loss", -picked, reduction, w if ignore.any() else None)
    wt = as_tensor(weight)
    if wt.shape != (x.shape[1],):
        raise ValueError(f"nll_loss: weight must have shape ({x.shape[1]},), got {wt.shape}")
    w = getitem(wt, (np.where(ignore, 0, t),)) * (~ignore).astype(x.dtype)
    return _reduce("nll_loss", -picked * w, reduction, w)


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:  # fmt: skip
    """Softmax cross-entropy from logits (N, C) or (N, C, d1, ...), as PyTorch: ``target``
    holds class indices (with ``weight`` per class and ``ignore_index``) or class
    probabilities of input's shape; ``label_smoothing`` mixes the target with the uniform
    distribution. ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    >>> logits = Tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0, 1]))
    >>> round(loss.item(), 4)
    0.1269
    """
    x = _args.floating("cross_entropy", "input", as_tensor(input))
    _args.choice("cross_entropy", "reduction", reduction, REDUCTIONS)
    smoothing = _args.finite("cross_entropy", "label_smoothing", label_smoothing, 0.0, 1.0)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"cross_entropy: input must be (N, C) logits with N >= 1, got {x.shape}")
    t = np.asarray(target._data if isinstance(target, Tensor) else target)
    if t.dtype.kind == "f":  # class probabilities
        tt = target if isinstance(target, Tensor) else Tensor._wrap(t, False)
        if tt.shape != x.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have input's shape {x.shape}, "
                f"got {tt.shape}"
            )
        logp = log_softmax(x, dim=1)
        if smoothing:
            tt = tt * (1 - smoothing) + smoothing / x.shape[1]
        if weight is not None:
            logp = logp * as_tensor(weight).reshape((1, -1) + (1,) * (x.ndim - 2))
        losses = -sum(logp * tt, dim=1)
        return _reduce("cross_entropy", losses, reduction)
    plain = weight is None and smoothing == 0.0 and x.ndim == 2 and not (t == ignore_index).any()
    if plain:  # the fused op: one pass forward and backward
        t = _class_target("cross_entropy", x, t, ignore_index)
        return apply(CrossEntropy, (x, Tensor._wrap(t, False)), {"reduction": reduction})
    logp = log_softmax(x, dim=1)
    loss = nll_loss(logp, t, weight, ignore_index=ignore_index, reduction=reduction)
    if not smoothing:
        return loss
    t = _class_target("cross_entropy", x, t, ignore_index)
    ignore = t == ignore_index
    wshape = (1, -1) + (1,) * (x.ndim - 2)
    weighted = logp if weight is None else logp * as_tensor(weight).reshape(wshape)
    uniform = -sum(weighted, dim=1) * (~ignore).astype(x.dtype) / x.shape[1]
    if reduction == "mean":
        if weight is None:
            denom = float((~ignore).sum())
        else:
            denom = sum(getitem(as_tensor(weight), (np.where(ignore, 0, t),)) * (~ignore))
        smooth = sum(uniform) / denom
    else:
        smooth = _reduce("cross_entropy", uniform, reduction)
    return loss * (1 - smoothing) + smooth * smoothing


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, reduced by ``"mean"``, ``"sum"`` or ``"none"``."""
    _args.choice("mse_loss", "reduction", reduction, REDUCTIONS)
    a, b = operands(input, target)
    if a.shape != b.shape:
        raise ValueError(f"mse_loss: input {a.shape} and target {b.shape} must have one shape")
    d = sub(a, b)
    sq = mul(d, d)
    return sq if reduction == "none" else (mean(sq) if reduction == "mean" else sum(sq))


def _pair(fn: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    a, b = operands(input, target)
    if a.shape != b.shape:
        raise ValueError(f"{fn}: input {a.shape} and target {b.shape} must have one shape")
    return a, b


def l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean") -> Tensor:  # fmt: skip
    """Absolute error ``|input - target|``, reduced by ``"mean"``, ``"sum"`` or ``"none"``."""
    _args.choice("l1_loss", "reduction", reduction, REDUCTIONS)
    a, b = _pair("l1_loss", input, target)
    return _reduce("l1_loss", abs(a - b), reduction)


def smooth_l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:  # fmt: skip
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = input - target)."""
    _args.choice("smooth_l1_loss", "reduction", reduction, REDUCTIONS)
    beta = _args.finite("smooth_l1_loss", "beta", beta, 0.0)
    a, b = _pair("smooth_l1_loss", input, target)
    d = abs(a - b)
    if beta == 0:
        return _reduce("smooth_l1_loss", d, reduction)
    losses = where(d._data < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce("smooth_l1_loss", losses, reduction)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """``-(t log p + (1 - t) log(1 - p))`` from probabilities ``p`` in [0, 1]; each log is
    clamped at -100, as PyTorch."""
    _args.choice("binary_cross_entropy", "reduction", reduction, REDUCTIONS)
    p, t = _pair("binary_cross_entropy", input, target)
    if p._data.size and (p._data.min() < 0 or p._data.max() > 1):
        raise RuntimeError("binary_cross_entropy: all elements of input should be in [0, 1]")
    with np.errstate(divide="ignore"):
        log_p = clip(log(p), min=-100.0)
        log_q = clip(log(1.0 - p), min=-100.0)
    losses = -(t * log_p + (1.0 - t) * log_q)
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy", losses, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None):  # fmt: skip
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the logits:
    ``(1 - t) x + (1 + (pos_weight - 1) t) * (log(1 + exp(-|x|)) + max(-x, 0))``."""
    _args.choice("binary_cross_entropy_with_logits", "reduction", reduction, REDUCTIONS)
    x, t = _pair("binary_cross_entropy_with_logits", input, target)
    softplus_neg = log(exp(-abs(x)) + 1.0) + relu(-x)  # log(1 + exp(-x)), stably
    scale = 1.0 if pos_weight is None else (t * (as_tensor(pos_weight) - 1.0) + 1.0)
    losses = (1.0 - t) * x + softplus_neg * scale
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy_with_logits", losses, reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 delta)``: ``delta`` times
    :func:`smooth_l1_loss` with ``beta=delta``."""
    _args.choice("huber_loss", "reduction", reduction, REDUCTIONS)
    delta = _args.finite("huber_loss", "delta", delta, 0.0)
    if delta == 0:
        raise ValueError("huber_loss: delta must be > 0")
    return smooth_l1_loss(input, target, reduction=reduction, beta=delta) * delta


def kl_div(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:  # fmt: skip
    """The Kullback-Leibler divergence of ``target`` from the log-probabilities ``input``:
    ``target * (log(target) - input)`` (0 where target is 0), or with ``log_target``
    ``exp(target) * (target - input)``; ``reduction="batchmean"`` (the mathematically right
    one) divides the sum by the batch size, ``"mean"`` by the number of elements."""
    _args.choice("kl_div", "reduction", reduction, (*REDUCTIONS, "batchmean"))
    x, t = _pair("kl_div", input, target)
    if log_target:
        losses = exp(t) * (t - x)
    else:
        positive = t._data > 0
        safe = where(positive, t, 1.0)
        losses = where(positive, t * (log(safe) - x), 0.0)
    if reduction == "batchmean":
        return sum(losses) / (x.shape[0] if x.ndim else 1)
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by the batch size and the support "
            "size; 'batchmean' divides by the batch size only, as the KL divergence's definition",
            UserWarning,
            stacklevel=2,
        )
    return _reduce("kl_div", losses, reduction)
