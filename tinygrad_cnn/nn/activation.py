"""Activation, dropout and resampling layers, each a thin Module around one function of
:mod:`tinygrad_cnn.functional`, with ``torch.nn``'s names and arguments."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.tensor import Tensor


class _Elementwise(Module):
    """A layer that applies ``fn`` (a function of functional) with the layer's settings."""

    def _call(self, fn: Any, x: Tensor, **kwargs: Any) -> Tensor:
        _args.tensor(type(self).__name__, "input", x)
        return fn(x, **kwargs)


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


class SiLU(_Elementwise):
    """``x * sigmoid(x)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.silu, x)


class ELU(_Elementwise):
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _args.finite("ELU", "alpha", alpha)

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.elu, x, alpha=self.alpha)


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

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.dropout2d, x, p=self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Upsample(_Elementwise):
    """Resize images: ``size`` or ``scale_factor``, ``mode`` nearest or bilinear (see
    :func:`~tinygrad_cnn.functional.interpolate`)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return self._call(F.interpolate, x, size=self.size, scale_factor=self.scale_factor,
                          mode=self.mode, align_corners=self.align_corners)  # fmt: skip

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
