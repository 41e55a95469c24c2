"""Matrix products; see :mod:`tinygrad_cnn.ops.linalg`."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.engine import apply, operands
from tinygrad_cnn.ops.linalg import MatMul
from tinygrad_cnn.tensor import Tensor


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands, batched and broadcast leading dims.

    >>> matmul(Tensor([[1.0, 2.0]]), Tensor([[3.0], [4.0]]))
    Tensor([[11.]], dtype=float32)
    """
    a, b = operands(a, b)
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {sa} and {sb}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {sa} and {sb} do not align: {ka} (last dim of a) != {kb} "
            f"({'dim 0' if len(sb) == 1 else 'second-to-last dim'} of b)"
        )
    if len(sa) > 2 or len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of {sa} and {sb} do not broadcast"
            ) from None
    return apply(MatMul, (a, b), {})


def mm(input: Any, mat2: Any) -> Tensor:
    """The product of two matrices (2-D only, as ``torch.mm``)."""
    a, b = operands(input, mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: both operands must be matrices, got {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(input: Any, mat2: Any) -> Tensor:
    """Batched matrix products: (B, n, m) @ (B, m, p) -> (B, n, p), as ``torch.bmm``."""
    a, b = operands(input, mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"bmm: expects two 3-D tensors with the same batch size, got {a.shape} and {b.shape}"
        )
    return matmul(a, b)
