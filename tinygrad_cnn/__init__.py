"""tinygrad_cnn: a small autograd framework for convolutional networks on NumPy."""

from tinygrad_cnn import data, functional, nn, optim, reference  # noqa: E402  (after Tensor: they build on it)
from tinygrad_cnn import functional as F
from tinygrad_cnn.autograd import enable_grad, is_grad_enabled, no_grad
from tinygrad_cnn.gradcheck import GradcheckError, gradcheck
from tinygrad_cnn.ops import REGISTRY, Op, get_op, register_op
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.viz import draw_graph, trace

__version__ = "0.1.0"

__all__ = [
    "F",
    "REGISTRY",
    "GradcheckError",
    "Op",
    "Tensor",
    "enable_grad",
    "functional",
    "get_op",
    "gradcheck",
    "is_grad_enabled",
    "data",
    "draw_graph",
    "manual_seed",
    "nn",
    "no_grad",
    "optim",
    "trace",
    "reference",
    "register_op",
]
