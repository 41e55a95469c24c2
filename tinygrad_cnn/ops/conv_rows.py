"""conv2d and its weight gradient by kernel rows: GEMMs with kW times more rows than the columns'.

With stride and dilation 1 and one group, take x's padded planes flat, with rows S long
(:func:`~tinygrad_cnn.ops.geometry.row_stride`: W plus the wider padding, shared between rows),
and a flat index j. Kernel row p of the window at j is the run ``xpad[c, j + p*S :]``, so the
C*kH kernel rows of every window are a copy of x kH times over (C*kH, Ho*S + kW - 1) per image,
not the kH*kW times of im2col's columns. Each kernel column q is then a shift of j by q:

- conv2d: ``T[o, q, j] = sum_{c, p} W[o, c, p, q] * rows[c, p, j]``, one GEMM with O*kW rows,
  and ``y[o, i, j'] = sum_q T[o, q, i*S + j' + q]``, kW shifted slabs added. For the outputs
  kept (j' < Wo) a shift past a row's end reads the next row's left padding: zeros.
- the weight gradient: ``dW[o, c, p, q] = sum_j dY[o, j - q] * rows[c, p, j]``, one GEMM of
  dY shifted kW ways (O*kW rows) with the rows (C*kH columns), summed over the images.

A GEMM with 8 or 16 rows (conv2d's O, im2col's layout) runs at a fraction of OpenBLAS's speed:
it packs every column to multiply it by a handful of weights. Here both sides have tens of rows.
:mod:`tinygrad_cnn.ops.conv` decides when (``by_kernel_rows``) and keeps the columns elsewhere.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.geometry import Geometry, pad_rows, row_stride


def kernel_rows(x: np.ndarray, geo: Geometry, out_hw):
    """x padded with rows S long, as a zero-copy view (N, C, kH, Ho*S + kW - 1) of each window
    row's run, S, and ``pad(n0, n1)``, which fills images n0..n1 of the padded copy the view
    reads (a block loop calls it first). A run reads up to kW - 1 elements past its plane
    (the array has a tail)."""
    (ho, wo), it = out_hw, x.dtype.itemsize
    s = row_stride(geo, x.shape[3], wo)
    xp, pad = pad_rows(x, geo, s, tail=geo.kw - 1)  # (N, C, Hp, S)
    view = as_strided(
        xp, shape=(*xp.shape[:2], geo.kh, ho * s + geo.kw - 1),
        strides=(*xp.strides[:2], s * it, it), writeable=False,
    )  # fmt: skip
    return view, s, pad


def conv2d_rows_blocks(x, w, geo: Geometry, out_hw, bias=None) -> workspace.Blocks:
    """conv2d (stride and dilation 1, one group): the first ``out_hw`` windows, plus ``bias``,
    by kernel rows (see the module's docstring), as blocks for
    :func:`~tinygrad_cnn.ops.workspace.run`."""
    n, c = x.shape[:2]
    o, kh, kw = w.shape[0], geo.kh, geo.kw
    ho, wo = out_hw
    rows, s, pad = kernel_rows(x, geo, (ho, wo))
    it, length = x.dtype.itemsize, rows.shape[-1]  # columns per image: Ho rows of S, and kW - 1
    wr = np.ascontiguousarray(w.transpose(0, 3, 1, 2)).reshape(o * kw, c * kh)  # (O*kW, C*kH)
    dtype = np.result_type(x, w)
    y = np.empty((n, o, ho, wo), dtype)
    span = ho * s  # output positions, Wo of each S kept

    def block(_, i0, i1):
        b = i1 - i0
        pad(i0, i1)
        cols = workspace.scratch("columns", (b, c, kh, length), x.dtype)
        np.copyto(cols, rows[i0:i1])
        t = workspace.scratch("product", (b, o, kw, length), dtype)
        np.matmul(wr, cols.reshape(b, c * kh, length), out=t.reshape(b, o * kw, length))
        # kernel column q's sums shifted by q: one view (b, O, kW, span) of t, summed over q
        # in one call (a loop of kW adds took 1.7 times as long, and released the GIL kW times)
        (t_b, t_o, t_q, _), it_t = t.strides, t.itemsize
        shifted = np.ndarray((b, o, kw, span), dtype, t, strides=(t_b, t_o, t_q + it_t, it_t))
        total = workspace.scratch("sums", (b, o, span), dtype)
        np.add.reduce(shifted, axis=2, out=total)
        y[i0:i1] = total.reshape(b, o, ho, s)[..., :wo]
        if bias is not None:
            y[i0:i1] += bias[:, None, None]

    return workspace.Blocks(n, (c * kh + o * kw) * length * it, block, lambda: y)


def conv2d_weight_rows_blocks(x, dy, geo: Geometry) -> workspace.Blocks:
    """conv2d's weight gradient (stride and dilation 1, one group; x finite, since the rows'
    extra columns meet zero gradients): (O, C, kH, kW), the blocks' products summed in a fixed
    order; as blocks for :func:`~tinygrad_cnn.ops.workspace.run`."""
    n, c = x.shape[:2]
    o, (ho, wo), kh, kw = dy.shape[1], dy.shape[2:], geo.kh, geo.kw
    rows, s, pad = kernel_rows(x, geo, (ho, wo))
    length, it = rows.shape[-1], x.dtype.itemsize
    image_bytes = (c * kh + o * kw) * length * it
    dtype, parts = np.result_type(x, dy), None

    def start(count: int) -> None:
        nonlocal parts
        parts = np.empty((count, o, kw, c, kh), dtype)

    def block(j, i0, i1):
        b = i1 - i0
        pad(i0, i1)
        cols = workspace.scratch("columns", (c, kh, b, length), x.dtype)
        np.copyto(cols, rows[i0:i1].transpose(1, 2, 0, 3))
        shifted = workspace.scratch("product", (o, kw, b, length), dy.dtype)
        shifted.fill(0)
        # dY's (i, j') at flat i*S + j' + q for each q: one strided view, written in one call
        (s_o, s_q, s_b, _), it_d = shifted.strides, shifted.itemsize
        strides = (s_o, s_q + it_d, s_b, s * it_d, it_d)
        shifts = np.ndarray((o, kw, b, ho, wo), shifted.dtype, shifted, strides=strides)
        shifts[...] = dy[i0:i1].transpose(1, 0, 2, 3)[:, None]
        np.matmul(
            shifted.reshape(o * kw, b * length),
            cols.reshape(c * kh, b * length).T,
            out=parts[j].reshape(o * kw, c * kh),
        )

    def finish() -> np.ndarray:
        return np.ascontiguousarray(parts.sum(axis=0).transpose(0, 2, 3, 1))

    return workspace.Blocks(n, image_bytes, block, finish, start, quiet=lambda: parts)
