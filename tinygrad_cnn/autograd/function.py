"""``Function``: a PyTorch-style custom op, beside :func:`~tinygrad_cnn.register_op`.

Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` written
with Tensor operations, and call ``MyFunction.apply(*args)``. ``ctx.save_for_backward(*tensors)``
keeps tensors for backward (``ctx.saved_tensors``), ``ctx.needs_input_grad`` has one bool per
argument, and other attributes set on ``ctx`` reach backward as they are. Forward runs without
recording; backward returns one gradient (or None) per argument of forward.

Under the hood each Function becomes a registered op (``MyFunction.op``), so the engine does its
bookkeeping (un-broadcasting, shape and dtype checks naming the function, version checks of the
saved tensors) and the test kit checks it like any op: give the class a ``strategy`` and call
``testing.check_op(MyFunction.op, case)``. A backward written with differentiable Tensor ops is
differentiable again (``create_graph=True``).

>>> from tinygrad_cnn import tensor
>>> from tinygrad_cnn.autograd import Function
>>> class Cube(Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x * x
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return g * 3 * x * x
>>> x = tensor([2.0], requires_grad=True)
>>> Cube.apply(x).sum().backward()
>>> x.grad
Tensor([12.], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.engine import Node, apply, no_grad
from tinygrad_cnn.ops.registry import Op, register_op
from tinygrad_cnn.tensor import Tensor


class FunctionCtx:
    """What ``forward`` and ``backward`` of a :class:`Function` share."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_arrays: tuple = ()

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep these tensors (or None) for backward; changing one in place before backward
        makes backward refuse, naming the function."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward: expected Tensors or None, got {type(t).__name__}"
                )
        self.saved_arrays = tuple(None if t is None else t._data for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        return self.saved_arrays

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Accepted for PyTorch's API; outputs of ``apply`` are differentiable when an input is."""


class Function:
    """Base class of custom functions; see the module docstring."""

    op: type[Op]
    strategy: Any = None

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.op = register_op(_op_for(cls), replace=True, strategy=cls.__dict__.get("strategy"))

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run forward on ``args`` and record it, so backward runs in the reverse pass."""
        tensors = tuple(a for a in args if isinstance(a, Tensor))
        where = tuple(isinstance(a, Tensor) for a in args)
        constants = tuple(None if isinstance(a, Tensor) else a for a in args)
        return apply(cls.op, tensors, {"where": where, "constants": constants})


def _op_for(fn: type[Function]) -> type[Op]:
    """The registered op that runs ``fn``: forward on arrays wrapped as Tensors, without
    recording; the VJP calls ``fn.backward`` with Tensors (recorded under create_graph)."""

    def call_args(arrays: tuple, where: tuple, constants: tuple) -> list:
        it = iter(arrays)
        return [next(it) if w else c for w, c in zip(where, constants)]

    def forward(node: Node, *arrays: np.ndarray, where=None, constants=None) -> np.ndarray:
        if where is None:  # called as an op (the test kit): every argument is a tensor
            where, constants = (True,) * len(arrays), (None,) * len(arrays)
        needs = iter(node.needs_input_grad or (False,) * len(arrays))
        ctx = FunctionCtx(tuple(next(needs) if w else False for w in where))
        tensors = tuple(Tensor._wrap(a, False) for a in arrays)
        with no_grad():
            out = fn.forward(ctx, *call_args(tensors, where, constants))
        if not isinstance(out, Tensor):
            raise TypeError(f"{fn.__name__}.forward must return a Tensor, got {type(out).__name__}")
        node.fn_ctx, node.fn_where = ctx, where
        for k, a in enumerate(ctx.saved_arrays):  # plain attributes: the engine checks versions
            setattr(node, f"saved_{k}", a)
        return out._data

    def vjp(node: Any, g: Any) -> tuple:
        ctx, first_order = node.fn_ctx, not isinstance(g, Tensor)
        saved = [getattr(node, f"saved_{k}") for k in range(len(ctx.saved_arrays))]
        ctx.saved_arrays = tuple(
            None if s is None else (s if isinstance(s, Tensor) else Tensor._wrap(s, False))
            for s in saved
        )
        grads = fn.backward(ctx, Tensor._wrap(g, False) if first_order else g)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(node.fn_where):
            raise RuntimeError(
                f"{fn.__name__}.backward returned {len(grads)} gradients for "
                f"{len(node.fn_where)} arguments of forward"
            )
        kept = [gr for gr, w in zip(grads, node.fn_where) if w]
        # the engine takes arrays on the first-order path, Tensors when recording
        return tuple(gr._data if first_order and isinstance(gr, Tensor) else gr for gr in kept)

    return type(
        f"{fn.__name__}Op",
        (Op,),
        {
            "name": f"{fn.__module__}.{fn.__qualname__}",
            "forward": staticmethod(forward),
            "vjp": staticmethod(vjp),
            "higher_order": True,
            "__doc__": f"The op that runs the Function {fn.__qualname__}.",
        },
    )
