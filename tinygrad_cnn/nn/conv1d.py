"""``Conv1d`` and the lazy layers (``LazyLinear``, ``LazyConv2d``), whose input size is read from
the first input, as ``torch.nn``'s."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.nn.layers import Conv2d, Linear, channels, reset_like_pytorch
from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.tensor import Tensor


class Conv1d(Module):
    """1-D convolution over (N, C_in, L): weight (C_out, C_in/groups, kernel_size),
    initialised as PyTorch's; see :func:`tinygrad_cnn.functional.conv1d`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: Any = 0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.in_channels, self.out_channels, self.groups = channels(
            "Conv1d", in_channels, out_channels, groups
        )
        self.kernel_size = _args.positive_int("Conv1d", "kernel_size", kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, kernel_size), dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        with no_grad():
            reset_like_pytorch(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("Conv1d", "input", x)
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)  # fmt: skip

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size=({self.kernel_size},)"
        s += (
            f", stride=({self.stride},)"
            if isinstance(self.stride, int)
            else f", stride={self.stride}"
        )
        if self.padding not in (0, "valid", (0,)):
            pad = f"({self.padding},)" if isinstance(self.padding, int) else repr(self.padding)
            s += f", padding={pad}"
        if self.dilation not in (1, (1,)):
            s += f", dilation=({self.dilation},)"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + (", bias=False" if self.bias is None else "")


class _Lazy(Module):
    """Builds ``make(in_size)`` on the first forward and runs it from then on."""

    def __init__(self, make: Any, dim: int) -> None:
        super().__init__()
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_dim", dim)
        self.inner = None

    def forward(self, x: Tensor) -> Tensor:
        """The first call builds the layer from ``x``'s size and, as PyTorch's lazy modules,
        this module becomes that layer (a ``Linear`` or ``Conv2d``, its parameters its own)."""
        _args.tensor(type(self).__name__, "input", x)
        layer = self._make(x.shape[self._dim])
        keep = {k: self.__dict__[k] for k in ("_scope_name", "training")}  # its name, its mode
        self.__dict__.clear()
        self.__dict__.update(layer.__dict__, **keep)
        self.__class__ = type(layer)
        return self(x)


class LazyLinear(_Lazy):
    """``Linear(in_features, out_features)`` with ``in_features`` read from the first input
    (its parameters exist after that first call)."""

    def __init__(self, out_features: int, bias: bool = True, dtype: Any = np.float32) -> None:
        _args.positive_int("LazyLinear", "out_features", out_features)
        super().__init__(lambda n: Linear(n, out_features, bias, dtype), -1)


class LazyConv2d(_Lazy):
    """``Conv2d`` with ``in_channels`` read from the first input."""

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        _args.positive_int("LazyConv2d", "out_channels", out_channels)
        super().__init__(lambda c: Conv2d(c, out_channels, kernel_size, stride, padding, dilation,
                                          groups, bias, dtype), 1)  # fmt: skip
