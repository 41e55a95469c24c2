"""The engine: grad mode and module scope, graph nodes, op application, reverse-mode backward.

A :class:`Node` is the record one op application leaves in the graph. It is also the
``ctx`` the op's ``forward`` saves into and its ``vjp`` reads from: ops set plain attributes
on it (``ctx.x = x``). The engine keeps its own bookkeeping in ``__slots__`` and frees the
op's attributes (and the edges to the inputs) after backward unless ``retain_graph=True``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tinygrad_cnn.tensor import Tensor

if TYPE_CHECKING:
    from tinygrad_cnn.ops.registry import Op

Fn = TypeVar("Fn", bound=Callable[..., Any])

# ---------------------------------------------------------------------------------------------
# Grad mode and module scope (both per thread)


class _ThreadState(threading.local):
    enabled = True  # grad mode

    def __init__(self) -> None:
        # The nn.Module forwards running in this thread, innermost last: each entry is the chain
        # of (name, class) pairs from the outermost module down. Nodes record the last one.
        self.scope: list[tuple[tuple[str, str], ...]] = []


_mode = _ThreadState()


def scope_stack() -> list[tuple[tuple[str, str], ...]]:
    """This thread's stack of running module scopes (``nn.Module.__call__`` pushes and pops)."""
    return _mode.scope


def is_grad_enabled() -> bool:
    """True when new operations are recorded for backward (the default)."""
    return _mode.enabled


class _SetGradMode:
    _target: bool

    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._prev

    def __call__(self, fn: Fn) -> Fn:
        cls = type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cls():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_SetGradMode):
    """Context manager and decorator that stops recording operations (this thread only).

    >>> from tinygrad_cnn import Tensor, no_grad
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    _target = False


class enable_grad(_SetGradMode):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    _target = True


# ---------------------------------------------------------------------------------------------
# Graph nodes


class Node:
    """One recorded op application; also the ``ctx`` passed to the op's forward and vjp.

    Engine fields: ``op`` (the Op class), ``inputs`` (the input Tensors), ``attrs`` (the op's
    keyword attributes), ``needs_input_grad`` (one bool per input), ``saved_versions`` (for each
    input or output array the op saved on ctx: its version counter, the version when the op ran,
    and its position, -1 for the output), ``out_dtype``, ``scope``. Everything else on it belongs
    to the op.
    """

    __slots__ = (
        "op",
        "inputs",
        "attrs",
        "needs_input_grad",
        "saved_versions",
        "out_dtype",
        "scope",
        "__dict__",
        "__weakref__",
    )

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()

    @property
    def freed(self) -> bool:
        return self.inputs is None

    def __repr__(self) -> str:
        return f"<Node {self.op.name}>"


def apply(op: type[Op], inputs: tuple[Tensor, ...], attrs: dict[str, Any]) -> Tensor:
    """Run ``op`` forward on the inputs' arrays and record it when any input needs a gradient.

    The hot path of every model: keep it lean (benchmarks/bench_engine.py measures it).
    """
    ctx = Node()
    needs = tuple([t.requires_grad for t in inputs]) if _mode.enabled else ()
    record = True in needs
    if record:
        ctx.needs_input_grad = needs
    try:
        out = op.forward(ctx, *[t.data for t in inputs], **attrs)
    except (ValueError, IndexError, TypeError) as e:
        # A NumPy error from deep inside an op: say which op and which shapes.
        if str(e).startswith(op.name):
            raise
        shapes = ", ".join(str(t.shape) for t in inputs)
        raise type(e)(f"{op.name}: {e} (input shapes: {shapes})") from e
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    # Tensor._init, inlined: the call alone measured 0.8 us of ~7 us per op (bench_engine.py);
    # tests/test_tensor.py checks that every way of making a Tensor sets the same slots
    result = _new_tensor(Tensor)
    result.data = out
    result.grad = None
    result.requires_grad = record
    result._node = None
    result._vc = [0]
    result._retain = False
    result.name = None
    if record:
        ctx.op = op
        ctx.inputs = inputs
        ctx.attrs = attrs
        ctx.saved_versions = _saved_versions(ctx, inputs, result) if ctx.__dict__ else ()
        ctx.out_dtype = out.dtype
        scope = _mode.scope
        ctx.scope = scope[-1] if scope else None
        result._node = ctx
    return result


_new_tensor = object.__new__


def _saved_versions(ctx: Node, inputs: tuple[Tensor, ...], result: Tensor) -> tuple:
    """Version counters of the arrays the op kept on ctx (found by identity): changing one of
    those in place before backward would make the gradient wrong, so backward checks them."""
    saved = ctx.__dict__.values()
    checks = []
    for i, t in enumerate(inputs):
        d = t.data
        for v in saved:
            if v is d:
                checks.append((t._vc, t._vc[0], i))
                break
    out = result.data
    for v in saved:
        if v is out:
            checks.append((result._vc, 0, -1))
            break
    return tuple(checks)


# ---------------------------------------------------------------------------------------------
# Lifting arguments to Tensors: one rule for every caller of apply (functional and Op.apply)

_SCALARS = (int, float, bool, np.number, np.bool_)


def lift_scalar(x: Any, like: Tensor) -> Tensor:
    """``x`` as a constant Tensor next to ``like``: a Python or NumPy number takes ``like``'s
    dtype (``float16_tensor * 2.0`` stays float16, as in NumPy 2 and PyTorch), except that a
    float next to an integer tensor is float32; anything else converts as ``Tensor(x)`` does."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        dt = like.data.dtype
        if dt.kind != "f" and isinstance(x, (float, np.floating)):
            dt = np.float32
        return Tensor._wrap(np.asarray(x, dtype=dt), False)
    return Tensor(x)


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else ``Tensor(x)``."""
    return x if isinstance(x, Tensor) else Tensor(x)


def operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Two operands as Tensors by :func:`lift_scalar` (the hot path of binary ops)."""
    if type(a) is Tensor:
        return a, (b if type(b) is Tensor else lift_scalar(b, a))
    if isinstance(b, Tensor):
        return lift_scalar(a, b), b
    a = Tensor(a)
    return a, lift_scalar(b, a)


def lift(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Any number of operands as Tensors, numbers taking the first Tensor's dtype (or the first
    operand's, converted, when none is a Tensor): the rule of :func:`operands`, generalised."""
    if all(type(x) is Tensor for x in inputs):
        return inputs
    like = next((x for x in inputs if isinstance(x, Tensor)), None)
    if like is None and inputs:
        like = Tensor(inputs[0])
        inputs = (like, *inputs[1:])
    return tuple([lift_scalar(x, like) for x in inputs])


# ---------------------------------------------------------------------------------------------
# Backward


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
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


def _check_grad(node: Node, i: int, g: Any, inp: Tensor) -> np.ndarray:
    """Un-broadcast one VJP result and check it against its input; raise naming the op."""
    name = node.op.name
    if type(g) is not np.ndarray:
        if isinstance(g, (np.generic, float, int)):
            g = np.asarray(g)
        else:
            raise TypeError(
                f"op '{name}': vjp returned {type(g).__name__} for input {i}; "
                "expected a numpy array or None"
            )
    x = inp.data
    out = _unbroadcast(g, x.shape)
    if out is None:
        raise RuntimeError(
            f"op '{name}': vjp returned a gradient of shape {g.shape} for input {i} "
            f"of shape {x.shape}"
        )
    if out.dtype != x.dtype:
        # A gradient may change dtype only where the forward itself promoted (mixed inputs).
        if out.dtype.kind in "fc" and node.out_dtype != x.dtype:
            out = out.astype(x.dtype)
        else:
            raise RuntimeError(
                f"op '{name}': vjp returned a gradient of dtype {out.dtype} for input {i} "
                f"of dtype {x.dtype}"
            )
    return out


def topo_order(roots, only_grad: bool = True) -> list[Tensor]:
    """Tensors reachable from ``roots`` through recorded nodes, each input before the ops that
    use it (iterative depth-first search: no recursion limit). ``only_grad`` follows only the
    inputs that need a gradient (backward's walk); otherwise every input (the diagrams')."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        node = t._node
        if node is None or node.inputs is None:
            continue
        for inp, need in zip(reversed(node.inputs), reversed(node.needs_input_grad)):
            if (need or not only_grad) and id(inp) not in seen:
                stack.append((inp, False))
    return order


_FREED = (
    "backward through a graph that was already freed: a second backward over the same graph "
    "(or backward after its saved arrays were released). Pass retain_graph=True to the first "
    "backward if you need to call it again."
)


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Reverse-mode pass from ``root``; see :meth:`Tensor.backward`."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no graph; "
            "create inputs with requires_grad=True"
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: gradient can be implied only for a one-element output, but the "
                f"output has shape {root.shape}; pass gradient= of that shape"
            )
        g0 = np.ones(root.shape, dtype=root.dtype)
    else:
        g0 = np.asarray(getattr(gradient, "data", gradient))
        if g0.shape != root.shape:
            raise RuntimeError(
                f"backward: gradient has shape {g0.shape} but the output has shape {root.shape}"
            )
        if g0.dtype != root.dtype:
            g0 = g0.astype(root.dtype)
    if root._node is not None and root._node.freed:
        raise RuntimeError(_FREED)

    order = topo_order((root,))
    grads: dict[int, np.ndarray] = {id(root): g0}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        node = t._node
        if node is None or t._retain:
            _accumulate(t, g)
        if node is None:
            continue
        if node.freed:
            raise RuntimeError(_FREED)
        _check_versions(node)
        results = node.op.vjp(node, g)
        if type(results) is not tuple:
            results = (results,)
        if len(results) != len(node.inputs):
            raise RuntimeError(
                f"op '{node.op.name}': vjp returned {len(results)} gradients for "
                f"{len(node.inputs)} inputs"
            )
        for i, (inp, need, gi) in enumerate(zip(node.inputs, node.needs_input_grad, results)):
            if not need or gi is None:
                continue
            gi = _check_grad(node, i, gi, inp)
            prev = grads.get(id(inp))
            grads[id(inp)] = gi if prev is None else prev + gi
        if not retain_graph:
            node.__dict__.clear()
            node.inputs = None


def _accumulate(t: Tensor, g: np.ndarray) -> None:
    if t.grad is None:
        t.grad = Tensor._wrap(np.array(g, dtype=t.dtype, copy=True), False)
    else:
        t.grad.data = t.grad.data + g


def _check_versions(node: Node) -> None:
    for cell, version, i in node.saved_versions:
        if cell[0] != version:
            what = "its output" if i < 0 else f"input {i} (shape {node.inputs[i].shape})"
            raise RuntimeError(
                f"op '{node.op.name}': {what} was saved for backward and then modified in "
                f"place (version {cell[0]}, expected {version}); the gradient would be wrong. "
                "Clone it before changing it in place."
            )
