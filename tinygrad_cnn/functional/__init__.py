"""User-facing functions, PyTorch-shaped: ``from tinygrad_cnn import functional as F``.

Each function checks its arguments (through :mod:`tinygrad_cnn.args`), then applies
one registered op. The modules mirror ``tinygrad_cnn.ops`` family by family: ``F.conv2d`` lives in
``functional/conv.py`` and its op in ``ops/conv.py``.

Arguments may be Tensors, arrays or Python numbers. A Python number next to a Tensor takes the
Tensor's dtype (``float32_tensor * 2.0`` stays float32), as NumPy 2 and PyTorch do; the same rule
lifts the arguments of ``Op.apply`` (:func:`tinygrad_cnn.autograd.lift`).
"""

from tinygrad_cnn.functional.conv import conv2d, conv_transpose2d
from tinygrad_cnn.functional.elementwise import (
    abs,
    add,
    cast,
    clamp,
    clip,
    clone,
    div,
    exp,
    leaky_relu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from tinygrad_cnn.functional.linalg import matmul
from tinygrad_cnn.functional.loss import cross_entropy, log_softmax, mse_loss, softmax
from tinygrad_cnn.functional.pool import (
    adaptive_avg_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool2d,
    pool2d,
)
from tinygrad_cnn.functional.reduce import logsumexp, max, mean, min, sum, var
from tinygrad_cnn.functional.shape import (
    broadcast_to,
    cat,
    concatenate,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)

__all__ = [
    "abs",
    "add",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "broadcast_to",
    "cast",
    "cat",
    "clamp",
    "clip",
    "clone",
    "concatenate",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "div",
    "exp",
    "expand",
    "flatten",
    "getitem",
    "global_avg_pool2d",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "max_pool2d",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mse_loss",
    "mul",
    "neg",
    "pad",
    "permute",
    "pool2d",
    "pow",
    "leaky_relu",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "swapaxes",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
    "where",
]
