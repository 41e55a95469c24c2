"""Layers with PyTorch's argument names, defaults and default initialisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.engine import as_tensor
from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.tensor import Tensor


def reset_like_pytorch(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default for Linear and convolutions: Kaiming-uniform weights (a = sqrt(5)) and
    a bias uniform in +-1/sqrt(fan_in)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in)
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """``y = x @ W.T + b``; W (out_features, in_features), Kaiming-uniform like PyTorch.

    >>> from tinygrad_cnn import nn, Tensor
    >>> nn.Linear(3, 2)(Tensor(np.ones((5, 3)))).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        self.in_features = _args.positive_int("Linear", "in_features", in_features)
        self.out_features = _args.positive_int("Linear", "out_features", out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        self.bias = Parameter(np.empty(out_features, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_like_pytorch(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("Linear", "input", x)
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear: expected input with last dimension {self.in_features}, got shape "
                f"{x.shape}"
            )
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        b = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={b}"


def channels(name: str, in_channels: Any, out_channels: Any, groups: Any) -> tuple[int, int, int]:
    """A convolution's channel counts and groups, checked: positive ints, both counts
    divisible by ``groups``."""
    in_channels = _args.positive_int(name, "in_channels", in_channels)
    out_channels = _args.positive_int(name, "out_channels", out_channels)
    groups = _args.positive_int(name, "groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
            f"divisible by groups ({groups})"
        )
    return in_channels, out_channels, groups


class _ConvNd(Module):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        groups,
        bias,
        transposed,
        dtype,
    ):
        super().__init__()
        name = type(self).__name__
        self.in_channels, self.out_channels, self.groups = channels(
            name, in_channels, out_channels, groups
        )
        self.kernel_size = _args.int_or_pair(name, "kernel_size", kernel_size, 1)
        self.stride = _args.int_or_pair(name, "stride", stride, 1)
        if isinstance(padding, str) and not transposed:  # checked now, not at the forward
            self.padding = _args.choice(name, "padding", padding, ("same", "valid"))
        else:
            self.padding = _args.int_or_pair(name, "padding", padding, 0)
        self.dilation = _args.int_or_pair(name, "dilation", dilation, 1)
        # conv2d: (C_out, C_in/groups, kH, kW); conv_transpose2d: (C_in, C_out/groups, kH, kW)
        c0, c1 = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        self.weight = Parameter(np.empty((c0, c1 // groups, *self.kernel_size), dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_like_pytorch(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer; see :func:`tinygrad_cnn.functional.conv2d`.

    >>> from tinygrad_cnn import nn
    >>> nn.Conv2d(1, 8, 3, padding=1)
    Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        dtype=np.float32,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            False,
            dtype,
        )

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("Conv2d", "input", x)
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ConvTranspose2d(_ConvNd):
    """Transposed convolution layer; see :func:`tinygrad_cnn.functional.conv_transpose2d`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        dtype=np.float32,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            True,
            dtype,
        )
        self.output_padding = _args.int_or_pair(
            "ConvTranspose2d", "output_padding", output_padding, 0
        )

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("ConvTranspose2d", "input", x)
        return F.conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments, as ``torch.nn.Identity``. A
    placeholder, e.g. for a residual block's shortcut that needs no projection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class ReLU(Module):
    """``max(x, 0)``. ``inplace=True`` is accepted (and shown) as PyTorch's; the result is a
    new tensor here either way (see :func:`~tinygrad_cnn.functional.relu`)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("ReLU", "input", x)
        return F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` where positive, else ``negative_slope * x``, as ``torch.nn.LeakyReLU``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = _args.finite("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("LeakyReLU", "input", x)
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` (by default all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("Flatten", "input", x)
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p);
    the identity in eval mode. Uses the library's seedable generator (``manual_seed``)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _args.finite("Dropout", "p", p, 0.0, 1.0)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("Dropout", "input", x)
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


def batch_norm_forward(bn: Any, x: Tensor) -> Tensor:
    """What BatchNorm1d and BatchNorm2d do with their checked input: ``F.batch_norm`` with the
    batch's statistics in training (updating the running ones and ``num_batches_tracked``) or
    without running statistics, else with the running ones. An empty batch gives an empty
    output and leaves the statistics as they were (PyTorch)."""
    name, n = type(bn).__name__, x.numel() // x.shape[1]
    if bn.training and n == 1:
        raise ValueError(
            f"{name}: expected more than 1 value per channel when training, got input "
            f"of shape {x.shape}"
        )
    if n == 0:  # nothing to normalise; the output still depends on weight and bias
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = x if bn.weight is None else x * bn.weight.reshape(shape)
        return y if bn.bias is None else y + bn.bias.reshape(shape)
    tracking = bn.running_mean is not None
    if bn.training and tracking:  # in place, as F.batch_norm updates the running statistics
        bn.num_batches_tracked._data += 1
        bn.num_batches_tracked.bump_version()
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        bn.training or not tracking, bn.momentum, bn.eps)  # fmt: skip


class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) for each channel of an NCHW input, as PyTorch.

    Training: normalises with the batch mean and (biased) variance, and updates the running
    estimates ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance).
    Eval: normalises with the running estimates.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = np.float32,
        *,
        bias: bool = True,
    ):
        super().__init__()
        self.num_features = _args.positive_int("BatchNorm2d", "num_features", num_features)
        if not bias:
            raise ValueError(f"{type(self).__name__}: bias=False is not supported here")
        self.eps = _args.finite("BatchNorm2d", "eps", eps, 0.0)
        self.momentum = _args.finite("BatchNorm2d", "momentum", momentum, 0.0, 1.0)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", as_tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", as_tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", as_tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("BatchNorm2d", "input", x)
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d: expected (N, {self.num_features}, H, W) input, got {x.shape}"
            )
        return batch_norm_forward(self, x)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.affine}, track_running_stats={self.track_running_stats}"
        )
