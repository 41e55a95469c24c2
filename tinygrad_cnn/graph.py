"""The recorded graph as a structure: the order the reverse pass walks it in, and what it keeps
after backward frees its values (so diagrams and checks can still read it)."""

from __future__ import annotations

import weakref
from typing import Any

from tinygrad_cnn.engine import Node
from tinygrad_cnn.tensor import Tensor


def topo_order(roots, only_grad: bool = True) -> list:
    """Tensors reachable from ``roots`` through recorded nodes, each input before the ops that
    use it (iterative depth-first search: no recursion limit). ``only_grad`` follows only the
    inputs that need a gradient (backward's walk); otherwise every input (the diagrams')."""
    order: list = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(r, False) for r in reversed(roots)]
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
        if node is None:
            continue
        for inp, need in zip(reversed(node.inputs), reversed(node.needs_input_grad)):
            if (need or not only_grad) and id(inp) not in seen:
                stack.append((inp, False))
    return order


# ---------------------------------------------------------------------------------------------
# What a freed graph keeps


class FreedTensor:
    """An intermediate tensor as a freed graph remembers it: shape, dtype, name and the node
    that made it, but not its values (so backward releases the activations).

    ``grad`` is the tensor's ``.grad`` while the tensor itself is alive; a tensor that asked for
    ``retain_grad()`` is kept, with its values, as that asks.
    """

    __slots__ = ("_node", "shape", "dtype", "name", "_numel", "ndim", "_ref", "_kept")
    requires_grad = True
    is_leaf = False
    _retain = False

    def __init__(self, t: Tensor) -> None:
        self._node, self.shape, self.dtype, self.name = t._node, t.shape, t.dtype, t.name
        self._numel, self.ndim = t.numel(), t.ndim
        self._ref = weakref.ref(t)
        self._kept = t if t._retain else None

    def numel(self) -> int:
        return self._numel

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
