"""Layers that pad, regroup or compare, as ``torch.nn``'s: ``ZeroPad2d``, ``ConstantPad2d``,
``ReflectionPad2d``, ``ReplicationPad2d``, ``Unflatten``, ``PixelShuffle``,
``PixelUnshuffle``, ``CosineSimilarity`` and ``PairwiseDistance``; each calls one function of
:mod:`tinygrad_cnn.functional`."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.tensor import Tensor


class _Pad2d(Module):
    mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        name = type(self).__name__
        if _args.is_int(padding):
            padding = (padding,) * 4
        self.padding = _args.ints(name, "padding", padding)
        if len(self.padding) != 4:
            raise ValueError(f"{name}: padding must be an int or (left, right, top, bottom)")
        self.value = _args.number(name, "value", value)

    def forward(self, x: Tensor) -> Tensor:
        value = self.value if self.mode == "constant" else None
        return F.pad(x, self.padding, mode=self.mode, value=value)

    def extra_repr(self) -> str:
        if type(self) is ConstantPad2d:
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Zeros around the last two dims: ``padding`` an int or (left, right, top, bottom)."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


class ConstantPad2d(_Pad2d):
    """``value`` around the last two dims."""


class ReflectionPad2d(_Pad2d):
    """The edge rows and columns mirrored (without repeating the edge)."""

    mode = "reflect"

    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


class ReplicationPad2d(_Pad2d):
    """The edge rows and columns repeated."""

    mode = "replicate"

    def __init__(self, padding: Any) -> None:
        super().__init__(padding)


class Unflatten(Module):
    """Split ``dim`` into ``unflattened_size``: the inverse of ``Flatten``."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = _args.ints("Unflatten", "unflattened_size", unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class PixelShuffle(Module):
    """(N, C * r**2, H, W) to (N, C, H * r, W * r)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = _args.positive_int("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(N, C, H * r, W * r) to (N, C * r**2, H, W)."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        name, factor = "PixelUnshuffle", downscale_factor
        self.downscale_factor = _args.positive_int(name, "downscale_factor", factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class CosineSimilarity(Module):
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, _args.finite("CosineSimilarity", "eps", eps, 0.0)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = (
            p,
            _args.finite("PairwiseDistance", "eps", eps, 0.0),
            keepdim,
        )

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
