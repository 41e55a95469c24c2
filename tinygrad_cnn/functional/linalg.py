"""Matrix products; see :mod:`tinygrad_cnn.ops.linalg`."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.engine import apply, as_tensor, operands, promote
from tinygrad_cnn.ops.linalg import Einsum, MatMul
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


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` (or the operands
    as one list). Without ``->`` the output holds the letters that appear once, in alphabetical
    order. Not supported: ``...`` and a letter repeated within one operand (a diagonal).

    >>> einsum("ij,j->i", Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor([1.0, 1.0]))
    Tensor([3., 7.], dtype=float32)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {equation!r}")
    eq = equation.replace(" ", "")
    if "." in eq:
        raise ValueError(f"einsum: '...' is not supported, got {equation!r}")
    lhs, arrow, output = eq.partition("->")
    inputs = lhs.split(",")
    letters = "".join(inputs)
    if not arrow:
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ts = promote(*[as_tensor(o) for o in operands])
    if len(inputs) != len(ts) or not all(s.isalpha() or s == "" for s in (*inputs, output)):
        raise ValueError(
            f"einsum: equation {equation!r} names {len(inputs)} operands, got {len(ts)}"
        )
    for s, t in zip(inputs, ts):
        if len(set(s)) != len(s):
            raise ValueError(f"einsum: a letter repeated in one operand ({s!r}) is not supported")
        if len(s) != t.ndim:
            raise ValueError(f"einsum: subscripts {s!r} for an operand of shape {t.shape}")
    sizes: dict[str, int] = {}
    for s, t in zip(inputs, ts):
        for c, n in zip(s, t.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: letter {c!r} has sizes {sizes[c]} and {n}")
    if len(set(output)) != len(output) or any(c not in sizes for c in output):
        raise ValueError(f"einsum: output {output!r} must name input letters once each")
    return apply(Einsum, ts, {"inputs": tuple(inputs), "output": output})
