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

from tinygrad_cnn import autograd, data, explain, functional, monitor, nn, optim, reference, utils
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
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    normal,
    numel,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from tinygrad_cnn.functional import (  # PyTorch's pointwise, sorting and indexing functions
    abs,
    absolute,
    add,
    addcdiv,
    addcmul,
    addmm,
    all,
    allclose,
    amax,
    amin,
    aminmax,
    any,
    argmax,
    argmin,
    argsort,
    argwhere,
    bincount,
    bmm,
    bucketize,
    cat,
    ceil,
    chunk,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    cosh,
    count_nonzero,
    cumsum,
    diag,
    diagonal,
    diff,
    dist,
    div,
    divide,
    dot,
    einsum,
    eq,
    equal,
    exp,
    exp2,
    expm1,
    fix,
    flatten,
    flip,
    fliplr,
    flipud,
    floor,
    floor_divide,
    fmod,
    frac,
    gather,
    ge,
    ger,
    greater,
    greater_equal,
    gt,
    histc,
    hypot,
    index_select,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    kthvalue,
    le,
    lerp,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    log_softmax,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    lt,
    masked_fill,
    masked_select,
    matmul,
    max,
    maximum,
    mean,
    median,
    min,
    minimum,
    mm,
    moveaxis,
    movedim,
    msort,
    mul,
    multiply,
    mv,
    nan_to_num,
    nanmean,
    nansum,
    narrow,
    ne,
    neg,
    negative,
    nonzero,
    norm,
    not_equal,
    outer,
    permute,
    pow,
    prod,
    ravel,
    reciprocal,
    relu,
    remainder,
    repeat_interleave,
    reshape,
    roll,
    round,
    rsqrt,
    searchsorted,
    select,
    sgn,
    sigmoid,
    sign,
    signbit,
    sin,
    sinh,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    std_mean,
    sub,
    subtract,
    sum,
    swapaxes,
    swapdims,
    t,
    take,
    take_along_dim,
    tan,
    tanh,
    tensor_split,
    tile,
    topk,
    trace,
    transpose,
    tril,
    triu,
    true_divide,
    trunc,
    unbind,
    unflatten,
    unique,
    unsqueeze,
    var,
    var_mean,
    view_as,
    where,
)

# PyTorch's out= for the top-level forms of these (the Tensor operators stay unwrapped)
from tinygrad_cnn.functional.out import with_out  # noqa: E402
from tinygrad_cnn.monitor import lr_find
from tinygrad_cnn.ops import REGISTRY, Op, get_op, register_op
from tinygrad_cnn.random import Generator, initial_seed, manual_seed, seed
from tinygrad_cnn.serialization import load, save
from tinygrad_cnn.testing.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_cnn.testing.graphcheck import check_graph

add, sub, mul, div, pow, matmul, mm, bmm = map(with_out, (add, sub, mul, div, pow, matmul, mm, bmm))
exp, log, sqrt, abs, neg, sin, cos, tanh, sigmoid = map(
    with_out, (exp, log, sqrt, abs, neg, sin, cos, tanh, sigmoid)
)
clamp, maximum, minimum, where, cat, stack, cumsum = map(
    with_out, (clamp, maximum, minimum, where, cat, stack, cumsum)
)
del with_out

__version__ = "0.1.0"


def __getattr__(name: str):
    """``viz``, ``draw_graph``, ``trace`` and ``explore`` load on first use, and Graphviz's Python
    package with them: ``import tinygrad_cnn`` does not need it."""
    import importlib

    if name in ("viz", "draw_graph", "trace"):
        viz = importlib.import_module("tinygrad_cnn.viz")
        return viz if name == "viz" else getattr(viz, name)
    if name == "explore":  # the explorer page lays its graph out with Graphviz too
        return importlib.import_module("tinygrad_cnn.explorer").explore
    raise AttributeError(f"module 'tinygrad_cnn' has no attribute {name!r}")


__all__ = sorted(  # everything above but the modules' own helpers
    name for name in dir() if not name.startswith("_") and name not in ("annotations",)
) + ["draw_graph", "explore", "trace", "viz"]
