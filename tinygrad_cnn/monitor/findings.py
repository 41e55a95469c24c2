"""The monitor's findings: rules over the recorded series that say, in plain words, why a network
is not learning, with the layer, the evidence and a suggestion.

Each rule and its threshold (all in :class:`Thresholds`, which a monitor takes):

- **dead units** (``dead_share``, 0.5): in a ReLU-like layer, at least this share of the
  channels (features, for (N, F) outputs) was never positive in any recorded step of the window;
- **vanishing gradients** (``vanishing``, 1e-3): a weight layer's gradient (root mean square
  of dL/dW, median over the window) is below this fraction of the last weight layer's;
- **exploding gradients** (``exploding``, 1e3): the gradient norm of all parameters grew by this
  factor from the first recorded steps to the last ones (medians of three); and **non-finite
  values**: an activation or a gradient became Inf or NaN (the first layer where it did);
- **update ratio too high / too low** (``update_high`` 0.1, ``update_jump`` 1,
  ``update_low`` 1e-5): a weight's change per step against its size,
  ``|w_after - w_before| / |w_before|``, far from the ~1e-3 of healthy training (CS231n's rule
  of thumb): the median over all the recorded steps where it changed above ``update_high`` or
  below ``update_low``, or one step above ``update_jump`` (a rate too high does its damage in
  the first steps: a weight blown up to 50 times its size then changes little against it).
  Weights only (2 or more dimensions): biases start at 0, so their ratios say nothing. Layers
  with vanishing gradients are left to that finding;
- **saturated** (``saturated``, 0.5): a sigmoid or tanh layer's outputs are within 1% of the
  ends of their range for at least this share of the values (window mean), where their
  derivative is nearly 0;
- **loss not decreasing** (``loss_noise`` 2, ``loss_drop`` 1e-3): the mean loss of the last
  quarter of the logged steps is not below the first quarter's by more than ``loss_noise``
  standard errors of the difference (the batch-to-batch noise) and by more than a share
  ``loss_drop`` of it (a loss that falls by 0.01% on one fixed batch is flat too), with 8
  losses or more.

The window is the last epoch marked by ``end_epoch()``, or every recorded step when none is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinygrad_cnn.monitor.record import Recorder

TITLES = {
    "dead_units": "dead units",
    "vanishing_gradients": "vanishing gradients",
    "exploding_gradients": "exploding gradients",
    "non_finite": "Inf/NaN values",
    "update_ratio_high": "updates too large",
    "update_ratio_low": "updates too small",
    "saturated": "saturated activations",
    "loss_not_decreasing": "loss not decreasing",
}


@dataclass(frozen=True)
class Thresholds:
    """When a rule fires; see the module's docstring for each."""

    dead_share: float = 0.5
    vanishing: float = 1e-3
    exploding: float = 1e3
    update_high: float = 1e-1
    update_jump: float = 1.0
    update_low: float = 1e-5
    saturated: float = 0.5
    loss_noise: float = 2.0
    loss_drop: float = 1e-3


@dataclass(frozen=True)
class Finding:
    """One problem: its ``kind`` (a key of ``TITLES``), the ``layer`` most concerned (a module
    path, as ``model.named_modules()`` names it), every layer concerned, the ``evidence`` in
    numbers and a ``suggestion``. ``str(finding)`` says it all in one paragraph."""

    kind: str
    layer: str
    evidence: str
    suggestion: str
    layers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{TITLES[self.kind]} in {_show(self.layer)}: {self.evidence}. {self.suggestion}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "layers": list(self.layers),
                "evidence": self.evidence, "suggestion": self.suggestion}  # fmt: skip


def _show(name: str) -> str:
    return f"layer '{name}'" if name else "the model"


def _window(rec: Recorder) -> list[int]:
    """Indices (into ``rec.steps``) of the recorded steps in the window."""
    if rec.epoch_ends:
        lo = rec.epoch_ends[-2] if len(rec.epoch_ends) > 1 else 0
        hi = rec.epoch_ends[-1]
    else:
        lo, hi = 0, rec.step
    return [i for i, s in enumerate(rec.steps) if lo < s <= hi]


def _median(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.median(kept)) if kept else None


def _weights(rec: Recorder) -> list:
    """The weight parameters (2 or more dimensions) in the order their layers first ran."""
    order = {name: i for i, name in enumerate(rec.layers)}
    ws = [p for p in rec.params.values() if len(p.shape) >= 2 and p.layer in order]
    return sorted(ws, key=lambda p: order[p.layer])


def findings(rec: Recorder, th: Thresholds) -> list[Finding]:
    """Every rule's findings, in the order of the module docstring."""
    idx = _window(rec)
    found: list[Finding] = []
    if idx:
        found += _dead_units(rec, th, idx)
        found += _vanishing(rec, th, idx)
    found += _non_finite(rec) or _exploding(rec, th)
    if rec.steps:
        found += _update_ratios(rec, th, _layers_of(found, "vanishing_gradients"))
    if idx:
        found += _saturated(rec, th, idx)
    found += _loss(rec, th)
    return found


def _dead(rec: Recorder, idx: list[int], series) -> np.ndarray:
    """The channels of a ReLU-like layer never on in the window's recorded steps."""
    start = rec.steps[idx[0]] - 1  # a channel active after this step is alive
    return np.flatnonzero(series.last_active <= start)


def _dead_units(rec: Recorder, th: Thresholds, idx: list[int]) -> list[Finding]:
    out = []
    for series in rec.layers.values():
        if series.last_active is None or all(series.zeros[i] is None for i in idx):
            continue
        dead = _dead(rec, idx, series)
        share = len(dead) / len(series.last_active)
        if share < th.dead_share or share == 0:
            continue
        before = rec.previous.get(series.name)
        feed = f" (it rectifies '{before}')" if before else ""
        listed = ", ".join(map(str, dead[:12])) + (", ..." if len(dead) > 12 else "")
        out.append(Finding(
            "dead_units", series.name,
            f"{len(dead)} of {len(series.last_active)} channels ({share:.0%}) were never positive "
            f"over {len(idx)} recorded steps{feed}; dead channels: {listed}",
            f"check the bias and initialisation of {_show(before or series.name)} (a large "
            "negative bias switches units off for good), lower the learning rate, or use "
            "LeakyReLU",
            tuple(n for n in (series.name, before) if n),
        ))  # fmt: skip
    return out


def _rms(p, i: int) -> float | None:
    g = p.grad_norm[i]
    return None if g is None else g / math.sqrt(max(1, int(np.prod(p.shape))))


def _vanishing(rec: Recorder, th: Thresholds, idx: list[int]) -> list[Finding]:
    ws = _weights(rec)
    if len(ws) < 2:
        return []
    rms = [_median(_rms(p, i) for i in idx) for p in ws]
    last = rms[-1]
    if not last or not math.isfinite(last):
        return []
    # an exactly-zero gradient is blocked (dead units upstream), not vanishing
    low = [(p, r) for p, r in zip(ws[:-1], rms[:-1]) if r and r < th.vanishing * last]
    if not low:
        return []
    first, r = low[0]
    return [Finding(
        "vanishing_gradients", first.layer,
        f"the gradient reaching '{first.name}' is {r / last:.1e} of the last weight layer's "
        f"('{ws[-1].name}'; RMS {r:.1e} against {last:.1e}); {len(low)} of {len(ws)} weight "
        "layers are below "
        f"{th.vanishing:g} of it",
        "the first layers barely learn: use ReLU instead of sigmoid/tanh between layers, add "
        "normalisation (BatchNorm) or residual connections, or initialise with kaiming_normal_",
        tuple(p.layer for p, _ in low),
    )]  # fmt: skip


def _non_finite(rec: Recorder) -> list[Finding]:
    for i, step in enumerate(rec.steps):
        for series in rec.layers.values():
            for what, v in (("activations", series.std[i]), ("gradients", series.grad_norm[i])):
                if v is not None and not math.isfinite(v):
                    return [_inf(series.name, what, step)]
        for p in rec.params.values():
            if p.grad_norm[i] is not None and not math.isfinite(p.grad_norm[i]):
                return [_inf(p.layer, f"gradients ('{p.name}')", step)]
    return []


def _inf(layer: str, what: str, step: int) -> Finding:
    return Finding(
        "non_finite", layer, f"its {what} became Inf or NaN at step {step}",
        "the training has diverged: lower the learning rate (by 10x), clip gradients "
        "(nn.utils.clip_grad_norm_) or look for a log or division of 0 with detect_anomaly()",
        (layer,),
    )  # fmt: skip


def _exploding(rec: Recorder, th: Thresholds) -> list[Finding]:
    ws = _weights(rec)
    n = len(rec.steps)
    if not ws or n < 6:
        return []
    totals = []
    for i in range(n):
        parts = [p.grad_norm[i] for p in ws]
        ok = [v for v in parts if v is not None]
        totals.append(math.sqrt(sum(v * v for v in ok)) if ok else None)
    start, end = _median(totals[:3]), _median(totals[-3:])
    if not start or end is None or end < th.exploding * start:
        return []
    growth = [(p, (_median(p.grad_norm[-3:]) or 0) / (_median(p.grad_norm[:3]) or math.inf))
              for p in ws]  # fmt: skip
    worst = max(growth, key=lambda t: t[1])[0]
    return [Finding(
        "exploding_gradients", worst.layer,
        f"the gradient norm grew {end / start:.1e}x over {n} recorded steps ({start:.2e} to "
        f"{end:.2e}), fastest in '{worst.name}'",
        "lower the learning rate, clip gradients (nn.utils.clip_grad_norm_), or add "
        "normalisation",
        tuple(p.layer for p, g in growth if g >= th.exploding),
    )]  # fmt: skip


def _layers_of(found: list[Finding], kind: str) -> set[str]:
    return {name for f in found if f.kind == kind for name in f.layers}


def _update_ratios(rec: Recorder, th: Thresholds, vanishing: set[str]) -> list[Finding]:
    ratios = []  # (weight, median ratio, largest ratio)
    for p in _weights(rec):
        changed = [v for v in p.update_ratio if v and math.isfinite(v)]
        if changed:
            ratios.append((p, float(np.median(changed)), max(changed)))
    out = []
    high = [t for t in ratios if t[1] > th.update_high or t[2] > th.update_jump]
    if high:
        p, med, top = max(high, key=lambda t: t[2])
        jump = f"; one step changed it by {top:.1e} of its size" if top > th.update_jump else ""
        out.append(Finding(
            "update_ratio_high", p.layer,
            f"each step changes '{p.name}' by {med:.1e} of its size (median |update|/|w|; about "
            f"1e-3 is healthy){jump}; {len(high)} of {len(ratios)} weights are above "
            f"{th.update_high:g} (median) or {th.update_jump:g} (one step)",
            "the learning rate is too high: lower it (by 10x), or find one with lr_find",
            tuple(t[0].layer for t in high),
        ))  # fmt: skip
    # small updates where the gradient vanishes are that finding's, not the rate's
    low = [t for t in ratios if t[1] < th.update_low and t[0].layer not in vanishing]
    if low:
        p, med, _ = min(low, key=lambda t: t[1])
        out.append(Finding(
            "update_ratio_low", p.layer,
            f"each step changes '{p.name}' by {med:.1e} of its size (median |update|/|w|; about "
            f"1e-3 is healthy); {len(low)} of {len(ratios)} weights are below {th.update_low:g}",
            "the learning rate is too low: raise it (by 10x or more), or find one with lr_find",
            tuple(t[0].layer for t in low),
        ))  # fmt: skip
    return out


def _saturated(rec: Recorder, th: Thresholds, idx: list[int]) -> list[Finding]:
    out = []
    for series in rec.layers.values():
        share = _median(series.saturated[i] for i in idx)
        if share is None or share < th.saturated:
            continue
        out.append(Finding(
            "saturated", series.name,
            f"{share:.0%} of its outputs ({series.kind}) sit within 1% of the ends of its range, "
            "where its derivative is nearly 0",
            "scale the inputs (normalise them), initialise smaller (xavier_uniform_), lower the "
            "learning rate, or use ReLU",
            (series.name,),
        ))  # fmt: skip
    return out


def _loss(rec: Recorder, th: Thresholds) -> list[Finding]:
    losses = np.array([v for _, v in rec.losses], dtype=np.float64)
    if len(losses) < 8:
        return []
    q = len(losses) // 4
    first, last = losses[:q], losses[-q:]
    with np.errstate(all="ignore"):
        noise = math.sqrt((first.var(ddof=1) + last.var(ddof=1)) / q)
        drop = float(first.mean() - last.mean())
    noisy = not drop > th.loss_noise * noise
    if math.isfinite(drop) and not noisy and drop > th.loss_drop * abs(first.mean()):
        return []
    why = (
        f"no more than the batch-to-batch noise explains ({th.loss_noise:g} standard errors: "
        f"{th.loss_noise * noise:.2g})"
        if noisy
        else f"less than {th.loss_drop:.1%} of it"
    )
    return [Finding(
        "loss_not_decreasing", "",
        f"the mean loss of the last {q} logged steps is {last.mean():.4g}, the first {q} "
        f"steps' {first.mean():.4g}: a change of {-drop:+.2g}, {why}",
        "check the learning rate (lr_find), that the targets match the outputs, and that "
        "optimizer.zero_grad(), loss.backward() and optimizer.step() all run each step",
    )]  # fmt: skip


def dead_channels(rec: Recorder) -> dict[str, list[int]]:
    """Per ReLU-like layer (the layers that track their channels), the channels never positive
    over the window."""
    idx = _window(rec)
    if not idx:
        return {}
    return {s.name: _dead(rec, idx, s).tolist() for s in rec.layers.values()
            if s.last_active is not None}  # fmt: skip
