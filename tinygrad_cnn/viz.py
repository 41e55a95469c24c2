"""Diagrams of the computation graph a model records, and of the gradients flowing back.

:func:`trace` collects the graph (no Graphviz needed); :func:`draw_graph` turns it into a
``graphviz.Digraph``.

Legend (what the picture shows):

- **grey boxes** are ops, labelled with their name and attributes (stride, padding, kernel_size,
  mode, ...). Small constants they use (the ``2.0`` in ``x * 2.0``) are written into the label.
- **white ellipses** are intermediate tensors: shape and dtype.
- **light blue boxes** are parameters, labelled with their names from ``params`` (e.g.
  ``dict(model.named_parameters())``), or else with the path a module registered them under
  (``weight``, ``0.weight``); unnamed leaves that require grad are light blue too.
- **yellow boxes** are inputs: leaves that do not require grad (images, labels).
- **the green ellipse** is the output (each root you pass).
- **dashed clusters** group the ops recorded inside an ``nn.Module``'s forward, labelled
  ``name: Class``; ``collapse=True`` draws each innermost module as one node instead.
- **pink boxes, and dashed ellipses** are ops and tensors recorded by a backward pass with
  ``create_graph=True``: the graph of a gradient, next to the forward graph it came from.
- With ``show_values=True``, each tensor shows the min / mean / max of its values (and how many
  are NaN/Inf) under its shape, and, with ``show_grads``, its gradient's min and max too.
- With ``show_grads=True`` (after backward), each tensor that has a gradient shows its norm
  ``|grad|``; a gradient holding NaN or Inf is drawn **red**. Leaves keep gradients; to see the
  intermediate ones, call :func:`retain_grads` on the output before backward.

Node ids are a counter in a fixed traversal order, so the DOT source is stable.

>>> from tinygrad_cnn import Tensor
>>> w = Tensor([[1.0, 2.0]], requires_grad=True)
>>> g = trace((w @ w.T).relu())
>>> [n.label.split("\\n")[0] for n in g.nodes if n.kind == "op"]
['transpose', 'matmul', 'relu']
"""

from __future__ import annotations

import dataclasses
import shutil
from typing import Any

import graphviz
import numpy as np

from tinygrad_cnn.graph import FreedTensor, topo_order
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.tensor import Tensor

INSTALL_HINT = (
    "Graphviz's 'dot' program is not installed, so the diagram cannot be rendered "
    "(its DOT source is still available as .source). Install it with: "
    "sudo apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS), "
    "or see https://graphviz.org/download/"
)

STYLE = {
    "op": {"shape": "box", "style": "filled", "fillcolor": "lightgrey"},
    "tensor": {"shape": "ellipse"},
    "param": {"shape": "box", "style": "filled", "fillcolor": "lightblue"},
    "input": {"shape": "box", "style": "filled", "fillcolor": "lightyellow"},
    "output": {"shape": "ellipse", "style": "filled", "fillcolor": "darkolivegreen1"},
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "lightgrey"},
}
BACKWARD_STYLE = {  # what a backward pass with create_graph=True recorded
    "op": {"fillcolor": "pink"},
    "tensor": {"style": "dashed"},
    "output": {"style": "filled,dashed"},
}


@dataclasses.dataclass
class GraphNode:
    id: str
    kind: str  # "op", "tensor", "param", "input", "output" (or "module" when collapsed)
    label: str
    scope: tuple = ()  # ((name, class), ...) of the modules whose forward recorded it
    bad_grad: bool = False
    backward: bool = False  # recorded by a backward pass (create_graph=True)


@dataclasses.dataclass
class Graph:
    nodes: list[GraphNode]
    edges: list[tuple[str, str]]
    edge_labels: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    # node id -> what it stands for: the Tensor, or the recorded op (engine Node)
    objects: dict[str, Any] = dataclasses.field(default_factory=dict)


def _fmt_attr(key: str, value: Any) -> list[str]:
    if isinstance(value, Geometry):
        return value.describe()
    if isinstance(value, np.ndarray):
        return [f"{key}=array{list(value.shape)}"]
    if isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
        return [
            f"{key}=["
            + ", ".join("array" if isinstance(v, np.ndarray) else repr(v) for v in value)
            + "]"
        ]
    text = repr(value)
    return [f"{key}={text if len(text) <= 40 else text[:37] + '...'}"]


def _tensor_text(t: Tensor) -> str:
    return f"{tuple(t.shape)} {t.dtype}"


def _is_small_const(t: Tensor) -> bool:
    return t._node is None and not t.requires_grad and t._data.size == 1


def _range(a: np.ndarray, mean: bool = True) -> str:
    """min(/mean)/max of the finite values, and how many are not finite."""
    finite = np.isfinite(a)
    if not finite.any():
        return "all NaN/Inf"
    v = a[finite].astype(np.float64)
    stats = (v.min(), v.mean(), v.max()) if mean else (v.min(), v.max())
    text = " / ".join(f"{x:.3g}" for x in stats)
    return text if finite.all() else f"{text}, {a.size - int(finite.sum())} NaN/Inf"


def _value_text(t: Any) -> str:
    if isinstance(t, FreedTensor) or t.dtype.kind not in "fc" or t.numel() == 0:
        return ""  # a freed graph keeps no values
    return f"\nmin/mean/max {_range(t._data)}"


def _grad_text(t: Any, show_values: bool) -> tuple[str, bool]:
    if t.grad is None:
        return "", False
    g = t.grad._data
    finite = bool(np.all(np.isfinite(g)))
    norm = "has NaN/Inf" if not finite else f"= {float(np.linalg.norm(g.astype(np.float64))):.3g}"
    text = f"\n|grad| {norm}"
    if show_values and g.size:
        text += f"\ngrad min/max {_range(g, mean=False)}"
    return text, not finite


def retain_grads(*roots: Tensor) -> None:
    """Mark every non-leaf tensor in the graph to keep its gradient at the next backward."""
    for t in topo_order(roots, only_grad=False):
        if t._node is not None and t.requires_grad:
            t.retain_grad()


def trace(
    *roots: Tensor,
    params: dict[str, Tensor] | None = None,
    show_attrs: bool = True,
    show_shapes: bool = True,
    show_grads: bool = False,
    show_values: bool = False,
) -> Graph:
    """The recorded graph behind ``roots`` as nodes (tensors and ops) and edges, no Graphviz.

    Traversal is iterative and in a fixed order, so ids (``t0``, ``op0``, ...) are stable.
    A graph freed by ``backward()`` shows only its output: draw before backward, or call
    ``backward(retain_graph=True)``.
    """
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError("trace: pass one or more Tensors")
    names = {id(p): n for n, p in (params or {}).items()}
    root_ids = {id(r) for r in roots}
    nodes: list[GraphNode] = []
    edges: list[tuple[str, str]] = []
    tid: dict[int, str] = {}
    objects: dict[str, Any] = {}
    n_ops = 0
    for t in topo_order(roots, only_grad=False):
        node = t._node
        op_id = None
        if node is not None:
            op_id = f"op{n_ops}"
            n_ops += 1
            lines = [node.op.name]
            if show_attrs:
                for k, v in (node.attrs or {}).items():
                    lines += _fmt_attr(k, v)
            for i in node.inputs or ():
                if _is_small_const(i):
                    lines.append(f"const {i._data.item():.4g}")
                    continue
                edges.append((tid[id(i)], op_id))
            nodes.append(
                GraphNode(op_id, "op", "\n".join(lines), node.scope or (), backward=node.backward)
            )
            objects[op_id] = node
        if _is_small_const(t) and id(t) not in root_ids:
            continue
        if id(t) in root_ids:
            kind = "output"
        elif node is not None:
            kind = "tensor"
        elif t.requires_grad or id(t) in names:
            kind = "param"
        else:
            kind = "input"
        label = names.get(id(t)) or t.name or {"output": "output", "input": "input"}.get(kind, "")
        if kind == "param" and not label:
            label = "leaf"
        if show_shapes:
            label = f"{label}\n{_tensor_text(t)}" if label else _tensor_text(t)
        bad = False
        if show_values:
            label += _value_text(t)
        if show_grads:
            text, bad = _grad_text(t, show_values)
            label += text
        tid[id(t)] = f"t{len(tid)}"
        objects[tid[id(t)]] = t
        made_by_backward = node is not None and node.backward
        scope = node.scope or () if node else ()
        nodes.append(GraphNode(tid[id(t)], kind, label, scope, bad, made_by_backward))
        if op_id is not None:
            edges.append((op_id, tid[id(t)]))
    # a parameter sits in the cluster of the first op that uses it
    consumers = {}
    for src, dst in edges:
        consumers.setdefault(src, dst)
    by_id = {n.id: n for n in nodes}
    for n in nodes:
        if n.kind == "param" and n.id in consumers:
            n.scope = by_id[consumers[n.id]].scope
    return Graph(nodes, edges, objects=objects)


def _collapse(g: Graph) -> Graph:
    """One node per innermost module: ops and tensors inside it merge; edges carry shapes."""
    group: dict[str, str] = {}
    nodes: list[GraphNode] = []
    made: dict[tuple, GraphNode] = {}
    for n in g.nodes:
        if n.scope and n.kind in ("op", "tensor", "param"):
            if n.scope not in made:
                name, cls = n.scope[-1]
                label = _module_label(name, cls)
                made[n.scope] = GraphNode(f"m{len(made)}", "module", label, n.scope[:-1])
                nodes.append(made[n.scope])
            m = made[n.scope]
            if n.kind == "param":
                m.label += "\n" + n.label.replace("\n", " ")
            m.bad_grad |= n.bad_grad
            group[n.id] = m.id
        else:
            nodes.append(n)
            group[n.id] = n.id
    by_id = {n.id: n for n in g.nodes}
    edges: list[tuple[str, str]] = []
    labels: dict[tuple[str, str], str] = {}
    for a, b in g.edges:
        ga, gb = group[a], group[b]
        if ga == gb or (ga, gb) in labels:
            continue
        edges.append((ga, gb))
        src = by_id[a]  # the tensor crossing from one module to the next: label with its shape
        labels[(ga, gb)] = src.label.split("\n")[-1] if src.kind == "tensor" else ""
    return Graph(nodes, edges, labels)


class Diagram(graphviz.Digraph):
    """What :func:`draw_graph` returns: a ``graphviz.Digraph`` (``.source``, ``.attr``,
    ``.node``, ``.edge``, ``.format``, ``.view`` as usual) that also keeps the traced ``graph``.

    ``.render(...)`` and ``.pipe(...)`` need Graphviz's ``dot`` and fail early, saying how to
    install it, when it is missing; ``.save(filename)`` writes the DOT source without it.
    Jupyter shows it inline (as SVG, or the DOT source without ``dot``).
    """

    def __init__(self, graph: Graph | None = None, name: str = "tinygrad_cnn", **kw: Any) -> None:
        kw.setdefault("format", "svg")
        super().__init__(name, **kw)  # graphviz makes subgraphs (clusters) through this too
        self.graph = graph

    @staticmethod
    def dot_available() -> bool:
        return shutil.which("dot") is not None

    def _need_dot(self) -> None:
        if not self.dot_available():
            raise RuntimeError(INSTALL_HINT)

    def render(self, filename: Any = None, *args: Any, format: str | None = None, **kw: Any):
        """Write ``filename.<format>`` and return its path: ``format`` if given, else the
        diagram's ``.format`` (svg unless you set it: png, pdf, ...), as graphviz does."""
        self._need_dot()
        kw.setdefault("cleanup", True)
        return super().render(filename, *args, format=format or self.format, **kw)

    def pipe(self, format: str | None = None, *args: Any, **kw: Any) -> Any:
        """The rendered bytes in ``format`` (default: ``.format``)."""
        self._need_dot()
        return super().pipe(format or self.format, *args, **kw)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kw: Any) -> dict:
        if self.dot_available():
            return {"image/svg+xml": self.pipe("svg").decode()}
        return {"text/plain": self.source}


def draw_graph(
    *roots: Tensor,
    params: dict[str, Tensor] | None = None,
    show_shapes: bool = True,
    show_attrs: bool = True,
    show_grads: bool = False,
    rankdir: str = "TB",
    max_nodes: int = 500,
    collapse: bool = False,
    show_values: bool = False,
) -> Diagram:
    """Draw the graph behind ``roots``; see the module docstring for the legend.

    ``params`` names parameters (``dict(model.named_parameters())``); ``rankdir`` is Graphviz's
    layout direction ("TB", "LR", ...); a graph of more than ``max_nodes`` nodes is refused.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: rankdir must be TB, LR, BT or RL, got {rankdir!r}")
    g = trace(
        *roots,
        params=params,
        show_attrs=show_attrs,
        show_shapes=show_shapes,
        show_grads=show_grads,
        show_values=show_values,
    )
    if collapse:
        g = _collapse(g)
    if len(g.nodes) > max_nodes:
        raise ValueError(
            f"draw_graph: the graph has {len(g.nodes)} nodes, more than max_nodes={max_nodes}; "
            "raise max_nodes, or pass collapse=True to draw each module as one node"
        )
    dot = Diagram(
        g,
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"},
    )
    # nested clusters, one per module scope, built in order of first appearance
    clusters: dict[tuple, list[GraphNode]] = {}
    for n in g.nodes:
        clusters.setdefault(n.scope, []).append(n)
    scopes = sorted(
        {s[:k] for s in clusters for k in range(1, len(s) + 1)},
        key=lambda s: (len(s), _first(g, s)),
    )

    def emit(target: Any, scope: tuple) -> None:
        for n in clusters.get(scope, []):
            attrs = dict(STYLE[n.kind])
            if n.backward:
                attrs.update(BACKWARD_STYLE.get(n.kind, {}))
            if n.bad_grad:
                attrs.update(color="red", fontcolor="red", penwidth="2")
            target.node(n.id, n.label, **attrs)
        for child in (s for s in scopes if len(s) == len(scope) + 1 and s[: len(scope)] == scope):
            name, cls = child[-1]
            with target.subgraph(name=f"cluster_{_path(child)}") as sub:
                sub.attr(label=_module_label(name, cls), style="dashed,rounded", color="grey40")
                emit(sub, child)

    emit(dot, ())
    for a, b in g.edges:
        label = g.edge_labels.get((a, b))
        dot.edge(a, b, label=label) if label else dot.edge(a, b)
    return dot


def _module_label(name: str, cls: str) -> str:
    return cls if name == cls else f"{name}: {cls}"


def _path(scope: tuple) -> str:
    return "_".join(f"{n}" for n, _ in scope).replace(".", "_")


def _first(g: Graph, scope: tuple) -> int:
    for i, n in enumerate(g.nodes):
        if n.scope[: len(scope)] == scope:
            return i
    return len(g.nodes)
