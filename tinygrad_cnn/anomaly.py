"""Anomaly mode: find the first op whose output, or whose VJP's output, holds NaN or Inf."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

Fn = TypeVar("Fn", bound=Callable[..., Any])

_PACKAGE = os.path.dirname(os.path.abspath(__file__))

# The switch: how many detect_anomaly() blocks are open. Process-wide, as in PyTorch, and a plain
# module global, so that while it is 0 applying an op pays one lookup for it.
active = 0


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()``."""
    return active > 0


class detect_anomaly:
    """Context manager and decorator: forward and backward raise a RuntimeError at the first op
    whose output, or whose VJP's output, holds NaN or Inf. The message names the op, the module
    path, the file and line of your code that called it, and its inputs' ranges.

    >>> import numpy as np
    >>> from tinygrad_cnn import Tensor, detect_anomaly
    >>> with np.errstate(invalid="ignore"), detect_anomaly():  # doctest: +ELLIPSIS
    ...     Tensor([-1.0]).sqrt()
    Traceback (most recent call last):
    RuntimeError: detect_anomaly: op 'sqrt' produced NaN/Inf in its output ...
    """

    def __enter__(self) -> None:
        global active
        active += 1

    def __exit__(self, *exc: object) -> None:
        global active
        active -= 1

    def __call__(self, fn: Fn) -> Fn:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def user_frame() -> str:
    """``file:line`` of the innermost caller outside this package."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return "?" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def module_path(scope: Any) -> str | None:
    """The dotted path of the module that recorded a node (``"features.3"``), from its scope."""
    return None if not scope else ".".join(name for name, _ in scope[1:])


def _stats(name: str, a: Any) -> str:
    a = np.asarray(getattr(a, "_data", a))
    if a.dtype.kind not in "fc" or a.size == 0:
        return f"{name} {a.shape} {a.dtype}"
    finite = np.isfinite(a)
    bad = int(a.size - finite.sum())
    rng = f"min {a[finite].min():.4g}, max {a[finite].max():.4g}" if bad < a.size else "no finite"
    return f"{name} {a.shape}: {rng}, {bad} NaN/Inf"


def anomaly_error(what: str, op: Any, scope: Any, where: str, arrays: list) -> RuntimeError:
    module = module_path(scope)
    lines = [
        f"detect_anomaly: op '{op.name}' produced NaN/Inf in {what}",
        f"  module: {'(none)' if module is None else module or '(the model itself)'}",
        f"  called at: {where}",
        *(f"  {_stats(name, a)}" for name, a in arrays),
    ]
    return RuntimeError("\n".join(lines))


def check_forward(op: Any, inputs: tuple, out: np.ndarray, scope: Any) -> None:
    """Raise the anomaly error if ``out`` (an op's forward output) holds NaN or Inf."""
    if out.dtype.kind in "fc" and not np.isfinite(out).all():
        named = [(f"input {i}", t._data) for i, t in enumerate(inputs)]
        raise anomaly_error("its output", op, scope, user_frame(), named)


def check_backward(node: Any, i: int, g: Any, gi: Any) -> None:
    """Raise the anomaly error if ``gi``, the VJP's gradient for input ``i``, holds NaN/Inf."""
    if not np.isfinite(getattr(gi, "_data", gi)).all():
        where = getattr(node, "where", "? (recorded outside detect_anomaly)")
        arrays = [("upstream gradient", g), (f"gradient for input {i}", gi)]
        raise anomaly_error(f"its VJP (input {i})", node.op, node.scope, where, arrays)
