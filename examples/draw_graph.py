"""Draw the graph of one training step, with gradient norms, and a collapsed per-layer view.

Run: python examples/draw_graph.py [--out DIR]
Writes step.svg and layers.svg (or the .dot sources when Graphviz's dot is missing).
"""

import argparse
import os

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import functional as F
from tinygrad_cnn import nn, tensor, viz

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=".")
out = parser.parse_args().out
os.makedirs(out, exist_ok=True)

tg.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(4 * 4 * 4, 10),
)
x = tensor(np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32))
loss = F.cross_entropy(model(x), np.array([3, 7]))

viz.retain_grads(loss)  # keep the intermediate gradients too, to show their norms
loss.backward(retain_graph=True)  # keep the graph: we draw it after backward
params = dict(model.named_parameters())

for name, diagram in [
    ("step", tg.draw_graph(loss, params=params, show_grads=True)),
    ("layers", tg.draw_graph(loss, params=params, collapse=True, rankdir="LR")),
]:
    path = os.path.join(out, name)
    written = diagram.render(path) if diagram.dot_available() else diagram.save(path + ".dot")
    print("wrote", written)
