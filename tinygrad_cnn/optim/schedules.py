"""The schedules that steer other schedules (SequentialLR, ChainedScheduler), follow a metric
(ReduceLROnPlateau) or run one cycle per training (OneCycleLR), as PyTorch's; re-exported by
:mod:`tinygrad_cnn.optim.lr_scheduler`."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn.optim.optimizer import Optimizer
from tinygrad_cnn.optim.scheduler import LRScheduler, _lrs, _optimizer, _per_group


def _members(where: str, optimizer: Optimizer, schedulers: Sequence[LRScheduler]) -> list:
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{where}: schedulers must hold at least one scheduler")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{where}: schedulers[{i}] is a {type(s).__name__}, not a scheduler")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{where}: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a metric"
            )
        if s.optimizer is not optimizer:
            raise ValueError(f"{where}: schedulers[{i}] belongs to another optimizer")
    return schedulers


class SequentialLR(LRScheduler):
    """One schedule after another: ``schedulers[i]`` runs from ``milestones[i - 1]`` on (and
    starts from its own epoch 0 there). E.g. a linear warm-up, then cosine decay."""

    _not_state = ("optimizer", "_schedulers")

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        where = "SequentialLR"
        self.optimizer = _optimizer(where, optimizer)
        self._schedulers = _members(where, optimizer, schedulers)
        milestones = list(_args.ints(where, "milestones", milestones)) if milestones else []
        if len(milestones) != len(self._schedulers) - 1:
            raise ValueError(
                f"{where}: {len(self._schedulers)} schedulers need {len(self._schedulers) - 1} "
                f"milestones, got {len(milestones)}"
            )
        if milestones != sorted(milestones) or any(m < 1 for m in milestones):
            raise ValueError(f"{where}: milestones must be increasing ints >= 1, got {milestones}")
        if not _args.is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"{where}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self._milestones = milestones
        self.last_epoch = int(last_epoch) + 1
        for group in optimizer.param_groups:  # undo what the members' construction did
            group["lr"] = group["initial_lr"]
        self._undo_member_steps(self)
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_member_steps(self, scheduler: LRScheduler) -> None:
        for s in getattr(scheduler, "_schedulers", ()):
            if hasattr(s, "_schedulers"):
                self._undo_member_steps(s)
            else:
                s.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """Its own state and each member's (``_schedulers``)."""
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_with_members(self, state_dict)


def _load_with_members(self: LRScheduler, state_dict: dict[str, Any]) -> None:
    members = state_dict.get("_schedulers") if isinstance(state_dict, dict) else None
    if not isinstance(members, list) or len(members) != len(self._schedulers):
        raise ValueError(
            f"{type(self).__name__}.load_state_dict: expected '_schedulers', the states of "
            f"{len(self._schedulers)} schedulers"
        )
    own = {k: v for k, v in state_dict.items() if k != "_schedulers"}
    LRScheduler.load_state_dict(self, own)
    for s, state in zip(self._schedulers, members):
        s.load_state_dict(state)


class ChainedScheduler(LRScheduler):
    """Several schedules at once: each ``step()`` steps every one of them, in order, so their
    factors multiply (e.g. ConstantLR's warm-up factor on ExponentialLR's decay)."""

    _not_state = ("optimizer", "_schedulers")

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        where = "ChainedScheduler"
        schedulers = list(schedulers)
        if optimizer is None and schedulers and isinstance(schedulers[0], LRScheduler):
            optimizer = schedulers[0].optimizer
        self.optimizer = _optimizer(where, optimizer)
        self._schedulers = _members(where, optimizer, schedulers)
        self._last_lr = _lrs(optimizer)

    def step(self) -> None:  # type: ignore[override]
        for s in self._schedulers:
            s.step()
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """Its own state and each member's (``_schedulers``)."""
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_with_members(self, state_dict)


class ReduceLROnPlateau(LRScheduler):
    """Cut the rate by ``factor`` when a metric has not improved for ``patience`` epochs:
    ``scheduler.step(val_loss)`` after each epoch. ``mode="max"`` for a metric that should
    grow (accuracy); ``threshold`` is how much better counts as better (relative or absolute);
    after a cut, ``cooldown`` epochs pass before bad epochs count again; no rate goes below
    ``min_lr``, and cuts smaller than ``eps`` are skipped."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        where = "ReduceLROnPlateau"
        self.optimizer = _optimizer(where, optimizer)
        if _args.finite(where, "factor", factor, 0.0) >= 1.0:
            raise ValueError(f"{where}: factor must be < 1.0, got {factor!r}")
        self.factor = float(factor)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = [
            float(_args.finite(where, "min_lr", v, 0.0))
            for v in _per_group(where, "min_lr", optimizer, min_lr)
        ]
        self.patience = _args.non_negative_int(where, "patience", patience)
        self.cooldown = _args.non_negative_int(where, "cooldown", cooldown)
        self.eps = float(_args.finite(where, "eps", eps, 0.0))
        self.mode = _args.choice(where, "mode", mode, ("min", "max"))
        self.threshold = float(_args.finite(where, "threshold", threshold, 0.0))
        self.threshold_mode = _args.choice(where, "threshold_mode", threshold_mode, ("rel", "abs"))
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's ``metrics`` (a number, or a one-element Tensor) and cut the
        rates if it is the ``patience + 1``-th epoch in a row without improvement."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(
                f"ReduceLROnPlateau.step: metrics must be a number, got {type(metrics).__name__}"
            ) from None
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = _lrs(self.optimizer)

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float) -> bool:
        best, t = self.best, self.threshold
        if self.mode == "min":
            return a < (best * (1.0 - t) if self.threshold_mode == "rel" else best - t)
        return a > (best * (1.0 + t) if self.threshold_mode == "rel" else best + t)

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} groups, min_lr "
                    f"{len(self.min_lrs)} values (set min_lrs to one per group)"
                )
            self.min_lrs = [float(self.default_min_lr)] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new


class OneCycleLR(LRScheduler):
    """The one-cycle policy (Smith): the rate climbs from ``max_lr / div_factor`` to ``max_lr``
    over the first ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then
    anneals to ``initial_lr / final_div_factor``; momentum (or Adam's beta1) moves the other way
    between ``max_momentum`` and ``base_momentum``. Step it after every batch."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        where = "OneCycleLR"
        _optimizer(where, optimizer)
        if total_steps is not None:
            self.total_steps = _args.positive_int(where, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _args.positive_int(where, "epochs", epochs) * _args.positive_int(
                where, "steps_per_epoch", steps_per_epoch
            )
        else:
            raise ValueError(f"{where}: give total_steps, or epochs and steps_per_epoch")
        pct = float(_args.finite(where, "pct_start", pct_start, 0.0, 1.0))
        self._anneal_func_type = _args.choice(
            where, "anneal_strategy", anneal_strategy, ("cos", "linear")
        )
        n = self.total_steps
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        if three_phase:
            phases = [
                (pct * n - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (2 * pct * n - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            phases = [
                (pct * n - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self._schedule_phases = [dict(zip(keys, phase)) for phase in phases]
        div = _args.finite(where, "div_factor", div_factor, 0.0)
        final_div = _args.finite(where, "final_div_factor", final_div_factor, 0.0)
        if div == 0 or final_div == 0:
            raise ValueError(f"{where}: div_factor and final_div_factor must be > 0")
        max_lrs = [
            _args.finite(where, "max_lr", v, 0.0)
            for v in _per_group(where, "max_lr", optimizer, max_lr)
        ]
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{where}: cycle_momentum needs an optimizer with momentum or betas"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            highs = _per_group(where, "max_momentum", optimizer, max_momentum)
            lows = _per_group(where, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR.step: stepped {t} times; the cycle has total_steps={self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if t <= end or i == len(self._schedule_phases) - 1:
                    pct = (t - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        m0, m1 = group[phase["start_momentum"]], group[phase["end_momentum"]]
                        self._set_momentum(group, self._anneal(m0, m1, pct))
                    break
                start = end
        return lrs
