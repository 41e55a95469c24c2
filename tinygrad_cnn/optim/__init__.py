"""SGD, Adam, AdamW, RMSprop, Adagrad and Adadelta (and Adamax, NAdam, RAdam from
:mod:`tinygrad_cnn.optim.adam_variants`), following PyTorch's update rules, argument
names and defaults; updates are in place and not recorded.

Every optimizer takes parameters or parameter groups (``[{"params": ..., "lr": ...}, ...]``)
and PyTorch's ``maximize`` and kernel switches (``foreach``, ``fused``, ``capturable``: accepted,
one NumPy implementation here). Learning-rate schedules: :mod:`tinygrad_cnn.optim.lr_scheduler`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_cnn.args import is_real
from tinygrad_cnn.optim import lr_scheduler  # noqa: F401  (optim.lr_scheduler)
from tinygrad_cnn.optim.adam_variants import Adamax, NAdam, RAdam  # noqa: F401
from tinygrad_cnn.optim.optimizer import (
    Optimizer,
    count_step,
    new_state,
    subtract,
    update_moments,
    with_weight_decay,
)
from tinygrad_cnn.tensor import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    As ``torch.optim.SGD``: ``g = grad + weight_decay * p``; with momentum,
    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step) and
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; then ``p -= lr * g``.
    """

    state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        if nesterov and not (is_real(momentum) and momentum > 0 and dampening == 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        defaults.update(nesterov=nesterov, maximize=maximize, foreach=foreach)
        super().__init__(params, dict(defaults, differentiable=differentiable, fused=fused))

    def _update(self, p, g, state, group):
        g = with_weight_decay(p, g, group)
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor._wrap(np.array(g, copy=True), False)
            else:
                buf = state["momentum_buffer"]._data
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            buf = state["momentum_buffer"]._data
            g = g + momentum * buf if group["nesterov"] else buf
        subtract(p, group["lr"] * g)


class Adam(Optimizer):
    """Adam (Kingma and Ba), as ``torch.optim.Adam``: ``weight_decay`` is L2 added to the
    gradient (or, with ``decoupled_weight_decay=True``, AdamW's shrinking of the parameter);
    ``amsgrad`` keeps the largest second moment seen."""

    state_keys = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        defaults.update(maximize=maximize, foreach=foreach, capturable=capturable)
        defaults.update(differentiable=differentiable, fused=fused)
        defaults.update(decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, (b1, b2) = group["lr"], group["betas"]
        if not state:
            amsgrad = {"max_exp_avg_sq": 0} if group["amsgrad"] else {}
            new_state(state, p, exp_avg=0, exp_avg_sq=0, **amsgrad)
        t = count_step(state)
        g = with_weight_decay(p, g, group)
        m, v = update_moments(state, g, b1, b2)
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"]._data, v, out=state["max_exp_avg_sq"]._data)
        denom = np.sqrt(v) / (1 - b2**t) ** 0.5 + group["eps"]
        subtract(p, lr / (1 - b1**t) * m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as ``torch.optim.AdamW``: each
    step first shrinks the parameter, ``p -= lr * weight_decay * p``, then takes Adam's step on
    the plain gradient (no L2 term in it). Note the default ``weight_decay=0.01``."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
            capturable=capturable, differentiable=differentiable, fused=fused,
            decoupled_weight_decay=True,
        )  # fmt: skip


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: ``square_avg = alpha * square_avg + (1 - alpha) *
    g**2``; the step divides ``g`` by ``sqrt(square_avg) + eps`` (``centered`` subtracts the
    squared running mean of ``g`` first), through a momentum buffer when ``momentum > 0``."""

    state_keys = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered)
        defaults.update(weight_decay=weight_decay, capturable=capturable, foreach=foreach)
        super().__init__(params, dict(defaults, maximize=maximize, differentiable=differentiable))

    def _update(self, p, g, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            extra = {"momentum_buffer": 0} if momentum > 0 else {}
            extra.update({"grad_avg": 0} if group["centered"] else {})
            new_state(state, p, square_avg=0, **extra)
        count_step(state)
        g = with_weight_decay(p, g, group)
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = np.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]._data
            buf *= momentum
            buf += g / avg
            subtract(p, group["lr"] * buf)
        else:
            subtract(p, group["lr"] * g / avg)


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: ``sum += g**2``; ``p -= clr * g / (sqrt(sum) +
    eps)`` with ``clr = lr / (1 + (step - 1) * lr_decay)``. Its state starts at construction
    (``sum`` filled with ``initial_accumulator_value``), as PyTorch's does."""

    state_keys = ("step", "sum")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay)
        defaults.update(initial_accumulator_value=initial_accumulator_value, foreach=foreach)
        defaults.update(maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                new_state(
                    self.state.setdefault(p, {}), p._data, sum=group["initial_accumulator_value"]
                )

    def _update(self, p, g, state, group):
        if not state:  # a state dict without this parameter was loaded
            new_state(state, p, sum=group["initial_accumulator_value"])
        step = count_step(state)
        g = with_weight_decay(p, g, group)
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"]._data
        total += g * g
        subtract(p, clr * g / (np.sqrt(total) + group["eps"]))


class Adadelta(Optimizer):
    """Adadelta (Zeiler), as ``torch.optim.Adadelta``: running averages of ``g**2`` and of the
    squared updates; ``delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g`` and
    ``p -= lr * delta``. Note the default ``lr=1.0``."""

    state_keys = ("step", "square_avg", "acc_delta")

    def __init__(
        self,
        params: Params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        if is_real(rho) and not rho <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho!r}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        defaults.update(capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            new_state(state, p, square_avg=0, acc_delta=0)
        count_step(state)
        g = with_weight_decay(p, g, group)
        square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
        square_avg *= rho
        square_avg += (1 - rho) * g * g
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        subtract(p, group["lr"] * delta)
