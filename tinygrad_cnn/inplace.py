"""In-place operations with PyTorch's autograd semantics: ``y += x``, ``add_``, ``copy_``,
``fill_``, ``x[i] = v`` ... (the :class:`~tinygrad_cnn.tensor.Tensor` class inherits them).

Outside the graph (nothing involved requires grad, or grad mode is off) the array is changed in
place. Inside it, the update is recorded: the tensor takes the result's place in the graph, the
gradient flows to its old value and to the operand, and its old version counts as changed, so an
op that saved the old values refuses to backward (naming the op) instead of giving a wrong
gradient. A leaf that requires grad cannot be changed in place while recording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

# functional, the engine and Tensor itself, reached through tensor.py (whose class inherits these
# methods, so this module is imported while tensor.py is, and those names are there at call time)
from tinygrad_cnn import args as _args
from tinygrad_cnn import tensor as _t

if TYPE_CHECKING:
    from tinygrad_cnn.tensor import Tensor


class InPlace:
    """The in-place methods of Tensor (a mixin: Tensor is defined in tensor.py)."""

    __slots__ = ()

    def _update(self, name: str, compute: Any, other: Any = None, whole: bool = True) -> Tensor:
        """Give self the values of ``compute(self)``, in place, as PyTorch's in-place ops do.

        Outside the graph (no tensor involved requires grad, or grad mode is off) the array is
        overwritten. Otherwise the update is recorded: self takes the result's place in the
        graph (the gradient flows through ``compute`` to self's old value and to ``other``),
        and self's old version is marked changed, so an op that saved it refuses to backward.
        A leaf that requires grad cannot be changed in place while recording (as in PyTorch).
        """
        grad_other = isinstance(other, _t.Tensor) and other.requires_grad
        if other is not None and whole:  # an operand of the whole tensor must broadcast to it
            shape = np.shape(other._data if isinstance(other, _t.Tensor) else other)
            try:
                fits = np.broadcast_shapes(self.shape, shape) == self.shape
            except ValueError:
                fits = False
            if not fits:
                raise RuntimeError(
                    f"{name}: an operand of shape {shape} does not broadcast to the tensor's "
                    f"shape {self.shape}"
                )
        if not (_t.engine.is_grad_enabled() and (self.requires_grad or grad_other)):
            if not self._data.flags.writeable:
                msg = "is a read-only view (from expand/broadcast_to); clone it first"
                raise RuntimeError(f"{name}: the tensor (shape {self.shape}) {msg}")
            new = compute(_t.Tensor._wrap(self._data, False))._data
            _check_same(name, self, new)
            np.copyto(self._data, new, casting="same_kind")
            self.bump_version()
            return self
        if self._node is None and self.requires_grad:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad (shape {self.shape}) cannot be "
                "changed in place while recording; wrap the update in no_grad()"
            )
        before = _t.Tensor._wrap(self._data, self.requires_grad)  # self's old value, in its place
        before._node = self._node
        new = compute(before)
        _check_same(name, self, new._data)
        if new.dtype != self.dtype:
            new = _t.F.cast(new, self.dtype)
        self.bump_version()  # self's old value is gone: ops that saved it refuse to backward
        self._data, self._node, self._vc = new._data, new._node, new._vc
        self.requires_grad = new.requires_grad
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._update("+=", lambda t: _t.F.add(t, other), other)

    def __isub__(self, other: Any) -> Tensor:
        return self._update("-=", lambda t: _t.F.sub(t, other), other)

    def __imul__(self, other: Any) -> Tensor:
        return self._update("*=", lambda t: _t.F.mul(t, other), other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._update("/=", lambda t: _t.F.div(t, other), other)

    def add_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self += alpha * other`` in place."""
        scaled = other if alpha == 1 else _t.F.mul(other, alpha)
        return self._update("add_", lambda t: _t.F.add(t, scaled), scaled)

    def sub_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self -= alpha * other`` in place."""
        scaled = other if alpha == 1 else _t.F.mul(other, alpha)
        return self._update("sub_", lambda t: _t.F.sub(t, scaled), scaled)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other`` in place."""
        return self._update("mul_", lambda t: _t.F.mul(t, other), other)

    def div_(self, other: Any) -> Tensor:
        """``self /= other`` in place."""
        return self._update("div_", lambda t: _t.F.div(t, other), other)

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the values with ``src`` (broadcast to self's shape, converted to its
        dtype); recorded when ``src`` requires grad."""
        return self._update("copy_", lambda t: _replaced(t, _values("copy_", src, t)), src)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` in place."""
        if not (isinstance(value, _t.Tensor) and value.numel() == 1):
            _args.number("fill_", "value", value)
        return self._update("fill_", lambda t: _replaced(t, _values("fill_", value, t)))

    def zero_(self) -> Tensor:
        """Set every element to 0 in place."""
        return self.fill_(0)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        """Clamp into ``[min, max]`` in place."""
        return self._update("clamp_", lambda t: _t.F.clamp(t, min, max))

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """Set the elements where ``mask`` is true to ``value``, in place."""
        return self._update(
            "masked_fill_", lambda t: _t.F.masked_fill(t, mask, value), value, False
        )

    def __setitem__(self, index: Any, value: Any) -> None:
        self._update("__setitem__", lambda t: _t.F.setitem(t, index, value), value, whole=False)


def _check_same(name: str, t: Tensor, new: np.ndarray) -> None:
    """An in-place result must keep the tensor's shape and a dtype it can hold."""
    if new.shape != t.shape:
        raise RuntimeError(
            f"{name}: the result has shape {new.shape}, which does not fit the tensor's shape "
            f"{t.shape} (an in-place operand must broadcast to it)"
        )
    if not np.can_cast(new.dtype, t.dtype, casting="same_kind"):
        raise RuntimeError(f"{name}: result dtype {new.dtype} can't be cast to {t.dtype} in place")


def _values(fn: str, src: Any, like: Tensor) -> Any:
    """``src`` broadcast to ``like``'s shape in its dtype, for copy_ and fill_."""
    t = src if isinstance(src, _t.Tensor) else _t.Tensor._wrap(np.asarray(src, like.dtype), False)
    try:
        shape = np.broadcast_shapes(t.shape, like.shape)
    except ValueError:
        shape = None
    if shape != like.shape:
        raise RuntimeError(f"{fn}: source of shape {t.shape} does not broadcast to {like.shape}")
    t = t if t.dtype == like.dtype else _t.F.cast(t, like.dtype)
    return _t.F.broadcast_to(t, like.shape) if t.shape != like.shape else t


def _replaced(t: Tensor, new: Tensor) -> Tensor:
    """``new``, in the graph in ``t``'s place (``t`` gets a zero gradient, never 0 * Inf)."""
    if not t.requires_grad:
        return new
    return _t.F.where(np.ones(t.shape, dtype=bool), new, t)
