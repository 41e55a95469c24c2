"""SGD and Adam, following PyTorch's update rules; updates are in place and not recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_cnn.tensor import Tensor


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, and the hyperparameters."""

    def __init__(self, params: Iterable[Tensor], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor) or not hasattr(params, "__iter__"):
            hint = " (call it: model.parameters())" if callable(params) else ""
            raise TypeError(
                f"{name}: params must be an iterable of Tensors, got {type(params).__name__}{hint}"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf tensor")
        for key in ("lr", "weight_decay", "momentum", "eps"):
            if key in defaults and defaults[key] < 0:
                raise ValueError(f"{name}: {key} must be >= 0, got {defaults[key]}")
        self.defaults = dict(defaults)
        self.state: dict[int, dict[str, Any]] = {}  # parameter index -> its state

    @property
    def lr(self) -> float:
        return self.defaults["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.defaults["lr"] = float(value)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if g.shape != p.shape:
                raise RuntimeError(
                    f"{type(self).__name__}: gradient of parameter {i} has shape {g.shape}, "
                    f"the parameter {p.shape}"
                )
            self._update(p.data, g, self.state.setdefault(i, {}))
            p._vc[0] += 1  # changed in place: graphs that saved it will refuse to backward

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array or number}}, "defaults": {...}}``, for resuming."""
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for i, s in self.state.items()
        }
        return {"state": state, "defaults": dict(self.defaults)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        name = type(self).__name__
        state = {int(i): dict(s) for i, s in state_dict["state"].items()}
        for i, s in state.items():
            if not 0 <= i < len(self.params):
                raise ValueError(f"{name}.load_state_dict: no parameter {i}")
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.ndim and v.shape != self.params[i].shape:
                    raise ValueError(
                        f"{name}.load_state_dict: state '{k}' of parameter {i} has shape "
                        f"{v.shape}, the parameter {self.params[i].shape}"
                    )
        self.defaults.update(state_dict.get("defaults", {}))
        self.state = state


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
        if nesterov and (momentum <= 0 or dampening != 0):
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
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        super().__init__(
            params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        )

    def _update(self, p, g, state):
        d = self.defaults
        b1, b2 = d["betas"]
        if d["weight_decay"]:
            g = g + d["weight_decay"] * p
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
