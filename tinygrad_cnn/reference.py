"""The classic step-by-step convolution API, as clear loops: a teaching aid and an oracle.

These are the functions of the well-known "Convolutional Neural Networks: Step by Step"
assignment, with its conventions, so you can put your notebook next to them:

- activations are NHWC: ``A_prev`` has shape (m, n_H_prev, n_W_prev, n_C_prev);
- conv weights ``W`` have shape (f, f, n_C_prev, n_C), biases ``b`` (1, 1, 1, n_C);
- ``hparameters`` are dicts: ``{"stride": s, "pad": p}`` for conv, ``{"f": f, "stride": s}``
  for pooling; forward functions return ``(output, cache)``.

The fast framework (:func:`tinygrad_cnn.functional.conv2d`, ``pool2d``) is NCHW with weights
(n_C, n_C_prev, f, f); the tests check both give the same numbers.

Four bugs that copies of this assignment often carry are fixed here, each with a test:

1. ``conv_backward`` with ``pad=0``: slicing ``[pad:-pad]`` is ``[0:0]``, an empty array. We
   slice ``[pad:pad + n_H_prev]``.
2. Ties in max pooling: a mask ``x == np.max(x)`` gives the gradient to *every* maximum. Our
   mask has exactly one True, at the first maximum (row-major), as the fast op does.
3. A mode string mismatch ("avg" vs "average") silently returning zeros: we accept both and
   raise ValueError for anything else.
4. A ``return`` inside the loop over examples, which returns after the first one.
"""

from __future__ import annotations

import numpy as np

_MODES = {"max": "max", "average": "average", "avg": "average"}


def _mode(mode: str) -> str:
    try:
        return _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"pool: mode must be 'max' or 'average' ('avg'), got {mode!r}") from None


def zero_pad(X: np.ndarray, pad: int) -> np.ndarray:
    """Pad the height and width of every image with zeros.

    X (m, n_H, n_W, n_C) -> (m, n_H + 2*pad, n_W + 2*pad, n_C).

    >>> zero_pad(np.ones((1, 2, 2, 1)), 1)[0, :, :, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 0., 0., 0.]])
    """
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=0)


def conv_single_step(a_slice_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> float:
    """One filter on one window: ``sum(a_slice_prev * W) + b``, as a Python float.

    a_slice_prev and W: (f, f, n_C_prev); b: (1, 1, 1).
    """
    s = a_slice_prev * W  # element-wise product
    Z = np.sum(s)  # sum over all entries of the volume
    return float(Z + np.asarray(b).item())  # add the bias


def _conv_output_size(n_prev: int, f: int, pad: int, stride: int) -> int:
    return (n_prev - f + 2 * pad) // stride + 1


def conv_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, hparameters: dict):
    """Convolution forward pass.

    A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C),
    hparameters ``{"stride": s, "pad": p}`` -> Z (m, n_H, n_W, n_C) and
    ``cache = (A_prev, W, b, hparameters)``, with n_H = floor((n_H_prev - f + 2p) / s) + 1.
    """
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    n_H = _conv_output_size(n_H_prev, f, pad, stride)
    n_W = _conv_output_size(n_W_prev, f, pad, stride)
    Z = np.zeros((m, n_H, n_W, n_C), dtype=np.result_type(A_prev, W))
    A_prev_pad = zero_pad(A_prev, pad)
    for i in range(m):  # loop over the batch of examples
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):  # loop over the vertical axis of the output
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):  # loop over the horizontal axis of the output
                horiz_start = w * stride
                horiz_end = horiz_start + f
                for c in range(n_C):  # loop over the channels (filters) of the output
                    a_slice_prev = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, W[:, :, :, c], b[:, :, :, c])
    cache = (A_prev, W, b, hparameters)
    return Z, cache


# --8<-- [start:conv_backward]
def conv_backward(dZ: np.ndarray, cache: tuple):
    """Convolution backward pass.

    dZ (m, n_H, n_W, n_C) and the cache of :func:`conv_forward` -> ``(dA_prev, dW, db)`` with the
    shapes of A_prev, W and b.
    """
    (A_prev, W, b, hparameters) = cache
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    (m, n_H, n_W, n_C) = dZ.shape
    dA_prev = np.zeros(A_prev.shape, dtype=dZ.dtype)
    dW = np.zeros(W.shape, dtype=dZ.dtype)
    db = np.zeros(b.shape, dtype=dZ.dtype)
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad = zero_pad(dA_prev, pad)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start, horiz_start = h * stride, w * stride
                    vert_end, horiz_end = vert_start + f, horiz_start + f
                    a_slice = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    # each output value got W[..., c] * window, so the window gets W * dZ ...
                    da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] += (
                        W[:, :, :, c] * dZ[i, h, w, c]
                    )
                    # ... and the filter gets window * dZ; the bias gets dZ
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
        # bug fix 1: [pad:-pad] would be empty for pad == 0
        dA_prev[i, :, :, :] = da_prev_pad[pad : pad + n_H_prev, pad : pad + n_W_prev, :]
    # bug fix 4: return after the loop over examples, not inside it
    return dA_prev, dW, db


# --8<-- [end:conv_backward]


def pool_forward(A_prev: np.ndarray, hparameters: dict, mode: str = "max"):
    """Pooling forward pass.

    A_prev (m, n_H_prev, n_W_prev, n_C), hparameters ``{"f": f, "stride": s}``, mode ``"max"`` or
    ``"average"`` -> A (m, n_H, n_W, n_C) and ``cache = (A_prev, hparameters)``, with
    n_H = floor((n_H_prev - f) / s) + 1.
    """
    mode = _mode(mode)
    (m, n_H_prev, n_W_prev, n_C) = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H = (n_H_prev - f) // stride + 1
    n_W = (n_W_prev - f) // stride + 1
    A = np.zeros((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                for c in range(n_C):
                    a_prev_slice = A_prev[i, vert_start:vert_end, horiz_start:horiz_end, c]
                    if mode == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    else:
                        A[i, h, w, c] = np.mean(a_prev_slice)
    cache = (A_prev, hparameters)
    return A, cache


def create_mask_from_window(x: np.ndarray) -> np.ndarray:
    """A boolean mask of x's shape with exactly one True, at the first maximum (row-major).

    >>> create_mask_from_window(np.array([[1.0, 3.0], [3.0, 0.0]]))
    array([[False,  True],
           [False, False]])
    """
    mask = np.zeros(x.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True  # bug fix 2: not x == np.max(x)
    return mask


def distribute_value(dz: float, shape: tuple[int, int]) -> np.ndarray:
    """An array of ``shape`` (n_H, n_W) filled with dz / (n_H * n_W).

    >>> distribute_value(2.0, (2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    (n_H, n_W) = shape
    average = dz / (n_H * n_W)
    return np.ones(shape) * average


def pool_backward(dA: np.ndarray, cache: tuple, mode: str = "max") -> np.ndarray:
    """Pooling backward pass: dA (m, n_H, n_W, n_C) and the cache of :func:`pool_forward` ->
    dA_prev with the shape of A_prev."""
    mode = _mode(mode)  # bug fix 3: an unknown mode is an error, never silent zeros
    (A_prev, hparameters) = cache
    stride, f = hparameters["stride"], hparameters["f"]
    m, n_H, n_W, n_C = dA.shape
    dA_prev = np.zeros(A_prev.shape, dtype=np.result_type(dA, A_prev))
    for i in range(m):
        a_prev = A_prev[i]
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start, horiz_start = h * stride, w * stride
                    vert_end, horiz_end = vert_start + f, horiz_start + f
                    if mode == "max":
                        a_prev_slice = a_prev[vert_start:vert_end, horiz_start:horiz_end, c]
                        mask = create_mask_from_window(a_prev_slice)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += (
                            mask * dA[i, h, w, c]
                        )
                    else:
                        da = dA[i, h, w, c]
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += (
                            distribute_value(da, (f, f))
                        )
    return dA_prev
