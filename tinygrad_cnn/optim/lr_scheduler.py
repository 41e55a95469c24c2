"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: call ``step()`` once per epoch (or
per batch, for OneCycleLR), after that epoch's optimizer steps.

Each schedule sets ``group["lr"]`` of every parameter group, with PyTorch's own recurrences
(each step scales the rate the group has now), so schedules chain and give PyTorch's numbers
step for step; ``state_dict()`` holds plain numbers, all a resumed run needs.

>>> from tinygrad_cnn import nn, optim
>>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> for epoch in range(4):
...     opt.step()
...     sched.step()
>>> round(opt.param_groups[0]["lr"], 6), sched.last_epoch
(0.025, 4)
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from types import FunctionType
from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn.optim.optimizer import Optimizer
from tinygrad_cnn.optim.scheduler import LRScheduler, _functions, _lrs, _optimizer
from tinygrad_cnn.optim.schedules import (
    ChainedScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
)


class _FunctionSchedule(LRScheduler):
    """A schedule driven by ``lr_lambda``: one function of the epoch for all groups, or a list
    with one per group."""

    _not_state = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        where = type(self).__name__
        self.lr_lambdas = _functions(where, "lr_lambda", _optimizer(where, optimizer), lr_lambda)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """The schedule's state; the functions are not state: ``lr_lambdas`` holds, for each,
        the attributes of a callable object, or None for a plain function (as PyTorch's)."""
        state = super().state_dict()
        state["lr_lambdas"] = [
            None if isinstance(f, FunctionType) else dict(vars(f)) for f in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not isinstance(state_dict, dict):
            return super().load_state_dict(state_dict)  # refuses it, naming the type
        fns = state_dict.get("lr_lambdas", [None] * len(self.lr_lambdas))
        if len(fns) != len(self.lr_lambdas):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: lr_lambdas has {len(fns)} entries, "
                f"{len(self.lr_lambdas)} expected"
            )
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        for f, attributes in zip(self.lr_lambdas, fns):
            if attributes is not None:
                vars(f).update(attributes)


class LambdaLR(_FunctionSchedule):
    """``base_lr * lr_lambda(epoch)``."""

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_FunctionSchedule):
    """Each epoch multiplies the rate by ``lr_lambda(epoch)``."""

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [lr * f(self.last_epoch) for f, lr in zip(self.lr_lambdas, _lrs(self.optimizer))]


class StepLR(LRScheduler):
    """``base_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every ``step_size``
    epochs."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _args.positive_int("StepLR", "step_size", step_size)
        self.gamma = float(_args.finite("StepLR", "gamma", gamma, 0.0))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decay by ``gamma`` at each epoch in ``milestones`` (a milestone given twice, twice)."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(
                f"MultiStepLR: milestones must be a list of ints, got {milestones!r}"
            ) from None
        for m in milestones:
            if not _args.is_int(m) or m < 0:
                raise ValueError(f"MultiStepLR: milestones must be ints >= 0, got {milestones!r}")
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = float(_args.finite("MultiStepLR", "gamma", gamma, 0.0))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return _lrs(self.optimizer)
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [b * self.gamma**passed for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """``base_lr * factor`` for the first ``total_iters`` epochs, then ``base_lr``."""

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.factor = float(_args.finite("ConstantLR", "factor", factor, 0.0, 1.0))
        self.total_iters = _args.non_negative_int("ConstantLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in _lrs(self.optimizer)]
        if self.last_epoch != self.total_iters:
            return _lrs(self.optimizer)
        return [lr * (1.0 / self.factor) for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        f = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [b * f for b in self.base_lrs]


class LinearLR(LRScheduler):
    """From ``base_lr * start_factor`` to ``base_lr * end_factor`` in a straight line over
    ``total_iters`` epochs (a warm-up, with the defaults), then constant."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        start = _args.finite("LinearLR", "start_factor", start_factor, 0.0, 1.0)
        if start == 0:
            raise ValueError("LinearLR: start_factor must be in (0, 1], got 0")
        self.start_factor = float(start)
        self.end_factor = float(_args.finite("LinearLR", "end_factor", end_factor, 0.0, 1.0))
        self.total_iters = _args.positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in _lrs(self.optimizer)]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        span = self.end_factor - self.start_factor
        f = 1.0 + span / (self.total_iters * self.start_factor + (self.last_epoch - 1) * span)
        return [lr * f for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        span = self.end_factor - self.start_factor
        f = self.start_factor + span * min(self.total_iters, self.last_epoch) / self.total_iters
        return [b * f for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``base_lr * gamma ** epoch``: decay by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = float(_args.finite("ExponentialLR", "gamma", gamma, 0.0))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        return [b * self.gamma**self.last_epoch for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """``base_lr * (1 - epoch / total_iters) ** power``, reaching 0 at ``total_iters``."""

    def __init__(
        self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1
    ) -> None:
        self.total_iters = _args.positive_int("PolynomialLR", "total_iters", total_iters)
        self.power = float(_args.finite("PolynomialLR", "power", power, 0.0))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        t, n = self.last_epoch, self.total_iters
        f = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [lr * f for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        f = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [b * f for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: from the base rate
    down to ``eta_min`` over ``T_max`` epochs (and back up after, as PyTorch's)."""

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _args.positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(_args.finite("CosineAnnealingLR", "eta_min", eta_min, 0.0))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and t > 0:
            return [low + (b - low) * (1 + math.cos(t * math.pi / T)) / 2 for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            rise = (1 - math.cos(math.pi / T)) / 2
            return [lr + (b - low) * rise for lr, b in zip(_lrs(self.optimizer), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - low) + low for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        return [low + (b - low) * (1 + math.cos(math.pi * t / T)) / 2 for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from the base rate to ``eta_min`` over ``T_0`` epochs, then a restart,
    each cycle ``T_mult`` times longer (SGDR). ``step(epoch)`` takes fractional epochs too, to
    step per batch: ``scheduler.step(epoch + i / batches)``."""

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        where = "CosineAnnealingWarmRestarts"
        self.T_0 = self.T_i = _args.positive_int(where, "T_0", T_0)
        self.T_mult = _args.positive_int(where, "T_mult", T_mult)
        self.eta_min = float(_args.finite(where, "eta_min", eta_min))
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (b - self.eta_min) * cosine for b in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
        else:
            _args.finite("CosineAnnealingWarmRestarts.step", "epoch", epoch, 0.0)
            if epoch >= self.T_0 and self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            elif epoch >= self.T_0:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)


__all__ = [
    "LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "SequentialLR",
    "CosineAnnealingWarmRestarts",
    "ChainedScheduler", "ReduceLROnPlateau", "OneCycleLR",
]  # fmt: skip
