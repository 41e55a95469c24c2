"""Training helpers: gradient clipping, as ``torch.nn.utils``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_cnn import args as _args
from tinygrad_cnn import functional as F
from tinygrad_cnn.tensor import Tensor


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their joint norm (the norm of all
    of them concatenated) is at most ``max_norm``; returns that norm, measured before clipping,
    as a 0-d Tensor, as ``torch.nn.utils.clip_grad_norm_``.

    The factor is ``min(1, max_norm / (total_norm + 1e-6))``; parameters without a gradient are
    skipped; ``norm_type`` may be ``inf`` (the largest magnitude). A NaN or Inf norm raises a
    RuntimeError with ``error_if_nonfinite``, and otherwise scales the gradients by NaN or 0, as
    PyTorch does.
    """
    fn = "clip_grad_norm_"
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__} at {i}")
    max_norm = float(_args.finite(fn, "max_norm", max_norm, 0.0))
    norm_type = float(_args.number(fn, "norm_type", norm_type))
    if not norm_type > 0:
        raise ValueError(f"{fn}: norm_type must be > 0 (or inf), got {norm_type}")
    grads = [p.grad._data for p in params if p.grad is not None]
    if not grads:
        return Tensor._wrap(np.array(0.0, np.float32), False)
    if norm_type == np.inf:
        norms = [np.max(np.abs(g)) if g.size else np.zeros((), g.dtype) for g in grads]
        total = np.max(np.stack(norms))
    else:
        norms = [np.linalg.norm(g.reshape(-1), norm_type) for g in grads]
        total = np.linalg.norm(np.stack(norms), norm_type)
    total = np.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"{fn}: the total norm of order {norm_type} of the gradients is {float(total)}; "
            "pass error_if_nonfinite=False to scale them anyway"
        )
    coef = max_norm / (float(total) + 1e-6)  # inf: 0; NaN: NaN (clamping keeps a NaN)
    coef = coef if np.isnan(coef) else min(coef, 1.0)
    if coef != 1.0:
        for p in params:
            if p.grad is not None:
                with np.errstate(invalid="ignore"):  # inf * 0 = NaN where the norm was inf
                    p.grad._data *= np.asarray(coef, p.grad.dtype)
                p.grad.bump_version()
    return Tensor._wrap(np.asarray(total), False)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient into ``[-clip_value, clip_value]``, in place."""
    clip = _args.finite("clip_grad_value_", "clip_value", clip_value, 0.0)
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if p.grad is not None:
            np.clip(p.grad._data, -clip, clip, out=p.grad._data)
            p.grad.bump_version()


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters, flattened and joined into one vector (recorded: gradients flow back)."""
    return F.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    params = list(parameters)
    n = sum(p.numel() for p in params)
    if not isinstance(vec, Tensor) or vec.ndim != 1 or vec.numel() != n:
        raise ValueError(f"vector_to_parameters: expected a 1-D tensor of {n} values")
    start = 0
    for p in params:
        p._data[...] = vec._data[start : start + p.numel()].reshape(p.shape)
        p.bump_version()
        start += p.numel()
