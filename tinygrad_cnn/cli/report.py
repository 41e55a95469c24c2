"""What a training run shows and writes besides the model: curves, the graph, a progress bar."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from tinygrad_cnn import functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.explain import figure
from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.viz import draw_graph, retain_grads


def write_curves(path: str, history: list[dict]) -> bool:
    """Loss and accuracy per epoch as a PNG (matplotlib); False when matplotlib is missing."""
    try:
        fig = figure(figsize=(9, 3.5))
    except ImportError:
        print("note: matplotlib is missing, so curves.png was not drawn (pip install matplotlib)")
        return False
    epochs = [h["epoch"] for h in history]
    a1, a2 = fig.subplots(1, 2)
    a1.plot(epochs, [h["loss"] for h in history], marker="o")
    a1.set(xlabel="epoch", ylabel="training loss", title="loss")
    a2.plot(epochs, [h["train_accuracy"] for h in history], marker="o", label="train")
    a2.plot(epochs, [h["test_accuracy"] for h in history], marker="o", label="test")
    a2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    a2.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:  # a Ctrl-C leaves the old picture or the new, whole
        fig.savefig(tmp, dpi=100)
    return True


def write_graph(out: str, model: nn.Module, x: np.ndarray, y: np.ndarray) -> str:
    """Draw one training step (forward, loss, backward) with gradient norms; returns the file."""
    model.zero_grad()
    loss = F.cross_entropy(model(Tensor(x)), y)
    retain_grads(loss)
    loss.backward(retain_graph=True)
    diagram = draw_graph(loss, params=dict(model.named_parameters()), show_grads=True)
    model.zero_grad()
    if diagram.dot_available():
        return diagram.render(os.path.join(out, "graph"), format="svg")
    path = diagram.save(os.path.join(out, "graph.dot"))
    print(f"wrote {path} (DOT source): install Graphviz to get graph.svg: apt-get install graphviz")
    return path


def progress(batches: Iterable, desc: str):
    """A tqdm bar over ``batches`` on a terminal; None when tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # disable=None: no bar when stderr is not a terminal (logs, CI)
    return tqdm(batches, desc=desc, unit="batch", leave=False, dynamic_ncols=True, disable=None)
