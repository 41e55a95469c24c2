"""Parameter initialisation, in place, with PyTorch's formulas and an optional generator.

Each function takes ``generator`` (a ``numpy.random.Generator``); without one it uses the library's
default, which :func:`tinygrad_cnn.manual_seed` reseeds.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.tensor import Tensor


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    with no_grad():
        t.copy_(values.astype(t.dtype, copy=False))
    return t


def calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """Fans of a weight as PyTorch computes them: dim 1 (times the kernel area) is fan_in."""
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out need at least 2 dimensions, got shape {t.shape}")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill ``t`` with U(a, b) samples."""
    g = generator or default_generator()
    return _fill(t, g.uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``t`` with N(mean, std**2) samples."""
    g = generator or default_generator()
    return _fill(t, g.normal(mean, std, t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    """Fill ``t`` with ``value``."""
    return _fill(t, np.full(t.shape, value))


def zeros_(t: Tensor) -> Tensor:
    """Fill ``t`` with zeros."""
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fill ``t`` with ones."""
    return constant_(t, 1.0)


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")  # fmt: skip


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``: 1 for the
    linear ones and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for
    leaky_relu (slope ``param``, 0.01 by default), 3/4 for selu."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fan(fn: str, t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``, as ``torch.nn.init``."""
    fan = _fan("kaiming_uniform_", t, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-bound, bound) with ``bound = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """N(0, std**2) with ``std = gain / sqrt(fan)``, as ``torch.nn.init``."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan("kaiming_normal_", t, mode))
    return normal_(t, 0.0, std, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))`` (Glorot)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def trunc_normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:  # fmt: skip
    """N(mean, std**2) restricted to [a, b] (rejection: redraw what falls outside)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: a must be less than b, got {a} and {b}")
    g = generator or default_generator()
    values = g.normal(mean, std, t.shape)
    bad = (values < a) | (values > b)
    while bad.any():
        values[bad] = g.normal(mean, std, int(bad.sum()))
        bad = (values < a) | (values > b)
    return _fill(t, values)


def orthogonal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix, of the tensor flattened to (rows, rest), times ``gain``:
    the Q of a QR decomposition of a normal sample, its signs fixed by R's diagonal."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {t.shape}")
    rows = t.shape[0]
    cols = t.numel() // rows
    g = generator or default_generator()
    flat = g.normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, (gain * q).reshape(t.shape))
