"""Module state: ``state_dict``, ``load_state_dict`` and the ``.npz`` files, as a mixin of
:class:`~tinygrad_cnn.nn.Module` (it walks the module's own parameters and buffers)."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np

from tinygrad_cnn.engine import no_grad
from tinygrad_cnn.io import load_npz, save_npz
from tinygrad_cnn.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` did not match: names the module has and the state
    lacks, and names the state has and the module lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictMixin:
    """``state_dict``/``load_state_dict`` and ``save``/``load`` for Module."""

    def state_dict(
        self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """Every parameter and buffer, by dotted name, in PyTorch's order: module by module, each
        one's parameters, then its buffers (a shared parameter once).

        As PyTorch's, the values are detached Tensors sharing the parameters' storage (clone
        them, or save them, to keep a snapshot); ``keep_vars=True`` gives the parameters
        themselves. ``prefix`` goes before every name; ``destination`` is filled and returned.
        """
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        seen: set[int] = set()
        for path, m in self.named_modules():
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is not None and id(t) not in seen:
                        seen.add(id(t))
                        key = f"{prefix}{path}.{name}" if path else prefix + name
                        out[key] = t if keep_vars else t.detach()
        return out

    def load_state_dict(
        self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False
    ) -> IncompatibleKeys:
        """Copy Tensors (or arrays) into the parameters and buffers of the same names; with
        ``assign=True`` the parameters take the given Tensors' storage instead of a copy.

        Everything is checked before anything is changed: a wrong shape, or (with ``strict``) a
        missing or unexpected key, raises RuntimeError and leaves the module as it was. Returns
        ``(missing_keys, unexpected_keys)``, a named tuple as PyTorch's.
        """
        where = f"load_state_dict for {type(self).__name__}"
        state = state_dict
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(
                f"{where}: state_dict must be a mapping of names to Tensors or arrays (what "
                f"state_dict() returns), got {type(state).__name__}"
            )
        targets = dict((*self.named_parameters(), *self.named_buffers()))
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"Error(s) in {where}: missing keys {missing}, unexpected keys {unexpected}"
            )
        arrays = {}
        for k, t in targets.items():
            if k not in state:
                continue
            v = state[k]
            a = v._data if isinstance(v, Tensor) else np.asarray(v)
            if a.shape != t.shape:
                raise RuntimeError(
                    f"Error(s) in {where}: size mismatch for '{k}': shape {a.shape} in the state "
                    f"but {t.shape} in the model"
                )
            if a.dtype.kind not in "biuf":
                raise TypeError(f"{where}: '{k}' has unsupported dtype {a.dtype}")
            arrays[k] = a
        with no_grad():
            for k, a in arrays.items():
                if assign and isinstance(state[k], Tensor):
                    targets[k]._data = a.astype(targets[k].dtype, copy=False)
                    targets[k].bump_version()
                else:
                    targets[k].copy_(a)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``state_dict()`` to ``path`` (.npz) atomically: a temporary file, then a rename."""
        save_npz(path, self.state_dict())

    def load(self, path: str | os.PathLike, strict: bool = True) -> StateDictMixin:
        """Load a file written by :meth:`save` (never unpickles anything)."""
        self.load_state_dict(load_npz(path), strict=strict)
        return self
