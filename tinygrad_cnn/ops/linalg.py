"""Matrix multiplication with NumPy's ``matmul`` semantics (1-D operands and batch broadcasting)."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.registry import Op, register_op


def _work(a, b) -> int:
    """Multiply-adds of ``a @ b``: for :func:`workspace.blas_scope`."""
    rows = math.prod(a.shape[:-1]) if a.ndim > 1 else 1
    return rows * a.shape[-1] * (b.shape[-1] if b.ndim > 1 else 1)


@register_op(linear_in=(0, 1), higher_order=True)
class MatMul(Op):
    """``a @ b``. A 1-D ``a`` is a row vector and a 1-D ``b`` a column vector, dropped from the
    result; leading (batch) dimensions broadcast and the engine sums their gradients back."""

    name = "matmul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        with workspace.blas_scope(_work(a, b)):
            return a @ b

    @staticmethod
    def vjp(ctx, g):
        with workspace.blas_scope(_work(ctx.a, ctx.b)):
            return MatMul._vjp(ctx, g)

    @staticmethod
    def _vjp(ctx, g):
        a, b = ctx.a, ctx.b
        a2 = a[None, :] if a.ndim == 1 else a  # (k,) -> (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k,) -> (k, 1)
        if b.ndim == 1:
            g = g[..., None]  # (..., n) -> (..., n, 1)
        if a.ndim == 1:
            g = g[..., None, :]  # (..., m) -> (..., 1, m)
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = g @ b2.swapaxes(-1, -2)  # (..., n, m) @ (..., m, k) -> (..., n, k)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if nb:
            gb = a2.swapaxes(-1, -2) @ g  # (..., k, n) @ (..., n, m) -> (..., k, m)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


@register_op(linear_in=(0, 1, 2), higher_order=True)
class Einsum(Op):
    """``einsum`` with explicit subscripts: ``inputs`` (one string of letters per operand, no
    letter twice in one) and ``output``. Multilinear: the gradient of each operand is the
    einsum of the upstream gradient with the other operands, broadcast back along the letters
    that only that operand has (summed away in the forward)."""

    name = "einsum"

    @staticmethod
    def forward(ctx, *operands, inputs, output):
        ctx.subs, ctx.output = inputs, output
        for k, a in enumerate(operands):  # one attribute each: the engine tracks saved inputs
            setattr(ctx, f"operand{k}", a)
        return np.einsum(f"{','.join(inputs)}->{output}", *operands)

    @staticmethod
    def vjp(ctx, g):
        xp, grads = ctx.xp, []
        operands = [getattr(ctx, f"operand{k}") for k in range(len(ctx.subs))]
        for k, (need, sub) in enumerate(zip(ctx.needs_input_grad, ctx.subs)):
            if not need:
                grads.append(None)
                continue
            others = [(s, a) for j, (s, a) in enumerate(zip(ctx.subs, operands)) if j != k]
            seen = set(ctx.output).union(*[s for s, _ in others])
            kept = "".join(c for c in sub if c in seen)  # the letters it shares
            spec = ",".join([ctx.output, *[s for s, _ in others]]) + "->" + kept
            gk = xp.einsum(spec, g, *[a for _, a in others])
            if kept != sub:  # letters only this operand had: broadcast the gradient along them
                gk = xp.expand_dims(gk, tuple(i for i, c in enumerate(sub) if c not in seen))
                gk = xp.broadcast_to(gk, operands[k].shape)
            grads.append(gk)
        return tuple(grads)
