"""SGD, Adam and AdamW, following PyTorch's update rules; updates are in place and not recorded.

Learning-rate schedules: :mod:`tinygrad_cnn.optim.lr_scheduler`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_cnn.args import is_real
from tinygrad_cnn.optim import lr_scheduler  # noqa: F401  (optim.lr_scheduler)
from tinygrad_cnn.optim.optimizer import Optimizer
from tinygrad_cnn.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    As ``torch.optim.SGD``: ``g = grad + weight_decay * p``; with momentum,
    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step) and
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; then ``p -= lr * g``.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        if nesterov and not (is_real(momentum) and momentum > 0 and dampening == 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
            ),
        )

    state_keys = ("momentum_buffer",)

    def _update(self, p, g, state):
        d = self.defaults
        if d["weight_decay"]:
            g = g + d["weight_decay"] * p
        if d["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= d["momentum"]
                buf += (1 - d["dampening"]) * g
            g = g + d["momentum"] * buf if d["nesterov"] else buf
        p -= (d["lr"] * g).astype(p.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma and Ba), as ``torch.optim.Adam``, with L2 ``weight_decay`` added to the grad."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def _update(self, p, g, state):
        if self.defaults["weight_decay"]:
            g = g + self.defaults["weight_decay"] * p  # L2, in the gradient
        self._adam_step(p, g, state)

    def _adam_step(self, p, g, state):
        d = self.defaults
        b1, b2 = d["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        step_size = d["lr"] / (1 - b1**t)
        denom = np.sqrt(v / (1 - b2**t)) + d["eps"]
        p -= (step_size * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as ``torch.optim.AdamW``: each
    step first shrinks the parameter, ``p -= lr * weight_decay * p``, then takes Adam's step on
    the plain gradient (no L2 term in it). Note the default ``weight_decay=0.01``."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, p, g, state):
        d = self.defaults
        if d["weight_decay"]:
            p *= np.asarray(1 - d["lr"] * d["weight_decay"], p.dtype)  # decoupled
        self._adam_step(p, g, state)
