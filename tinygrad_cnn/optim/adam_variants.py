"""Adamax, NAdam and RAdam, as PyTorch's: Adam's moments with another normalisation (the
infinity norm), Nesterov momentum, or a rectified warm-up of the adaptive rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_cnn.optim.optimizer import (
    Optimizer,
    count_step,
    new_state,
    subtract,
    update_moments,
    with_weight_decay,
)
from tinygrad_cnn.tensor import Tensor


class Adamax(Optimizer):
    """Adam with the infinity norm: ``exp_inf = max(beta2 * exp_inf, |g| + eps)``, and
    ``p -= lr / (1 - beta1**t) * exp_avg / exp_inf``."""

    state_keys = ("step", "exp_avg", "exp_inf")

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:  # fmt: skip
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach)
        defaults.update(maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        (b1, b2), eps = group["betas"], group["eps"]
        if not state:
            new_state(state, p, exp_avg=0, exp_inf=0)
        t = count_step(state)
        g = with_weight_decay(p, g, group)
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        m += (1 - b1) * (g - m)
        u *= b2
        np.maximum(u, np.abs(g) + eps, out=u)
        subtract(p, group["lr"] / (1 - b1**t) * m / u)


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat), its momentum warmed up by ``momentum_decay``."""

    state_keys = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    scalar_state = ("step", "mu_product")

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:  # fmt: skip
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        defaults.update(
            momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay
        )
        defaults.update(maximize=maximize, foreach=foreach, capturable=capturable)
        super().__init__(params, dict(defaults, differentiable=differentiable))

    def _update(self, p, g, state, group):
        (b1, b2), lr, psi = group["betas"], group["lr"], group["momentum_decay"]
        if not state:
            new_state(state, p, exp_avg=0, exp_avg_sq=0)
            state["mu_product"] = Tensor._wrap(np.ones((), np.float32), False)
        t = count_step(state)
        g = with_weight_decay(p, g, group)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        product = state["mu_product"]._data
        product *= mu
        m, v = update_moments(state, g, b1, b2)
        denom = np.sqrt(v / (1 - b2**t)) + group["eps"]
        mu_product = float(product)
        subtract(p, lr * (1.0 - mu) / (1.0 - mu_product) * g / denom)
        subtract(p, lr * mu_next / (1.0 - mu_product * mu_next) * m / denom)


class RAdam(Optimizer):
    """Rectified Adam (Liu et al.): plain momentum steps while the variance of the adaptive
    rate is not yet tractable (``rho_t <= 5``), then Adam's steps scaled by the rectifier."""

    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False,
                 *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:  # fmt: skip
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        defaults.update(foreach=foreach, capturable=capturable)
        defaults.update(
            decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable
        )
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        (b1, b2), lr = group["betas"], group["lr"]
        if not state:
            new_state(state, p, exp_avg=0, exp_avg_sq=0)
        t = count_step(state)
        g = with_weight_decay(p, g, group)
        m, v = update_moments(state, g, b1, b2)
        corrected = m / (1 - b1**t)
        bc2 = 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2**t) / bc2
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            adaptive = bc2**0.5 / (np.sqrt(v) + group["eps"])
            subtract(p, corrected * lr * adaptive * rect)
        else:
            subtract(p, corrected * lr)
