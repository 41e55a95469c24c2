"""Hooks on tensors (``Tensor.register_hook``), which the reverse pass runs, and the handle that
every hook registration returns (nn.Module's hooks too)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_cnn.tensor import Tensor

# id(tensor) -> [fn, ...]; an entry goes when its tensor does. (Not a WeakKeyDictionary: that
# compares keys with ==, which is elementwise on Tensors.)
registered_hooks: dict[int, list] = {}


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
    hooks = registered_hooks.get(id(t))
    if hooks is None:
        hooks = registered_hooks[id(t)] = []
        weakref.finalize(t, registered_hooks.pop, id(t), None)
    hooks.append(fn)
    return RemovableHandle(hooks, fn)


def run_hooks(t: Tensor, g: Any, create_graph: bool) -> Any:
    """Call ``t``'s hooks in order on its gradient ``g``; a returned gradient replaces it."""
    for fn in list(registered_hooks.get(id(t), ())):
        new = fn(g if create_graph else Tensor._wrap(g, False))
        if new is None:
            continue
        if not create_graph:
            new = np.asarray(new._data if isinstance(new, Tensor) else new)
        if new.shape != t.shape:
            raise RuntimeError(
                f"hook {getattr(fn, '__name__', fn)!r} returned a gradient of shape "
                f"{tuple(new.shape)} for a tensor of shape {t.shape}"
            )
        g = new
    return g
