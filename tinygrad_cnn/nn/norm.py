"""Normalisation layers beside BatchNorm2d: ``BatchNorm1d``, ``LayerNorm``, ``GroupNorm``,
as ``torch.nn``'s (parameters, buffers and their names included, so state dicts carry over)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.nn.layers import BatchNorm2d, batch_norm_forward
from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.tensor import Tensor


class BatchNorm1d(BatchNorm2d):
    """Batch normalisation of (N, C) or (N, C, L) input over every dim but C, as PyTorch's."""

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("BatchNorm1d", "input", x)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d: expected (N, {self.num_features}) or (N, {self.num_features}, L) "
                f"input, got {x.shape}"
            )
        return batch_norm_forward(self, x)


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` dims, then ``* weight + bias`` (both of
    ``normalized_shape``, when ``elementwise_affine``)."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.normalized_shape = _args.shape("LayerNorm", normalized_shape)
        self.eps = _args.finite("LayerNorm", "eps", eps, 0.0)
        self.weight = (
            Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        )
        has_bias = elementwise_affine and bias
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if has_bias else None

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("LayerNorm", "input", x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = self.weight is not None
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={affine}, "
            f"bias={self.bias is not None or not affine}"
        )


class GroupNorm(Module):
    """Normalise each group of ``num_channels / num_groups`` channels (with the remaining dims),
    then ``* weight + bias`` per channel (when ``affine``)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = np.float32, *,
                 bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.num_groups = _args.positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = _args.positive_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels {num_channels} must be divisible by num_groups "
                f"{num_groups}"
            )
        self.eps = _args.finite("GroupNorm", "eps", eps, 0.0)
        self.weight = Parameter(np.ones(num_channels, dtype)) if affine else None
        self.affine = bool(affine)
        self.bias = Parameter(np.zeros(num_channels, dtype)) if affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        _args.tensor("GroupNorm", "input", x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected (N, {self.num_channels}, ...) input, got {x.shape}"
            )
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        bias = self.bias is not None or not self.affine
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={bias}"
        )
