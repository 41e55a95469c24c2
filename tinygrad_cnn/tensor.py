"""Tensor: an ndarray that records the ops that made it, for reverse-mode differentiation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_cnn.autograd import Node

_FLOAT_DEFAULT = np.float32


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """``Tensor(data)``'s array: ndarrays as they are (np.matrix becomes a plain array), Python
    numbers and lists float32 by default; None and strings are refused, never made NaN."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ma.MaskedArray):
        raise TypeError("Tensor: got a masked array; fill it first (a.filled(value))")
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data, dtype=dtype)
    elif data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"Tensor: data must be numbers, an ndarray or a Tensor, got {data!r}")
    else:
        try:
            arr = np.asarray(data)  # as it is first, so that None inside stays an object
        except (ValueError, TypeError) as e:
            raise TypeError(f"Tensor: cannot make an array of {type(data).__name__}: {e}") from None
        if arr.dtype.kind in "biuf":
            arr = arr.astype(_FLOAT_DEFAULT if dtype is None else dtype, copy=False)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: unsupported dtype {arr.dtype} (shape {arr.shape}); "
            "use a bool, integer or floating array"
        )
    return arr


def _comparison(ufunc: Any) -> Any:
    def compare(self: Tensor, other: Any) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(np.asarray(ufunc(self.data, o)), False)

    compare.__doc__ = f"Elementwise ``{ufunc.__name__}``: a bool Tensor, not recorded."
    return compare


def _in_place(name: str, ufunc: Any) -> Any:
    def update(self: Tensor, other: Any) -> Tensor:
        return self._inplace(name, ufunc, other)

    update.__doc__ = f"In-place ``{name}`` (not recorded; refused on tensors that require grad)."
    return update


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)`` takes an ndarray (kept as it is: float64
    stays float64, integer stays integer), a NumPy scalar, or Python scalars and lists (float32
    by default). Only floating tensors can require gradients.

    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([[2., 4.],
            [6., 8.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_vc", "_retain", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._init(_as_array(data, dtype), False)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, data: np.ndarray, requires_grad: bool) -> None:
        # Every slot, set in one place (autograd.apply inlines it; a test checks they agree).
        self.data: np.ndarray = data
        self.grad: Tensor | None = None
        self.requires_grad = requires_grad
        self._node: Node | None = None  # the op application that made it; None for a leaf
        self._vc = [0]  # version counter, shared with nobody: bumped by in-place changes
        self._retain = False  # keep .grad although not a leaf (retain_grad)
        self.name: str | None = None

    @classmethod
    def _wrap(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """A Tensor around an existing array without checks (the engine's fast path)."""
        t = cls.__new__(cls)
        t._init(data, requires_grad)
        return t

    # -- properties ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape, a tuple of ints."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The array's NumPy dtype."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not the output of a recorded op)."""
        return self._node is None

    @property
    def op(self) -> str | None:
        """The name of the op that made this tensor, or None for a leaf."""
        return None if self._node is None else self._node.op.name

    @property
    def T(self) -> Tensor:
        """The tensor with its dimensions reversed (a recorded ``transpose``)."""
        return F.transpose(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (floating tensors only); returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating tensors can require gradients, got dtype {self.dtype} "
                f"(shape {self.shape}); convert with dtype=np.float32 first"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("Tensor: requires_grad cannot be turned off on a non-leaf tensor")
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def _version(self) -> int:
        """How many times the data was changed in place (PyTorch's name)."""
        return self._vc[0]

    def bump_version(self) -> None:
        """Record that the data was changed in place behind the recorded ops (optimizers and
        in-place methods call it): a graph that saved the old values then refuses to backward
        through them, rather than give a wrong gradient."""
        self._vc[0] += 1

    def retain_grad(self) -> Tensor:
        """Ask backward to fill ``.grad`` of this non-leaf tensor too; returns self."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retain = True
        return self

    # -- conversion ------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values, shared, not copied, and read-only: a write behind the graph's back would
        make gradients wrong with no error. ``t.numpy().copy()`` is an array of your own."""
        view = self.data.view()
        view.flags.writeable = False
        return view

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data, False)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (its gradient flows back to self)."""
        return F.clone(self)

    def astype(self, dtype: Any) -> Tensor:
        """Convert to ``dtype``; differentiable between floating dtypes."""
        return F.cast(self, dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.numpy()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __iter__(self) -> Any:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        grad = f"op={self._node.op.name}" if self._node else "requires_grad=True"
        extra = f", {grad}" if self._node or self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    __hash__ = object.__hash__

    # -- autograd --------------------------------------------------------------------------
    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` that requires grad.

        ``gradient`` is the upstream gradient (same shape as self), needed unless self has one
        element. The arrays ops saved are then freed unless ``retain_graph`` (default:
        ``create_graph``); the graph's structure stays. ``create_graph=True`` records the pass,
        so the gradients can be differentiated again."""
        backward.backward(self, gradient, retain_graph, create_graph)

    def register_hook(self, hook: Any) -> Any:
        """Call ``hook(grad)`` once this tensor's gradient is complete (all uses summed), before
        it flows further back or into ``.grad``; hooks run in the order registered, and a Tensor
        one returns replaces the gradient. Returns a handle with ``.remove()``."""
        return hooks.register_hook(self, hook)

    def zero_grad(self) -> None:
        """Forget this tensor's gradient (``.grad = None``)."""
        self.grad = None

    # -- in-place (not recorded) -----------------------------------------------------------
    def _inplace(self, name: str, ufunc: Any, other: Any) -> Tensor:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"in-place {name} on a tensor that requires grad (shape {self.shape}): "
                "wrap it in no_grad() or use the out-of-place form"
            )
        o = other.data if isinstance(other, Tensor) else other
        oshape = np.shape(o)
        try:
            ok = np.broadcast_shapes(self.shape, oshape) == self.shape
        except ValueError:  # not broadcastable at all
            ok = False
        if not ok:
            raise ValueError(
                f"in-place {name}: operand of shape {oshape} does not broadcast to the "
                f"tensor's shape {self.shape}"
            )
        if not self.data.flags.writeable:
            msg = "is a read-only view (from expand/broadcast_to); clone it first"
            raise RuntimeError(f"in-place {name}: the tensor (shape {self.shape}) {msg}")
        ufunc(self.data, o, out=self.data, casting="same_kind")
        self.bump_version()
        return self

    __iadd__ = _in_place("+=", np.add)
    __isub__ = _in_place("-=", np.subtract)
    __imul__ = _in_place("*=", np.multiply)
    __itruediv__ = _in_place("/=", np.divide)

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the data in place with ``src`` (broadcast); not recorded."""
        return self._inplace("copy_", lambda a, b, out, casting: np.copyto(out, b, casting), src)

    def fill_(self, value: float) -> Tensor:
        """Set every element to ``value`` in place; not recorded."""
        return self.copy_(value)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place; not recorded."""
        return self.copy_(0)

    # -- operators -------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return F.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return F.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return F.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return F.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return F.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return F.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return F.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return F.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return F.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return F.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return F.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return F.matmul(other, self)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return F.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return F.getitem(self, index)

    # comparisons: no gradient, bool result
    __lt__ = _comparison(np.less)
    __le__ = _comparison(np.less_equal)
    __gt__ = _comparison(np.greater)
    __ge__ = _comparison(np.greater_equal)
    __eq__ = _comparison(np.equal)  # type: ignore[assignment]
    __ne__ = _comparison(np.not_equal)  # type: ignore[assignment]

    # -- methods (thin forwards to functional) ---------------------------------------------
    def exp(self) -> Tensor:
        """Elementwise ``e**x``; see :func:`tinygrad_cnn.functional.exp`."""
        return F.exp(self)

    def log(self) -> Tensor:
        """Elementwise natural logarithm; see :func:`tinygrad_cnn.functional.log`."""
        return F.log(self)

    def sqrt(self) -> Tensor:
        """Elementwise square root; see :func:`tinygrad_cnn.functional.sqrt`."""
        return F.sqrt(self)

    def abs(self) -> Tensor:
        """Elementwise ``|x|`` (gradient 0 at 0); see :func:`tinygrad_cnn.functional.abs`."""
        return F.abs(self)

    def relu(self) -> Tensor:
        """``max(x, 0)`` (gradient 0 at 0); see :func:`tinygrad_cnn.functional.relu`."""
        return F.relu(self)

    def sigmoid(self) -> Tensor:
        """``1 / (1 + exp(-x))``; see :func:`tinygrad_cnn.functional.sigmoid`."""
        return F.sigmoid(self)

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent; see :func:`tinygrad_cnn.functional.tanh`."""
        return F.tanh(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """Clamp into ``[min, max]``; see :func:`tinygrad_cnn.functional.clip`."""
        return F.clip(self, min, max)

    clamp = clip  # PyTorch's name

    def maximum(self, other: Any) -> Tensor:
        """Elementwise maximum with ``other``; see :func:`tinygrad_cnn.functional.maximum`."""
        return F.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        """Elementwise minimum with ``other``; see :func:`tinygrad_cnn.functional.minimum`."""
        return F.minimum(self, other)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (None: all); see :func:`tinygrad_cnn.functional.sum`."""
        return F.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (None: all); see :func:`tinygrad_cnn.functional.mean`."""
        return F.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; tied maxima share the gradient."""
        return F.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``; tied minima share the gradient."""
        return F.min(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """``log(sum(exp(x)))`` over ``axis``, computed stably."""
        return F.logsumexp(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance over ``axis``, divided by ``N - correction`` (1 by default, as PyTorch)."""
        return F.var(self, axis, keepdims, correction)

    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape (``reshape(2, -1)`` or ``reshape((2, -1))``)."""
        return F.reshape(self, shape[0] if len(shape) == 1 else shape)

    view = reshape  # PyTorch's name

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the dimensions (none given: reverse them), like ``np.transpose``."""
        return F.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def permute(self, *axes: Any) -> Tensor:
        """Permute the dimensions: ``permute(2, 0, 1)``."""
        return F.transpose(self, axes[0] if len(axes) == 1 else axes)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        """Exchange two dimensions."""
        return F.swapaxes(self, axis0, axis1)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions ``start_dim..end_dim`` into one, like ``torch.flatten``."""
        return F.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: Any = None) -> Tensor:
        """Drop size-1 dimensions (all, or those in ``axis``)."""
        return F.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 dimension at ``axis``."""
        return F.unsqueeze(self, axis)

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to a shape, -1 keeping a dimension, like ``torch.Tensor.expand``."""
        return F.expand(self, shape[0] if len(shape) == 1 else shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        """Broadcast to ``shape`` as NumPy does; the gradient is summed back."""
        return F.broadcast_to(self, shape)

    def pad(self, pad: Any, value: float = 0.0) -> Tensor:
        """Constant padding, (before, after) pairs from the last dimension; see ``F.pad``."""
        return F.pad(self, pad, value)

    def conv2d(self, weight: Any, *args: Any, **kwargs: Any) -> Tensor:
        """``conv2d(self, weight, bias, stride, padding, dilation, groups)``; see
        :func:`tinygrad_cnn.functional.conv2d`."""
        return F.conv2d(self, weight, *args, **kwargs)

    def max_pool2d(self, kernel_size: Any, *args: Any, **kwargs: Any) -> Tensor:
        """``max_pool2d(self, kernel_size, stride, padding, dilation, ceil_mode)``; see
        :func:`tinygrad_cnn.functional.max_pool2d`."""
        return F.max_pool2d(self, kernel_size, *args, **kwargs)

    def avg_pool2d(self, kernel_size: Any, *args: Any, **kwargs: Any) -> Tensor:
        """``avg_pool2d(self, kernel_size, stride, padding, ceil_mode, count_include_pad)``;
        see :func:`tinygrad_cnn.functional.avg_pool2d`."""
        return F.avg_pool2d(self, kernel_size, *args, **kwargs)


# The declared upward imports, the only ones in the package: a Tensor's operators and methods are
# sugar for functional; backward(), register_hook() and the in-place guard call the engine. All
# of those import this module, so they come last, once Tensor is defined; tinygrad_cnn/__init__.py
# imports this module first. tests/test_layout.py checks that no other module reaches up.
from tinygrad_cnn import autograd, backward, hooks  # noqa: E402
from tinygrad_cnn import functional as F  # noqa: E402
