"""Making tensors, with PyTorch's names, arguments and dtypes: ``tensor``, ``from_numpy``,
``zeros``/``ones``/``full``/``empty`` (and ``_like``), ``arange``, ``linspace``, ``eye``, and
``rand``/``randn``/``randint`` (and ``_like``), drawn from the generator ``manual_seed`` seeds.

Every factory takes ``dtype=``, ``device=`` (the CPU only) and ``requires_grad=``; sizes are
given as ``zeros(2, 3)`` or ``zeros((2, 3))``. Floating results are float32 (the default dtype).

>>> import tinygrad_cnn as tg
>>> tg.zeros(2, 3).shape, tg.arange(5).dtype, tg.tensor([1.5]).dtype, tg.full((2,), 7).dtype
((2, 3), dtype('int64'), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import devices, dtypes
from tinygrad_cnn.random import generator_or_default
from tinygrad_cnn.tensor import Tensor, tensor_array


def _make(fn: str, arr: np.ndarray, requires_grad: bool, device: Any) -> Tensor:
    if device is not None:
        devices.check_cpu(fn, device)
    t = Tensor._wrap(arr, False)
    return t.requires_grad_(True) if requires_grad else t


def _size(fn: str, size: tuple) -> tuple[int, ...]:
    shape = size[0] if len(size) == 1 and not _args.is_int(size[0]) else size
    shape = _args.ints(fn, "size", shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"{fn}: sizes must be non-negative, got {shape}")
    return shape


def _dtype(fn: str, dtype: Any, default: Any = None) -> np.dtype:
    if dtype is None:
        return dtypes.get_default_dtype() if default is None else default
    return dtypes.as_dtype(fn, dtype)


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False):
    """A new tensor holding a copy of ``data``, in its own dtype (an ndarray's or a Tensor's
    dtype; Python floats float32, ints int64, bools bool) unless ``dtype`` says otherwise."""
    return _make("tensor", tensor_array("tensor", data, dtype), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing an ndarray's memory when no conversion is needed."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        return _make("as_tensor", tensor_array("as_tensor", data[...], None), False, device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory and dtype (writes to one show in the other)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: unsupported dtype {ndarray.dtype}")
    return Tensor._wrap(ndarray, False)


def _filled(fn: str, size: tuple, value: Any, dtype: Any, device: Any, requires_grad: bool):
    shape = _size(fn, size)
    return _make(fn, np.full(shape, value, dtype=_dtype(fn, dtype)), requires_grad, device)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False):
    """A tensor of zeros of the given size."""
    return _filled("zeros", size, 0, dtype, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False):
    """A tensor of ones of the given size."""
    return _filled("ones", size, 1, dtype, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False):
    """A tensor of the given size (its values are zeros here, never uninitialised memory)."""
    return _filled("empty", size, 0, dtype, device, requires_grad)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:  # fmt: skip
    """A tensor of ``size`` filled with ``fill_value``, in its dtype (a float: float32; an int:
    int64; a bool: bool) unless ``dtype`` says otherwise."""
    _args.number("full", "fill_value", fill_value)
    if dtype is None:
        dtype = dtypes.result_type(fill_value)
    return _filled("full", (size,), fill_value, dtype, device, requires_grad)


def _like(fn: str, input: Tensor, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(input).__name__}")
    return input.shape, input.dtype if dtype is None else dtypes.as_dtype(fn, dtype)


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Zeros of ``input``'s shape and dtype."""
    shape, dt = _like("zeros_like", input, dtype)
    return _filled("zeros_like", (shape,), 0, dt, device, requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Ones of ``input``'s shape and dtype."""
    shape, dt = _like("ones_like", input, dtype)
    return _filled("ones_like", (shape,), 1, dt, device, requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:  # fmt: skip
    """A tensor of ``input``'s shape and dtype (zeros here)."""
    shape, dt = _like("empty_like", input, dtype)
    return _filled("empty_like", (shape,), 0, dt, device, requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    """``fill_value`` in ``input``'s shape and dtype."""
    shape, dt = _like("full_like", input, dtype)
    _args.number("full_like", "fill_value", fill_value)
    return _filled("full_like", (shape,), fill_value, dt, device, requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """``start, start + step, ...`` up to ``end`` (excluded); ``arange(n)`` is ``0..n-1``.
    int64 when all three are integers, else float32, as PyTorch."""
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        _args.finite("arange", name, v)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = all(_args.is_int(v) for v in (start, end, step))
    dt = _dtype("arange", dtype, dtypes.int64 if ints else None)
    n = max(int(np.ceil((end - start) / step)), 0)
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(dt) if not ints else None
    if ints:
        arr = np.arange(start, end, step, dtype=np.int64).astype(dt)
    return _make("arange", arr, requires_grad, device)


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    _args.finite("linspace", "start", start)
    _args.finite("linspace", "end", end)
    if not _args.is_int(steps) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    arr = np.linspace(start, end, steps).astype(_dtype("linspace", dtype))
    return _make("linspace", arr, requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:  # fmt: skip
    """The ``n`` x ``m`` (default ``n`` x ``n``) identity matrix."""
    n = _args.ints("eye", "n", n)[0]
    m = n if m is None else _args.ints("eye", "m", m)[0]
    if n < 0 or m < 0:
        raise ValueError(f"eye: sizes must be non-negative, got {n} and {m}")
    return _make("eye", np.eye(n, m, dtype=_dtype("eye", dtype)), requires_grad, device)


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Uniform samples in [0, 1) of the given size."""
    shape, dt = _size("rand", size), _dtype("rand", dtype)
    arr = generator_or_default("rand", generator).random(shape).astype(dt)
    return _make("rand", arr, requires_grad, device)


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Standard normal samples of the given size."""
    shape, dt = _size("randn", size), _dtype("randn", dtype)
    arr = generator_or_default("randn", generator).standard_normal(shape).astype(dt)
    return _make("randn", arr, requires_grad, device)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Normal samples: ``normal(mean, std, size)`` with numbers, or one sample per element of
    ``mean`` and/or ``std`` Tensors (broadcast), as ``torch.normal``."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors and size is None:
        raise TypeError("normal: with numbers for mean and std, give a size too")
    mu = mean._data if isinstance(mean, Tensor) else _args.finite("normal", "mean", mean)
    sigma = std._data if isinstance(std, Tensor) else _args.finite("normal", "std", std, 0.0)
    if np.any(np.asarray(sigma) < 0):
        raise RuntimeError("normal: std must be >= 0")
    shape = _size("normal", (size,)) if size is not None else np.broadcast_shapes(
        np.shape(mu), np.shape(sigma))  # fmt: skip
    default = tensors[0].dtype if tensors else None
    dt = _dtype("normal", dtype, default)
    arr = generator_or_default("normal", generator).normal(mu, sigma, shape).astype(dt)
    return _make("normal", arr, requires_grad, device)


def bernoulli(input: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0, elementwise; in ``input``'s dtype."""
    probs = np.full(input.shape, p) if p is not None else input._data
    if not (np.all(probs >= 0) and np.all(probs <= 1)):
        raise RuntimeError("bernoulli: probabilities must be in [0, 1]")
    draws = generator_or_default("bernoulli", generator).random(input.shape) < probs
    return Tensor._wrap(draws.astype(input.dtype), False)


def randint(low: int, high: Any = None, size: Any = None, *, generator: Any = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False):  # fmt: skip
    """Random integers in ``[low, high)`` of ``size`` (``randint(high, size)`` too), int64."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(low=0, high, size)")
    lo, hi = _args.ints("randint", "low", low)[0], _args.ints("randint", "high", high)[0]
    if lo >= hi:
        raise ValueError(f"randint: low must be less than high, got {lo} and {hi}")
    shape = _size("randint", (size,))
    arr = generator_or_default("randint", generator).integers(lo, hi, shape)
    return _make("randint", arr.astype(_dtype("randint", dtype, dtypes.int64)), requires_grad,
                 device)  # fmt: skip


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    """A random permutation of ``0 .. n-1``, int64."""
    if not _args.is_int(n) or n < 0:
        raise ValueError(f"randperm: n must be an int >= 0, got {n!r}")
    arr = generator_or_default("randperm", generator).permutation(int(n))
    return _make("randperm", arr.astype(_dtype("randperm", dtype, dtypes.int64)), requires_grad,
                 device)  # fmt: skip


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Uniform samples in [0, 1) in ``input``'s shape and (floating) dtype."""
    shape, dt = _like("rand_like", input, dtype)
    return rand(shape, dtype=dt, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Standard normal samples in ``input``'s shape and (floating) dtype."""
    shape, dt = _like("randn_like", input, dtype)
    return randn(shape, dtype=dt, device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int, high: Any = None, *, dtype: Any = None,
                 device: Any = None) -> Tensor:  # fmt: skip
    """Random integers in ``[low, high)`` in ``input``'s shape (``randint_like(x, high)`` too)."""
    shape, dt = _like("randint_like", input, dtype)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, dtype=dt, device=device)


def is_tensor(obj: Any) -> bool:
    """True for Tensors (Parameters included)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()
