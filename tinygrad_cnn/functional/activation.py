"""Activations and dropout with ``torch.nn.functional``'s names and arguments. Each is a
composition of registered ops (``erf`` is one), so its gradients, of any order, come from theirs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.engine import apply, as_tensor
from tinygrad_cnn.functional.elementwise import abs, clip, exp, log, relu, sigmoid, tanh, where
from tinygrad_cnn.functional.loss import softmax
from tinygrad_cnn.ops.elementwise import Erf
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.tensor import Tensor


def erf(input: Any) -> Tensor:
    """The error function, elementwise."""
    return apply(Erf, (as_tensor(input),), {})


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (Phi: the standard normal CDF, through erf), or with
    ``approximate="tanh"`` PyTorch's tanh approximation."""
    x = _args.floating("gelu", "input", as_tensor(input))
    _args.choice("gelu", "approximate", approximate, ("none", "tanh"))
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (tanh(inner) + 1.0)
    return x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0)


def silu(input: Any, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish)."""
    x = _args.floating("silu", "input", as_tensor(input))
    return x * sigmoid(x)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    x = _args.floating("elu", "input", as_tensor(input))
    alpha = _args.finite("elu", "alpha", alpha)
    negative = (exp(clip(x, max=0.0)) - 1.0) * alpha  # exp never sees a large x
    return where(x._data > 0, x, negative)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``,
    computed without overflow."""
    x = _args.floating("softplus", "input", as_tensor(input))
    beta = _args.finite("softplus", "beta", beta)
    threshold = _args.finite("softplus", "threshold", threshold)
    bx = x * beta
    smooth = (relu(bx) + log(exp(-abs(bx)) + 1.0)) * (1.0 / beta)
    return where(bx._data > threshold, x, smooth)


def _check_p(fn: str, p: Any) -> float:
    return _args.finite(fn, "p", p, 0.0, 1.0)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` when
    ``training``; the identity otherwise. Draws from the generator ``manual_seed`` seeds."""
    x = as_tensor(input)
    p = _check_p("dropout", p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = default_generator().random(x.shape) >= p
    return x * (keep / (1.0 - p)).astype(x.dtype)


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) (or (C, H, W)) input with probability ``p``, scaling
    the rest by ``1 / (1 - p)`` when ``training``."""
    x = as_tensor(input)
    p = _check_p("dropout2d", p)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected (N, C, H, W) or (C, H, W) input, got {x.shape}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = x.shape[: x.ndim - 2] + (1, 1)
    keep = default_generator().random(shape) >= p
    return x * (keep / (1.0 - p)).astype(x.dtype)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices (int64) as one-hot rows: shape ``tensor.shape + (num_classes,)``, int64;
    ``num_classes=-1`` uses the largest index plus one."""
    t = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (int64) tensor of indices, got {t.dtype}")
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    n = _args.ints("one_hot", "num_classes", num_classes)[0]
    if t.size and (t.min() < 0 or t.max() >= n):
        raise RuntimeError(f"one_hot: class values must be in [0, {n}), got {t.min()}..{t.max()}")
    out = np.zeros(t.shape + (n,), np.int64)
    np.put_along_axis(out, t[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out, False)


def _float_input(fn: str, input: Any) -> Tensor:
    return _args.floating(fn, "input", as_tensor(input))


def hardtanh(
    input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``input`` clamped to ``[min_val, max_val]``."""
    x = _float_input("hardtanh", input)
    lo, hi = hardtanh_bounds(min_val, max_val)
    return clip(x, min=lo, max=hi)


def hardtanh_bounds(min_val: Any, max_val: Any) -> tuple[float, float]:
    """``hardtanh``'s bounds, checked: finite numbers with ``min_val <= max_val``."""
    lo = _args.finite("hardtanh", "min_val", min_val)
    hi = _args.finite("hardtanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not exceed max_val ({hi})")
    return lo, hi


def relu6(input: Any, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    return relu6(_float_input("hardsigmoid", input) + 3.0) * (1.0 / 6.0)


def hardswish(input: Any, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    x = _float_input("hardswish", input)
    return x * hardsigmoid(x)


def logsigmoid(input: Any) -> Tensor:
    """``log(sigmoid(x))``, as ``-softplus(-x)`` (no overflow)."""
    return -softplus(-_float_input("logsigmoid", input))


def mish(input: Any, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    x = _float_input("mish", input)
    return x * tanh(softplus(x))


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``alpha * (exp(x / alpha) - 1)``."""
    x = _float_input("celu", input)
    alpha = _args.finite("celu", "alpha", alpha)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return where(x._data > 0, x, (exp(clip(x, max=0.0) * (1.0 / alpha)) - 1.0) * alpha)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def selu(input: Any, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return elu(_float_input("selu", input), SELU_ALPHA) * SELU_SCALE


def softmin(input: Any, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``softmax(-input, dim)``."""
    return softmax(-as_tensor(input), dim, dtype=dtype)


def softsign(input: Any) -> Tensor:
    """``x / (1 + |x|)``."""
    x = _float_input("softsign", input)
    return x / (abs(x) + 1.0)


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    x = as_tensor(input)
    limit = _args.finite("threshold", "threshold", threshold)
    return where(x._data > limit, x, _args.number("threshold", "value", value))


def prelu(input: Any, weight: Any) -> Tensor:
    """``x`` where positive, else ``weight * x``; ``weight`` has one value, or one per channel
    (dim 1)."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim != 1 or (w.shape[0] != 1 and (x.ndim < 2 or w.shape[0] != x.shape[1])):
        raise RuntimeError(
            f"prelu: weight must hold 1 value or one per channel of input {x.shape}, got {w.shape}"
        )
    if w.shape[0] != 1 and x.ndim > 2:
        w = w.reshape(w.shape[0], *(1,) * (x.ndim - 2))
    return where(x._data > 0, x, x * w)
