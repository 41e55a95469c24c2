"""User-facing functions, PyTorch-shaped: ``from tinygrad_cnn import functional as F``.

Each function checks its arguments (through :mod:`tinygrad_cnn.args`), then applies
one registered op. The modules mirror ``tinygrad_cnn.ops`` family by family: ``F.conv2d`` lives in
``functional/conv.py`` and its op in ``ops/conv.py``.

Arguments may be Tensors, arrays or Python numbers. A Python number next to a Tensor takes the
Tensor's dtype (``float32_tensor * 2.0`` stays float32), as NumPy 2 and PyTorch do; the same rule
lifts the arguments of ``Op.apply`` (:func:`tinygrad_cnn.engine.lift`).
"""

from tinygrad_cnn.functional import elementwise
from tinygrad_cnn.functional.activation import (
    dropout,
    dropout2d,
    elu,
    erf,
    gelu,
    one_hot,
    silu,
    softplus,
)
from tinygrad_cnn.functional.conv import conv1d, conv2d, conv_transpose2d
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
    masked_fill,
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
from tinygrad_cnn.functional.linalg import bmm, einsum, matmul, mm
from tinygrad_cnn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    log_softmax,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    softmax,
)
from tinygrad_cnn.functional.norm import batch_norm, group_norm, layer_norm, linear, normalize
from tinygrad_cnn.functional.pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool2d,
    pool2d,
)
from tinygrad_cnn.functional.reduce import (
    ReturnTypes,
    amax,
    amin,
    argmax,
    argmin,
    gather,
    logsumexp,
    max,
    mean,
    min,
    norm,
    std,
    sum,
    var,
)
from tinygrad_cnn.functional.resample import interpolate
from tinygrad_cnn.functional.shape import (
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    expand_as,
    flatten,
    getitem,
    pad,
    permute,
    repeat,
    reshape,
    reshape_as,
    setitem,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    transpose,
    unsqueeze,
    view,
    view_as,
)

__all__ = sorted(
    name
    for name, value in globals().items()
    if not name.startswith("_") and not isinstance(value, type(elementwise))  # not the modules
)
