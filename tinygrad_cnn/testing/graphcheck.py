"""Check every node of a recorded graph: each op's VJP against finite differences on that node's
own inputs, so a wrong gradient in a whole network is found and named."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinygrad_cnn.anomaly import module_path
from tinygrad_cnn.engine import Node, no_grad
from tinygrad_cnn.graph import topo_order
from tinygrad_cnn.tensor import Tensor


@dataclasses.dataclass
class NodeCheck:
    """One node's result: its position in forward order, its op's name, the module path that
    recorded it (``"features.3"``, ``""`` for the model itself, None outside any module), the
    error of ``<v, J u>`` from the VJP against finite differences and the tolerance it had, and
    why it was skipped, if it was."""

    index: int
    op: str
    module: str | None
    max_error: float
    tolerance: float
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return self.skipped != "" or self.max_error <= self.tolerance


@dataclasses.dataclass
class GraphReport:
    """What :func:`check_graph` found: ``.ok``, ``.failures`` (in forward order), ``.checks``
    (every node), and a readable table as ``str(report)``."""

    checks: list[NodeCheck]

    @property
    def failures(self) -> list[NodeCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        lines = [f"{'#':>4}  {'op':<18}{'module':<22}{'error':>10}{'tolerance':>11}  result"]
        for c in self.checks:
            result = f"skipped: {c.skipped}" if c.skipped else ("ok" if c.ok else "WRONG")
            module = "-" if c.module is None else (c.module or "(model)")
            err, tol = ("", "") if c.skipped else (f"{c.max_error:.2e}", f"{c.tolerance:.2e}")
            lines.append(f"{c.index:>4}  {c.op:<18}{module:<22}{err:>10}{tol:>11}  {result}")
        bad = len(self.failures)
        lines.append(f"{len(self.checks)} nodes, {bad} wrong" + ("" if bad else ": all VJPs agree"))
        return "\n".join(lines)


def _directional(node: Node, xs: list[Tensor], us: list, rng: np.random.Generator, eps: float):
    """<v, J u> of the node's op at ``xs``, for a random ``v``: from its VJP, and by central and
    one-sided differences (the one-sided pair tells a kink or a tie)."""
    op, attrs = node.op, node.attrs
    out = op.apply(*xs, **attrs)
    v = rng.standard_normal(out.shape)

    def value(data: np.ndarray) -> float:
        return float(np.sum(np.asarray(data, np.float64) * v))

    def moved(shift: float) -> float:
        shifted = [
            Tensor._wrap(x._data + shift * u, False) if u is not None else x for x, u in zip(xs, us)
        ]
        with no_grad():
            return value(op.apply(*shifted, **attrs)._data)

    f0, fp, fm = value(out._data), moved(eps), moved(-eps)
    out.backward(v.astype(out.dtype))
    exact = sum(float(np.sum(x.grad._data * u)) for x, u in zip(xs, us) if x.grad is not None)
    return exact, (fp - fm) / (2 * eps), (fp - f0) / eps, (f0 - fm) / eps


def check_graph(
    *roots: Tensor, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0
) -> GraphReport:
    """Check every recorded node behind ``roots``: its op's VJP against finite differences, on
    float64 copies of that node's own inputs, along one random direction (``<v, J u>``: a few
    evaluations per node, so a whole CNN checks in seconds).

    Call it after a forward pass, before backward (or after one with ``retain_graph=True``): it
    needs the inputs each node saw. A node whose op is non-smooth and sits at a kink or a tie
    (the one-sided differences disagree) is skipped, and says so. Returns a :class:`GraphReport`.

    >>> import numpy as np
    >>> from tinygrad_cnn import Tensor, check_graph
    >>> x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    >>> check_graph((x.tanh() @ x.T).logsumexp(axis=1).sum()).ok
    True
    """
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError("check_graph: pass one or more Tensors")
    rng = np.random.default_rng(seed)
    checks: list[NodeCheck] = []
    nodes = [t._node for t in topo_order(roots, only_grad=False) if t._node is not None]
    for index, node in enumerate(nodes):
        name, module = node.op.name, module_path(node.scope)
        if node.freed or any(not isinstance(t, Tensor) for t in node.inputs):
            raise RuntimeError(
                f"check_graph: the graph was freed by backward (at op '{name}'); call it before "
                "backward, or after backward(retain_graph=True)"
            )
        xs, us = [], []
        for t, need in zip(node.inputs, node.needs_input_grad):
            if need and t.dtype.kind == "f":
                xs.append(Tensor._wrap(t._data.astype(np.float64), True))
                us.append(rng.standard_normal(t.shape))
            else:
                xs.append(Tensor._wrap(t._data, False))
                us.append(None)
        if all(u is None for u in us):
            continue
        exact, numeric, right, left = _directional(node, xs, us, rng, eps)
        tol = atol + rtol * abs(numeric)
        if not node.op.smooth and abs(right - left) > 100 * tol:
            checks.append(NodeCheck(index, name, module, 0.0, tol, "at a kink or tie"))
            continue
        error = abs(exact - numeric) if np.isfinite(exact) else float("inf")
        checks.append(NodeCheck(index, name, module, error, tol))
    return GraphReport(checks)
