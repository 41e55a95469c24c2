"""``linear`` and the normalisations of ``torch.nn.functional``: ``batch_norm``, ``layer_norm``,
``group_norm``, ``normalize``. Batch (in training), layer and group normalisation centre and
scale with one op, ``normalize`` (:class:`tinygrad_cnn.ops.norm.Normalize`); the rest are
compositions of registered ops: their gradients, of any order, come from those ops'."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor, operands
from tinygrad_cnn.functional.elementwise import clip, sqrt
from tinygrad_cnn.functional.linalg import matmul
from tinygrad_cnn.functional.reduce import norm, sum
from tinygrad_cnn.ops.norm import Normalize, normalized
from tinygrad_cnn.tensor import Tensor


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias``; weight (out_features, in_features)."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"linear: input {x.shape} and weight {w.shape} do not fit: the input's last "
            "dimension must equal weight.shape[1]"
        )
    y = matmul(x, w.T)
    return y if bias is None else y + bias


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise each channel (dim 1) of (N, C, ...) input: by the batch's mean and biased
    variance when ``training`` (updating ``running_mean``/``running_var`` in place with
    ``momentum``, the variance unbiased), else by the running estimates."""
    x = _args.floating("batch_norm", "input", as_tensor(input))
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected (N, C, ...) input, got {x.shape}")
    momentum = _args.finite("batch_norm", "momentum", momentum, 0.0, 1.0)
    eps = _args.finite("batch_norm", "eps", eps, 0.0)
    axes = (0, *range(2, x.ndim))
    shape = _channel_shape(x)
    if training:
        n = x.numel() // x.shape[1]
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got {x.shape}"
            )
        # weight and bias in the op (a bias alone with a weight of ones), so that the op's
        # node is y's, whose statistics the running estimates read
        affine = [as_tensor(p).reshape(shape) for p in (weight, bias) if p is not None]
        if weight is None and bias is not None:
            affine.insert(0, as_tensor(np.ones(shape, x.dtype)))
        y = apply(Normalize, (x, *affine), {"axis": axes, "eps": eps})
        if running_mean is not None and running_var is not None:
            # the batch's statistics update the running estimates in place, in NumPy (as
            # PyTorch's kernel does); the op's forward computed them, and kept them when it
            # was recorded
            node = y.grad_fn
            stats = (
                (node.mean, node.var) if node is not None else normalized(x._data, axes, eps)[1:3]
            )
            mu, var = (s.reshape(-1) for s in stats)
            var = var * (n / (n - 1))  # unbiased
            for stat, batch in ((running_mean, mu), (running_var, var)):
                stat = as_tensor(stat)
                data = stat._data
                data *= 1 - momentum
                data += batch * momentum
                stat.bump_version()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed in eval mode")
        mu = as_tensor(running_mean).reshape(shape)
        var = as_tensor(running_var).reshape(shape)
        y = (x - mu) / sqrt(var + eps)
        if weight is not None:
            y = y * as_tensor(weight).reshape(shape)
        if bias is not None:
            y = y + as_tensor(bias).reshape(shape)
    return y


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise over the last ``len(normalized_shape)`` dimensions (mean and biased variance),
    then ``* weight + bias`` (both of ``normalized_shape``)."""
    x = _args.floating("layer_norm", "input", as_tensor(input))
    shape = _args.shape("layer_norm", normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k :] != shape:
        raise RuntimeError(
            f"layer_norm: normalized_shape {shape} must be the last dimensions of input {x.shape}"
        )
    eps = _args.finite("layer_norm", "eps", eps, 0.0)
    axes = tuple(range(x.ndim - k, x.ndim))
    y = apply(Normalize, (x,), {"axis": axes, "eps": eps})
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise (N, C, ...) input over each group of ``C / num_groups`` channels and the
    remaining dimensions, then ``* weight + bias`` per channel."""
    x = _args.floating("group_norm", "input", as_tensor(input))
    g = _args.positive_int("group_norm", "num_groups", num_groups)
    if x.ndim < 2 or x.shape[1] % g:
        raise RuntimeError(
            f"group_norm: the channels of input {x.shape} are not divisible by num_groups={g}"
        )
    eps = _args.finite("group_norm", "eps", eps, 0.0)
    grouped = x.reshape(x.shape[0], g, -1)
    y = apply(Normalize, (grouped,), {"axis": (2,), "eps": eps}).reshape(x.shape)
    shape = _channel_shape(x)
    if weight is not None:
        y = y * as_tensor(weight).reshape(shape)
    if bias is not None:
        y = y + as_tensor(bias).reshape(shape)
    return y


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``."""
    x = _args.floating("normalize", "input", as_tensor(input))
    d = _args.axis("normalize", dim, x.ndim)
    n = norm(x, p, d, keepdim=True)
    return x / clip(n, min=float(np.float64(eps)))


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / max(|x1| |x2|, eps)`` along ``dim`` (broadcasting the two)."""
    a, b = operands(x1, x2)
    eps = _args.finite("cosine_similarity", "eps", eps, 0.0)
    shape = np.broadcast_shapes(a.shape, b.shape)
    d = _args.axis("cosine_similarity", dim, len(shape))
    dot = sum(a * b, d)
    norms = sum(a * a, d) * sum(b * b, d)
    return dot / sqrt(clip(norms, min=eps * eps))


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:  # fmt: skip
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim."""
    a, b = operands(x1, x2)
    eps = _args.finite("pairwise_distance", "eps", eps, 0.0)
    return norm(a - b + eps, p, -1, keepdim)
