"""The base of every optimizer: parameters, ``zero_grad``, ``step`` and the state to resume."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_cnn.args import is_int, is_real
from tinygrad_cnn.tensor import Tensor


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, and the hyperparameters.

    Subclasses name the state each parameter keeps (``state_keys``); numeric hyperparameters
    must be finite and >= 0, so a NaN learning rate is refused before it trains anything.
    """

    state_keys: tuple[str, ...] = ()

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
        seen: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf tensor")
            if id(p) in seen:
                raise ValueError(
                    f"{name}: parameter {i} is parameter {seen[id(p)]} again; each parameter "
                    "may appear once (it would be updated twice per step)"
                )
            seen[id(p)] = i
        self.defaults = self._checked(defaults, name)
        self.state: dict[int, dict[str, Any]] = {}  # parameter index -> its state

    @staticmethod
    def _checked(defaults: dict[str, Any], where: str) -> dict[str, Any]:
        """The hyperparameters, checked: numbers finite and >= 0, betas a pair in [0, 1)."""
        out = dict(defaults)
        for key, v in defaults.items():
            if key == "betas":
                try:
                    pair = tuple(v)
                except TypeError:
                    pair = ()
                if len(pair) != 2 or not all(map(is_real, pair)):
                    raise TypeError(f"{where}: betas must be a pair of numbers, got {v!r}")
                if not all(0.0 <= b < 1.0 for b in pair):
                    raise ValueError(f"{where}: betas must be in [0, 1), got {v!r}")
                out[key] = tuple(float(b) for b in pair)
            elif isinstance(v, (bool, np.bool_)):
                out[key] = bool(v)
            elif not is_real(v):
                raise TypeError(f"{where}: {key} must be a number, got {v!r}")
            elif not 0.0 <= v < np.inf:
                raise ValueError(f"{where}: {key} must be a finite number >= 0, got {v!r}")
        return out

    @property
    def lr(self) -> float:
        return self.defaults["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.defaults["lr"] = float(self._checked({"lr": value}, f"{type(self).__name__}")["lr"])

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """PyTorch's view of the hyperparameters: one group, ``{"params": [...], "lr": ...}``,
        whose entries write through (``opt.param_groups[0]["lr"] = 0.01`` sets the rate)."""
        return [_Group(self)]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``.grad = None``), or with ``set_to_none=False``
        set the gradients to zero in place."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data[...] = 0
                p.grad.bump_version()

    def step(self) -> None:
        """Update every parameter that has a gradient. All gradients are checked first, so a bad
        one leaves every parameter as it was."""
        todo = []
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad._data
            if g.shape != p.shape:
                raise RuntimeError(
                    f"{type(self).__name__}: gradient of parameter {i} has shape {g.shape}, "
                    f"the parameter {p.shape}"
                )
            todo.append((i, p, g))
        for i, p, g in todo:
            self._update(p._data, g, self.state.setdefault(i, {}))
            p.bump_version()  # changed in place: graphs that saved it will refuse to backward

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array or number}}, "defaults": {...}}``, for resuming.
        The arrays are copies: later steps do not change it."""
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for i, s in self.state.items()
        }
        return {"state": state, "defaults": dict(self.defaults)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what :meth:`state_dict` returned (copied, so later steps leave it unchanged).

        Everything is checked before anything changes: the hyperparameters must be this
        optimizer's, and each state entry must name a parameter and match its shape."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("state"), dict):
            raise TypeError(f"{where}: expected a dict with 'state' and 'defaults' (state_dict())")
        defaults = state_dict.get("defaults", self.defaults)
        if not isinstance(defaults, dict) or set(defaults) != set(self.defaults):
            got = sorted(defaults) if isinstance(defaults, dict) else type(defaults).__name__
            raise ValueError(
                f"{where}: the state is another optimizer's: its hyperparameters are {got}, "
                f"{type(self).__name__}'s are {sorted(self.defaults)}"
            )
        defaults = self._checked(defaults, where)
        state: dict[int, dict[str, Any]] = {}
        for i, s in state_dict["state"].items():
            if not is_int(i) or not 0 <= int(i) < len(self.params) or not isinstance(s, dict):
                raise ValueError(f"{where}: no parameter {i!r} ({len(self.params)} parameters)")
            p = self.params[int(i)]
            if not set(s) <= set(self.state_keys):
                raise ValueError(
                    f"{where}: state of parameter {i} has {sorted(s)}; "
                    f"{type(self).__name__} keeps {list(self.state_keys)}"
                )
            state[int(i)] = {k: self._state_value(where, int(i), k, v, p) for k, v in s.items()}
        self.defaults, self.state = defaults, state

    def _state_value(self, where: str, i: int, key: str, v: Any, p: Tensor) -> Any:
        """One state entry, copied: arrays as the parameter's shape and dtype, counts as ints."""
        a = np.asarray(v)
        if key == "step":
            if a.shape != () or not is_int(a.item()) or a.item() < 0:
                raise ValueError(f"{where}: step of parameter {i} must be an int >= 0, got {v!r}")
            return int(a)
        if a.shape != p.shape or a.dtype.kind not in "fiu":
            raise ValueError(
                f"{where}: state '{key}' of parameter {i} has shape {a.shape} and dtype "
                f"{a.dtype}, the parameter {p.shape} {p.dtype}"
            )
        return a.astype(p.dtype, copy=True)


class _Group(dict):
    """One parameter group: the optimizer's hyperparameters and parameters; setting an entry
    sets the optimizer's hyperparameter (checked as the constructor checks it)."""

    def __init__(self, opt: Optimizer) -> None:
        super().__init__(opt.defaults, params=list(opt.params))
        self._opt = opt

    def __setitem__(self, key: str, value: Any) -> None:
        opt = self._opt
        if key == "params" or key not in opt.defaults:
            raise KeyError(f"{type(opt).__name__}.param_groups: {key!r} cannot be set here")
        opt.defaults[key] = opt._checked({key: value}, type(opt).__name__)[key]
        super().__setitem__(key, opt.defaults[key])
