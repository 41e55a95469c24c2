"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: call ``step()`` once per epoch,
after that epoch's optimizer steps.

Each schedule is a closed form of ``last_epoch`` (the number of ``step()`` calls), so its
``state_dict()`` (plain numbers) is all a resumed run needs to continue exactly.

>>> from tinygrad_cnn import nn, optim
>>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> for epoch in range(4):
...     sched.step()
>>> round(opt.lr, 6), sched.last_epoch
(0.025, 4)
"""

from __future__ import annotations

import math
from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: sets ``optimizer.lr`` to :meth:`lr_at` ``(last_epoch)`` on every ``step()``.

    Made with ``last_epoch=-1``, it records the optimizer's learning rate as ``base_lrs[0]`` and
    steps once, to epoch 0 (as PyTorch's schedulers do).
    """

    #: the constructor arguments a subclass keeps in its state_dict
    hyperparameters: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{name}: optimizer must be an Optimizer, got {type(optimizer).__name__}"
            )
        if not _args.is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        self.base_lrs = [float(optimizer.lr)]
        self.last_epoch = int(last_epoch)
        self.step()

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch and set the optimizer's learning rate for it."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The learning rate the last ``step()`` set (a list: one per parameter group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """``last_epoch``, ``base_lrs``, ``_last_lr`` and the schedule's hyperparameters."""
        state = {k: getattr(self, k) for k in self.hyperparameters}
        state.update(last_epoch=self.last_epoch, base_lrs=list(self.base_lrs))
        state["_last_lr"] = list(self._last_lr)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; checked whole before anything changes. The
        optimizer's learning rate is the optimizer's own state (its ``load_state_dict``)."""
        where = f"{type(self).__name__}.load_state_dict"
        keys = {"last_epoch", "base_lrs", "_last_lr", *self.hyperparameters}
        if not isinstance(state_dict, dict) or set(state_dict) != keys:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{where}: expected the keys {sorted(keys)}, got {got}")
        if not _args.is_int(state_dict["last_epoch"]) or state_dict["last_epoch"] < 0:
            raise ValueError(
                f"{where}: last_epoch must be an int >= 0, got {state_dict['last_epoch']!r}"
            )
        for key in ("base_lrs", "_last_lr"):
            value = state_dict[key]
            if not isinstance(value, (list, tuple)) or len(value) != 1:
                raise ValueError(
                    f"{where}: {key} must be a list of one learning rate, got {value!r}"
                )
            _args.finite(where, key, value[0], 0.0)
        for key in self.hyperparameters:
            _args.number(where, key, state_dict[key])
        for key, value in state_dict.items():
            setattr(self, key, list(value) if key in ("base_lrs", "_last_lr") else value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)}" for k in self.hyperparameters)
        return f"{type(self).__name__}({args}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """``base_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every ``step_size``
    epochs."""

    hyperparameters = ("step_size", "gamma")

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _args.positive_int("StepLR", "step_size", step_size)
        self.gamma = float(_args.finite("StepLR", "gamma", gamma, 0.0))
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch: int) -> float:
        return self.base_lrs[0] * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: from the base rate
    down to ``eta_min`` over ``T_max`` epochs (and back up after, as PyTorch's)."""

    hyperparameters = ("T_max", "eta_min")

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _args.positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(_args.finite("CosineAnnealingLR", "eta_min", eta_min, 0.0))
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch: int) -> float:
        base, low = self.base_lrs[0], self.eta_min
        return low + (base - low) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
