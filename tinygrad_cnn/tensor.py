"""Tensor: an ndarray that records the ops that made it, for reverse-mode differentiation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_cnn import devices, dtypes
from tinygrad_cnn.conversion import Conversion
from tinygrad_cnn.inplace import InPlace

if TYPE_CHECKING:
    from tinygrad_cnn.engine import Node


def tensor_array(fn: str, data: Any, dtype: Any) -> np.ndarray:
    """``tinygrad_cnn.tensor(data)``'s array: an ndarray or a Tensor keeps its dtype (copied, as
    ``torch.tensor`` copies); Python floats are the default dtype (float32), ints int64, bools
    bool; ``dtype`` converts. None and strings are refused, never made NaN."""
    dt = None if dtype is None else dtypes.as_dtype(fn, dtype)
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ma.MaskedArray):
        raise TypeError(f"{fn}: got a masked array; fill it first (a.filled(value))")
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, dtype=dt)
    elif data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"{fn}: data must be numbers, an ndarray or a Tensor, got {data!r}")
    else:
        try:
            arr = np.array([t._data for t in data] if _tensors(data) else data)
        except (ValueError, TypeError) as e:
            raise TypeError(f"{fn}: cannot make an array of {type(data).__name__}: {e}") from None
        if arr.dtype.kind == "f" and dt is None:  # Python floats: the default dtype
            dt = dtypes.get_default_dtype()
        elif arr.dtype.kind in "iu" and dt is None:
            dt = dtypes.int64
        if dt is not None and arr.dtype.kind in "biuf":
            arr = arr.astype(dt, copy=False)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{fn}: unsupported dtype {arr.dtype} (shape {arr.shape}); "
            "use a bool, integer or floating array"
        )
    return arr


def _tensors(data: Any) -> bool:
    return isinstance(data, (list, tuple)) and bool(data) and isinstance(data[0], Tensor)


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """``Tensor(data)``'s array, as ``torch.Tensor(data)``: numbers of any kind become the
    default floating dtype (float32) unless ``dtype`` says otherwise; a Tensor's or an ndarray's
    values are shared when no conversion is needed."""
    if isinstance(data, (np.ndarray, Tensor)) and not isinstance(data, np.ma.MaskedArray):
        arr = data._data if isinstance(data, Tensor) else data
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"Tensor: unsupported dtype {arr.dtype} (shape {arr.shape}); "
                "use a bool, integer or floating array"
            )
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype("Tensor", dtype)
        return np.asarray(arr, dtype=dt)
    arr = tensor_array("Tensor", data, dtype)
    if dtype is None:
        arr = arr.astype(dtypes.get_default_dtype(), copy=False)
    return arr


def _comparison(ufunc: Any) -> Any:
    def compare(self: Tensor, other: Any) -> Tensor:
        o = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(np.asarray(ufunc(self._data, o)), False)

    compare.__doc__ = f"Elementwise ``{ufunc.__name__}``: a bool Tensor, not recorded."
    return compare


def _dim(fn: str, dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{fn}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return int(dim) % max(ndim, 1)


class Tensor(InPlace, Conversion):
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)`` is ``torch.Tensor(data)``: numbers,
    lists, ndarrays and Tensors become float32 (the default dtype) unless ``dtype`` says
    otherwise. :func:`tinygrad_cnn.tensor` keeps the data's dtype, as ``torch.tensor`` does.
    Only floating tensors can require gradients.

    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([[2., 4.],
            [6., 8.]], dtype=float32)
    """

    __slots__ = ("_data", "grad", "requires_grad", "_node", "_vc", "_retain", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any = (), requires_grad: bool = False, dtype: Any = None) -> None:
        self._init(_as_array(data, dtype), False)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, data: np.ndarray, requires_grad: bool) -> None:
        # Every slot, set in one place (engine.apply inlines it; a test checks they agree).
        self._data: np.ndarray = data
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
        """The sizes of the dimensions, a tuple of ints."""
        return self._data.shape

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of dimension ``dim`` (an int), as ``torch.Tensor.size``."""
        if dim is None:
            return self._data.shape
        return self._data.shape[_dim("size", dim, self._data.ndim)]

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    nelement = numel

    def dim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The dtype (NumPy's: ``tinygrad_cnn.float32 == np.float32``)."""
        return self._data.dtype

    @property
    def device(self) -> Any:
        """``device("cpu")``: this library computes on the CPU."""
        return devices.CPU

    is_cuda = False

    @property
    def data(self) -> Tensor:
        """The values as a Tensor that shares this one's storage, outside the graph (it does not
        require grad), as PyTorch's ``.data``: changes through it are not recorded and not
        noticed by backward, so ``detach()`` is the safer way to read."""
        return Tensor._wrap(self._data, False)

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else tensor_array("data", value, None)
        if self.requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"data: a tensor that requires grad needs floating data, got {arr.dtype}"
            )
        self._data = arr

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not the output of a recorded op)."""
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        """The recorded op application that made this tensor (its ``.op`` names the op), or None
        for a leaf."""
        return self._node

    @property
    def op(self) -> str | None:
        """The name of the op that made this tensor, or None for a leaf."""
        return None if self._node is None else self._node.op.name

    @property
    def T(self) -> Tensor:
        """The dimensions reversed (a recorded ``transpose``)."""
        return F.permute(self, tuple(range(self._data.ndim))[::-1])

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of matrices transposed)."""
        return F.transpose(self, -2, -1)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (floating tensors only); returns self."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad_: only floating tensors can require gradients, got dtype "
                f"{self.dtype} (shape {self.shape}); convert with .float() first"
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
        view = self._data.view()
        view.flags.writeable = False
        return view

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert, got shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data and version counter, cut from the graph."""
        t = Tensor._wrap(self._data, False)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph, in place: it becomes a leaf that needs no grad."""
        self._node, self.requires_grad = None, False
        return self

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (its gradient flows back to self)."""
        return F.clone(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self.numpy()

    def __index__(self) -> int:
        """A one-element integer tensor as an index into Python sequences."""
        if self._data.dtype.kind not in "biu" or self._data.size != 1:
            raise TypeError(
                f"only one-element integer tensors can be used as an index, got {self.dtype} "
                f"of shape {self.shape}"
            )
        return int(self._data.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
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
        backward.backward(self, (gradient,), retain_graph, create_graph)

    def register_hook(self, hook: Any) -> Any:
        """Call ``hook(grad)`` once this tensor's gradient is complete (all uses summed), before
        it flows further back or into ``.grad``; hooks run in the order registered, and a Tensor
        one returns replaces the gradient. Returns a handle with ``.remove()``."""
        return hooks.register_hook(self, hook)

    def zero_grad(self) -> None:
        """Forget this tensor's gradient (``.grad = None``)."""
        self.grad = None

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

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def where(self, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition`` is true, else ``other`` (``torch.where(condition, self,
        other)``)."""
        return F.where(condition, self, other)

    def contiguous(self) -> Tensor:
        """This tensor (arrays here are always usable as they are)."""
        return self


_TENSOR_METHODS = (
    "add sub mul div exp log sqrt abs neg relu sigmoid tanh pow clamp clip maximum minimum "
    "matmul mm bmm "
    "sum mean max min amax amin argmax argmin logsumexp var std norm softmax log_softmax "
    "reshape view view_as reshape_as transpose permute swapaxes swapdims t flatten squeeze "
    "unsqueeze expand expand_as broadcast_to repeat chunk split masked_fill gather pad "
    "conv2d max_pool2d avg_pool2d "
    "absolute addcdiv addcmul addmm all allclose aminmax any argsort argwhere bincount ceil "
    "clamp_max clamp_min cos cosh count_nonzero cumsum diag diagonal diff dist divide dot "
    "equal exp2 expm1 fix flip fliplr flipud floor floor_divide fmod frac ger greater "
    "greater_equal histc hypot index_select isclose isfinite isinf isnan isneginf isposinf "
    "kthvalue lerp less less_equal log10 log1p log2 logaddexp logical_and logical_not "
    "logical_or logical_xor masked_select median moveaxis movedim msort multiply mv "
    "nan_to_num nanmean nansum narrow negative nonzero not_equal outer prod ravel remainder "
    "repeat_interleave roll round rsqrt select sgn sign signbit sin sinh sort subtract take "
    "take_along_dim tan tensor_split tile topk trace tril triu true_divide trunc unbind "
    "unflatten unique "
).split()


def _forward(name: str) -> Any:
    """``Tensor.<name>(*args)`` is ``functional.<name>(self, *args)``, with its docstring."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(F, name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (
        f"``functional.{name}(self, ...)``; see :func:`tinygrad_cnn.functional.{name}`."
    )
    return method


# The declared upward imports, the only ones in the package: a Tensor's operators and methods are
# sugar for functional; backward(), register_hook() and the in-place methods (inplace.py, which
# reaches these names through this module) call the engine. All of those import this module, so
# they come last, once Tensor is defined; tinygrad_cnn/__init__.py imports this module first.
# tests/test_layout.py checks that no other module reaches up.
from tinygrad_cnn import backward, engine, factories, hooks  # noqa: E402, F401
from tinygrad_cnn import functional as F  # noqa: E402

for _name in _TENSOR_METHODS:  # the thin forwards, once functional is there to forward to
    setattr(Tensor, _name, _forward(_name))
