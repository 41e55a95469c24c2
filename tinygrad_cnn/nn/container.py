"""Containers of modules, as ``torch.nn``'s: ``Sequential`` (applied in order), ``ModuleList``
and ``ModuleDict`` (held, registered, not applied). Children are registered under their index
or key, so parameter names read ``0.weight``, ``blocks.2.conv.weight``, ``heads.cls.weight``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.tensor import Tensor


def _module(fn: str, m: Any, where: Any) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{fn}: {where} is {type(m).__name__}, not a Module")
    return m


class _Indexed(Module):
    """A list of children named '0', '1', ...: indexing, slicing, len, iteration, editing."""

    def _list(self) -> list[Module]:
        return list(self._modules.values())

    def _reset(self, modules: list[Module]) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __getitem__(self, index: Any) -> Any:
        mods = self._list()
        if isinstance(index, slice):
            return (
                type(self)(*mods[index])
                if isinstance(self, Sequential)
                else type(self)(mods[index])
            )
        try:
            return mods[index]
        except (IndexError, TypeError):
            raise IndexError(
                f"{type(self).__name__}: index {index!r} out of range for {len(mods)} modules"
            ) from None

    def __setitem__(self, index: int, module: Module) -> None:
        mods = self._list()
        mods[index] = _module(type(self).__name__, module, f"item {index}")
        self._reset(mods)

    def __delitem__(self, index: Any) -> None:
        mods = self._list()
        del mods[index]
        self._reset(mods)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Any:
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self)), _module(type(self).__name__, module, "the appended value"))
        return self

    def extend(self, modules: Iterable[Module]) -> Any:
        """Add each of ``modules`` at the end; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index``."""
        mods = self._list()
        mods.insert(index, _module(type(self).__name__, module, "the inserted value"))
        self._reset(mods)

    def _addable(self, other: Any) -> None:
        if isinstance(self, Sequential) and not isinstance(other, Sequential):
            raise ValueError(
                f"Sequential: + and += take a Sequential (as PyTorch), got {type(other).__name__}"
            )

    def pop(self, index: int = -1) -> Module:
        """Remove the module at ``index`` (the last by default) and return it."""
        module = self[index]
        del self[index]
        return module

    def __iadd__(self, modules: Iterable[Module]) -> Any:
        self._addable(modules)
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> Any:
        self._addable(other)
        both = [*self._list(), *other]
        return type(self)(*both) if isinstance(self, Sequential) else type(self)(both)


class Sequential(_Indexed):
    """Modules applied in order; indexable (slices give a Sequential), iterable, with names
    '0', '1', ... (or the keys of an OrderedDict), as ``torch.nn.Sequential``.

    >>> from tinygrad_cnn import nn
    >>> nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=4, out_features=2, bias=True)
    )
    """

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                setattr(self, name, _module("Sequential", m, f"entry {name!r}"))
            return
        for i, m in enumerate(modules):
            setattr(self, str(i), _module("Sequential", m, f"argument {i}"))

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Indexed):
    """A list of modules, registered (their parameters are the container's) but not applied:
    the model's ``forward`` decides how to use them."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        self.extend(modules or [])


class _NamedDict(Module):
    """The dict protocol over one of the module's registries (``_modules`` or ``_parameters``):
    subclasses name it and define ``__setitem__``, which checks and registers a value."""

    _kind = ""  # "module" or "parameter"

    def __init__(self, values: Any = None) -> None:
        super().__init__()
        self.update(values or {})

    @property
    def _store(self) -> dict:
        return self._modules if self._kind == "module" else self._parameters

    def __getitem__(self, key: str) -> Any:
        try:
            return self._store[key]
        except KeyError:
            raise KeyError(
                f"{type(self).__name__}: no {self._kind} {key!r}; keys {list(self._store)}"
            ) from None

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def keys(self) -> Any:
        return self._store.keys()

    def values(self) -> Any:
        return self._store.values()

    def items(self) -> Any:
        return self._store.items()

    def pop(self, key: str) -> Any:
        """Remove the entry ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        """Remove every entry."""
        for key in list(self._store):
            del self[key]

    def update(self, values: Any) -> None:
        """Add the ``(name, value)`` pairs of a mapping or an iterable."""
        pairs = values.items() if hasattr(values, "items") else values
        for key, value in pairs:
            self[key] = value


class ModuleDict(_NamedDict):
    """A dict of modules by name, registered but not applied."""

    _kind = "module"

    def __init__(self, modules: Any = None) -> None:
        super().__init__(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _module("ModuleDict", module, f"value for {key!r}"))


def _parameter(where: str, value: Any) -> Parameter:
    """A Parameter as is; another Tensor or an array becomes one (as PyTorch's containers do)."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor) or hasattr(value, "__array__"):
        return Parameter(value)
    raise TypeError(f"{where}: expected a Parameter or a Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of parameters, registered as ``0``, ``1``, ... (their gradients and optimizer
    updates are the module's)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self._size = 0
        self.extend(values or [])

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Parameter]:
        return (self._parameters[str(i)] for i in range(self._size))

    def __getitem__(self, index: int) -> Parameter:
        if not isinstance(index, int) or not -self._size <= index < self._size:
            raise IndexError(f"ParameterList: index {index!r} out of range ({self._size})")
        return self._parameters[str(index % self._size)]

    def __setitem__(self, index: int, value: Any) -> None:
        self[index]  # the range check
        setattr(self, str(index % self._size), _parameter("ParameterList", value))

    def append(self, value: Any) -> ParameterList:
        setattr(self, str(self._size), _parameter("ParameterList", value))
        object.__setattr__(self, "_size", self._size + 1)
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(
            f"  ({i}): Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"
            for i, p in enumerate(self)
        )


class ParameterDict(_NamedDict):
    """A dict of parameters by name, registered under those names."""

    _kind = "parameter"

    def __init__(self, parameters: Any = None) -> None:
        super().__init__(parameters)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(
                f"ParameterDict: keys must be non-empty strings without '.', got {key!r}"
            )
        setattr(self, key, _parameter("ParameterDict", value))
