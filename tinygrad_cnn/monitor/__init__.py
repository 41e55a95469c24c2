"""Why isn't my network learning? :class:`Monitor` records every layer's health over training and
:meth:`Monitor.report` explains what it sees in plain words; :func:`lr_find` runs the
learning-rate range test and measures the loss's sharpness.

>>> import numpy as np
>>> from tinygrad_cnn import Tensor, manual_seed, nn, optim, functional as F
>>> from tinygrad_cnn.monitor import Monitor
>>> _ = manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
>>> opt = optim.SGD(model.parameters(), lr=1e-8)  # far too small
>>> x = Tensor(np.random.default_rng(0).standard_normal((32, 4)))
>>> y = (x.numpy()[:, 0] > 0).astype(np.int64)
>>> with Monitor(model) as mon:
...     for step in range(20):
...         loss = F.cross_entropy(model(x), y)
...         opt.zero_grad(); loss.backward(); opt.step()
...         mon.log_loss(loss)
>>> [f.kind for f in mon.report()]
['update_ratio_low', 'loss_not_decreasing']
"""

from __future__ import annotations

import json
import math
from typing import Any

from tinygrad_cnn import args as _args
from tinygrad_cnn import nn
from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.monitor.findings import TITLES, Finding, Thresholds, dead_channels, findings
from tinygrad_cnn.monitor.lr_find import LRFinder, lr_find, top_hessian_eigenvalue
from tinygrad_cnn.monitor.plot import plot_health
from tinygrad_cnn.monitor.record import Recorder
from tinygrad_cnn.tensor import Tensor

__all__ = ["TITLES", "Finding", "LRFinder", "Monitor", "Thresholds", "lr_find",
           "top_hessian_eigenvalue"]  # fmt: skip


class Monitor:
    """Record the health of ``model`` while it trains: per layer and per step, the mean, std and
    fraction of exact zeros of its outputs (and the saturated fraction after sigmoid/tanh),
    |dL/d output|; per parameter, |dL/dW|, |W| and the update ratio |W_after - W_before| / |W|;
    a histogram of each layer's outputs per step; which channels of each ReLU-like layer are
    never on.

    A layer is a module without children (``Conv2d``, ``ReLU``, ...), named by its path in
    ``model.named_modules()``. A step is a call of ``model`` in training mode with gradients on
    (evaluation calls are not steps); every ``every``-th one is recorded, with its backward and
    the update that follows it (measured at the next step, or when a result is asked for).
    It attaches through public hooks: ``remove()`` (or leaving a ``with`` block) takes them all
    off. ``log_loss(loss)`` after each step lets :meth:`report` judge the loss too, and
    ``end_epoch()`` marks the window the rules look at (all recorded steps without it).
    ``thresholds`` (:class:`Thresholds`) sets when each rule fires.
    """

    def __init__(self, model: nn.Module, every: int = 1, thresholds: Thresholds | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"Monitor: model must be an nn.Module, got {type(model).__name__}")
        _args.positive_int("Monitor", "every", every)
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise TypeError(
                f"Monitor: thresholds must be a monitor.Thresholds, got {type(thresholds).__name__}"
            )
        self.model, self.every = model, every
        self.thresholds = thresholds or Thresholds()
        self._rec = Recorder(model, every)
        self._attached = True

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "attached" if self._attached else "removed"
        return f"Monitor({len(self._rec.layers)} layers, {len(self._rec.steps)} steps, {state})"

    def remove(self) -> None:
        """Take the monitor's hooks off the model (what it recorded stays readable)."""
        self._rec.remove()
        self._attached = False

    def log_loss(self, loss: Tensor | float) -> None:
        """Note this step's loss (a one-element Tensor or a number)."""
        value = loss.item() if isinstance(loss, Tensor) else loss
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"Monitor.log_loss: loss must be a number or a one-element Tensor, "
                            f"got {type(loss).__name__}")  # fmt: skip
        self._rec.losses.append((self._rec.step, float(value)))

    def end_epoch(self) -> None:
        """Mark the end of an epoch: the rules judge the last whole epoch."""
        self._rec.finish_step()
        if not self._rec.epoch_ends or self._rec.epoch_ends[-1] != self._rec.step:
            self._rec.epoch_ends.append(self._rec.step)

    @property
    def steps(self) -> list[int]:
        """The recorded steps (1 is the first training call of the model)."""
        self._rec.finish_step()
        return list(self._rec.steps)

    @property
    def layers(self) -> dict:
        """Layer path -> its series (``mean``, ``std``, ``zeros``, ``saturated``,
        ``grad_norm``, ``hist``/``edges``), one entry per recorded step."""
        self._rec.finish_step()
        return dict(self._rec.layers)

    @property
    def params(self) -> dict:
        """Parameter name -> its series (``grad_norm``, ``weight_norm``, ``update_ratio``)."""
        self._rec.finish_step()
        return dict(self._rec.params)

    def dead_channels(self) -> dict[str, list[int]]:
        """Per ReLU-like layer, the channels never positive over the window (the last epoch)."""
        self._rec.finish_step()
        return dead_channels(self._rec)

    def report(self) -> list[Finding]:
        """What looks wrong, each :class:`Finding` with its layer, evidence and a suggestion;
        an empty list when nothing does. The thresholds are :class:`Thresholds`'."""
        self._rec.finish_step()
        return findings(self._rec, self.thresholds)

    def to_dict(self) -> dict:
        """Everything recorded except the histograms, as JSON-ready lists, and the findings."""
        rec = self._rec
        rec.finish_step()
        keep = ("mean", "std", "zeros", "saturated", "grad_norm")
        return {
            "steps": rec.steps,
            "every": self.every,
            "epoch_ends": rec.epoch_ends,
            "losses": [{"step": s, "loss": _finite(v)} for s, v in rec.losses],
            "layers": {
                n: {"kind": s.kind, **{k: _clean(getattr(s, k)) for k in keep}}
                for n, s in rec.layers.items()
            },  # fmt: skip
            "params": {
                n: {
                    "layer": p.layer,
                    "shape": list(p.shape),
                    "grad_norm": _clean(p.grad_norm),
                    "weight_norm": _clean(p.weight_norm),
                    "update_ratio": _clean(p.update_ratio),
                }
                for n, p in rec.params.items()
            },  # fmt: skip
            "dead_channels": dead_channels(rec),
            "findings": [f.as_dict() for f in findings(rec, self.thresholds)],
        }

    def save(self, path: str) -> str:
        """Write :meth:`to_dict` as JSON (Inf and NaN as null); returns the path."""
        with atomic_path(path) as tmp, open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return path

    def plot(self, path: str = "health.png") -> str:
        """Draw the per-layer curves and each layer's histogram over time (one column per
        recorded step) as a PNG (matplotlib); returns the path."""
        self._rec.finish_step()
        if not self._rec.steps:
            raise RuntimeError("Monitor.plot: no step recorded yet; train with the monitor on")
        return plot_health(self._rec, path)


def _finite(v: Any) -> Any:
    return v if v is None or math.isfinite(v) else None


def _clean(values: list) -> list:
    return [_finite(v) for v in values]
