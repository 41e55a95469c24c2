"""``ctx.xp``: what every VJP computes with, so that each derivative is written once.

A VJP uses its arguments' operators and the functions of ``ctx.xp``. The engine hands it one of
two namespaces with the same names and signatures (a test holds them to that):

- :class:`ArrayOps`, on the first-order path (``ctx`` is the node, its values arrays): NumPy's
  functions, and the op names ``conv2d``, ``conv_transpose2d``, ``conv2d_weight``,
  ``normalize``, ``normalize_grad``, ``pool2d_spread``, ``pool2d_gather``, ``scatter_add``
  calling the fused array kernels of those names; ``normalize_affine_grad`` (normalize's VJP
  with a weight) is one kernel where the weight is per channel.
- :class:`TensorOps`, under ``create_graph`` (``ctx`` is :class:`~tinygrad_cnn.backward.Recorded`,
  whose saved inputs and output are the Tensors themselves): each name applies the registered op
  of that name (NumPy's names apply ``sum``, ``exp``, ``reshape``...), so every step is recorded.
  ``normalize_affine_grad`` is a composition of such ops. Values the op saved that are neither
  input nor output (masks, indices, counts, columns) stay arrays: constants of the derivative,
  or caches the recorded ops rebuild from their inputs.

The engine sits below the ops and cannot import them: the end of this module installs the two
namespaces on the engine's two kinds of ``ctx``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn.backward import Recorded
from tinygrad_cnn.engine import Node, apply, as_tensor, operands
from tinygrad_cnn.ops import conv, norm, pool
from tinygrad_cnn.ops.conv import Conv2d, Conv2dWeight, ConvTranspose2d
from tinygrad_cnn.ops.elementwise import Exp, Log, Where
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.ops.linalg import Einsum
from tinygrad_cnn.ops.norm import Normalize, NormalizeGrad
from tinygrad_cnn.ops.pool import Pool2dGather, Pool2dSpread
from tinygrad_cnn.ops.reduce import Cumsum, Max, Mean, Prod, Sum
from tinygrad_cnn.ops.shape import BroadcastTo, GetItem, Reshape, ScatterAdd, Transpose, scatter_add
from tinygrad_cnn.ops.unary import Cos, Sin
from tinygrad_cnn.tensor import Tensor


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    return _args.axes("ctx.xp", axis, ndim)


class ArrayOps:
    """The first-order ``ctx.xp``: NumPy's functions and the fused kernels, on arrays."""

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    cumsum = staticmethod(np.cumsum)
    prod = staticmethod(np.prod)
    flip = staticmethod(np.flip)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    sum = staticmethod(norm.fast_sum)
    mean = staticmethod(np.mean)
    max = staticmethod(np.max)
    broadcast_to = staticmethod(np.broadcast_to)
    expand_dims = staticmethod(np.expand_dims)
    moveaxis = staticmethod(np.moveaxis)
    transpose = staticmethod(np.transpose)
    einsum = staticmethod(np.einsum)
    split = staticmethod(np.split)
    scatter_add = staticmethod(scatter_add)

    @staticmethod
    def conv2d(x, w, geometry: Geometry, groups: int, out_hw: tuple) -> np.ndarray:
        """conv2d without bias, the first ``out_hw`` windows: (N, C, H, W) -> (N, O, *out_hw)."""
        return conv.conv2d(x, w, geometry, groups, out_hw)

    @staticmethod
    def conv_transpose2d(g, w, geometry: Geometry, groups: int, out_hw: tuple) -> np.ndarray:
        """The adjoint of conv2d in its input: dY (N, O, Ho, Wo) -> (N, C, *out_hw)."""
        x_shape = (g.shape[0], w.shape[1] * groups, *out_hw)
        return conv.conv_transpose2d(g, w, x_shape, geometry, groups)

    @staticmethod
    def conv2d_weight(x, dy, geometry: Geometry, groups: int) -> np.ndarray:
        """conv2d's weight gradient (O, C/G, kH, kW) from x and dY."""
        return conv.conv2d_weight(x, dy, geometry, groups)

    @staticmethod
    def conv2d_grads(g, x, w, geometry: Geometry, groups: int, need) -> tuple:
        """conv2d's input and weight gradients where ``need`` says, in one pass over the
        images' blocks when both are needed."""
        return conv.conv2d_grads(g, x, w, geometry, groups, need)

    @staticmethod
    def normalize(a, axes, eps: float, mean=None, inv_std=None) -> np.ndarray:
        """``(a - mean) / sqrt(var + eps)``; ``mean`` and ``inv_std``: the forward's, if given."""
        return norm.normalize(a, axes, eps, mean, inv_std)

    @staticmethod
    def normalize_grad(g, a, axes, eps: float, y=None, inv_std=None) -> np.ndarray:
        """normalize's VJP; ``y`` and ``inv_std``: the forward's, read instead of recomputed."""
        return norm.normalize_grad(g, a, axes, eps, y, inv_std)

    @staticmethod
    def normalize_affine_grad(g, a, weight, axes, eps: float, need, mean=None, inv_std=None):
        """normalize's VJP with a weight (and bias): fused where the weight is per channel."""
        fused = norm.fused_affine_grad(g, a, weight, axes, need, mean, inv_std)
        if fused is not None:
            return fused
        return norm.affine_grad(ArrayOps, g, a, weight, axes, eps, need, mean, inv_std)

    @staticmethod
    def pool2d_spread(g, geometry: Geometry, x_shape, argmax=None, scale=None) -> np.ndarray:
        """pool2d's VJP: each window's gradient to its chosen element, or spread evenly."""
        return pool.pool2d_spread(g, geometry, x_shape, argmax, scale)

    @staticmethod
    def pool2d_gather(u, geometry: Geometry, x_shape, argmax=None, scale=None) -> np.ndarray:
        """The adjoint of ``pool2d_spread``: each window's chosen element, or its scaled sum."""
        return pool.pool2d_gather(u, geometry, x_shape, argmax, scale)


class TensorOps:
    """The recorded ``ctx.xp``: the same names on Tensors, each one recorded op."""

    @staticmethod
    def exp(x: Tensor) -> Tensor:
        return apply(Exp, (as_tensor(x),), {})

    @staticmethod
    def log(x: Tensor) -> Tensor:
        return apply(Log, (as_tensor(x),), {})

    @staticmethod
    def sin(x: Tensor) -> Tensor:
        return apply(Sin, (as_tensor(x),), {})

    @staticmethod
    def cos(x: Tensor) -> Tensor:
        return apply(Cos, (as_tensor(x),), {})

    @staticmethod
    def cumsum(a: Tensor, axis: int) -> Tensor:
        return apply(Cumsum, (a,), {"axis": int(axis)})

    @staticmethod
    def prod(a: Tensor, axis: int, keepdims: bool = False) -> Tensor:
        return apply(Prod, (as_tensor(a),), {"axis": int(axis), "keepdims": keepdims})

    @staticmethod
    def flip(m: Tensor, axis: int) -> Tensor:
        index = (slice(None),) * (int(axis) % m.ndim) + (slice(None, None, -1),)
        return apply(GetItem, (m,), {"index": index})

    @staticmethod
    def sign(x: Any) -> np.ndarray:
        """A constant: the sign is flat wherever it has a derivative."""
        return np.sign(np.asarray(x))  # a Tensor's array, read-only; the sign is a new array

    @staticmethod
    def where(condition: Any, x: Any, y: Any) -> Tensor:
        c = np.asarray(condition, dtype=bool)
        return apply(Where, (Tensor._wrap(c, False), *operands(x, y)), {})

    @staticmethod
    def sum(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(Sum, (a,), {"axis": _axes(axis, a.ndim), "keepdims": keepdims})

    @staticmethod
    def mean(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(Mean, (a,), {"axis": _axes(axis, a.ndim), "keepdims": keepdims})

    @staticmethod
    def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return apply(Max, (a,), {"axis": _axes(axis, a.ndim), "keepdims": keepdims})

    @staticmethod
    def broadcast_to(array: Tensor, shape: tuple[int, ...]) -> Tensor:
        return apply(BroadcastTo, (array,), {"shape": tuple(shape)})

    @staticmethod
    def expand_dims(a: Tensor, axis: Any) -> Tensor:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        shape = list(a.shape)
        for i in sorted(int(i) % (a.ndim + len(axes)) for i in axes):  # positions in the result
            shape.insert(i, 1)
        return apply(Reshape, (a,), {"shape": tuple(shape)})

    @staticmethod
    def moveaxis(a: Tensor, source: int, destination: int) -> Tensor:
        order = [i for i in range(a.ndim) if i != source % a.ndim]
        order.insert(destination % a.ndim, source % a.ndim)
        return apply(Transpose, (a,), {"axes": tuple(order)})

    @staticmethod
    def einsum(subscripts: str, *operands: Tensor) -> Tensor:
        inputs, output = subscripts.split("->")
        attrs = {"inputs": tuple(inputs.split(",")), "output": output}
        return apply(Einsum, tuple(as_tensor(o) for o in operands), attrs)

    @staticmethod
    def transpose(a: Tensor, axes: Any = None) -> Tensor:
        axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(int(i) for i in axes)
        return apply(Transpose, (a,), {"axes": axes})

    @staticmethod
    def split(ary: Tensor, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
        bounds = [0, *(int(i) for i in indices_or_sections), ary.shape[axis]]
        pre = (slice(None),) * axis
        return [
            apply(GetItem, (ary,), {"index": (*pre, slice(a, b))})
            for a, b in zip(bounds[:-1], bounds[1:])
        ]

    @staticmethod
    def scatter_add(g: Tensor, shape: tuple[int, ...], index: tuple) -> Tensor:
        """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of ``x[index]``."""
        return apply(ScatterAdd, (g,), {"shape": shape, "index": index})

    @staticmethod
    def conv2d(x, w, geometry: Geometry, groups: int, out_hw: tuple) -> Tensor:
        y = apply(Conv2d, (x, w), {"geometry": geometry, "groups": groups})
        if y.shape[2:] == tuple(out_hw):
            return y
        index = (slice(None), slice(None), slice(0, out_hw[0]), slice(0, out_hw[1]))
        return apply(GetItem, (y,), {"index": index})

    @staticmethod
    def conv_transpose2d(g, w, geometry: Geometry, groups: int, out_hw: tuple) -> Tensor:
        attrs = {"geometry": geometry, "groups": groups, "out_hw": tuple(out_hw)}
        return apply(ConvTranspose2d, (g, w), attrs)

    @staticmethod
    def conv2d_weight(x, dy, geometry: Geometry, groups: int) -> Tensor:
        return apply(Conv2dWeight, (x, dy), {"geometry": geometry, "groups": groups})

    @staticmethod
    def conv2d_grads(g, x, w, geometry: Geometry, groups: int, need) -> tuple:
        """The conv_transpose2d and conv2d_weight ops, where ``need`` says."""
        gx = TensorOps.conv_transpose2d(g, w, geometry, groups, x.shape[2:]) if need[0] else None
        gw = TensorOps.conv2d_weight(x, g, geometry, groups) if need[1] else None
        return gx, gw

    @staticmethod
    def normalize(a, axes, eps: float, mean=None, inv_std=None) -> Tensor:
        """The forward's statistics (arrays) are not used: the op computes them from ``a``."""
        return apply(Normalize, (a,), {"axis": tuple(axes), "eps": eps})

    @staticmethod
    def normalize_grad(g, a, axes, eps: float, y=None, inv_std=None) -> Tensor:
        """``y`` and ``inv_std`` (the forward's arrays) are not used: the op computes them from
        ``a``, so that they depend on it."""
        return apply(NormalizeGrad, (g, a), {"axis": tuple(axes), "eps": eps})

    @staticmethod
    def normalize_affine_grad(g, a, weight, axes, eps: float, need, mean=None, inv_std=None):
        """The composition of normalize, normalize_grad, mul and sum ops (see
        :func:`~tinygrad_cnn.ops.norm.affine_grad`); the forward's statistics are not used."""
        return norm.affine_grad(TensorOps, g, a, weight, axes, eps, need)

    @staticmethod
    def pool2d_spread(g, geometry: Geometry, x_shape, argmax=None, scale=None) -> Tensor:
        attrs = {"geometry": geometry, "x_shape": x_shape, "argmax": argmax, "scale": scale}
        return apply(Pool2dSpread, (g,), attrs)

    @staticmethod
    def pool2d_gather(u, geometry: Geometry, x_shape, argmax=None, scale=None) -> Tensor:
        attrs = {"geometry": geometry, "x_shape": x_shape, "argmax": argmax, "scale": scale}
        return apply(Pool2dGather, (u,), attrs)


# The two kinds of ctx: the node itself and the recorded view backward makes under create_graph.
Node.xp = ArrayOps  # type: ignore[assignment]
Recorded.xp = TensorOps
