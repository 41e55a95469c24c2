"""``save`` and ``load`` in PyTorch's file format, so a model moves to PyTorch and back.

``save(obj, f)`` writes PyTorch's zip format (``data.pkl`` with pickle protocol 2, one file per
tensor's storage), which ``torch.load(f, weights_only=True)`` reads: ``obj`` may hold Tensors,
arrays, numbers, strings, None and (ordered) dicts, lists and tuples of them, as a state dict
does. ``load(f)`` reads such files, PyTorch's included, with a restricted unpickler: tensors,
numbers, strings and those containers only. A file that names anything else (a class, a
function to call) is refused with a ValueError before anything in it runs.

>>> import io, tinygrad_cnn as tg
>>> buf = io.BytesIO()
>>> tg.save({"w": tg.ones(2, 3), "step": 7}, buf)
>>> back = tg.load(io.BytesIO(buf.getvalue()))
>>> back["w"].shape, back["step"]
((2, 3), 7)
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from tinygrad_cnn.io import atomic_path
from tinygrad_cnn.tensor import Tensor

# PyTorch's storage classes by dtype (the names its pickles use)
_STORAGES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int16"): "ShortStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}
_DTYPES = {name: dt for dt, name in _STORAGES.items()}


class _Global:
    """A name PyTorch's pickles refer to (``torch._utils._rebuild_tensor_v2``): written as a
    GLOBAL opcode without importing PyTorch."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle wants a callable; never called here
        raise TypeError(f"{self.module}.{self.name} is a name in a file, not a function")


_REBUILD = _Global("torch._utils", "_rebuild_tensor_v2")
_ORDERED_DICT = _Global("collections", "OrderedDict")


class _Storage:
    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key, self.array = key, array


class _TensorRecord:
    """A tensor as PyTorch pickles it: ``_rebuild_tensor_v2(storage, offset, size, stride,
    requires_grad, OrderedDict())``."""

    def __init__(self, storage: _Storage) -> None:
        self.storage = storage

    def __reduce__(self) -> tuple:
        a = self.storage.array
        stride = tuple(s // a.itemsize for s in a.strides) if a.ndim else ()
        empty = (_ORDERED_DICT, ())
        return (_REBUILD, (self.storage, 0, tuple(a.shape), stride, False, _Reduced(*empty)))


class _Reduced:
    """``callable(*args)`` in the pickle (the empty OrderedDict of backward hooks)."""

    def __init__(self, fn: _Global, args: tuple) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple:
        return (self.fn, self.args)


class _Pickler(pickle._Pickler):  # the Python pickler: its dispatch table can be extended
    dispatch = dict(pickle._Pickler.dispatch)

    def save_global_name(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = save_global_name

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            kind = _Global("torch", _STORAGES[obj.array.dtype])
            return ("storage", kind, obj.key, "cpu", int(obj.array.size))
        return None


def _records(obj: Any, storages: list) -> Any:
    """``obj`` with each Tensor and array replaced by a record of its storage."""
    if isinstance(obj, (Tensor, np.ndarray)):
        a = np.asarray(obj._data if isinstance(obj, Tensor) else obj)
        a = a if a.flags.c_contiguous else a.copy()  # (ascontiguousarray makes 0-d arrays 1-d)
        if a.dtype not in _STORAGES:
            raise TypeError(f"save: dtype {a.dtype} has no PyTorch storage")
        storages.append(_Storage(str(len(storages)), a))
        return _TensorRecord(storages[-1])
    if isinstance(obj, dict):
        items = [(k, _records(v, storages)) for k, v in obj.items()]
        return (
            _Reduced(_ORDERED_DICT, (items,))
            if isinstance(obj, collections.OrderedDict)
            else dict(items)
        )
    if isinstance(obj, (list, tuple)):
        return type(obj)(_records(v, storages) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise TypeError(
        f"save: cannot save {type(obj).__name__}: only Tensors, arrays, numbers, strings and "
        "dicts, lists and tuples of them"
    )


def save(obj: Any, f: Any) -> None:
    """Write ``obj`` (a state dict, say) to ``f`` (a path or a binary file) in PyTorch's format;
    a path is written whole or not at all."""
    storages: list[_Storage] = []
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(_records(obj, storages))
    name = "archive"
    if isinstance(f, (str, os.PathLike)):
        with atomic_path(f) as tmp, open(tmp, "wb") as out:
            _write_zip(out, name, buf.getvalue(), storages)
        return
    _write_zip(f, name, buf.getvalue(), storages)


def _write_zip(f: Any, name: str, pkl: bytes, storages: list) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/data.pkl", pkl)
        z.writestr(f"{name}/byteorder", "little")
        for s in storages:
            z.writestr(f"{name}/data/{s.key}", s.array.tobytes())
        z.writestr(f"{name}/version", "3\n")


def _rebuild_tensor(
    storage: np.ndarray,
    offset: int,
    size: tuple,
    stride: tuple,
    requires_grad: bool = False,
    hooks: Any = None,
    metadata: Any = None,
):
    it = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * it for s in stride)
    )
    return Tensor._wrap(np.array(view), False)


def _rebuild_parameter(data: Tensor, requires_grad: bool, hooks: Any = None) -> Tensor:
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, z: zipfile.ZipFile, prefix: str, where: str) -> None:
        super().__init__(file)
        self.z, self.prefix, self.where = z, prefix, where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise pickle.UnpicklingError(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"persistent id {pid!r}")
        _, dtype, key, _, numel = pid
        raw = self.z.read(f"{self.prefix}data/{key}")
        return np.frombuffer(raw, dtype=dtype, count=numel)


def load(f: Any, map_location: Any = None, weights_only: bool = True, **kwargs: Any) -> Any:
    """Read what :func:`save` or ``torch.save`` wrote: Tensors, numbers, strings and (ordered)
    dicts/lists/tuples. Anything else in the file is refused (ValueError), never run."""
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else "the file"
    try:
        z = zipfile.ZipFile(f)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"load: {where} is not a PyTorch zip file ({e})") from None
    with z:
        pkls = [n for n in z.namelist() if n.endswith("data.pkl")]
        if len(pkls) != 1:
            raise ValueError(f"load: {where} holds no single data.pkl: not a saved state")
        prefix = pkls[0][: -len("data.pkl")]
        try:
            return _Unpickler(io.BytesIO(z.read(pkls[0])), z, prefix, where).load()
        except pickle.UnpicklingError as e:
            raise ValueError(
                f"load: {where} refers to {e}, which is not a tensor, number, string or "
                "container: refused (loading it could run code)"
            ) from None
        except (KeyError, EOFError, ValueError, TypeError) as e:
            raise ValueError(f"load: {where} is damaged or not a state: {e}") from None
