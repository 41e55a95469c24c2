"""The checks the property tests run on every registered op, public for ops you write.

Each takes an op and an :class:`OpCase` (one valid call, as a strategy draws it) and raises an
``AssertionError`` naming the op and what failed:

- :func:`check_vjp`: the VJP against central differences, in float64;
- :func:`check_adjoint`: for each input the op is linear in, ``<f(x) - f(0), g> == <x, vjp(g)>``;
- :func:`check_invariants`: no mutated inputs, no shared memory, dtypes kept;
- :func:`check_skips_unneeded`: the VJP returns None for every input that needs no gradient;
- :func:`check_op`: all four;
- second order, for ``higher_order`` ops: :func:`check_double_vjp` (the recorded VJP against
  finite differences, in all inputs and the upstream gradient) and :func:`check_vjp_adjoint`
  (the VJP is linear in the upstream gradient, so its own VJP is its exact adjoint);
  :func:`check_refuses_create_graph` for the others.

They need no hypothesis; the strategies that draw cases do (``tinygrad_cnn.testing``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tinygrad_cnn.backward import Recorded, grad
from tinygrad_cnn.engine import Node, as_tensor
from tinygrad_cnn.ops.registry import Op
from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.testing.gradcheck import gradcheck, gradgradcheck


@dataclasses.dataclass
class OpCase:
    """One valid call of an op: ``op.forward(ctx, *args, **attrs)``."""

    args: tuple[np.ndarray, ...]
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.args)
        return f"OpCase(args=[{shapes}], attrs={self.attrs!r})"


def _inputs(case: OpCase, dtype: Any = None) -> list[Tensor]:
    out = []
    for a in case.args:
        if a.dtype.kind == "f":
            out.append(as_tensor(a if dtype is None else a.astype(dtype)).requires_grad_())
        else:
            out.append(as_tensor(a))
    return out


def _upstream(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_vjp(op: type[Op], case: OpCase, **tolerances: Any) -> None:
    """The op's VJP agrees with central differences in float64 (raises GradcheckError)."""
    gradcheck(lambda *xs: op.apply(*xs, **case.attrs), _inputs(case), **tolerances)


def check_adjoint(op: type[Op], case: OpCase, rtol: float = 1e-9) -> None:
    """For each input ``x`` the op is linear (or affine) in, with the others held fixed:
    ``<f(x) - f(0), g> == <x, vjp(g)>``. Subtracting ``f(0)`` removes the part that does not
    depend on ``x`` (``b`` in ``a + b``), so the test is exact for every such op."""
    for i in op.linear_in:
        if i >= len(case.args) or case.args[i].dtype.kind != "f":
            continue
        xs = [as_tensor(a) for a in case.args]
        xs[i].requires_grad_(True)
        out = op.apply(*xs, **case.attrs)
        zeroed = [as_tensor(np.zeros_like(a) if k == i else a) for k, a in enumerate(case.args)]
        offset = op.apply(*zeroed, **case.attrs)._data
        g = _upstream(out.shape, np.float64, seed=i)
        out.backward(g)
        lhs = float(np.sum((out._data - offset) * g))
        rhs = float(np.sum(case.args[i] * xs[i].grad._data))
        # rounding scales with the terms before cancellation, not with their difference, on
        # both sides (normalize_grad of a constant g is 0: the left side has no terms at all)
        scale = float(np.sum(np.abs(out._data * g)) + np.sum(np.abs(offset * g)))
        scale += float(np.sum(np.abs(case.args[i] * xs[i].grad._data))) + 1e-300
        if abs(lhs - rhs) > rtol * scale:
            raise AssertionError(
                f"op '{op.name}': adjoint test failed for input {i}: <f(x) - f(0), g> = {lhs!r} "
                f"but <x, vjp(g)> = {rhs!r}"
            )


def check_invariants(op: type[Op], case: OpCase, dtype: Any = np.float32) -> None:
    """Inputs and the upstream gradient are not mutated; gradients do not share memory with them
    or with each other; the output and the gradients keep the inputs' dtype (run in ``dtype``)."""
    xs = _inputs(case, dtype)
    before = [x._data.copy() for x in xs]
    out = op.apply(*xs, **case.attrs)
    expected = np.dtype(case.attrs.get("dtype", dtype))  # a cast op names its output dtype
    if out.dtype != expected:
        raise AssertionError(
            f"op '{op.name}': output dtype {out.dtype} for {np.dtype(dtype)} inputs"
        )
    g = _upstream(out.shape, dtype)
    g_before = g.copy()
    out.backward(g)
    for i, (x, b) in enumerate(zip(xs, before)):
        if not np.array_equal(x._data, b):
            raise AssertionError(f"op '{op.name}': input {i} was mutated")
    if not np.array_equal(g, g_before):
        raise AssertionError(f"op '{op.name}': the upstream gradient was mutated")
    grads = [x.grad._data for x in xs if x.requires_grad]
    arrays = [x._data for x in xs] + [g, out._data]
    for i, gr in enumerate(grads):
        if gr.dtype != np.dtype(dtype):
            raise AssertionError(f"op '{op.name}': gradient {i} has dtype {gr.dtype}")
        for other in arrays + grads[:i]:
            if gr.size and np.shares_memory(gr, other):
                raise AssertionError(f"op '{op.name}': gradient {i} shares memory")


def check_skips_unneeded(op: type[Op], case: OpCase) -> None:
    """With one floating input needing a gradient at a time, the VJP returns a gradient for that
    input and, for every other one, None (or the upstream gradient itself, which costs nothing):
    it skips the work, and the warnings (``log`` of a negative base in ``pow``), of gradients
    nobody asked for. A ``higher_order`` op is checked on its recorded path too (the VJP as
    ``create_graph`` runs it, on Tensors), where each needless gradient is recorded ops."""
    floating = [i for i, a in enumerate(case.args) if a.dtype.kind == "f"]
    for i in floating:
        ctx = Node()
        ctx.needs_input_grad = tuple(k == i for k in range(len(case.args)))
        out = op.forward(ctx, *[a.copy() for a in case.args], **case.attrs)
        g = _upstream(np.shape(out), np.asarray(out).dtype)
        grads = op.vjp(ctx, g)
        if len(grads) != len(case.args):
            raise AssertionError(
                f"op '{op.name}': vjp returned {len(grads)} gradients for {len(case.args)} inputs"
            )
        _only_needed(op, i, grads, g, "")
        if op.higher_order:
            xs = [as_tensor(a.copy()).requires_grad_(k == i) for k, a in enumerate(case.args)]
            out = op.apply(*xs, **case.attrs)
            g = as_tensor(_upstream(out.shape, out.dtype))
            _only_needed(op, i, op.vjp(Recorded(out._node, out), g), g, " (recorded)")


def _only_needed(op: type[Op], i: int, grads: tuple, g: Any, path: str) -> None:
    if grads[i] is None:
        raise AssertionError(f"op '{op.name}'{path}: no gradient for input {i}, which needs one")
    extra = [k for k, gr in enumerate(grads) if k != i and gr is not None and gr is not g]
    if extra:
        raise AssertionError(
            f"op '{op.name}'{path}: with only input {i} needing a gradient, the vjp also "
            f"computed gradients for inputs {extra}"
        )


def check_op(op: type[Op], case: OpCase) -> None:
    """All of the above: finite differences, adjoint (linear inputs), invariants, skipping."""
    check_vjp(op, case)
    check_adjoint(op, case)
    check_invariants(op, case)
    check_skips_unneeded(op, case)


def check_double_vjp(op: type[Op], case: OpCase, **tolerances: Any) -> None:
    """The op's recorded VJP gives the first-order gradients the plain one does, and agrees with
    finite differences of itself, in float64, along one random direction of all inputs and the
    upstream gradient together (``gradgradcheck``'s fast mode)."""

    xs = _inputs(case)
    wanted = [x for x in xs if x.requires_grad]
    out = op.apply(*xs, **case.attrs)
    g = _upstream(out.shape, np.float64, seed=3)
    plain = grad(out, wanted, g, retain_graph=True, allow_unused=True)
    recorded = grad(out, wanted, g, create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(plain, recorded)):
        if (a is None) != (b is None) or (
            a is not None and not np.allclose(a._data, b._data, rtol=1e-10, atol=1e-12)
        ):
            raise AssertionError(
                f"op '{op.name}': gradient {i} differs between the plain and the recorded VJP"
            )
    tolerances.setdefault("fast_mode", True)
    gradgradcheck(lambda *xs: op.apply(*xs, **case.attrs), _inputs(case), **tolerances)


def check_vjp_adjoint(op: type[Op], case: OpCase, rtol: float = 1e-9) -> None:
    """A VJP is linear in the upstream gradient ``g``: for each input ``x``,
    ``<vjp_x(g), w> == <g, d/dg <vjp_x(g), w>>`` exactly, the right side by double backward."""

    xs = _inputs(case)
    out = op.apply(*xs, **case.attrs)
    g = as_tensor(_upstream(out.shape, np.float64, seed=7)).requires_grad_()
    for i, x in enumerate(xs):
        if not x.requires_grad:
            continue
        (gx,) = grad(op.apply(*xs, **case.attrs), x, g, create_graph=True, allow_unused=True)
        if gx is None:
            continue
        w = _upstream(x.shape, np.float64, seed=11 + i)
        lhs = float(np.sum(gx._data * w))
        if not gx.requires_grad:  # the VJP does not depend on g at all: it must be zero
            rhs = 0.0
        else:
            (dg,) = grad((gx * as_tensor(w)).sum(), g, allow_unused=True)
            rhs = 0.0 if dg is None else float(np.sum(g._data * dg._data))
        scale = float(np.sum(np.abs(gx._data * w))) + 1e-300
        if abs(lhs - rhs) > rtol * scale:
            raise AssertionError(
                f"op '{op.name}': the VJP for input {i} is not linear in the upstream gradient "
                f"as recorded: <vjp(g), w> = {lhs!r} but <g, d/dg <vjp(g), w>> = {rhs!r}"
            )


def check_refuses_create_graph(op: type[Op], case: OpCase) -> None:
    """An op that is not ``higher_order`` refuses ``create_graph`` with an error naming it."""

    xs = _inputs(case)
    wanted = [x for x in xs if x.requires_grad]
    out = op.apply(*xs, **case.attrs)
    try:
        grad(out, wanted, _upstream(out.shape, np.float64), create_graph=True)
    except RuntimeError as e:
        if f"op '{op.name}' does not support create_graph" in str(e):
            return
        raise
    raise AssertionError(f"op '{op.name}' is not higher_order but accepted create_graph")
