"""conv2d and conv_transpose2d: one GEMM per direction, windows from strided views.

Layout: NCHW; conv2d weight (C_out, C_in/groups, kH, kW); conv_transpose2d weight
(C_in, C_out/groups, kH, kW), as in PyTorch.

Three array kernels do all the work, and the two ops share them with roles swapped:

- ``im2col``: the padded input's windows, a zero-copy strided view
  (C, kH, kW, N, Ho, Wo), copied once into a matrix (C*kH*kW, N*Ho*Wo).
- ``conv_gemm``: weight (O, C/G*kH*kW) @ columns -> (O, N*Ho*Wo), one GEMM per group.
- ``col2im``: the adjoint of im2col. It scatters columns back with a loop over the kH*kW kernel
  offsets (never over output pixels): each offset adds one strided slab.

conv2d forward = im2col + GEMM; its input gradient = GEMM (W^T @ dY) + col2im, which *is*
conv_transpose2d's forward; and conv_transpose2d's input gradient is conv2d's forward.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops.registry import Op, builtin_strategy, register_op


class Geometry(NamedTuple):
    """Window geometry: kernel, stride, dilation, and padding (top, bottom, left, right)."""

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pb: int
    pl: int
    pr: int

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        """Number of windows along H and W (rounded down, as in PyTorch)."""
        ho = (h + self.pt + self.pb - self.dh * (self.kh - 1) - 1) // self.sh + 1
        wo = (w + self.pl + self.pr - self.dw * (self.kw - 1) - 1) // self.sw + 1
        return ho, wo

    def offsets(self, ho: int, wo: int):
        """For each kernel offset (p, q): the slices of the padded input that it reads."""
        for p in range(self.kh):
            h0 = p * self.dh
            hs = slice(h0, h0 + self.sh * (ho - 1) + 1, self.sh)
            for q in range(self.kw):
                w0 = q * self.dw
                yield p, q, hs, slice(w0, w0 + self.sw * (wo - 1) + 1, self.sw)


def pad_nchw(x: np.ndarray, geo: Geometry, fill: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (N, C, pt+H+pb, pl+W+pr); returns x itself when there is no padding."""
    if not (geo.pt or geo.pb or geo.pl or geo.pr):
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + geo.pt + geo.pb, w + geo.pl + geo.pr), fill, dtype=x.dtype)
    xp[:, :, geo.pt : geo.pt + h, geo.pl : geo.pl + w] = x
    return xp


def im2col(x: np.ndarray, geo: Geometry, out_hw=None) -> tuple[np.ndarray, int, int]:
    """(N, C, H, W) -> columns (C*kH*kW, N*Ho*Wo), and Ho, Wo (``out_hw`` keeps only the first
    Ho x Wo windows)."""
    n, c, h, w = x.shape
    ho, wo = geo.out_size(h, w) if out_hw is None else out_hw
    xp = pad_nchw(x, geo)
    s_n, s_c, s_h, s_w = xp.strides
    windows = as_strided(  # (C, kH, kW, N, Ho, Wo), a view: nothing copied yet
        xp,
        shape=(c, geo.kh, geo.kw, n, ho, wo),
        strides=(s_c, s_h * geo.dh, s_w * geo.dw, s_n, s_h * geo.sh, s_w * geo.sw),
        writeable=False,
    )
    cols = np.empty(windows.shape, dtype=x.dtype)
    np.copyto(cols, windows)  # the one copy: (C, kH, kW, N, Ho, Wo), contiguous
    return cols.reshape(c * geo.kh * geo.kw, n * ho * wo), ho, wo


def col2im(cols: np.ndarray, shape: tuple[int, ...], geo: Geometry, ho: int, wo: int) -> np.ndarray:
    """The adjoint of :func:`im2col`: columns (C*kH*kW, N*Ho*Wo) -> (N, C, H, W) = ``shape``."""
    n, c, h, w = shape
    c6 = cols.reshape(c, geo.kh, geo.kw, n, ho, wo)
    # accumulate in (C, N, Hp, Wp) so each slab add reads c6[:, p, q] contiguously
    acc = np.zeros((c, n, h + geo.pt + geo.pb, w + geo.pl + geo.pr), dtype=cols.dtype)
    for p, q, hs, ws in geo.offsets(ho, wo):
        acc[:, :, hs, ws] += c6[:, p, q]  # (C, N, Ho, Wo) into its strided window positions
    out = acc[:, :, geo.pt : geo.pt + h, geo.pl : geo.pl + w]
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3))  # (C, N, H, W) -> (N, C, H, W)


def conv_gemm(w: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """weight (O, C/G, kH, kW) @ columns (C*kH*kW, M) -> (O, M), one GEMM per group."""
    o = w.shape[0]
    if groups == 1:
        return w.reshape(o, -1) @ cols
    wg = w.reshape(groups, o // groups, -1)  # (G, O/G, C/G*kH*kW)
    return (wg @ cols.reshape(groups, wg.shape[2], -1)).reshape(o, -1)


def conv_gemm_t(w: np.ndarray, g2: np.ndarray, groups: int) -> np.ndarray:
    """weight^T @ (O, M) -> columns (C*kH*kW, M): the transpose of :func:`conv_gemm`."""
    o = w.shape[0]
    if groups == 1:
        return w.reshape(o, -1).T @ g2
    wg = w.reshape(groups, o // groups, -1)
    return (wg.transpose(0, 2, 1) @ g2.reshape(groups, o // groups, -1)).reshape(-1, g2.shape[1])


def weight_grad(
    g2: np.ndarray, cols: np.ndarray, w_shape: tuple[int, ...], groups: int
) -> np.ndarray:
    """dW = dY (O, M) @ columns^T (M, C*kH*kW), per group, reshaped to ``w_shape``."""
    o = w_shape[0]
    if groups == 1:
        return (g2 @ cols.T).reshape(w_shape)
    gg = g2.reshape(groups, o // groups, -1)  # (G, O/G, M)
    cg = cols.reshape(groups, -1, cols.shape[1])  # (G, C/G*kH*kW, M)
    return (gg @ cg.transpose(0, 2, 1)).reshape(w_shape)


def to_channels_first(y: np.ndarray) -> np.ndarray:
    """(N, O, Ho, Wo) -> (O, N*Ho*Wo), the GEMM layout."""
    n, o, ho, wo = y.shape
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3)).reshape(o, n * ho * wo)


def from_channels_first(y2: np.ndarray, n: int, ho: int, wo: int) -> np.ndarray:
    """(O, N*Ho*Wo) -> (N, O, Ho, Wo), contiguous."""
    return np.ascontiguousarray(y2.reshape(-1, n, ho, wo).transpose(1, 0, 2, 3))


def _bias_grad(g: np.ndarray) -> np.ndarray:
    return g.sum(axis=(0, 2, 3))


@register_op(strategy=builtin_strategy("conv2d_inputs"), linear_in=(0, 1, 2))
class Conv2d(Op):
    """2-D cross-correlation: ``y[n, o] = b[o] + sum_c W[o, c] * x[n, c]`` over each window."""

    name = "conv2d"

    @staticmethod
    def forward(ctx, x, w, b=None, *, geometry, groups=1):
        cols, ho, wo = im2col(x, geometry)  # (C*kH*kW, N*Ho*Wo)
        y2 = conv_gemm(w, cols, groups)  # (O, N*Ho*Wo)
        if b is not None:
            y2 += b[:, None]
        ctx.w, ctx.x_shape, ctx.hw = w, x.shape, (ho, wo)
        if not ctx.needs_input_grad or ctx.needs_input_grad[1]:
            ctx.cols = cols  # only the weight gradient needs the columns
        return from_channels_first(y2, x.shape[0], ho, wo)

    @staticmethod
    def vjp(ctx, g):
        attrs = ctx.attrs
        geo, groups = attrs["geometry"], attrs["groups"]
        need = ctx.needs_input_grad
        g2 = to_channels_first(g)  # (O, N*Ho*Wo)
        gx = gw = gb = None
        if need[0]:
            gx = col2im(conv_gemm_t(ctx.w, g2, groups), ctx.x_shape, geo, *ctx.hw)
        if need[1]:
            gw = weight_grad(g2, ctx.cols, ctx.w.shape, groups)
        if len(need) > 2 and need[2]:
            gb = _bias_grad(g)
        return (gx, gw, gb)[: len(need)]


@register_op(strategy=builtin_strategy("conv_transpose2d_inputs"), linear_in=(0, 1, 2))
class ConvTranspose2d(Op):
    """The adjoint of conv2d in its input: each input pixel scatters ``W`` into the output."""

    name = "conv_transpose2d"

    @staticmethod
    def forward(ctx, x, w, b=None, *, geometry, groups=1, out_hw):
        n, _, h, wd = x.shape
        x2 = to_channels_first(x)  # (C_in, N*H*W): plays conv2d's dY
        cols = conv_gemm_t(w, x2, groups)  # (C_out*kH*kW, N*H*W)
        c_out = w.shape[1] * groups
        y = col2im(cols, (n, c_out, *out_hw), geometry, h, wd)
        if b is not None:
            y += b[:, None, None]
        ctx.w, ctx.x2, ctx.hw = w, x2, (h, wd)
        return y

    @staticmethod
    def vjp(ctx, g):
        attrs = ctx.attrs
        geo, groups = attrs["geometry"], attrs["groups"]
        need = ctx.needs_input_grad
        # conv2d's forward on dY: (C_out*kH*kW, N*H*W). Only the first H x W windows: with an
        # output_padding >= stride (allowed when < dilation) dY has room for more.
        gcols, h, wd = im2col(g, geo, ctx.hw)
        gx = gw = gb = None
        if need[0]:
            gx = from_channels_first(conv_gemm(ctx.w, gcols, groups), g.shape[0], h, wd)
        if need[1]:
            gw = weight_grad(ctx.x2, gcols, ctx.w.shape, groups)
        if len(need) > 2 and need[2]:
            gb = _bias_grad(g)
        return (gx, gw, gb)[: len(need)]
