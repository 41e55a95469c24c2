"""Conversion and device methods of Tensor, as PyTorch has them: ``to``, ``cpu``, ``cuda``
(refused), ``type``, ``type_as``, ``float``/``double``/``half``/``long``/``int``/``bool``
(a mixin: Tensor inherits them; ``Module.to`` shares :func:`to_args`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_cnn import devices, dtypes

# functional and Tensor, reached through tensor.py, whose class inherits these methods (this
# module is imported while tensor.py is; the names are there by the time a method runs)
from tinygrad_cnn import tensor as _t

if TYPE_CHECKING:
    from tinygrad_cnn.tensor import Tensor


class Conversion:
    """Tensor's conversion and device methods."""

    __slots__ = ()

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(other)`` (its dtype) or ``to(device, dtype)``, as
        PyTorch: the same tensor when nothing changes. Devices other than the CPU are refused."""
        dtype, copy = to_args("to", args, kwargs)
        out = self if dtype is None else _t.F.cast(self, dtype)
        return _t.F.clone(out) if copy and out is self else out

    def cpu(self) -> Tensor:
        """This tensor: it is on the CPU already."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Refused: this library runs on the CPU only."""
        devices.check_cpu("cuda", "cuda")
        return self  # pragma: no cover (check_cpu raises)

    def type(self, dtype: Any = None) -> Any:
        """No argument: the type's name (``"torch.FloatTensor"``); else ``to(dtype)``."""
        if dtype is None:
            return dtypes.type_name(self.dtype)
        return self.to(dtypes.from_type_name(dtype))

    def type_as(self, other: Tensor) -> Tensor:
        """Converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def float(self) -> Tensor:
        """``to(float32)``."""
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        """``to(float64)``."""
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        """``to(float16)``."""
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        """``to(int64)``."""
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        """``to(int32)``."""
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        """``to(bool)``."""
        return self.to(dtypes.bool)

    def astype(self, dtype: Any) -> Tensor:
        """NumPy's name for ``to(dtype)``."""
        return self.to(dtype)

    def is_floating_point(self) -> bool:
        """True for floating dtypes."""
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        """True: arrays here are always usable as they are."""
        return True

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.dtype.itemsize

    def ndimension(self) -> int:
        """The number of dimensions (``dim()``)."""
        return self._data.ndim

    def new_tensor(self, data: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """``tensor(data)`` in this tensor's dtype (unless ``dtype`` says otherwise)."""
        return _t.factories.tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``size`` in this tensor's dtype."""
        return _t.factories.zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``size`` in this tensor's dtype."""
        return _t.factories.ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A tensor of ``size`` in this tensor's dtype (zeros here)."""
        return _t.factories.empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None,
                 requires_grad: bool = False) -> Tensor:  # fmt: skip
        """``fill_value`` in ``size``, in this tensor's dtype."""
        return _t.factories.full(size, fill_value, dtype=dtype or self.dtype,
                                 requires_grad=requires_grad)  # fmt: skip

    def square(self) -> Tensor:
        """``self * self``."""
        return _t.F.mul(self, self)

    def reciprocal(self) -> Tensor:
        """``1 / self``."""
        return _t.F.div(1.0, self)


def to_args(fn: str, args: tuple, kwargs: dict) -> tuple[np.dtype | None, bool]:
    """The dtype (or None) and ``copy`` flag of a ``to(...)`` call; a device other than the CPU
    is refused, naming ``fn``."""
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"{fn}: unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, _t.Tensor):
            dtype = arg.dtype
        elif isinstance(arg, devices.device) or (
            isinstance(arg, str) and arg.partition(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta")
        ):
            device = arg
        else:
            dtype = arg
    if device is not None:
        devices.check_cpu(fn, device)
    return (None if dtype is None else dtypes.as_dtype(fn, dtype)), bool(copy)
