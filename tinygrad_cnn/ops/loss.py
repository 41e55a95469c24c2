"""softmax, log_softmax and cross_entropy: registered ops with fused, stable VJPs."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - np.max(a, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@register_op(higher_order=True)
class Softmax(Op):
    name = "softmax"

    @staticmethod
    def forward(ctx, a, *, axis):
        out = np.exp(_log_softmax(a, axis))
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def vjp(ctx, g):
        s = ctx.out
        return (s * (g - ctx.xp.sum(g * s, axis=ctx.axis, keepdims=True)),)


@register_op(higher_order=True)
class LogSoftmax(Op):
    name = "log_softmax"

    @staticmethod
    def forward(ctx, a, *, axis):
        out = _log_softmax(a, axis)
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def vjp(ctx, g):
        xp = ctx.xp
        return (g - xp.exp(ctx.out) * xp.sum(g, axis=ctx.axis, keepdims=True),)


@register_op(higher_order=True)
class CrossEntropy(Op):
    """Mean/sum/per-sample ``-log softmax(logits)[target]`` for logits (N, C), target (N,) ints.

    The VJP is the classic ``softmax(logits) - onehot(target)``, scaled by the upstream gradient.
    """

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, *, reduction):
        logp = _log_softmax(logits, 1)
        cells = (np.arange(len(target)), target)  # (row, label) of each sample
        losses = -logp[cells]
        ctx.logits, ctx.cells, ctx.reduction = logits, cells, reduction
        if reduction == "none":
            return losses
        total = losses.sum()
        return total / len(target) if reduction == "mean" else total

    @staticmethod
    def vjp(ctx, g):
        xp, x = ctx.xp, ctx.logits
        e = xp.exp(x - xp.max(x, axis=1, keepdims=True))  # the shift cancels in the derivative
        probs = e / xp.sum(e, axis=1, keepdims=True)  # softmax, (N, C)
        onehot = np.zeros(probs.shape, probs.dtype)
        onehot[ctx.cells] = 1
        n = len(ctx.cells[0])
        scale = g[:, None] if ctx.reduction == "none" else (g / n if ctx.reduction == "mean" else g)
        return (probs - onehot) * scale, None
