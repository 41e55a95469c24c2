"""Module, Parameter and Sequential, with PyTorch's interface."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_cnn import engine
from tinygrad_cnn import functional as F
from tinygrad_cnn.conversion import to_args
from tinygrad_cnn.hooks import RemovableHandle
from tinygrad_cnn.nn.state import StateDictMixin
from tinygrad_cnn.tensor import Tensor, tensor_array


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (``requires_grad=True``).

    As ``torch.nn.Parameter``, it holds ``data`` as it is: a Tensor's or an ndarray's values
    (shared) and dtype; Python numbers and lists as ``tensor()`` makes them."""

    __slots__ = ()

    def __init__(self, data: Any = (), requires_grad: bool = True, dtype: Any = None) -> None:
        if isinstance(data, Tensor) and dtype is None:
            arr = data._data
        elif isinstance(data, np.ndarray) and dtype is None and data.dtype.kind in "biuf":
            arr = data
        else:
            arr = tensor_array("Parameter", data, dtype)
        self._init(arr, False)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module(StateDictMixin):
    """Base class of layers and models: subclasses set attributes in ``__init__`` and define
    ``forward``. Parameters, sub-modules and buffers assigned as attributes are registered.

    >>> from tinygrad_cnn import nn
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_scope_name", type(self).__name__)
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_backward_hooks", [])

    # -- registration ----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            if value.name is None:  # diagrams label it (a name you gave it stays)
                value.name = name
        elif isinstance(value, Module):
            object.__setattr__(value, "_scope_name", name)
            self._modules[name] = value
            for path, p in value.named_parameters():
                if p.name == path:  # the name registration gave it: now one level deeper
                    p.name = f"{name}.{path}"
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """A state Tensor that is saved in ``state_dict`` but is not a parameter (running stats)."""
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    # -- running ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._forward_pre_hooks):
            new = hook(self, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        # record which module ran each op, for the graph diagrams: a chain of (name, class)
        scope = engine.scope_stack()
        parent = scope[-1] if scope else ()
        scope.append((*parent, (self._scope_name, type(self).__name__)))
        try:
            if self._backward_hooks:
                out = self._forward_with_backward_hooks(args, kwargs)
            else:
                out = self.forward(*args, **kwargs)
        finally:
            scope.pop()
        for hook in list(self._forward_hooks):
            new = hook(self, args, out)
            if new is not None:
                out = new
        return out

    def _forward_with_backward_hooks(self, args: tuple, kwargs: dict) -> Any:
        """forward, with the gradients of its tensor inputs and outputs watched (tensor hooks
        on an identity of each input and on each output) for the full backward hooks."""
        recording = engine.is_grad_enabled()
        watched = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        args = tuple(F.clone(a) if i in watched and recording else a for i, a in enumerate(args))
        out = self.forward(*args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        live = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not recording or not live:
            return out
        grad_in: list = [None] * len(args)
        grad_out: list = [None] * len(outs)
        waiting = {"in": len(watched), "out": len(live)}

        def fire() -> Any:
            result = None
            for hook in list(self._backward_hooks):
                new = hook(self, tuple(grad_in), tuple(grad_out))
                if new is not None:
                    result = new = tuple(new)
                    grad_in[:] = list(new)
            return result

        def on_output(k: int) -> Any:
            def hook(g: Tensor) -> None:
                grad_out[k] = g
                waiting["out"] -= 1
                if waiting["out"] == 0 and not watched:  # no input needs a gradient
                    fire()

            return hook

        def on_input(i: int) -> Any:
            def hook(g: Tensor) -> Any:
                grad_in[i] = g
                waiting["in"] -= 1
                if waiting["in"] == 0:  # the last input's gradient: every one is known
                    new = fire()
                    return None if new is None else new[i]
                return None

            return hook

        for k in live:
            outs[k].register_hook(on_output(k))
        for i in watched:
            args[i].register_hook(on_input(i))
        return out

    def register_forward_pre_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before each forward (``inputs``: the positional
        arguments, a tuple); what it returns, if not None, replaces them (a non-tuple is one
        argument). Pre-hooks run in the order registered. Returns a handle with ``.remove()``.
        """
        return self._add_hook(self._forward_pre_hooks, hook, "register_forward_pre_hook")

    def register_forward_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after each forward; what it returns, if not
        None, replaces the output. Forward hooks run in the order registered, after the
        pre-hooks and the forward, inside the caller's module scope. Returns a handle with
        ``.remove()``."""
        return self._add_hook(self._forward_hooks, hook, "register_forward_hook")

    def _add_hook(self, hooks: list, hook: Any, fn: str) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{fn}: hook must be callable, got {type(hook).__name__}")
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- traversal -------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, with dotted names ('' for this one)."""
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._modules.items())

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, Parameter) pairs, each parameter once, e.g. ``features.conv1.weight``."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(device)``, ``to(dtype)`` or both, as ``torch.nn.Module.to``: floating parameters
        and buffers converted in place (their gradients dropped if the dtype changes); returns
        the module. Devices other than the CPU are refused (see ``Tensor.to``)."""
        dtype, _ = to_args("Module.to", args, dict(kwargs))
        if dtype is None:
            return self
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is not None and t.dtype.kind == "f" and t.dtype != dtype:
                        t._data, t.grad = t._data.astype(dtype), None
        return self

    def cpu(self) -> Module:
        """This module: it is on the CPU already."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Module:
        """Refused: this library runs on the CPU only."""
        return self.to("cuda")

    def float(self) -> Module:
        """Floating parameters and buffers as float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Floating parameters and buffers as float64."""
        return self.to(np.float64)

    def half(self) -> Module:
        """Floating parameters and buffers as float16."""
        return self.to(np.float16)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (``setattr`` with a check)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"add_module: name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        if module is None:
            object.__setattr__(self, name, None)
            self._modules[name] = None
            return
        setattr(self, name, module)

    register_module = add_module

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every submodule, children first, then on self; returns self
        (the way to initialise a whole model: ``model.apply(init_weights)``)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (freezing or unfreezing); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def register_full_backward_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to the
        module's inputs are computed (tuples of Tensors or None, one per Tensor input and
        output); a tuple it returns replaces ``grad_input``."""
        return self._add_hook(self._backward_hooks, hook, "register_full_backward_hook")

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, e.g. ``bn.running_mean``."""
        for mname, m in self.named_modules(prefix) if recurse else [(prefix, self)]:
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for a missing one) as ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be a Parameter or None, got "
                f"{type(param).__name__}"
            )
        if param is None:
            object.__setattr__(self, name, None)
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` ('' for this module)."""
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"get_submodule: {type(m).__name__} has no submodule {part!r}")
            m = m._modules[part]
        return m

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target``, e.g. ``"features.0.weight"``."""
        return self._lookup("get_parameter", "parameter", target, "_parameters")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target``, e.g. ``"bn.running_mean"``."""
        return self._lookup("get_buffer", "buffer", target, "_buffers")

    def _lookup(self, fn: str, kind: str, target: str, store: str) -> Any:
        path, _, name = target.rpartition(".")
        owner = self.get_submodule(path)
        found = getattr(owner, store).get(name)
        if found is None:
            raise AttributeError(f"{fn}: {type(owner).__name__} has no {kind} {name!r}")
        return found

    def zero_grad(self) -> None:
        """Forget the parameters' gradients (sets ``.grad`` to None, as PyTorch does by default)."""
        for p in self.parameters():
            p.grad = None

    # -- repr ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = [f"  {line}" for line in extra.split("\n")] if "\n" in extra else []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        head = f"{type(self).__name__}({'' if chr(10) in extra else extra}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"
