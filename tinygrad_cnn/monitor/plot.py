"""health.png: the monitor's curves per layer over the steps, and each layer's histogram over time
(the "colorful dimension" picture: one column per recorded step, the values up the side, the
colour the log of the count)."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.explain import figure
from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.monitor.record import RELU_LIKE, SATURATING, Recorder

MAX_HISTOGRAMS = 8
_ACTIVATIONS = {c.__name__ for c in (*RELU_LIKE, *SATURATING)}


def _series(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def plot_health(rec: Recorder, path: str) -> str:
    steps = np.array(rec.steps)
    layers = list(rec.layers.values())
    # the histograms of the activation layers (all layers when there are few)
    shown = [s for s in layers if s.kind in _ACTIVATIONS] or layers
    if len(layers) <= MAX_HISTOGRAMS:
        shown = layers
    shown = shown[:MAX_HISTOGRAMS]
    cols = 4
    rows = 1 + -(-len(shown) // cols)
    fig = figure(figsize=(15, 3.4 * rows))
    grid = fig.add_gridspec(rows, cols)
    ax_std, ax_zero, ax_grad, ax_upd = (fig.add_subplot(grid[0, i]) for i in range(4))
    for s in layers:
        ax_std.plot(steps, _series(s.std), label=s.name or "(model)")
        if s.kind in {c.__name__ for c in RELU_LIKE}:
            ax_zero.plot(steps, _series(s.zeros), label=s.name)
    ax_std.set(title="activation std per layer", xlabel="step")
    ax_zero.set(title="fraction of zeros after ReLU", xlabel="step", ylim=(-0.02, 1.02))
    for p in rec.params.values():
        if len(p.shape) < 2:
            continue
        rms = _series(p.grad_norm) / np.sqrt(max(1, int(np.prod(p.shape))))
        ax_grad.plot(steps, rms, label=p.name)
        ratio = _series(p.update_ratio)
        ax_upd.plot(steps, np.where(ratio > 0, ratio, np.nan), label=p.name)
    ax_grad.set(title="weight gradient RMS", xlabel="step", yscale="log")
    ax_upd.axhline(1e-3, color="grey", linestyle="--", linewidth=1)
    ax_upd.set(title="|update| / |weight| (dashed: 1e-3)", xlabel="step", yscale="log")
    for ax in (ax_std, ax_zero, ax_grad, ax_upd):
        if ax.lines and len(ax.lines) <= 12:
            ax.legend(fontsize=7)
    for k, s in enumerate(shown):
        ax = fig.add_subplot(grid[1 + k // cols, k % cols])
        counts = np.array(s.hist, dtype=np.float64).T  # (bins, steps)
        # each step's share of values per bin, on a log scale (batches may differ in size)
        share = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
        counts = np.log10(share + 1e-4)
        lo, hi = (s.edges[0], s.edges[-1]) if s.edges is not None else (0.0, 1.0)
        ax.imshow(counts, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                  extent=(steps[0] - 0.5, steps[-1] + 0.5, lo, hi))  # fmt: skip
        ax.set(title=f"{s.name or '(model)'} ({s.kind}) outputs", xlabel="step", ylabel="value")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    return path
