"""``torch.autograd.functional``: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp`` and ``vhp``
of a function of Tensors, with PyTorch's arguments and return shapes: a single Tensor in, a
single Tensor out; a tuple in, a tuple out (a Jacobian of tuple outputs and tuple inputs is a
tuple of tuples). Jacobians are built one output element at a time by reverse mode; ``jvp`` is
the vector-Jacobian product of a vector-Jacobian product (the double-backward trick).

>>> from tinygrad_cnn import tensor
>>> from tinygrad_cnn.autograd.functional import jacobian, hessian
>>> jacobian(lambda x: x * x, tensor([1.0, 2.0]))
Tensor([[2., 0.],
        [0., 4.]], dtype=float32)
>>> hessian(lambda x: (x ** 3).sum(), tensor([1.0, 2.0]))
Tensor([[ 6.,  0.],
        [ 0., 12.]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_cnn.backward import grad
from tinygrad_cnn.engine import enable_grad
from tinygrad_cnn.functional import stack
from tinygrad_cnn.tensor import Tensor


def _as_tuple(fn: str, name: str, value: Any) -> tuple[bool, tuple[Tensor, ...]]:
    single = isinstance(value, Tensor)
    items = (value,) if single else tuple(value)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: {name}[{i}] must be a Tensor, got {type(t).__name__}")
    return single, items


def _inputs(fn: str, inputs: Any) -> tuple[bool, tuple[Tensor, ...]]:
    """Fresh leaves that require grad, holding the inputs' values."""
    single, items = _as_tuple(fn, "inputs", inputs)
    for i, t in enumerate(items):
        if t.dtype.kind != "f":
            raise TypeError(f"{fn}: inputs[{i}] must be floating, got {t.dtype}")
    return single, tuple(Tensor._wrap(t._data, True) for t in items)


def _outputs(fn: str, out: Any) -> tuple[bool, tuple[Tensor, ...]]:
    return _as_tuple(fn, "the outputs of func", out)


def _grads(outputs, inputs, grad_outputs, create_graph) -> tuple:
    """The gradients of the outputs (weighted by grad_outputs) for every input, zeros where an
    input is unused (as PyTorch's functional API does when not strict)."""
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not live:
        return tuple(Tensor._wrap(np.zeros(t.shape, t.dtype), False) for t in inputs)
    gs = grad(
        [o for o, _ in live],
        list(inputs),
        [g for _, g in live],
        retain_graph=True,
        create_graph=create_graph,
        allow_unused=True,
    )
    return tuple(
        Tensor._wrap(np.zeros(t.shape, t.dtype), False) if g is None else g
        for g, t in zip(gs, inputs)
    )


def _vectors(fn: str, v: Any, like: tuple[Tensor, ...], name: str) -> tuple:
    if v is None:
        if all(t.numel() == 1 for t in like):
            return tuple(Tensor._wrap(np.ones(t.shape, t.dtype), False) for t in like)
        raise RuntimeError(f"{fn}: {name} is needed unless every tensor has one element")
    _, vs = _as_tuple(fn, name, v)
    if len(vs) != len(like) or any(a.shape != b.shape for a, b in zip(vs, like)):
        raise RuntimeError(
            f"{fn}: {name} must hold one tensor per {'output' if name == 'v' else 'input'} of "
            f"shapes {[t.shape for t in like]}, got {[t.shape for t in vs]}"
        )
    return vs


def _dot(gs: tuple, vs: tuple) -> Tensor | None:
    """``sum_i <g_i, v_i>`` over the gradients that have a graph (None if none has)."""
    dot = None
    for g, w in zip(gs, vs):
        if g.requires_grad:
            term = (g * w).sum()
            dot = term if dot is None else dot + term
    return dot


def _keep(t: Tensor, create_graph: bool) -> Tensor:
    return t if create_graph else t.detach()


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict=False):
    """``(func(inputs), v^T J)``: the outputs and the vector-Jacobian product."""
    single_in, xs = _inputs("vjp", inputs)
    with enable_grad():
        single_out, outs = _outputs("vjp", func(*xs))
        vs = _vectors("vjp", v, outs, "v")
        gs = _grads(outs, xs, vs, create_graph)
    out = outs[0] if single_out else outs
    result = tuple(_keep(g, create_graph) for g in gs)
    return (_keep_all(out, create_graph), result[0] if single_in else result)


def _keep_all(out: Any, create_graph: bool) -> Any:
    if isinstance(out, Tensor):
        return _keep(out, create_graph)
    return tuple(_keep(o, create_graph) for o in out)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict=False):
    """``(func(inputs), J v)``: the outputs and the Jacobian-vector product, computed as the
    gradient of ``u -> u^T J v`` (two reverse passes)."""
    single_in, xs = _inputs("jvp", inputs)
    vs = _vectors("jvp", v, xs, "v (one per input)")
    with enable_grad():
        single_out, outs = _outputs("jvp", func(*xs))
        us = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype), True) for o in outs)
        gs = _grads(outs, xs, us, create_graph=True)  # u^T J, a function of u
        dot = _dot(gs, vs)
        if dot is None:
            jv = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype), False) for o in outs)
        else:
            jv = _grads((dot,), us, (Tensor._wrap(np.ones((), dot.dtype), False),), create_graph)
    out = outs[0] if single_out else outs
    result = tuple(_keep(j, create_graph) for j in jv)
    return (_keep_all(out, create_graph), result[0] if single_out else result)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:  # fmt: skip
    """The Jacobian of ``func`` at ``inputs``: for one output and one input, a Tensor of shape
    ``output.shape + input.shape``; tuples of those for tuple inputs and outputs."""
    single_in, xs = _inputs("jacobian", inputs)
    with enable_grad():
        single_out, outs = _outputs("jacobian", func(*xs))
        rows: list[list[list[Tensor]]] = [[[] for _ in xs] for _ in outs]
        for k, o in enumerate(outs):
            for idx in np.ndindex(*o.shape):
                e = np.zeros(o.shape, o.dtype)
                e[idx] = 1
                seeds = [Tensor._wrap(e if j == k else np.zeros(p.shape, p.dtype), False)
                         for j, p in enumerate(outs)]  # fmt: skip
                for i, g in enumerate(_grads(outs, xs, seeds, create_graph)):
                    rows[k][i].append(g)
    jac = [
        [
            _keep(stack(r).reshape(o.shape + x.shape), create_graph)
            if r
            else Tensor._wrap(np.zeros(o.shape + x.shape, x.dtype), False)
            for r, x in zip(rows[k], xs)
        ]
        for k, o in enumerate(outs)
    ]
    per_out = [j[0] if single_in else tuple(j) for j in jac]
    return per_out[0] if single_out else tuple(per_out)


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):  # fmt: skip
    """The Hessian of the scalar ``func`` at ``inputs`` (the Jacobian of its gradient)."""
    single_in, xs = _inputs("hessian", inputs)

    def gradient(*ys: Tensor) -> Any:
        out = func(*ys)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hessian: func must return a single-element Tensor")
        gs = _grads((out,), ys, (Tensor._wrap(np.ones(out.shape, out.dtype), False),), True)
        return gs[0] if single_in else gs

    return jacobian(gradient, xs[0] if single_in else xs, create_graph=create_graph)


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``."""
    return hvp(func, inputs, v, create_graph, strict)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func`` (H is symmetric: the same as ``vhp``)."""
    single_in, xs = _inputs("hvp", inputs)
    vs = _vectors("hvp", v, xs, "v (one per input)")
    with enable_grad():
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hvp: func must return a single-element Tensor")
        gs = _grads((out,), xs, (Tensor._wrap(np.ones(out.shape, out.dtype), False),), True)
        dot = _dot(gs, vs)
        if dot is None:
            hv = tuple(Tensor._wrap(np.zeros(x.shape, x.dtype), False) for x in xs)
        else:
            one = Tensor._wrap(np.ones((), dot.dtype), False)
            hv = _grads((dot,), xs, (one,), create_graph)
    result = tuple(_keep(h, create_graph) for h in hv)
    return (_keep(out, create_graph), result[0] if single_in else result)
