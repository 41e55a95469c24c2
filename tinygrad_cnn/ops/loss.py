"""softmax, log_softmax and cross_entropy: registered ops with fused, stable VJPs."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.registry import Op, register_op


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - np.max(a, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@register_op
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
        return (s * (g - np.sum(g * s, axis=ctx.axis, keepdims=True)),)


@register_op
class LogSoftmax(Op):
    name = "log_softmax"

    @staticmethod
    def forward(ctx, a, *, axis):
        out = _log_softmax(a, axis)
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def vjp(ctx, g):
        return (g - np.exp(ctx.out) * np.sum(g, axis=ctx.axis, keepdims=True),)


@register_op
class CrossEntropy(Op):
    """Mean/sum/per-sample ``-log softmax(logits)[target]`` for logits (N, C), target (N,) ints.

    The VJP is the classic ``softmax(logits) - onehot(target)``, scaled by the upstream gradient.
    """

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, *, reduction="mean"):
        logp = _log_softmax(logits, 1)
        rows = np.arange(len(target))
        losses = -logp[rows, target]
        ctx.logp, ctx.target, ctx.reduction = logp, target, reduction
        if reduction == "none":
            return losses
        total = losses.sum(dtype=logits.dtype)
        return total / len(target) if reduction == "mean" else total

    @staticmethod
    def vjp(ctx, g):
        grad = np.exp(ctx.logp)  # softmax, (N, C)
        grad[np.arange(len(ctx.target)), ctx.target] -= 1
        if ctx.reduction == "none":
            grad *= g[:, None]
        else:
            grad *= g / len(ctx.target) if ctx.reduction == "mean" else g
        return grad, None
