"""The engine's forward half: grad mode and module scope, graph nodes, op application, and the
rule that lifts arguments to Tensors. The reverse pass is in :mod:`tinygrad_cnn.backward`.

A :class:`Node` is the record one op application leaves in the graph. It is also the
``ctx`` the op's ``forward`` saves into and its ``vjp`` reads from: ops set plain attributes
on it (``ctx.x = x``). The engine keeps its own bookkeeping in ``__slots__``; backward frees the
op's attributes (the saved arrays) unless ``retain_graph=True`` and keeps the rest.
"""

from __future__ import annotations

import functools
import threading
import weakref
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
    recording_backward = False  # inside backward(create_graph=True): nodes are backward nodes

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


# Anomaly mode (tinygrad_cnn.anomaly.detect_anomaly): process-wide, as in PyTorch, and a plain
# global, so that when it is off apply pays one lookup for it.
_anomaly = 0  # how many detect_anomaly() blocks are active


# ---------------------------------------------------------------------------------------------
# Graph nodes


class Node:
    """One recorded op application; also the ``ctx`` passed to the op's forward and vjp.

    Engine fields: ``op`` (the Op class), ``inputs`` (the input Tensors), ``attrs`` (the op's
    keyword attributes), ``needs_input_grad`` (one bool per input), ``saved_versions`` (for each
    input or output array the op saved on ctx: its version counter, the version when the op ran,
    and its position, -1 for the output), ``out_dtype``, ``scope``, ``freed`` (True once backward
    released the saved arrays), ``backward`` (True for nodes recorded by a backward pass with
    ``create_graph``). Everything else on it belongs to the op.

    ``xp`` is the array namespace a VJP computes with: NumPy here; the recorded view that
    backward hands a VJP under ``create_graph`` has Tensor functions of the same names instead.
    """

    __slots__ = (
        "op",
        "inputs",
        "attrs",
        "needs_input_grad",
        "saved_versions",
        "out_dtype",
        "scope",
        "freed",
        "backward",
        "where",
        "__dict__",
        "__weakref__",
    )
    xp = np

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()

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
    if _anomaly:
        from tinygrad_cnn.anomaly import check_forward  # only in anomaly mode

        check_forward(op, inputs, out, _mode.scope[-1] if _mode.scope else None)
    if type(out) is not np.ndarray:  # NumPy gives scalars for 0-d results
        scalar, out = out, np.asarray(out)
        if record:  # what the op saved as its output is the output: point it at the array
            for key, value in ctx.__dict__.items():
                if value is scalar:
                    setattr(ctx, key, out)
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
        ctx.freed = False
        ctx.backward = _mode.recording_backward
        if _anomaly:
            from tinygrad_cnn.anomaly import user_frame

            ctx.where = user_frame()  # for the message of an anomaly in backward
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
# Hooks on tensors (backward runs them)

# id(tensor) -> [fn, ...]; an entry goes when its tensor does. (Not a WeakKeyDictionary: that
# compares keys with ==, which is elementwise on Tensors.)
_hooks: dict[int, list] = {}


class RemovableHandle:
    """What registering a hook returns: ``handle.remove()`` unregisters it (twice is harmless)."""

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def register_hook(t: Tensor, fn: Callable[[Tensor], Any]) -> RemovableHandle:
    """Call ``fn(grad)`` when the gradient with respect to ``t`` is computed; see
    :meth:`Tensor.register_hook`."""
    if not callable(fn):
        raise TypeError(f"register_hook: hook must be callable, got {type(fn).__name__}")
    if not t.requires_grad:
        raise RuntimeError(
            f"register_hook: cannot register a hook on a tensor that does not require grad "
            f"(shape {t.shape})"
        )
    hooks = _hooks.get(id(t))
    if hooks is None:
        hooks = _hooks[id(t)] = []
        weakref.finalize(t, _hooks.pop, id(t), None)
    hooks.append(fn)
    return RemovableHandle(hooks, fn)


# ---------------------------------------------------------------------------------------------
# What a freed graph keeps


class FreedTensor:
    """An intermediate tensor as a freed graph remembers it: shape, dtype, name and the node
    that made it, but not its values (so backward releases the activations).

    ``grad`` is the tensor's ``.grad`` while the tensor itself is alive; a tensor that asked for
    ``retain_grad()`` is kept, with its values, as that asks.
    """

    __slots__ = ("_node", "shape", "dtype", "name", "size", "ndim", "_ref", "_kept")
    requires_grad = True
    is_leaf = False
    _retain = False

    def __init__(self, t: Tensor) -> None:
        self._node, self.shape, self.dtype, self.name = t._node, t.shape, t.dtype, t.name
        self.size, self.ndim = t.size, t.ndim
        self._ref = weakref.ref(t)
        self._kept = t if t._retain else None

    @property
    def grad(self) -> Tensor | None:
        t = self._ref()
        return None if t is None else t.grad

    @property
    def op(self) -> str:
        return self._node.op.name

    def __repr__(self) -> str:
        return f"FreedTensor(shape={self.shape}, dtype={self.dtype}, op={self.op})"


def free(node: Node, ghosts: dict[int, FreedTensor]) -> None:
    """Drop what the op saved, and the links that would keep intermediate values alive."""
    node.__dict__.clear()
    node.freed = True
    inputs = []
    for t in node.inputs:
        if type(t) is not FreedTensor and t._node is not None:
            ghost = ghosts.get(id(t))
            if ghost is None:
                ghost = ghosts[id(t)] = FreedTensor(t)
            t = ghost
        inputs.append(t)
    node.inputs = tuple(inputs)


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
