"""Step through one training step in the browser: :func:`explore` turns a loss (after a forward,
and optionally a backward with ``retain_graph=True``) into one self-contained HTML page.

The page shows the recorded graph laid out by Graphviz (modules as dashed groups; zoom with the
wheel, pan by dragging). Click a node: the op, its attributes, its inputs' and output's shapes
and dtypes, its VJP in one line, the forward value and the gradient (per-channel heatmaps for
images and feature maps, a histogram otherwise, with min/max/mean/std and the share of zeros).
The buttons (or the arrow keys) walk the reverse pass in the engine's order: each step shows
the gradient a tensor has received (the sum of its users' contributions at a fan-out) and what
its op sends to each input; at the end every leaf holds its gradient, the same as ``.grad``.

The page has no server and fetches nothing: scripts, styles, the picture and the data are
inline, so it opens from disk (``file://``) in any current browser. Tensors of more than
``MAX_VALUES`` values are sampled, and the page says so.

>>> import tinygrad_cnn as tg
>>> from tinygrad_cnn import nn, functional as F
>>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
>>> loss = F.cross_entropy(model(tg.randn(2, 1, 4, 4)), [0, 2])
>>> page = tg.explore(loss, params=dict(model.named_parameters()))
>>> len(page.steps) == len(page.data["steps"]), page.steps[0]["tensor"] == page.data["order"][-1]
(True, True)
"""

from __future__ import annotations

import json
import os
from importlib import resources

import numpy as np

from tinygrad_cnn.explorer.collect import MAX_VALUES, check_graph_alive, collect, decode
from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.testing.graphcheck import check_graph
from tinygrad_cnn.viz import INSTALL_HINT, Diagram, draw_graph

__all__ = ["MAX_VALUES", "Explorer", "explore"]


class Explorer:
    """What :func:`explore` returns: ``.save(path)`` writes the page, ``.html`` is its text,
    and a notebook shows it inline. ``.data`` is what the page shows (nodes, edges, steps)."""

    def __init__(self, data: dict, svg: str, title: str) -> None:
        self.data, self.svg, self.title = data, svg, title

    @property
    def steps(self) -> list[dict]:
        """The reverse pass in the engine's order: for each tensor, its ``grad`` and, for an
        op's output, the ``op`` and what it ``sends`` to each input."""
        return self.data["steps"]

    @property
    def html(self) -> str:
        style = resources.files(__package__).joinpath("explorer.css").read_text()
        script = resources.files(__package__).joinpath("explorer.js").read_text()
        data = json.dumps(self.data, separators=(",", ":"), allow_nan=False)
        data = data.replace("</", "<\\/")  # no "</script>" inside the data
        return PAGE.format(title=_escape(self.title), style=style, svg=self.svg, data=data,
                           script=script, nodes=len(self.data["nodes"]),
                           steps=len(self.data["steps"]))  # fmt: skip

    def save(self, path: str | os.PathLike) -> str:
        """Write the page (whole or not at all); returns the path."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise OSError(f"Explorer.save: {path} is a folder; give a file name (step.html)")
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(self.html)
        return path

    def _repr_html_(self) -> str:
        style = "width:100%;height:640px;border:1px solid #ccc"
        return f'<iframe srcdoc="{_escape(self.html)}" style="{style}"></iframe>'

    def __repr__(self) -> str:
        return f"Explorer({len(self.data['nodes'])} nodes, {len(self.steps)} backward steps)"


def explore(
    loss: Tensor, params: dict[str, Tensor] | None = None, title: str = "", check: bool = False
) -> Explorer:
    """The page for the graph behind ``loss`` (a one-element Tensor), after a forward.

    ``params`` names the parameters (``dict(model.named_parameters())``), as for
    :func:`tinygrad_cnn.draw_graph`. The reverse pass is replayed without touching ``.grad``;
    if ``loss.backward(retain_graph=True)`` ran before, the page also compares each leaf's
    replayed gradient with its ``.grad``. With ``check=True``,
    :func:`tinygrad_cnn.check_graph` runs now, on the graph's own inputs, and the page's
    "check_graph" button shows each op's verdict. Needs Graphviz's ``dot`` for the layout.
    """
    check_graph_alive("explore", loss)
    if params is not None and not (
        isinstance(params, dict) and all(isinstance(p, Tensor) for p in params.values())
    ):
        raise TypeError(
            "explore: params must map names to Tensors (dict(model.named_parameters()))"
        )
    if not Diagram.dot_available():
        raise RuntimeError(f"explore: the page lays the graph out with Graphviz. {INSTALL_HINT}")
    if not isinstance(check, bool):
        raise TypeError(f"explore: check must be True or False, got {check!r}")
    data = collect(loss, params)
    data["checks"] = _checks(loss) if check else None
    for nid, leaf in data["leaves"].items():
        if leaf["dot_grad"] is not None and nid in data["nodes"] and "grad" in data["nodes"][nid]:
            leaf["match"] = _compare(data["nodes"][nid]["grad"], leaf["dot_grad"])
    diagram = draw_graph(loss, params=params, max_nodes=100_000)
    svg = diagram.pipe("svg").decode()
    svg = svg[svg.index("<svg") :]  # without the XML prologue and doctype
    return Explorer(data, svg, title or f"training step: {len(data['nodes'])} nodes")


def _checks(loss: Tensor) -> dict:
    """check_graph's verdict for each op, by the op's node id (both number the ops in the
    same forward order)."""
    out = {}
    for c in check_graph(loss).checks:
        if c.skipped:
            text, state = f"skipped: {c.skipped}", "skipped"
        else:
            text = (
                f"VJP against finite differences: error {c.max_error:.2g} "
                f"(tolerance {c.tolerance:.2g})"
            )
            state = "ok" if c.ok else "bad"
        out[f"op{c.index}"] = {"ok": c.ok, "state": state, "text": text}
    return out


def _compare(replayed: dict, dot_grad: dict) -> str:
    """How the replayed gradient of a leaf compares with its ``.grad`` (on the kept values)."""
    a, b = decode(replayed), decode(dot_grad)
    if a.shape != b.shape:
        return "the replayed gradient and .grad differ in shape"
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = 1 + (float(np.max(np.abs(b))) if b.size else 0.0)
    if diff <= 1e-5 * scale:
        return f"the replayed gradient equals .grad (largest difference {diff:.2g})"
    return f"the replayed gradient differs from .grad by up to {diff:.3g}"


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
{style}
</style>
</head>
<body>
<div id="left">
  <div id="bar">
    <button id="reset" title="back to the forward pass">reset</button>
    <button id="prev" title="previous step (left arrow)">&larr; back</button>
    <button id="next" title="next step (right arrow)">step &rarr;</button>
    <button id="fit" title="the whole graph">fit</button>
    <button id="check" title="check_graph's verdict on each op's VJP">check_graph</button>
    <span class="legend">{nodes} nodes, {steps} backward steps. Click a node; the arrow keys
    walk the reverse pass. Orange: the op whose VJP runs; dashed red: the inputs it sends to.
    </span>
  </div>
  <div id="step-status"></div>
  <div id="graph">
{svg}
  </div>
</div>
<div id="panel"><p>Click a node of the graph to see its values, or step through the backward
pass with &rarr;.</p></div>
<script type="application/json" id="explorer-data">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""
