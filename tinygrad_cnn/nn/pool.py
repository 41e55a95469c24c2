"""Pooling layers, as :mod:`tinygrad_cnn.functional.pool`: MaxPool2d, AvgPool2d and
AdaptiveAvgPool2d, with PyTorch's argument names and defaults."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.tensor import Tensor


def _check_pool(fn: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1) -> None:
    """Refuse bad pooling arguments when the layer is made, not at its first forward."""
    _args.int_or_pair(fn, "kernel_size", kernel_size, 1)
    if stride is not None:
        _args.int_or_pair(fn, "stride", stride, 1)
    _args.int_or_pair(fn, "padding", padding, 0)
    _args.int_or_pair(fn, "dilation", dilation, 1)


class MaxPool2d(Module):
    """Max pooling layer; see :func:`tinygrad_cnn.functional.max_pool2d`."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ):
        super().__init__()
        _check_pool("MaxPool2d", kernel_size, stride, padding, dilation)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("MaxPool2d", "input", x)
        return F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def extra_repr(self) -> str:
        stride = self.kernel_size if self.stride is None else self.stride
        return (
            f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Average pooling layer; see :func:`tinygrad_cnn.functional.avg_pool2d`."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ):
        super().__init__()
        _check_pool("AvgPool2d", kernel_size, stride, padding)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("AvgPool2d", "input", x)
        return F.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad
        )

    def extra_repr(self) -> str:
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` whatever the input's size (1: global average
    pooling); see :func:`tinygrad_cnn.functional.adaptive_avg_pool2d`."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        _args.int_or_pair("AdaptiveAvgPool2d", "output_size", output_size, 1, keep_none=True)
        self.output_size = tuple(output_size) if isinstance(output_size, list) else output_size

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("AdaptiveAvgPool2d", "input", x)
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed ``output_size``; see
    :func:`tinygrad_cnn.functional.adaptive_max_pool2d`."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        _args.int_or_pair("AdaptiveMaxPool2d", "output_size", output_size, 1, keep_none=True)
        self.output_size = tuple(output_size) if isinstance(output_size, list) else output_size
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        _args.tensor("AdaptiveMaxPool2d", "input", x)
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
