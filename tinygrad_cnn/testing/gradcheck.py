"""Numerical gradient checking in float64 with central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.backward import grad
from tinygrad_cnn.engine import enable_grad, no_grad
from tinygrad_cnn.functional import concatenate
from tinygrad_cnn.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with finite differences."""


def _prepare(inputs: Any) -> tuple[list[Tensor], list[int]]:
    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = (inputs,)
    ts = [x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in inputs]
    wanted = [i for i, t in enumerate(ts) if t.requires_grad]
    if not wanted:
        wanted = [i for i, t in enumerate(ts) if t.dtype.kind == "f"]
    if not wanted:
        raise ValueError("gradcheck: no floating-point input to check")
    xs = []
    for i, t in enumerate(ts):
        if i in wanted:
            # a C-ordered float64 copy: numerical_grad perturbs it in place through a flat view
            xs.append(Tensor._wrap(np.array(t._data, dtype=np.float64, order="C"), True))
        else:
            xs.append(Tensor._wrap(t._data, False))
    return xs, wanted


def _value(fn: Callable[..., Tensor], xs: list[Tensor], v: np.ndarray) -> float:
    with no_grad():
        out = fn(*xs)
    return float(np.sum(np.asarray(out._data, dtype=np.float64) * v))


def numerical_grad(
    fn: Callable[..., Tensor], xs: Sequence[Tensor], i: int, v: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central differences of ``<fn(*xs), v>`` with respect to ``xs[i]`` (perturbed in place)."""
    x = xs[i]._data
    num = np.zeros_like(x)
    flat, nflat = x.reshape(-1), num.reshape(-1)  # views of the C-ordered copy
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = _value(fn, xs, v)
        flat[j] = orig - eps
        minus = _value(fn, xs, v)
        flat[j] = orig
        nflat[j] = (plus - minus) / (2 * eps)
    return num


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    fast_mode: bool = False,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central differences, in float64.

    Inputs that require grad are checked (all floating inputs if none does); they are copied to
    float64. A random upstream gradient ``v`` turns the output into the scalar ``<fn(x), v>``, whose
    gradient is compared elementwise: ``|analytic - numeric| <= atol + rtol * |numeric|``.
    With ``fast_mode=True`` only one random direction ``u`` is compared, ``<v, J u>`` both ways:
    one scalar per check, cheap for big inputs.

    Returns True, or raises :class:`GradcheckError` naming the input, the worst element's index
    and both values (returns False instead with ``raise_exception=False``).

    >>> from tinygrad_cnn import Tensor, gradcheck
    >>> gradcheck(lambda x: (x * x).sum(), [Tensor([1.0, 2.0], requires_grad=True)])
    True
    """
    xs, wanted = _prepare(inputs)
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if not np.all(np.isfinite(out._data)):
        msg = "gradcheck: the output holds NaN or Inf, so its gradient cannot be checked"
        if raise_exception:
            raise GradcheckError(msg)
        return False
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(out.shape)
    if out.requires_grad:
        out.backward(v.astype(out.dtype))
    analytic = [np.zeros(xs[i].shape) if xs[i].grad is None else xs[i].grad._data for i in wanted]

    if fast_mode:
        us = [rng.standard_normal(xs[i].shape) for i in wanted]
        saved = [xs[i]._data.copy() for i in wanted]
        for i, u in zip(wanted, us):
            xs[i]._data = np.asarray(saved[wanted.index(i)] + eps * u)  # 0-d stays an array
        plus = _value(fn, xs, v)
        for i, u in zip(wanted, us):
            xs[i]._data = np.asarray(saved[wanted.index(i)] - eps * u)
        minus = _value(fn, xs, v)
        for k, i in enumerate(wanted):
            xs[i]._data = saved[k]
        numeric = (plus - minus) / (2 * eps)
        exact = float(sum(np.sum(a * u) for a, u in zip(analytic, us)))
        if abs(exact - numeric) <= atol + rtol * abs(numeric):
            return True
        msg = (
            f"gradcheck (fast mode): the directional derivative <v, J u> is {exact!r} from the "
            f"VJP but {numeric!r} from finite differences"
        )
        if raise_exception:
            raise GradcheckError(msg)
        return False

    for k, i in enumerate(wanted):
        x = xs[i]._data
        num = numerical_grad(fn, xs, i, v, eps)
        a = analytic[k]
        excess = np.abs(a - num) - (atol + rtol * np.abs(num))
        finite = np.isfinite(a) & np.isfinite(num)  # NaN compares False: never let it pass
        if excess.size and (not np.all(finite) or np.max(excess) > 0):
            bad = np.where(finite, excess, np.inf)
            idx = np.unravel_index(int(np.argmax(bad)), x.shape)
            msg = (
                f"gradcheck: gradient of input {i} (shape {x.shape}) disagrees at index "
                f"{tuple(int(j) for j in idx)}: analytic {a[idx]!r}, numeric {num[idx]!r} "
                f"(atol={atol}, rtol={rtol})"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    fast_mode: bool = False,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: the recorded VJP of ``fn`` against finite differences of it.

    The VJP ``(x, g) -> g^T J(x)`` is computed with ``grad(..., create_graph=True)`` and checked
    by :func:`gradcheck` in all its inputs: the checked inputs of ``fn`` and the upstream
    gradient ``g`` (``grad_outputs``, random if None), which is the last input in the report.
    Raises :class:`GradcheckError` like ``gradcheck`` (or returns False); an op that cannot
    record its VJP makes ``grad`` raise a RuntimeError naming it.

    >>> from tinygrad_cnn import Tensor, gradgradcheck
    >>> gradgradcheck(lambda x: x.tanh() * x, [Tensor([0.5, -1.0], requires_grad=True)])
    True
    """
    xs, wanted = _prepare(inputs)
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradgradcheck: fn must return a Tensor, got {type(out).__name__}")
    if grad_outputs is None:
        g0 = np.random.default_rng(seed + 1).standard_normal(out.shape)
    else:
        g0 = np.asarray(getattr(grad_outputs, "_data", grad_outputs), dtype=np.float64)
        if g0.shape != out.shape:
            raise ValueError(
                f"gradgradcheck: grad_outputs has shape {g0.shape}, the output {out.shape}"
            )

    def vjp(*args: Tensor) -> Tensor:
        *ins, g = args
        with enable_grad():  # gradcheck evaluates under no_grad; the VJP needs the graph
            y = fn(*ins)
            gs = grad(y, [ins[i] for i in wanted], g, create_graph=True, allow_unused=True)
            flat = [
                (gi if gi is not None else Tensor._wrap(np.zeros(ins[i].shape), False)).reshape(-1)
                for i, gi in zip(wanted, gs)
            ]
            return concatenate(flat)

    g = Tensor._wrap(g0, True)
    return gradcheck(
        vjp, [*xs, g], eps, atol, rtol, fast_mode=fast_mode, seed=seed,
        raise_exception=raise_exception,
    )  # fmt: skip
