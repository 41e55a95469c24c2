"""What a VJP computes with when ``backward(create_graph=True)`` records it.

A ``higher_order`` op writes its VJP once, with its arguments' operators and the functions of
``ctx.xp``. On the first-order path ``ctx`` is the node and ``ctx.xp`` is NumPy. Under
``create_graph`` the engine calls the same VJP on a :class:`Recorded` view of the node: the
arrays the op saved that *are* its inputs or output become those Tensors, and ``ctx.xp`` is
:class:`TensorOps`, the same NumPy names applying registered ops, so every step is recorded.
Other saved values (masks, indices, counts) stay arrays: they are constants of the derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.autograd import Node, apply, as_tensor, operands
from tinygrad_cnn.ops.elementwise import Exp, Log, Where
from tinygrad_cnn.ops.reduce import Max, Mean, Sum
from tinygrad_cnn.ops.shape import BroadcastTo, GetItem, Reshape, ScatterAdd, Transpose
from tinygrad_cnn.tensor import Tensor


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


class TensorOps:
    """NumPy's names for the functions VJPs use, on Tensors, each one recorded op."""

    @staticmethod
    def exp(x: Tensor) -> Tensor:
        return apply(Exp, (as_tensor(x),), {})

    @staticmethod
    def log(x: Tensor) -> Tensor:
        return apply(Log, (as_tensor(x),), {})

    @staticmethod
    def sign(x: Any) -> np.ndarray:
        """A constant: the sign is flat wherever it has a derivative."""
        return np.sign(np.asarray(x))  # a Tensor's array, read-only; the sign is a new array

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Tensor:
        c = np.asarray(cond, dtype=bool)
        return apply(Where, (Tensor._wrap(c, False), *operands(a, b)), {})

    @staticmethod
    def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(Sum, (x,), {"axis": _axes(axis, x.ndim), "keepdims": keepdims})

    @staticmethod
    def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(Mean, (x,), {"axis": _axes(axis, x.ndim), "keepdims": keepdims})

    @staticmethod
    def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(Max, (x,), {"axis": _axes(axis, x.ndim), "keepdims": keepdims})

    @staticmethod
    def broadcast_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
        return apply(BroadcastTo, (x,), {"shape": tuple(shape)})

    @staticmethod
    def expand_dims(x: Tensor, axis: Any) -> Tensor:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        shape = list(x.shape)
        for a in sorted(int(a) % (x.ndim + len(axes)) for a in axes):  # positions in the result
            shape.insert(a, 1)
        return apply(Reshape, (x,), {"shape": tuple(shape)})

    @staticmethod
    def moveaxis(x: Tensor, source: int, destination: int) -> Tensor:
        order = [a for a in range(x.ndim) if a != source % x.ndim]
        order.insert(destination % x.ndim, source % x.ndim)
        return apply(Transpose, (x,), {"axes": tuple(order)})

    @staticmethod
    def split(x: Tensor, indices: Any, axis: int) -> list[Tensor]:
        bounds = [0, *(int(i) for i in indices), x.shape[axis]]
        pre = (slice(None),) * axis
        return [
            apply(GetItem, (x,), {"index": (*pre, slice(a, b))})
            for a, b in zip(bounds[:-1], bounds[1:])
        ]

    @staticmethod
    def scatter_add(g: Tensor, shape: tuple[int, ...], index: tuple) -> Tensor:
        """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of ``x[index]``."""
        return apply(ScatterAdd, (g,), {"shape": shape, "index": index})


class Recorded:
    """A node as its VJP sees it under ``create_graph``; see the module docstring."""

    xp = TensorOps

    def __init__(self, node: Node, out: Tensor) -> None:
        tensors = {id(t.data): t for t in node.inputs}
        tensors[id(out.data)] = out
        for key, value in node.__dict__.items():
            if type(value) is np.ndarray:
                value = tensors.get(id(value), value)
            setattr(self, key, value)
        self.needs_input_grad = node.needs_input_grad
