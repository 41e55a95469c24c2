"""The op contract and the public op registry.

An op is a class with two static methods and a few declarations::

    @register_op(strategy=my_inputs, linear_in=(0,))
    class Scale(Op):
        name = "scale"

        @staticmethod
        def forward(ctx, x, *, factor):      # NumPy arrays in, one array out
            ctx.factor = factor              # save what the vjp needs on ctx
            return x * factor

        @staticmethod
        def vjp(ctx, g):                     # one gradient (or None) per array input
            return (g * ctx.factor,)

``Op.apply(*tensors, **attrs)`` runs it on Tensors. The engine, not the op, handles the rest:
inputs that need no gradient, un-broadcasting a gradient returned at the output's broadcast
shape, checking each gradient's shape and dtype, accumulation, and freeing what ``ctx`` holds
after backward. An input or output array the op keeps on ``ctx`` (the same object, not a copy or
view) has its version checked at backward, so changing it in place in between is a clear error
rather than a wrong gradient.

What ``vjp`` may read on ``ctx``: what ``forward`` saved there, and ``ctx.needs_input_grad`` (one
bool per input: skip the gradients nobody needs). Everything else on ``ctx`` is the engine's
(``inputs``, ``attrs``, ``scope``, ...): an op keeps the attributes it needs by saving them.

Declarations used by the property tests (:mod:`tinygrad_cnn.testing`):

- ``strategy``: a zero-argument callable returning a hypothesis strategy of
  :class:`tinygrad_cnn.testing.OpCase` (valid arrays and attributes). Required for your own ops;
  the built-in ops have theirs in ``tinygrad_cnn.testing.builtin``, keyed by op name.
- ``linear_in``: the input positions in which the op is linear with the others fixed; those get
  the exact adjoint test ``<f(x), g> == <x, vjp(g)>``.
- ``smooth``: False for ops with kinks or ties (relu, max, ...); their strategy must draw inputs
  away from them, and they need tests with forced ties of their own.
- ``higher_order``: True when the VJP can be recorded, so ``backward(create_graph=True)`` and
  second derivatives go through the op. Such a VJP computes only with the operators of its
  arguments and the functions of ``ctx.xp`` (NumPy's names: ``xp.exp``, ``xp.sum``, ...; and
  the ops' own: ``xp.conv2d_weight``, ``xp.pool2d_spread``, ...): on the first-order path they
  call array kernels, and under ``create_graph`` the engine hands the VJP its saved inputs and
  output as Tensors and ``ctx.xp`` as the same names applying ops (:mod:`tinygrad_cnn.ops.xp`),
  so one derivative serves both. A NumPy call on a Tensor would silently treat it as a
  constant, so this is off by default: the engine refuses ``create_graph`` through an op
  without it, naming the op. ``gradgradcheck`` and the second-order property tests check it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_cnn.engine import Node, apply, lift

if TYPE_CHECKING:
    from tinygrad_cnn.tensor import Tensor

REGISTRY: dict[str, type[Op]] = {}


class Op:
    """Base class of registered ops; see the module docstring for the contract."""

    name: str = ""
    strategy: Callable[[], Any] | None = None
    linear_in: tuple[int, ...] = ()
    smooth: bool = True
    higher_order: bool = False

    @staticmethod
    def forward(ctx: Node, *arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def vjp(ctx: Node, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **attrs: Any) -> Tensor:
        """Apply the op to Tensors, recording it for backward. Other inputs are lifted by the
        rule ``functional`` uses (:func:`tinygrad_cnn.engine.lift`): a Python number takes
        the dtype of the first Tensor, so ``Mul.apply(x16, 2.0)`` stays float16 as
        ``x16 * 2.0`` does."""
        return apply(cls, lift(inputs), attrs)


def register_op(
    cls: type[Op] | None = None,
    *,
    strategy: Callable[[], Any] | None = None,
    linear_in: tuple[int, ...] | None = None,
    smooth: bool | None = None,
    higher_order: bool | None = None,
    replace: bool = False,
) -> Any:
    """Register an :class:`Op` subclass under its ``name``; usable bare or with arguments.

    Raises ValueError if the name is empty or taken (pass ``replace=True`` to redefine it), and
    TypeError if ``forward``/``vjp`` are missing or ``strategy`` is not callable.
    """

    def register(op: type[Op]) -> type[Op]:
        if not (isinstance(op, type) and issubclass(op, Op)):
            raise TypeError(f"register_op: expected an Op subclass, got {op!r}")
        if strategy is not None:
            op.strategy = strategy
        if linear_in is not None:
            op.linear_in = tuple(linear_in)
        if smooth is not None:
            op.smooth = smooth
        if higher_order is not None:
            op.higher_order = higher_order
        if not op.name or not isinstance(op.name, str):
            raise ValueError(f"register_op: {op.__name__} needs a non-empty string `name`")
        if op.forward is Op.forward or op.vjp is Op.vjp:
            raise TypeError(f"register_op: op '{op.name}' must define forward and vjp")
        if op.strategy is not None and not callable(op.strategy):
            raise TypeError(f"register_op: op '{op.name}': strategy must be callable")
        if op.name in REGISTRY and not replace and REGISTRY[op.name] is not op:
            raise ValueError(
                f"register_op: an op named '{op.name}' is already registered "
                "(pass replace=True to redefine it)"
            )
        REGISTRY[op.name] = op
        return op

    return register if cls is None else register(cls)


def get_op(name: str) -> type[Op]:
    """The registered op called ``name`` (KeyError listing the known names otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r}; registered: {sorted(REGISTRY)}") from None
