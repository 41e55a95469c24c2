"""Activation, dropout and resampling layers, each a thin Module around one function of
:mod:`tinygrad_cnn.functional`, with ``torch.nn``'s names and arguments."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.functional.activation import hardtanh_bounds
from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.tensor import Tensor


class _Elementwise(Module):
    """A layer that applies ``fn`` (a function of functional) with the layer's settings."""

    def _call(self, fn: Any, x: Tensor, **kwargs: Any) -> Tensor:
        _args.tensor(type(self).__name__, "input", x)
        return fn(x, **kwargs)


def _inplace(layer: Module) -> str:
    return ", inplace=True" if getattr(layer, "inplace", False) else ""


def _simple(name: str, fn: Any, doc: str) -> type:
    """A layer without settings (``inplace`` accepted where PyTorch has it)."""

    def __init__(self, inplace: bool = False) -> None:
        Module.__init__(self)
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return self._call(fn, x)

    def extra_repr(self) -> str:
        return _inplace(self).lstrip(", ")

    return type(name, (_Elementwise,), {"__init__": __init__, "forward": forward,
                                        "extra_repr": extra_repr, "__doc__": doc})  # fmt: skip


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.sigmoid, x)


class Tanh(_Elementwise):
    """The hyperbolic tangent."""

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.tanh, x)


class GELU(_Elementwise):
    """``x * Phi(x)``; ``approximate="tanh"`` for PyTorch's tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _args.choice("GELU", "approximate", approximate, ("none", "tanh"))

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.gelu, x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(_Elementwise):
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _args.finite(type(self).__name__, "alpha", alpha)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.elu, x, alpha=self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self)


class Softplus(_Elementwise):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.softplus, x, beta=self.beta, threshold=self.threshold)


class Softmax(_Elementwise):
    """``softmax`` along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.softmax, x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``log_softmax`` along ``dim``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.log_softmax, x, dim=self.dim)


class Dropout2d(_Elementwise):
    """Zero whole channels with probability ``p`` in training (scaling the rest by
    ``1 / (1 - p)``); the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _args.finite("Dropout2d", "p", p, 0.0, 1.0)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.dropout2d, x, p=self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Upsample(_Elementwise):
    """Resize images: ``size`` or ``scale_factor``, ``mode`` nearest or bilinear (see
    :func:`~tinygrad_cnn.functional.interpolate`)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: Any = None) -> None:  # fmt: skip
        super().__init__()
        if _args.is_real(scale_factor):
            scale_factor = float(scale_factor)  # shown as PyTorch shows it
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.interpolate, x, size=self.size, scale_factor=self.scale_factor,
                          mode=self.mode, align_corners=self.align_corners)  # fmt: skip

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class Hardtanh(_Elementwise):
    """``x`` clamped to ``[min_val, max_val]``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        hardtanh_bounds(min_val, max_val)  # checked now, kept as given (the repr shows them)
        self.min_val, self.max_val = min_val, max_val
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.hardtanh, x, min_val=self.min_val, max_val=self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace(self)


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace(self).lstrip(", ")


SiLU = _simple("SiLU", F.silu, "``x * sigmoid(x)``.")
Hardsigmoid = _simple("Hardsigmoid", F.hardsigmoid, "``relu6(x + 3) / 6``.")
Hardswish = _simple("Hardswish", F.hardswish, "``x * relu6(x + 3) / 6``.")
Mish = _simple("Mish", F.mish, "``x * tanh(softplus(x))``.")
SELU = _simple("SELU", F.selu, "``scale * elu(x, alpha)``, self-normalising.")
LogSigmoid = _simple("LogSigmoid", F.logsigmoid, "``log(sigmoid(x))``.")
Softsign = _simple("Softsign", F.softsign, "``x / (1 + |x|)``.")
for _cls in (SiLU, Hardsigmoid, Hardswish, Mish, SELU, LogSigmoid, Softsign):
    _cls.__module__ = __name__


class CELU(ELU):
    """``x`` where positive, else ``alpha * (exp(x / alpha) - 1)``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.celu, x, alpha=self.alpha)


class Softmin(Softmax):
    """``softmax(-x)`` along ``dim``."""

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.softmin, x, dim=self.dim)


class Threshold(_Elementwise):
    """``x`` where ``x > threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = _args.finite("Threshold", "threshold", threshold)
        self.value = _args.number("Threshold", "value", value)

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.threshold, x, threshold=self.threshold, value=self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class PReLU(_Elementwise):
    """``x`` where positive, else ``weight * x``, the slope learned: one (``num_parameters=1``)
    or one per channel, starting at ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.num_parameters = _args.positive_int("PReLU", "num_parameters", num_parameters)
        value = _args.finite("PReLU", "init", init)
        self.weight = Parameter(np.full(self.num_parameters, value, dtype=dtype or np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.prelu, x, weight=self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
