"""Matrix multiplication with NumPy's ``matmul`` semantics (1-D operands and batch broadcasting)."""

from __future__ import annotations

from tinygrad_cnn.ops.registry import Op, register_op


@register_op(linear_in=(0, 1), higher_order=True)
class MatMul(Op):
    """``a @ b``. A 1-D ``a`` is a row vector and a 1-D ``b`` a column vector, dropped from the
    result; leading (batch) dimensions broadcast and the engine sums their gradients back."""

    name = "matmul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a @ b

    @staticmethod
    def vjp(ctx, g):
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
