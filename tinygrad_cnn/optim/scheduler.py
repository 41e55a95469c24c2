"""The base of the learning-rate schedules (:class:`LRScheduler`) and their helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn.optim.optimizer import Optimizer


def _optimizer(where: str, optimizer: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _lrs(optimizer: Optimizer, key: str = "lr") -> list[float]:
    return [group[key] for group in optimizer.param_groups]


def _per_group(where: str, name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """``value`` for each group: a list as long as the groups, or one value for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{where}: {name} has {len(value)} values, the optimizer {n} groups")
        return list(value)
    return [value] * n


class LRScheduler:
    """Base class: each ``step()`` moves ``last_epoch`` on and sets every group's ``lr`` to
    :meth:`get_lr`.

    Made with ``last_epoch=-1`` it records each group's rate as ``initial_lr`` (``base_lrs``)
    and steps once, to epoch 0, as PyTorch's schedulers do. Resuming (``last_epoch >= 0``)
    needs the groups' ``initial_lr``, which the optimizer's state dict carries.
    """

    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        self.optimizer = _optimizer(name, optimizer)
        if not _args.is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an int >= -1, got {last_epoch!r}")
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{name}: param_groups[{i}] has no 'initial_lr' to resume from (last_epoch="
                    f"{last_epoch}); load the optimizer's state first, or start at last_epoch=-1"
                )
        self.base_lrs = _lrs(optimizer, "initial_lr")
        self.last_epoch = int(last_epoch)
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch``, one per group (from the rates the groups have now)."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Move to the next epoch (or to ``epoch``, through the closed form where there is one)
        and set each group's learning rate for it."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            if not _args.is_int(epoch) or epoch < 0:
                raise ValueError(
                    f"{type(self).__name__}.step: epoch must be an int >= 0, got {epoch!r}"
                )
            self.last_epoch = int(epoch)
            closed = getattr(self, "_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    #: attributes that are not state (functions, other objects)
    _not_state: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (and what ``_not_state`` names): plain numbers
        and lists."""
        return {k: v for k, v in vars(self).items() if k not in self._not_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`. The keys are checked before anything changes; the
        optimizer's learning rates are the optimizer's own state (its ``load_state_dict``)."""
        where = f"{type(self).__name__}.load_state_dict"
        own = set(self.state_dict())
        if not isinstance(state_dict, dict) or not set(state_dict) <= own:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{where}: expected keys among {sorted(own)}, got {got}")
        last = state_dict.get("last_epoch", -1)
        if not _args.is_int(last) or last < -1:
            raise ValueError(f"{where}: last_epoch must be an int >= -1, got {last!r}")
        for key in ("base_lrs", "_last_lr"):
            value = state_dict.get(key)
            groups = len(self.optimizer.param_groups)
            if key in state_dict and (not isinstance(value, (list, tuple)) or len(value) != groups):
                raise ValueError(
                    f"{where}: {key} must be a list of one rate per group, got {value!r}"
                )
        for key, value in state_dict.items():
            setattr(self, key, list(value) if isinstance(value, tuple) else value)

    def __repr__(self) -> str:
        epoch = getattr(self, "last_epoch", None)
        return f"{type(self).__name__}(last_epoch={epoch}, lr={self.get_last_lr()})"


def _functions(where: str, name: str, optimizer: Optimizer, value: Any) -> list[Callable]:
    fns = _per_group(where, name, optimizer, value)
    for f in fns:
        if not callable(f):
            raise TypeError(f"{where}: {name} must be a function, got {type(f).__name__}")
    return fns
