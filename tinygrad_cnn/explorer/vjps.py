"""Each built-in op's vector-Jacobian product in one line, as the explorer shows it beside the op.
Y is the op's output, dY the gradient that arrives at it; dX the gradient it sends to input X.
The engine sums a gradient back down over broadcast dimensions (not written here). An op
registered by a user shows the first line of its ``vjp``'s docstring, if it has one."""

from __future__ import annotations

from typing import Any

VJPS = {
    "add": "dA = dY, dB = dY",
    "sub": "dA = dY, dB = -dY",
    "mul": "dA = dY * B, dB = dY * A",
    "div": "dA = dY / B, dB = -dY * A / B^2",
    "neg": "dX = -dY",
    "pow": "dA = dY * B * A^(B-1), dB = dY * Y * log(A)",
    "exp": "dX = dY * Y",
    "log": "dX = dY / X",
    "sqrt": "dX = dY / (2 Y)",
    "abs": "dX = dY * sign(X)",
    "sin": "dX = dY * cos(X)",
    "cos": "dX = -dY * sin(X)",
    "log1p": "dX = dY / (1 + X)",
    "expm1": "dX = dY * (Y + 1)",
    "erf": "dX = dY * 2/sqrt(pi) * exp(-X^2)",
    "tanh": "dX = dY * (1 - Y^2)",
    "sigmoid": "dX = dY * Y * (1 - Y)",
    "relu": "dX = dY where X > 0, else 0",
    "leaky_relu": "dX = dY where X > 0, else slope * dY",
    "clip": "dX = dY where min <= X <= max, else 0",
    "maximum": "dA = dY where A > B (half each at a tie), dB = the rest",
    "minimum": "dA = dY where A < B (half each at a tie), dB = the rest",
    "where": "dA = dY where cond, dB = dY where not cond",
    "rounding": "dX = 0 (piecewise constant)",
    "cast": "dX = dY, cast back to X's dtype",
    "clone": "dX = dY",
    "sum": "dX = dY broadcast back over the summed dims",
    "mean": "dX = dY / n broadcast back over the averaged dims",
    "var": "dX = dY * 2 (X - mean(X)) / (n - correction)",
    "normalize": "Z = (X - mean(X)) / sqrt(var(X) + eps), Y = Z * W + B; "
    "dX = (dY W - mean(dY W) - Z * mean(dY W Z)) / sqrt(var(X) + eps), dW = dY * Z, dB = dY",
    "normalize_grad": "Y = normalize_grad(G, X); dG = normalize_grad(dY, X), dX: see ops/norm.py",
    "max": "dX = dY at the maximum (shared equally by ties), 0 elsewhere",
    "min": "dX = dY at the minimum (shared equally by ties), 0 elsewhere",
    "prod": "dX = dY * Y / X (exact at zeros)",
    "cumsum": "dX = reverse cumsum of dY",
    "logsumexp": "dX = dY * softmax(X)",
    "softmax": "dX = Y * (dY - sum(dY * Y))",
    "log_softmax": "dX = dY - softmax(X) * sum(dY)",
    "cross_entropy": "dLogits = (softmax(logits) - onehot(target)) * dY / N",
    "matmul": "dA = dY @ B^T, dB = A^T @ dY",
    "einsum": "each operand's gradient: the einsum of dY with the other operands",
    "reshape": "dX = dY reshaped to X's shape",
    "transpose": "dX = dY with the inverse permutation",
    "broadcast_to": "dX = dY summed over the broadcast dims",
    "getitem": "dX = zeros with dY scattered into the selected positions",
    "setitem": "dX = dY with the set positions zeroed, dV = dY at the set positions",
    "scatter_add": "dX = dY gathered at the index",
    "concatenate": "each input: its slice of dY",
    "stack": "each input: dY[i] along the new dim",
    "pad": "dX = dY with the padding cut off",
    "conv2d": "dX = conv_transpose2d(dY, W), dW = conv2d_weight(X, dY), db = dY summed over N,H,W",
    "conv_transpose2d": "dG = conv2d(dY, W), dW = conv2d_weight(dY, G)",
    "conv2d_weight": "dX = conv_transpose2d(dW', ...), d(dY) = conv2d(X, dW')",
    "pool2d": "max: dY goes to each window's first maximum; avg: dY / window size to each input",
    "pool2d_spread": "dG = pool2d_gather(dY) (the same routing, gathered)",
    "pool2d_gather": "dU = pool2d_spread(dY) (the same routing, spread)",
}


def vjp_text(op: Any) -> str:
    """The one line for ``op`` (an Op class)."""
    text = VJPS.get(op.name)
    if text is not None:
        return text
    doc = (getattr(op.vjp, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else f"{op.name}.vjp (no description)"
