"""The base of every optimizer, as ``torch.optim.Optimizer``: parameter groups, per-parameter
state, ``zero_grad``, ``step`` and the state dict to resume (or to hand to PyTorch)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_cnn.args import is_int, is_real
from tinygrad_cnn.engine import enable_grad
from tinygrad_cnn.tensor import Tensor

#: PyTorch's switches between its kernels. One NumPy implementation serves here, so they are
#: accepted and kept in the groups (a state dict looks like PyTorch's) but change nothing.
KERNEL_SWITCHES = ("foreach", "fused", "capturable")


class Optimizer:
    """Base class: parameter groups (``param_groups``, a list of dicts), per-parameter state
    (``state[p]``, a dict of Tensors), and ``defaults`` for groups that do not set a value.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}`` whose
    entries override the defaults for that group. Numeric hyperparameters must be finite and
    >= 0 (a NaN learning rate is refused before it trains anything); setting one in a group
    (``opt.param_groups[0]["lr"] = 0.01``) is checked the same way. Subclasses name the state a
    parameter keeps (``state_keys``) and update one parameter in :meth:`_update`.
    """

    state_keys: tuple[str, ...] = ()
    #: state entries that are one number (float32, as PyTorch keeps them), not a buffer
    scalar_state: tuple[str, ...] = ("step",)

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor) or not hasattr(params, "__iter__"):
            hint = " (call it: model.parameters())" if callable(params) else ""
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got "
                f"{type(params).__name__}{hint}"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (a list), not a set")
        if defaults.get("differentiable"):
            raise ValueError(
                f"{name}: differentiable=True is not supported (steps are not recorded)"
            )
        self.defaults = _checked(defaults, name)
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group: ``{"params": [...], <hyperparameter>: value, ...}``; what it leaves out
        comes from ``defaults``. Each parameter may be in one group only."""
        where = f"{type(self).__name__}.add_param_group"
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{where}: param_group must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{where}: param_group has no 'params'")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{where}: params must be an ordered collection (a list), not a set")
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{where}: got an empty parameter list")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{where}: parameter {i} (shape {p.shape}) is not a leaf tensor")
            if id(p) in taken:
                raise ValueError(
                    f"{where}: parameter {i} (shape {p.shape}) appears twice; each parameter "
                    "may be in one group once (it would be updated twice per step)"
                )
            taken.add(id(p))
        values = {k: v for k, v in param_group.items() if k != "params"}
        group = _Group(self, {**self.defaults, **_checked(values, where)})
        dict.__setitem__(group, "params", params)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``.grad = None``), or with ``set_to_none=False``
        set the gradients to zero in place."""
        for p in self._params():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data[...] = 0
                p.grad.bump_version()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()``'s loss when given
        (it is called first, with gradients recorded, to recompute them). All gradients are
        checked before any parameter changes, so a bad one leaves every parameter as it was."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        todo = []
        for gi, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                g = p.grad._data
                if g.shape != p.shape:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: gradient of parameter {i} in group {gi} "
                        f"has shape {g.shape}, the parameter {p.shape}"
                    )
                todo.append((group, p, -g if group.get("maximize") else g))
        for group, p, g in todo:
            state = self.state.get(p, {})
            self._update(p._data, g, state, group)
            if state:  # an optimizer without state (plain SGD) keeps none, as PyTorch's
                self.state[p] = state
            p.bump_version()  # changed in place: graphs that saved it will refuse to backward
        return loss

    def _update(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, Tensor], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def _params(self) -> Iterable[Tensor]:
        return (p for group in self.param_groups for p in group["params"])

    def state_dict(self) -> dict[str, Any]:
        """As PyTorch's: ``{"state": {index: {name: Tensor}}, "param_groups": [{..., "params":
        [index, ...]}]}``, parameters numbered in group order. The Tensors are copies: later
        steps do not change it."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {
            index[id(p)]: {k: v.clone() for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        state = dict(sorted(state.items()))
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [index[id(p)] for p in g["params"]],
            }
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what :meth:`state_dict` returned, here or in PyTorch (values copied, so later
        steps leave it unchanged).

        Everything is checked before anything changes: as many groups of as many parameters,
        this optimizer's hyperparameters, and state entries that match their parameter."""
        where = f"{type(self).__name__}.load_state_dict"
        if (
            not isinstance(state_dict, dict)
            or not isinstance(state_dict.get("state"), dict)
            or not isinstance(state_dict.get("param_groups"), (list, tuple))
        ):
            raise TypeError(
                f"{where}: expected a dict with 'state' and 'param_groups' (state_dict())"
            )
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups) or any(
            not isinstance(s, dict) or len(s.get("params", ())) != len(g["params"])
            for s, g in zip(saved, self.param_groups)
        ):
            sizes = [len(s.get("params", ())) if isinstance(s, dict) else None for s in saved]
            raise ValueError(
                f"{where}: the state has groups of {sizes} parameters, this optimizer "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        core = [
            k for k in self.defaults if k not in KERNEL_SWITCHES + ("maximize", "differentiable")
        ]
        by_index: dict[int, Tensor] = {}
        groups = []
        for s, g in zip(saved, self.param_groups):
            missing = [k for k in core if k not in s]
            if missing:
                raise ValueError(
                    f"{where}: the state is another optimizer's: its groups have no {missing} "
                    f"({type(self).__name__}'s hyperparameters are {core})"
                )
            values = _checked({k: v for k, v in s.items() if k != "params"}, where)
            groups.append({**self.defaults, **values})
            by_index.update(zip(s["params"], g["params"]))
        state: dict[Tensor, dict[str, Tensor]] = {}
        for i, s in state_dict["state"].items():
            p = by_index.get(int(i)) if is_int(i) else None
            if p is None or not isinstance(s, dict):
                raise ValueError(f"{where}: no parameter {i!r} ({len(by_index)} parameters)")
            if not set(s) <= set(self.state_keys):
                raise ValueError(
                    f"{where}: state of parameter {i} has {sorted(s)}; "
                    f"{type(self).__name__} keeps {list(self.state_keys)}"
                )
            state[p] = {
                k: _state_value(where, int(i), k, v, p, k in self.scalar_state)
                for k, v in s.items()
            }
        for group, values in zip(self.param_groups, groups):
            dict.update(group, values)
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _checked(values: dict[str, Any], where: str, low: float = 0.0) -> dict[str, Any]:
    """Hyperparameters, checked: numbers finite and >= ``low``, betas a pair in [0, 1), switches
    bools (or None); other entries (a scheduler's ``initial_lr``, ...) pass as they are."""
    out = dict(values)
    for key, v in values.items():
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
        elif key in HYPER_NUMBERS:
            if isinstance(v, (bool, np.bool_)) or not is_real(v):
                raise TypeError(f"{where}: {key} must be a number, got {v!r}")
            if not (np.isfinite(v) and v >= low):
                bound = ">= 0" if low == 0 else "(not NaN or Inf)"
                raise ValueError(f"{where}: {key} must be a finite number {bound}, got {v!r}")
            out[key] = v.item() if isinstance(v, np.generic) else v
        elif key in HYPER_SWITCHES:
            if not (isinstance(v, (bool, np.bool_)) or (v is None and key in KERNEL_SWITCHES)):
                raise TypeError(f"{where}: {key} must be True or False, got {v!r}")
            out[key] = v if v is None else bool(v)
    return out


HYPER_NUMBERS = frozenset(
    "lr momentum dampening weight_decay eps alpha rho lr_decay initial_accumulator_value "
    "momentum_decay".split()
)
HYPER_SWITCHES = frozenset(
    ("nesterov", "amsgrad", "maximize", "centered", "differentiable", "decoupled_weight_decay")
    + KERNEL_SWITCHES
)


def _state_value(where: str, i: int, key: str, v: Any, p: Tensor, scalar: bool) -> Tensor:
    """One state entry, copied: ``step`` a float32 count and other ``scalar`` entries a float32
    number (as PyTorch keeps them), buffers in the parameter's shape and dtype."""
    a = np.asarray(v._data if isinstance(v, Tensor) else v)
    if key == "step" and (
        a.shape != () or a.dtype.kind not in "fiu" or not a >= 0 or a != np.floor(a)
    ):
        raise ValueError(f"{where}: step of parameter {i} must be a count >= 0, got {v!r}")
    if scalar:
        if a.shape != () or a.dtype.kind not in "fiu" or not np.isfinite(a):
            raise ValueError(f"{where}: {key} of parameter {i} must be a finite number, got {v!r}")
        return Tensor._wrap(np.array(a, np.float32), False)
    if a.shape != p.shape or a.dtype.kind not in "fiu":
        raise ValueError(
            f"{where}: state '{key}' of parameter {i} has shape {a.shape} and dtype "
            f"{a.dtype}, the parameter {p.shape} {p.dtype}"
        )
    return Tensor._wrap(a.astype(p.dtype, copy=True), False)


def new_state(state: dict[str, Tensor], p: np.ndarray, **buffers: float) -> None:
    """Start a parameter's state: ``step`` 0 and each named buffer filled with its value."""
    state["step"] = Tensor._wrap(np.zeros((), np.float32), False)
    for name, value in buffers.items():
        state[name] = Tensor._wrap(np.full_like(p, value), False)


def subtract(p: np.ndarray, update: np.ndarray) -> None:
    """``p -= update`` in place, in the parameter's dtype."""
    p -= update.astype(p.dtype, copy=False)


def with_weight_decay(p: np.ndarray, g: np.ndarray, group: dict[str, Any]) -> np.ndarray:
    """The gradient with the group's ``weight_decay``: L2, ``g + weight_decay * p``; or, with
    ``decoupled_weight_decay``, AdamW's shrinking ``p *= 1 - lr * weight_decay`` (in place),
    ``g`` unchanged."""
    wd = group["weight_decay"]
    if wd and group.get("decoupled_weight_decay"):
        p *= np.asarray(1 - group["lr"] * wd, p.dtype)
    elif wd:
        g = g + wd * p
    return g


def update_moments(state: dict[str, Tensor], g: np.ndarray, b1: float, b2: float):
    """Adam's running moments, in place: ``exp_avg`` moves toward ``g`` by ``1 - b1`` (PyTorch's
    lerp), ``exp_avg_sq`` toward ``g**2`` by ``1 - b2``; returns both arrays."""
    m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
    m += (1 - b1) * (g - m)
    v *= b2
    v += (1 - b2) * g * g
    return m, v


def count_step(state: dict[str, Tensor]) -> int:
    """Add one to the state's ``step`` and return the new count."""
    step = state["step"]._data
    step += 1
    return int(step)


class _Group(dict):
    """One parameter group; setting a hyperparameter checks it as the constructor does, except
    that a learning rate may turn negative (PyTorch's linear one-cycle ends a little below 0)."""

    def __init__(self, opt: Optimizer, values: dict[str, Any]) -> None:
        super().__init__(values)
        self._where = f"{type(opt).__name__}.param_groups"

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "params":
            raise KeyError(f"{self._where}: 'params' cannot be replaced; use add_param_group")
        low = -np.inf if key == "lr" else 0.0
        super().__setitem__(key, _checked({key: value}, self._where, low)[key])

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
