"""What the monitor measures, step by step: each layer's activations and their gradients, each
parameter's gradient and update. Read through the public hooks only (module forward hooks and
tensor hooks), so attaching and removing it leaves the model exactly as it was."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_cnn import nn
from tinygrad_cnn.engine import is_grad_enabled
from tinygrad_cnn.tensor import Tensor

# layers whose outputs are exactly zero where a unit is off: their channels can die
RELU_LIKE = (nn.ReLU, nn.ReLU6)
# layers that saturate, with the range of their outputs
SATURATING = {nn.Sigmoid: (0.0, 1.0), nn.Tanh: (-1.0, 1.0)}
# layers whose outputs are their inputs rearranged: nothing new to measure
RESHAPING = (nn.Flatten, nn.Unflatten, nn.Identity)
SATURATED_WITHIN = 0.01  # an output this close (a share of the range) to either end is saturated
BINS = 40  # histogram bins per layer and step
HIST_SAMPLE = 1024  # values drawn from an activation for its histogram


@dataclass
class LayerSeries:
    """One layer's measurements, one entry per recorded step (None where it did not run)."""

    name: str
    kind: str  # the module's class name
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)
    relu_like: bool = False  # counts its exact zeros and its channels' activity
    zeros: list = field(default_factory=list)  # ReLU-like: the fraction of outputs exactly 0
    saturated: list = field(default_factory=list)  # sigmoid/tanh: the fraction saturated
    grad_norm: list = field(default_factory=list)  # |dL/d output|
    hist: list = field(default_factory=list)  # counts in BINS bins over ``edges``
    edges: np.ndarray | None = None
    # ReLU-like layers: per channel, the last recorded step at which it was ever positive
    last_active: np.ndarray | None = None


@dataclass
class ParamSeries:
    """One parameter's measurements per recorded step: |grad|, |w| and |update| / |w|."""

    name: str
    layer: str  # the module that owns it
    shape: tuple
    grad_norm: list = field(default_factory=list)
    weight_norm: list = field(default_factory=list)
    update_ratio: list = field(default_factory=list)


class _Step:
    """Sums over one step's calls of each layer (a module may run more than once per step)."""

    def __init__(self) -> None:
        self.acts: dict[str, list] = {}  # name -> [count, sum, sum of squares, zeros, saturated]
        self.hists: dict[str, np.ndarray] = {}
        self.act_grads: dict[str, float] = {}  # name -> sum of squares
        self.param_grads: dict[str, float] = {}


def _merge(counts: np.ndarray, k: int, at: int) -> np.ndarray:
    """Counts over bins ``k`` times wider: each ``k`` old bins summed, placed from bin ``at``."""
    out = np.zeros_like(counts)
    merged = counts.reshape(-1, k).sum(axis=1)
    out[at : at + len(merged)] = merged
    return out


def _sumsq(a: np.ndarray) -> float:
    """The sum of squares, in the array's own precision (a dot product: 5x faster than in
    float64 on float32 activations), again in float64 if that overflowed."""
    flat = a.ravel(order="K")  # in memory order: a view of a transposed gradient, not a copy
    total = float(np.dot(flat, flat))
    if total == math.inf and a.dtype != np.float64:
        flat = flat.astype(np.float64)
        total = float(np.dot(flat, flat))
    return total


class Recorder:
    """Hooks ``model`` and keeps the series; :class:`tinygrad_cnn.monitor.Monitor` is its face.

    A step is a forward of the whole model in training mode with gradients on; every
    ``every``-th step is recorded (its forward, its backward, and the update that follows,
    measured at the next step's forward as the change of each parameter).
    """

    def __init__(self, model: nn.Module, every: int) -> None:
        self.model, self.every = model, every
        self.step = 0  # training forwards seen
        self.steps: list[int] = []  # the recorded ones
        self.losses: list[tuple[int, float]] = []
        self.epoch_ends: list[int] = []  # the step count at each end_epoch()
        self.layers: dict[str, LayerSeries] = {}  # in the order of their first call
        self.params: dict[str, ParamSeries] = {}
        self.previous: dict[str, str] = {}  # layer -> the layer called just before it
        self._current: _Step | None = None
        self._snapshot: dict[str, np.ndarray] | None = None
        self._last_called: str | None = None
        self._in_step = False  # inside a training call of the model
        self._positions: dict[int, np.ndarray] = {}
        self._ones: dict[tuple, np.ndarray] = {}
        self._handles: list = []
        leaves = [
            (n, m)
            for n, m in model.named_modules()
            if not any(True for _ in m.children()) and not isinstance(m, RESHAPING)
        ]
        self._handles.append(model.register_forward_pre_hook(self._on_model_call))
        for name, module in leaves:
            self._handles.append(module.register_forward_hook(self._on_layer(name)))
        # after the layers' hooks: a model that is itself a layer is recorded before this runs
        self._handles.append(model.register_forward_hook(self._on_model_return))
        owner = {id(p): n for n, m in model.named_modules() for p in m.parameters(recurse=False)}
        self._named = list(model.named_parameters())  # walked once: it is read every step
        for name, p in self._named:
            self.params[name] = ParamSeries(name, owner.get(id(p), ""), tuple(p.shape))
            if p.requires_grad:
                self._handles.append(p.register_hook(self._on_param_grad(name)))

    def remove(self) -> None:
        """Take every hook off and close the step in progress."""
        self.finish_step()
        for h in self._handles:
            h.remove()
        self._handles.clear()

    # -- the hooks --------------------------------------------------------------------------
    def _on_model_call(self, model: nn.Module, inputs: tuple) -> None:
        self._in_step = model.training and is_grad_enabled()
        if not self._in_step:
            return None  # evaluation: not a step
        self.finish_step()
        self.step += 1
        self._last_called = None
        if (self.step - 1) % self.every == 0:
            self._current = _Step()
            self.steps.append(self.step)
            self._snapshot = {n: p._data.copy() for n, p in self._named}
        return None

    def _on_model_return(self, model: nn.Module, inputs: tuple, out: Any) -> None:
        self._in_step = False  # layers called on their own later are not part of the step

    def _on_layer(self, name: str):
        def hook(module: nn.Module, inputs: tuple, out: Any) -> None:
            step = self._current
            if (
                step is None
                or not self._in_step
                or not isinstance(out, Tensor)
                or out.dtype.kind != "f"
            ):
                return None
            if self._last_called is not None and name not in self.previous:
                self.previous[name] = self._last_called
            self._last_called = name
            series = self.layers.get(name)
            if series is None:
                kind, relu_like = type(module).__name__, isinstance(module, RELU_LIKE)
                series = self.layers[name] = LayerSeries(name, kind, relu_like=relu_like)
            self._add_activation(step, series, module, out._data)
            if out.requires_grad:

                def on_grad(g: Tensor) -> None:
                    step.act_grads[name] = step.act_grads.get(name, 0.0) + _sumsq(g._data)

                out.register_hook(on_grad)
            return None

        return hook

    def _on_param_grad(self, name: str):
        def hook(g: Tensor) -> None:
            if self._current is not None:
                grads = self._current.param_grads
                grads[name] = grads.get(name, 0.0) + _sumsq(g._data)

        return hook

    def _add_activation(self, step: _Step, series: LayerSeries, module: nn.Module, a) -> None:
        flat = a.reshape(-1)
        relu_like = series.relu_like
        # ReLU-like outputs are 0 where not > 0
        zeros = flat.size - int(np.count_nonzero(flat > 0)) if relu_like else 0
        rows = self._row_sums(a)
        total = float(rows.sum())
        if total in (math.inf, -math.inf) and a.dtype != np.float64:
            total = float(a.sum(dtype=np.float64))
        sums = [flat.size, total, _sumsq(a), zeros]
        bounds = SATURATING.get(type(module))
        if bounds is not None:
            lo, hi = bounds
            margin = SATURATED_WITHIN * (hi - lo)
            sums.append(int(np.count_nonzero((flat < lo + margin) | (flat > hi - margin))))
        acc = step.acts.get(series.name)
        step.acts[series.name] = sums if acc is None else [x + y for x, y in zip(acc, sums)]
        if relu_like and a.ndim >= 2:
            channels = a.shape[1]
            on = rows.sum(axis=0) > 0  # a channel of outputs >= 0 is on where its sum is > 0
            if series.last_active is None:
                series.last_active = np.zeros(channels, np.int64)  # 0: never yet
            if series.last_active.shape == on.shape:
                series.last_active[on] = self.step
        self._add_histogram(step, series, flat[self._sample_at(flat.size)])

    def _row_sums(self, a: np.ndarray) -> np.ndarray:
        """(N, C, ...) -> (N, C), the sums over the axes after the first two: a matrix-vector
        product with ones (one read of the data, about 2.5x faster than ``sum()`` on large
        float32 activations). (N, C) stays as it is, (C,) becomes (1, C)."""
        if a.ndim <= 2:
            return a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
        rows = a.reshape(a.shape[0] * a.shape[1], -1)
        ones = self._ones.get((rows.shape[1], a.dtype))
        if ones is None:
            ones = self._ones[rows.shape[1], a.dtype] = np.ones(rows.shape[1], a.dtype)
        return (rows @ ones).reshape(a.shape[:2])

    def _sample_at(self, size: int) -> Any:
        """Where to sample HIST_SAMPLE values of ``size``: 16 runs of consecutive values at
        random places, the same for every step. Runs read whole cache lines (single values at
        random places cost a memory access each: 73 against 23 us for LeNet's first activation
        out of cache), and
        random places do not alias with the image width as a stride does (one column only)."""
        if size <= HIST_SAMPLE:
            return slice(None)
        at = self._positions.get(size)
        if at is None:
            run = HIST_SAMPLE // 16
            starts = np.random.default_rng(size).choice(size // run, 16, replace=False) * run
            at = self._positions[size] = (np.sort(starts)[:, None] + np.arange(run)).reshape(-1)
        return at

    def _add_histogram(self, step: _Step, series: LayerSeries, sample: np.ndarray) -> None:
        """Count ``sample`` in the layer's bins: [0, r] while all values seen were >= 0, else
        [-r, r]; r doubles (merging bins pairwise, in every step's counts) until it all fits.
        Inf and NaN are not counted."""
        smin, smax = (float(sample.min()), float(sample.max())) if sample.size else (0.0, 0.0)
        if not math.isfinite(smin + smax):
            sample = sample[np.isfinite(sample)]
            smin, smax = (float(sample.min()), float(sample.max())) if sample.size else (0.0, 0.0)
        if series.edges is None:
            reach = max(abs(smin), abs(smax)) or 1.0
            series.edges = np.linspace(0.0 if smin >= 0 else -reach, reach, BINS + 1)
        lo, hi = float(series.edges[0]), float(series.edges[-1])
        for _ in range(64):  # 2**64 times the first reach at most; beyond it, clipped
            if smin >= lo and smax <= hi:
                break
            # symmetric ranges double (2 old bins per new one, centred); [0, r] becomes
            # [-2r, 2r] when a negative value comes (4 per new one, in the upper half)
            merge, at = (4, BINS // 2) if lo == 0 and smin < 0 else (2, BINS // 4 if lo else 0)
            lo, hi = (-2 * hi if merge == 4 or lo else 0.0), 2 * hi
            series.edges = np.linspace(lo, hi, BINS + 1)
            series.hist = [_merge(c, merge, at) for c in series.hist]
            if series.name in step.hists:
                step.hists[series.name] = _merge(step.hists[series.name], merge, at)
        at = ((sample - lo) * (BINS / (hi - lo))).astype(np.intp)  # np.histogram's bins, faster
        np.minimum(at, BINS - 1, out=at)  # the top edge belongs to the last bin
        if smin < lo:  # beyond 2**64 times the first reach: clipped
            np.maximum(at, 0, out=at)
        counts = np.bincount(at, minlength=BINS)
        prev = step.hists.get(series.name)
        step.hists[series.name] = counts if prev is None else prev + counts

    # -- closing a step ---------------------------------------------------------------------
    def finish_step(self) -> None:
        """Append the recorded step's figures to the series (at the next step, or on demand)."""
        step, self._current = self._current, None
        if step is None:
            return
        hists = step.hists
        for name, series in self.layers.items():
            acc = step.acts.get(name)
            if acc is None:
                for values in (series.mean, series.std, series.zeros, series.saturated):
                    values.append(None)
                series.grad_norm.append(None)
                series.hist.append(np.zeros(BINS, np.int64))
                continue
            n, s, ss, z = acc[:4]
            mean = s / n
            series.mean.append(mean)
            series.std.append(math.sqrt(max(ss / n - mean * mean, 0.0)) if n else None)
            series.zeros.append(z / n if series.relu_like else None)
            series.saturated.append(acc[4] / n if len(acc) > 4 else None)
            g = step.act_grads.get(name)
            series.grad_norm.append(None if g is None else math.sqrt(g))
            series.hist.append(hists.get(name, np.zeros(BINS, np.int64)))
        snapshot, self._snapshot = self._snapshot or {}, None
        with np.errstate(all="ignore"):
            for name, p in self._named:
                series = self.params[name]
                g = step.param_grads.get(name)
                series.grad_norm.append(None if g is None else math.sqrt(g))
                before = snapshot.get(name)
                w = math.sqrt(_sumsq(before)) if before is not None else None
                series.weight_norm.append(w)
                if before is None or before.shape != p._data.shape or not w:
                    series.update_ratio.append(None)
                else:
                    series.update_ratio.append(math.sqrt(_sumsq(p._data - before)) / w)
