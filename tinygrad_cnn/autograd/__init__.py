"""``torch.autograd``'s names: ``grad``, ``backward``, ``Function``, ``gradcheck``,
``gradgradcheck``, ``detect_anomaly``, the grad modes, and :mod:`.functional` (``jacobian``,
``hessian``, ``vjp``, ``jvp``, ``hvp``). The engine itself is :mod:`tinygrad_cnn.engine` and
:mod:`tinygrad_cnn.backward`; this package is its PyTorch-shaped front.
"""

from tinygrad_cnn.anomaly import detect_anomaly, is_anomaly_enabled
from tinygrad_cnn.autograd import functional
from tinygrad_cnn.autograd.function import Function, FunctionCtx
from tinygrad_cnn.backward import backward, grad
from tinygrad_cnn.engine import enable_grad, inference_mode, no_grad, set_grad_enabled
from tinygrad_cnn.testing.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_enabled",
    "no_grad",
    "set_grad_enabled",
]
