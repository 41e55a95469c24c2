"""The reverse pass: ``backward``, ``grad``, ``hvp``, and recording a VJP under
``create_graph``. The hooks it runs are registered in :mod:`tinygrad_cnn.hooks`; the order it
walks and what a graph keeps after it are in :mod:`tinygrad_cnn.graph`.

``backward`` walks the graph from its roots in reverse topological order (iterative), runs each
node's VJP and sums the gradients of a tensor used more than once. Without ``retain_graph`` it
then frees what the ops saved, but keeps the graph's structure for as long as its output lives:
each node keeps its op, attributes, scope and links, and an intermediate input is replaced by a
:class:`FreedTensor` (shape, dtype, name, producer; not its values), so activations are released
while ``draw_graph`` can still draw the whole graph.

With ``create_graph=True`` the pass itself is recorded: gradients are Tensors with a graph of
their own (its nodes marked ``backward``), which can be differentiated again. Each VJP runs on a
:class:`Recorded` view of its node, where the saved inputs and output are the Tensors themselves
and ``ctx.xp`` applies ops; ops that cannot do that refuse clearly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn import anomaly
from tinygrad_cnn.engine import Node, backward_mode
from tinygrad_cnn.graph import FreedTensor, free, topo_order
from tinygrad_cnn.hooks import registered_hooks, run_hooks
from tinygrad_cnn.tensor import Tensor

# -- the pass -----------------------------------------------------------------------------------


def _unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape`` (undoing NumPy broadcasting); None if it cannot be done."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        return None
    axes = list(range(lead))
    for i, n in enumerate(shape):
        m = g.shape[lead + i]
        if n == 1 and m != 1:
            axes.append(lead + i)
        elif n != m:
            return None
    return g.sum(axis=tuple(axes)).reshape(shape)


def _check_grad(node: Node, i: int, g: Any, inp: Tensor) -> Any:
    """Un-broadcast one VJP result and check it against its input; raise naming the op."""
    name = node.op.name
    if type(g) is not np.ndarray and not isinstance(g, Tensor):
        if isinstance(g, (np.generic, float, int)):
            g = np.asarray(g)
        else:
            raise TypeError(
                f"op '{name}': vjp returned {type(g).__name__} for input {i}; "
                "expected a numpy array or None"
            )
    out = _unbroadcast(g, inp.shape)
    if out is None:
        raise RuntimeError(
            f"op '{name}': vjp returned a gradient of shape {tuple(g.shape)} for input {i} "
            f"of shape {inp.shape}"
        )
    if out.dtype != inp.dtype:
        # A gradient may change dtype only where the forward itself promoted (mixed inputs).
        if out.dtype.kind in "fc" and node.out_dtype != inp.dtype:
            out = out.astype(inp.dtype)
        else:
            raise RuntimeError(
                f"op '{name}': vjp returned a gradient of dtype {out.dtype} for input {i} "
                f"of dtype {inp.dtype}"
            )
    return out


# ---------------------------------------------------------------------------------------------
# Recording a VJP (create_graph)


class Recorded:
    """A node as its VJP sees it under ``create_graph``: what the op saved, except that the
    arrays that *are* its inputs or its output are those Tensors, so the VJP's arithmetic on
    them is recorded. ``xp`` (installed by :mod:`tinygrad_cnn.ops.xp`) applies ops."""

    xp: Any = None

    def __init__(self, node: Node, out: Tensor) -> None:
        tensors = {id(t._data): t for t in node.inputs}
        tensors[id(out._data)] = out
        for key, value in node.__dict__.items():
            if type(value) is np.ndarray:
                value = tensors.get(id(value), value)
            setattr(self, key, value)
        self.needs_input_grad = node.needs_input_grad


def _vjp_recorded(node: Node, out: Tensor, g: Tensor) -> Any:
    """The node's VJP, recorded; see ``Op.higher_order``."""
    op = node.op
    if not op.higher_order:
        raise RuntimeError(
            f"op '{op.name}' does not support create_graph (second-order gradients): its "
            "vjp is not declared higher_order, i.e. written with ctx.xp and operators"
        )
    return op.vjp(Recorded(node, out), g)


# ---------------------------------------------------------------------------------------------
# The pass


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through a graph that was already freed, at op '{node.op.name}': a second "
        "backward over the same graph (or backward after its saved arrays were released). Pass "
        "retain_graph=True to the first backward if you need to call it again."
    )


def _run(roots, seeds, retain_graph, create_graph, capture=None) -> dict[int, Any]:
    """The reverse pass from ``roots`` with upstream gradients ``seeds``. Without ``capture``,
    accumulates into ``.grad`` of leaves (and retained tensors); with it (a set of ids), only
    returns the gradients of those tensors, keyed by id."""
    for r in roots:
        if r._node is not None and r._node.freed:
            raise _freed_error(r._node)
    order = topo_order(roots)
    grads: dict[int, Any] = {}  # id(tensor) -> its gradient so far
    for r, g in zip(roots, seeds):
        _add(grads, r, g)
    captured: dict[int, Any] = {}
    ghosts: dict[int, FreedTensor] = {}
    with backward_mode(create_graph):
        for t in reversed(order):  # each tensor after every op that used it
            g = grads.pop(id(t), None)
            if g is None:
                continue
            g = _complete(t, g, create_graph, capture, captured)
            node = t._node
            if node is None:
                continue
            for inp, gi in _call_vjp(node, t, g, create_graph):
                _add(grads, inp, gi)
            if not retain_graph:
                free(node, ghosts)
    return captured


def _complete(t: Tensor, g: Any, create_graph: bool, capture: set | None, captured: dict) -> Any:
    """``t``'s gradient is complete (all uses summed): run its hooks, then keep it where it is
    asked for: in ``captured`` if ``t`` is in ``capture`` (``grad()``), or, without ``capture``,
    in ``.grad`` (leaves, and tensors that asked for ``retain_grad``). Returns the gradient."""
    if registered_hooks and id(t) in registered_hooks:
        g = run_hooks(t, g, create_graph)
    if capture is not None:
        if id(t) in capture:
            captured[id(t)] = g
    elif t._node is None or t._retain:
        _accumulate(t, g, create_graph)
    return g


def _add(grads: dict[int, Any], t: Any, g: Any) -> None:
    """Sum the gradients of a tensor used more than once."""
    prev = grads.get(id(t))
    grads[id(t)] = g if prev is None else prev + g


def _call_vjp(node: Node, out: Tensor, g: Any, create_graph: bool) -> list[tuple[Any, Any]]:
    """Run the node's VJP and check it: (input, gradient) for each input that needs one."""
    if node.freed:
        raise _freed_error(node)
    _check_versions(node)
    results = _vjp_recorded(node, out, g) if create_graph else node.op.vjp(node, g)
    if type(results) is not tuple:
        results = (results,)
    if len(results) != len(node.inputs):
        raise RuntimeError(
            f"op '{node.op.name}': vjp returned {len(results)} gradients for "
            f"{len(node.inputs)} inputs"
        )
    sent = []
    for i, (inp, need, gi) in enumerate(zip(node.inputs, node.needs_input_grad, results)):
        if not need or gi is None:
            continue
        gi = _check_grad(node, i, gi, inp)
        if anomaly.active:
            anomaly.check_backward(node, i, g, gi)
        sent.append((inp, gi))
    return sent


def _accumulate(t: Tensor, g: Any, create_graph: bool) -> None:
    if create_graph:  # the gradient is a Tensor with a graph: keep it (and add out of place)
        g = g if isinstance(g, Tensor) else Tensor._wrap(g, False)
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        t.grad = Tensor._wrap(np.array(g, dtype=t.dtype, copy=True), False)
    else:
        t.grad._data = t.grad._data + g


def _check_versions(node: Node) -> None:
    for cell, version, i in node.saved_versions:
        if cell[0] != version:
            what = "its output" if i < 0 else f"input {i} (shape {node.inputs[i].shape})"
            raise RuntimeError(
                f"op '{node.op.name}': {what} was saved for backward and then modified in "
                f"place (version {cell[0]}, expected {version}); the gradient would be wrong. "
                "Clone it before changing it in place."
            )


def _seed(fn: str, out: Tensor, gradient: Any, create_graph: bool, what: str) -> Any:
    """The upstream gradient for ``out``: ones for a one-element output, else ``gradient``."""
    if not out.requires_grad:
        raise RuntimeError(
            f"{fn}: the {what} does not require grad and has no graph; "
            "create inputs with requires_grad=True"
        )
    if gradient is None:
        if out._data.size != 1:
            raise RuntimeError(
                f"{fn}: gradient can be implied only for a one-element output, but the "
                f"{what} has shape {out.shape}; pass gradient= of that shape"
            )
        g = np.ones(out.shape, dtype=out.dtype)
        return Tensor._wrap(g, False) if create_graph else g
    if create_graph and isinstance(gradient, Tensor):
        g = gradient
    else:
        g = np.asarray(getattr(gradient, "_data", gradient))
        if g.dtype.kind not in "biuf":
            raise TypeError(
                f"{fn}: gradient must be a Tensor or array of the {what}'s shape {out.shape}, "
                f"got {type(gradient).__name__} {gradient!r:.40}"
            )
    if g.shape != out.shape:
        raise RuntimeError(
            f"{fn}: gradient has shape {tuple(g.shape)} but the {what} has shape {out.shape}"
        )
    if g.dtype != out.dtype:
        g = g.astype(out.dtype)
    return Tensor._wrap(g, False) if create_graph and not isinstance(g, Tensor) else g


def backward(
    tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph=False
) -> None:
    """Reverse-mode pass from ``tensors`` (one or several), accumulating into ``.grad``, as
    ``torch.autograd.backward``; ``grad_tensors`` holds one upstream gradient per tensor (None:
    ones, for one-element tensors). See :meth:`Tensor.backward`."""
    roots = _tensors("backward", "tensors", tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        given = (grad_tensors,) * len(roots) if grad_tensors is None else (grad_tensors,)
    else:
        given = tuple(grad_tensors)
    if len(given) != len(roots):
        raise ValueError(f"backward: {len(given)} grad_tensors for {len(roots)} tensors")
    what = "output" if len(roots) == 1 else "tensors[{}]"
    seeds = [_seed("backward", r, g, create_graph, what.format(i)) for i, (r, g) in
             enumerate(zip(roots, given))]  # fmt: skip
    _run(roots, seeds, create_graph if retain_graph is None else retain_graph, create_graph)


def _tensors(fn: str, name: str, value: Any) -> tuple[Tensor, ...]:
    items = (value,) if isinstance(value, Tensor) else tuple(value)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: {name}[{i}] must be a Tensor, got {type(t).__name__}")
    if not items:
        raise ValueError(f"{fn}: {name} is empty")
    return items


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Returns one gradient per input, and touches no ``.grad``. ``grad_outputs`` holds the upstream
    gradient of each output (None: ones, for one-element outputs). ``create_graph=True`` records
    the computation, so the results can be differentiated again; ``retain_graph`` defaults to it.
    An input the outputs do not depend on is an error, or None with ``allow_unused=True``.

    >>> from tinygrad_cnn import Tensor, grad
    >>> x = Tensor([3.0], requires_grad=True)
    >>> (dx,) = grad((x ** 3).sum(), x, create_graph=True)
    >>> dx, grad(dx.sum(), x)[0]
    (Tensor([27.], dtype=float32, op=mul), Tensor([18.], dtype=float32))
    """
    outs = _tensors("grad", "outputs", outputs)
    ins = _tensors("grad", "inputs", inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = (grad_outputs,) * len(outs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(
            f"grad: {len(grad_outputs)} grad_outputs for {len(outs)} outputs; give one each"
        )
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) does not require grad")
    seeds = [_seed("grad", o, g, create_graph, f"outputs[{i}]") for i, (o, g) in
             enumerate(zip(outs, grad_outputs))]  # fmt: skip
    keep = create_graph if retain_graph is None else retain_graph
    found = _run(outs, seeds, keep, create_graph, capture={id(t) for t in ins})
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: inputs[{i}] (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is not None and not isinstance(g, Tensor):
            g = Tensor._wrap(np.array(g, dtype=t.dtype, copy=True), False)
        result.append(g)
    return tuple(result)


def hvp(fn: Callable[..., Tensor], inputs: Tensor | Sequence[Tensor], v: Any) -> tuple:
    """The Hessian-vector product ``H v`` of the scalar ``fn(*inputs)``, by double backward.

    ``v`` holds one array (or Tensor) per input, shaped like it. Returns one Tensor per input.

    >>> from tinygrad_cnn import Tensor, hvp
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> hvp(lambda t: (t ** 3).sum(), x, [Tensor([1.0, 0.0])])[0]  # H = diag(6 x)
    Tensor([6., 0.], dtype=float32)
    """
    ins = _tensors("hvp", "inputs", inputs)
    vs = [v] if isinstance(v, (Tensor, np.ndarray)) else list(v)
    if len(vs) != len(ins):
        raise ValueError(f"hvp: {len(vs)} vectors for {len(ins)} inputs; give one each")
    for i, (t, u) in enumerate(zip(ins, vs)):
        if tuple(np.shape(getattr(u, "_data", u))) != t.shape:
            raise ValueError(
                f"hvp: v[{i}] has shape {np.shape(getattr(u, 'data', u))}, input {i} has "
                f"shape {t.shape}"
            )
    out = fn(*ins)
    if not isinstance(out, Tensor) or out.numel() != 1:
        raise ValueError("hvp: fn must return a one-element Tensor")
    gs = grad(out, ins, create_graph=True, allow_unused=True)
    dot = None
    for g, u in zip(gs, vs):
        if g is not None:
            u = u if isinstance(u, Tensor) else Tensor._wrap(np.asarray(u, g.dtype), False)
            term = (g * u).sum()
            dot = term if dot is None else dot + term
    if dot is None or not dot.requires_grad:
        return tuple(Tensor._wrap(np.zeros(t.shape, t.dtype), False) for t in ins)
    return tuple(
        Tensor._wrap(np.zeros(t.shape, t.dtype), False) if h is None else h.detach()
        for t, h in zip(ins, grad(dot, ins, allow_unused=True))
    )
