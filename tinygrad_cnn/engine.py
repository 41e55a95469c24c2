"""The engine's forward half: grad mode and module scope, graph nodes, applying an op, and the
rule that lifts arguments to Tensors. The reverse pass (with tensor hooks and what a freed graph
keeps) is in :mod:`tinygrad_cnn.backward`; anomaly mode in :mod:`tinygrad_cnn.anomaly`.

A :class:`Node` is the record one op application leaves in the graph. It is also the
``ctx`` the op's ``forward`` saves into and its ``vjp`` reads from: ops set plain attributes
on it (``ctx.x = x``). The engine keeps its own bookkeeping in ``__slots__``; backward frees the
op's attributes (the saved arrays) unless ``retain_graph=True`` and keeps the rest.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tinygrad_cnn import anomaly
from tinygrad_cnn.dtypes import result_type
from tinygrad_cnn.tensor import Tensor, tensor_array

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


class inference_mode(_SetGradMode):
    """``no_grad`` under PyTorch's other name (``inference_mode(False)`` records)."""

    def __init__(self, mode: bool = True) -> None:
        self._target = not mode

    def __call__(self, fn: Fn) -> Fn:
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(not target):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class set_grad_enabled:
    """``set_grad_enabled(False)`` turns recording off at once (this thread); used in a
    ``with`` block or as a decorator, the previous mode comes back afterwards."""

    def __init__(self, mode: bool) -> None:
        self._prev, self._target = _mode.enabled, bool(mode)
        _mode.enabled = self._target

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._prev

    def __call__(self, fn: Fn) -> Fn:
        _mode.enabled, target = self._prev, self._target  # as a decorator: only inside fn

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(target):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def backward_mode(create_graph: bool) -> Iterator[None]:
    """The mode the reverse pass runs VJPs in (this thread): grad mode on only with
    ``create_graph``, and the nodes it records marked as backward nodes."""
    saved = _mode.enabled, _mode.recording_backward
    _mode.enabled = _mode.recording_backward = create_graph
    try:
        yield
    finally:
        _mode.enabled, _mode.recording_backward = saved


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

    ``xp`` is the namespace a VJP computes with (:mod:`tinygrad_cnn.ops.xp` installs it): array
    functions here; the recorded view that backward hands a VJP under ``create_graph`` has
    functions of the same names that apply ops instead.
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
    xp: Any = None  # installed by tinygrad_cnn.ops.xp

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
        out = op.forward(ctx, *[t._data for t in inputs], **attrs)
    except (ValueError, IndexError, TypeError) as e:
        # A NumPy error from deep inside an op: say which op and which shapes.
        if str(e).startswith(op.name):
            raise
        shapes = ", ".join(str(t.shape) for t in inputs)
        raise type(e)(f"{op.name}: {e} (input shapes: {shapes})") from e
    if anomaly.active:
        anomaly.check_forward(op, inputs, out, _mode.scope[-1] if _mode.scope else None)
    if type(out) is not np.ndarray:  # NumPy gives scalars for 0-d results
        scalar, out = out, np.asarray(out)
        if record:  # what the op saved as its output is the output: point it at the array
            for key, value in ctx.__dict__.items():
                if value is scalar:
                    setattr(ctx, key, out)
    # Tensor._init, inlined: the call alone measured 0.8 us of ~7 us per op (bench_engine.py);
    # tests/test_tensor.py checks that every way of making a Tensor sets the same slots
    result = _new_tensor(Tensor)
    result._data = out
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
        if anomaly.active:
            ctx.where = anomaly.user_frame()  # for the message of an anomaly in backward
        result._node = ctx
    return result


_new_tensor = object.__new__


def _saved_versions(ctx: Node, inputs: tuple[Tensor, ...], result: Tensor) -> tuple:
    """Version counters of the arrays the op kept on ctx (found by identity): changing one of
    those in place before backward would make the gradient wrong, so backward checks them."""
    saved = ctx.__dict__.values()
    checks = []
    for i, t in enumerate(inputs):
        d = t._data
        for v in saved:
            if v is d:
                checks.append((t._vc, t._vc[0], i))
                break
    out = result._data
    for v in saved:
        if v is out:
            checks.append((result._vc, 0, -1))
            break
    return tuple(checks)


# ---------------------------------------------------------------------------------------------
# Lifting arguments to Tensors: one rule for every caller of apply (functional and Op.apply)

_SCALARS = (int, float, bool, np.number, np.bool_)


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else as ``tinygrad_cnn.tensor(x)`` makes it: an array
    keeps its dtype; Python floats are float32 (the default dtype), ints int64."""
    return x if isinstance(x, Tensor) else Tensor._wrap(tensor_array("Tensor", x, None), False)


def lift_scalar(x: Any, like: Tensor) -> Tensor:
    """``x`` as a constant Tensor next to ``like``: a Python or NumPy number in the dtype PyTorch
    gives the pair (``float16_tensor * 2.0`` stays float16, ``int_tensor * 0.5`` is float32,
    ``bool_tensor + 1`` is int64); anything else as :func:`as_tensor` makes it."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        return Tensor._wrap(np.asarray(x, dtype=result_type(like._data, x)), False)
    return as_tensor(x)


def operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Two operands as Tensors in one dtype, by PyTorch's promotion (:mod:`tinygrad_cnn.dtypes`):
    the hot path of binary ops. A tensor that requires grad keeps its dtype (it is floating, and
    NumPy promotes floating dtypes as PyTorch does but for a 0-d float64 next to float32)."""
    if type(a) is Tensor:
        if type(b) is Tensor:
            if a._data.dtype == b._data.dtype:
                return a, b
        elif (type(b) is float and a._data.dtype.kind == "f") or (
            type(b) is int and a._data.dtype.kind in "fiu"
        ):  # a number that takes the tensor's dtype (the common case, kept fast)
            return a, Tensor._wrap(np.asarray(b, dtype=a._data.dtype), False)
    a = a if isinstance(a, (Tensor, *_SCALARS)) else as_tensor(a)
    b = b if isinstance(b, (Tensor, *_SCALARS)) else as_tensor(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    dt = result_type(*[x._data if isinstance(x, Tensor) else x for x in (a, b)])
    return _in_dtype(a, dt), _in_dtype(b, dt)


def promote(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Tensors in the one dtype PyTorch computes them in (``cat``, ``stack``)."""
    if not tensors:
        return tensors
    dt = result_type(*[t._data for t in tensors])
    return tuple(_in_dtype(t, dt) for t in tensors)


def _in_dtype(x: Any, dt: np.dtype) -> Tensor:
    if not isinstance(x, Tensor):
        return Tensor._wrap(np.asarray(x, dtype=dt), False)
    if x._data.dtype == dt or x.requires_grad:
        return x
    return Tensor._wrap(x._data.astype(dt), False)


def lift(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Any number of operands as Tensors for ``Op.apply``: Tensors as they are, numbers in the
    dtype PyTorch gives them next to the first Tensor (:func:`lift_scalar`), anything else as
    :func:`as_tensor` makes it."""
    if all(type(x) is Tensor for x in inputs):
        return inputs
    like = next((x for x in inputs if isinstance(x, Tensor)), None)
    if like is None and inputs:
        like = as_tensor(inputs[0])
        inputs = (like, *inputs[1:])
    return tuple([lift_scalar(x, like) for x in inputs])
