"""What the explorer page shows, gathered from a recorded graph: every node with its values, the
reverse pass replayed in the engine's own order (the gradient each op sends to each input, and
the sums at fan-outs), and the leaves' gradients at the end.

The replay calls the same VJPs that ``backward`` calls, in the same order (reverse topological,
:func:`tinygrad_cnn.graph.topo_order`), on the live graph; it sets no ``.grad`` and frees
nothing, so the graph can still be drawn, explored again, or backpropagated through after.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from tinygrad_cnn.backward import _call_vjp
from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.explorer.vjps import vjp_text
from tinygrad_cnn.graph import FreedTensor, topo_order
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.viz import trace

MAX_VALUES = 8192  # values of one tensor on the page; beyond, a sample (the page says so)


def check_graph_alive(fn: str, loss: Any) -> None:
    """``loss`` must be a one-element Tensor whose graph still holds its values."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"{fn}: loss must be a Tensor, got {type(loss).__name__}")
    if loss._node is None:
        raise ValueError(
            f"{fn}: the loss (shape {loss.shape}) has no recorded graph: compute it from tensors "
            "that require grad (model parameters, say), with gradients enabled, then explore it"
        )
    if loss.numel() != 1:
        raise ValueError(
            f"{fn}: the loss must have one element to walk its backward pass, got shape "
            f"{loss.shape}; reduce it first (loss.sum() or loss.mean())"
        )
    for t in topo_order([loss], only_grad=False):
        if isinstance(t, FreedTensor) or (t._node is not None and t._node.freed):
            raise RuntimeError(
                f"{fn}: the graph was freed by backward() and keeps no values: call {fn}(loss) "
                "before loss.backward(), or call loss.backward(retain_graph=True) first"
            )


def encode(a: np.ndarray) -> dict:
    """An array for the page: its shape and up to MAX_VALUES float32 values (base64, little
    endian). A larger array keeps its first images or rows whole (what a heatmap shows), then
    every k-th value; ``sampled`` says which."""
    a = np.asarray(a)
    data = a.astype("<f4", copy=False)
    shape, sampled = list(a.shape), None
    if a.size > MAX_VALUES:
        if a.ndim >= 2 and a[0].size <= MAX_VALUES:
            keep = max(1, MAX_VALUES // a[0].size)
            data, sampled = data[:keep], f"the first {keep} of {a.shape[0]} along dim 0"
        elif a.ndim >= 3 and a[0, 0].size <= MAX_VALUES:  # image 0, its first channels
            keep = max(1, MAX_VALUES // a[0, 0].size)
            data = data[:1, :keep]
            sampled = f"the first of {a.shape[0]} along dim 0, its first {keep} of {a.shape[1]}"
        else:
            step = -(-a.size // MAX_VALUES)
            data, sampled = data.reshape(-1)[::step], f"every {step}th value of {a.size}"
    data = np.ascontiguousarray(data)
    return {
        "shape": shape,
        "kept": list(data.shape),
        "sampled": sampled,
        "data": base64.b64encode(data.tobytes()).decode(),
        "stats": stats(a),
    }


def decode(enc: dict) -> np.ndarray:
    """The kept values of an :func:`encode`d array, in their kept shape."""
    data = np.frombuffer(base64.b64decode(enc["data"]), dtype="<f4")
    return data.reshape(enc["kept"])


def stats(a: np.ndarray) -> dict:
    """min, max, mean, std and the fraction of zeros of the finite values, and how many are not
    finite (JSON: Inf and NaN as null)."""
    a = np.asarray(a)
    if a.size == 0 or a.dtype.kind not in "fiub":
        return {"size": int(a.size)}
    v = a.astype(np.float64).reshape(-1)
    finite = np.isfinite(v)
    f = v[finite]
    out = {"size": int(a.size), "nonfinite": int(a.size - finite.sum())}
    if f.size:
        out.update(min=float(f.min()), max=float(f.max()), mean=float(f.mean()),
                   std=float(f.std()), zeros=float(np.mean(f == 0)))  # fmt: skip
    return out


def collect(loss: Tensor, params: dict[str, Tensor] | None) -> dict:
    """The page's data: the graph (from :func:`tinygrad_cnn.viz.trace`, the same ids as the
    diagram's), each node's values and facts, and the replayed reverse pass."""
    graph = trace(loss, params=params)
    objects = graph.objects
    ids = {id(obj): nid for nid, obj in objects.items()}
    nodes = {}
    for n in graph.nodes:
        obj = objects[n.id]
        entry: dict[str, Any] = {"kind": n.kind, "label": n.label,
                                 "scope": [f"{a}: {b}" for a, b in n.scope]}  # fmt: skip
        if n.kind == "op":
            entry.update(_op_facts(obj, ids))
        else:
            entry.update(shape=list(obj.shape), dtype=str(obj.dtype), value=encode(obj._data))
        nodes[n.id] = entry
    for src, dst in graph.edges:  # the op that made each tensor, and its users
        if nodes[src]["kind"] == "op":
            nodes[dst]["made_by"] = src
        else:
            nodes[src].setdefault("used_by", []).append(dst)
    steps, grads = replay(loss, ids)
    for nid, g in grads.items():
        nodes[nid]["grad"] = encode(g)
    leaves = {}
    for nid, obj in objects.items():
        if nodes[nid]["kind"] in ("param", "input") and obj.requires_grad:
            dot_grad = None if obj.grad is None else encode(obj.grad._data)
            leaves[nid] = {"dot_grad": dot_grad}
    return {"nodes": nodes, "edges": graph.edges, "steps": steps, "leaves": leaves,
            "order": [n.id for n in graph.nodes]}  # fmt: skip


def _op_facts(node: Any, ids: dict[int, str]) -> dict:
    attrs = {}
    for k, v in (node.attrs or {}).items():
        text = " ".join(v.describe()) if hasattr(v, "describe") else repr(v)
        attrs[k] = text if len(text) <= 120 else text[:117] + "..."
    inputs = []
    for t in node.inputs:
        const = None if id(t) in ids else _number(t._data.reshape(-1)[0])
        inputs.append({"id": ids.get(id(t)), "shape": list(t.shape), "dtype": str(t.dtype),
                       "const": const})  # fmt: skip
    facts = {"op": node.op.name, "attrs": attrs, "inputs": inputs, "vjp": vjp_text(node.op)}
    geometry = (node.attrs or {}).get("geometry")
    if isinstance(geometry, Geometry) and node.op.name in ("conv2d", "pool2d"):
        if node.op.name == "pool2d":  # the windows as the op ran them (ceil_mode widens them)
            h, w = node.inputs[0].shape[2:]
            facts["divisor_pads"] = list(geometry[6:])
            geometry = geometry.fitted(h, w, node.attrs["ceil_mode"])
        facts["geometry"] = dict(geometry._asdict())
        facts["groups"] = int(node.attrs.get("groups", 1))
        facts["mode"] = node.attrs.get("mode")
        facts["count_include_pad"] = bool(node.attrs.get("count_include_pad", False))
    return facts


def _number(x: Any) -> float | str:
    """A constant for JSON: a float, or its text when it is Inf or NaN."""
    x = float(x)
    return x if np.isfinite(x) else str(x)


def replay(loss: Tensor, ids: dict[int, str]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The reverse pass as ``backward`` runs it: for each tensor in reverse topological order,
    its complete gradient (the sum of what every user sent), then its op's VJP and what it sends
    to each input. Returns the steps and every tensor's gradient (by node id).

    A step names its tensor (whose complete gradient is the node's ``grad``) and the ops whose
    contributions were summed into it (``sum_of``); each of its op's ``sends`` carries its own
    array only where the receiving tensor sums more than one contribution (a fan-out), since
    otherwise it is that tensor's gradient: this keeps a ResNet's page a few MB."""
    order = topo_order([loss])
    grads: dict[int, Any] = {id(loss): np.ones(loss.shape, loss.dtype)}
    parts: dict[int, list] = {id(loss): ["seed"]}  # the ops whose contributions were summed
    steps, final, sent = [], {}, []
    with no_grad():
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            final[ids[id(t)]] = g
            step: dict[str, Any] = {"tensor": ids[id(t)], "sum_of": parts.pop(id(t), [])}
            node = t._node
            if node is not None:
                step["op"] = ids[id(node)]
                step["sends"] = []
                for inp, gi in _call_vjp(node, t, g, False):
                    send = {"to": ids[id(inp)]}
                    step["sends"].append(send)
                    sent.append((send, id(inp), np.asarray(gi)))
                    parts.setdefault(id(inp), []).append(step["op"])
                    prev = grads.get(id(inp))
                    grads[id(inp)] = gi if prev is None else prev + gi
            steps.append(step)
    fan_in = {}
    for _, to, _ in sent:
        fan_in[to] = fan_in.get(to, 0) + 1
    for send, to, gi in sent:
        if fan_in[to] > 1:
            send["grad"] = encode(gi)
    return steps, final
