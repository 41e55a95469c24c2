"""tinygrad_cnn: a small autograd framework for convolutional networks on NumPy."""

import os as _os

# Before NumPy loads OpenBLAS: let its idle worker threads sleep after 2**4 spin cycles rather
# than 2**28, so they leave the cores to the memory-bound copies that conv2d splits across them
# (measured: conv2d forward+backward on (32,64,32,32) x (64,64,3,3) about 12% faster). Only has
# an effect when tinygrad_cnn is imported before NumPy, and never overrides a value you set.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

# Tensor first: tensor.py ends by importing the engine and functional, which build on Tensor.
from tinygrad_cnn.tensor import Tensor

# isort: split

from tinygrad_cnn import autograd, data, explain, functional, nn, optim, reference, utils
from tinygrad_cnn import functional as F
from tinygrad_cnn.anomaly import detect_anomaly, is_anomaly_enabled
from tinygrad_cnn.backward import grad, hvp
from tinygrad_cnn.devices import accelerator, cuda, device
from tinygrad_cnn.dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from tinygrad_cnn.engine import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_cnn.factories import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    numel,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from tinygrad_cnn.functional import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    bmm,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    div,
    einsum,
    exp,
    flatten,
    gather,
    log,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    neg,
    norm,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    swapdims,
    t,
    tanh,
    transpose,
    unsqueeze,
    var,
    view_as,
    where,
)
from tinygrad_cnn.ops import REGISTRY, Op, get_op, register_op
from tinygrad_cnn.random import manual_seed, seed
from tinygrad_cnn.serialization import load, save
from tinygrad_cnn.testing.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_cnn.testing.graphcheck import check_graph

__version__ = "0.1.0"


def __getattr__(name: str):
    """``viz``, ``draw_graph`` and ``trace`` load on first use, and Graphviz's Python package with
    them: ``import tinygrad_cnn`` does not need it."""
    if name in ("viz", "draw_graph", "trace"):
        import importlib

        viz = importlib.import_module("tinygrad_cnn.viz")
        return viz if name == "viz" else getattr(viz, name)
    raise AttributeError(f"module 'tinygrad_cnn' has no attribute {name!r}")


__all__ = sorted(  # everything above but the modules' own helpers
    name for name in dir() if not name.startswith("_") and name not in ("annotations",)
) + ["draw_graph", "trace", "viz"]
