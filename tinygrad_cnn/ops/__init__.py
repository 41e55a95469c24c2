"""Registered ops, one module per family; importing this package registers them all."""

from tinygrad_cnn.ops import (  # noqa: F401
    conv,
    elementwise,
    linalg,
    loss,
    norm,
    pool,
    reduce,
    shape,
    unary,
    xp,
)
from tinygrad_cnn.ops.registry import REGISTRY, Op, get_op, register_op

__all__ = ["REGISTRY", "Op", "get_op", "register_op"]
