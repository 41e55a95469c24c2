"""PyTorch's ``out=`` argument for the top-level functions (``torch.mul(a, b, out=c)``): the
result is written into ``out``, which is returned. As in PyTorch, ``out=`` is refused while the
result would need a gradient (the write is not recorded). Tensor operators and methods do not
go through this wrapper, so it costs nothing on their path."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad_cnn.engine import is_grad_enabled
from tinygrad_cnn.tensor import Tensor


def with_out(fn: Any) -> Any:
    """``fn`` with a keyword ``out``: a Tensor the result is written into (resized if its shape
    differs, cast to its dtype)."""

    @functools.wraps(fn)
    def call(*args: Any, out: Tensor | None = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        name = fn.__name__
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}: out must be a Tensor, got {type(out).__name__}")
        if is_grad_enabled() and (out.requires_grad or _needs_grad(args)):
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic "
                "differentiation, but one of the arguments requires grad"
            )
        result = fn(*args, **kwargs)
        value = result._data if isinstance(result, Tensor) else np.asarray(result)
        if out.shape == value.shape:
            out._data[...] = value.astype(out.dtype, copy=False)
        else:  # PyTorch resizes out (with a warning when it held elements)
            out._data = value.astype(out.dtype, copy=True)
        out.bump_version()
        return out

    return call


def _needs_grad(args: tuple) -> bool:
    for a in args:
        if isinstance(a, Tensor) and a.requires_grad:
            return True
        if isinstance(a, (list, tuple)) and _needs_grad(tuple(a)):
            return True
    return False
