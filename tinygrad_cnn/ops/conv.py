"""conv2d and conv_transpose2d: one GEMM per direction, windows from strided views.

Layout: NCHW; conv2d weight (C_out, C_in/groups, kH, kW); conv_transpose2d weight
(C_in, C_out/groups, kH, kW), as in PyTorch.

Three array kernels do all the work, and the two ops share them with roles swapped:

- ``im2col``: the padded input's windows, a zero-copy strided view
  (C, kH, kW, N, Ho, Wo), copied once into a matrix (C*kH*kW, N*Ho*Wo). With stride 1 the
  columns of each output row run over the whole padded width Wp (see ``column_width``), so the
  copy moves long contiguous runs.
- ``conv_gemm``: weight (O, C/G*kH*kW) @ columns -> (O, N*Ho*Wo), one GEMM per group.
- ``col2im``: the adjoint of im2col. It scatters columns back with a loop over the kH*kW kernel
  offsets (never over output pixels): each offset adds one strided slab.

conv2d forward = im2col + GEMM; its input gradient = GEMM (W^T @ dY) + col2im, which *is*
conv_transpose2d's forward; and conv_transpose2d's input gradient is conv2d's forward. Both
weight gradients are :func:`conv2d_weight` (also an op), whose own gradients are conv2d and
conv_transpose2d again. Each VJP is written once with ``ctx.xp.conv2d``,
``ctx.xp.conv_transpose2d`` and ``ctx.xp.conv2d_weight`` (:mod:`tinygrad_cnn.ops.xp`): the array
kernels of those names on the first-order path, the ops of those names under ``create_graph``,
so any order of derivative goes through the same three kernels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.geometry import Geometry, crop, pad_nchw, strided_slice
from tinygrad_cnn.ops.registry import Op, register_op

# Use the padded-width layout while it wastes at most this fraction of the GEMM's columns
# (tests set it to -1 or inf to force the strided or the padded-width layout).
MAX_WIDTH_WASTE = 0.5
# conv_transpose2d's path (conv2d's input gradient): "auto" copies less; tests force "full"
# (where it applies) or "transpose"
INPUT_GRAD_PATH = "auto"


def column_width(geo: Geometry, w: int, wo: int) -> int:
    """Columns per output row in the GEMM layout.

    Stride 1: the padded width Wp. Window offset (p, q) then reads one contiguous run of
    Ho*Wp elements from each padded plane (fast copies), and the Wp - Wo extra columns per row
    are discarded from the output (their gradient is zero). That costs (Wp - Wo) / Wo more GEMM
    work, so narrow images with wide padding use Wo, from a strided view, as other strides do.
    """
    wp = w + geo.pl + geo.pr
    if geo.sh == geo.sw == 1 and (wp - wo) <= MAX_WIDTH_WASTE * wo:
        return wp
    return wo


# --8<-- [start:im2col]
def im2col(x: np.ndarray, geo: Geometry, out_hw=None):
    """(N, C, H, W) -> columns (C*kH*kW, N*Ho*width), Ho, Wo, width (see :func:`column_width`).

    ``out_hw`` keeps only the first Ho x Wo windows.
    """
    n, c, h, w = x.shape
    ho, wo = geo.out_size(h, w)
    if out_hw is not None:
        if out_hw[0] > ho or out_hw[1] > wo:  # more windows than fit would read out of bounds
            raise RuntimeError(f"im2col: {out_hw} windows requested, only {(ho, wo)} fit")
        ho, wo = out_hw
    width = column_width(geo, w, wo)
    it = x.dtype.itemsize
    if width != wo:  # runs of Ho*Wp, reading up to (kW-1)*dW past a plane's end
        xp = pad_nchw(x, geo, tail=(geo.kw - 1) * geo.dw)
        plane = xp.shape[2] * xp.shape[3]
        windows = as_strided(  # (C, kH, kW, N, Ho*Wp), a view: nothing copied yet
            xp,
            shape=(c, geo.kh, geo.kw, n, ho * width),
            strides=(plane * it, geo.dh * width * it, geo.dw * it, c * plane * it, it),
            writeable=False,
        )
    else:
        xp = pad_nchw(x, geo)
        s_n, s_c, s_h, s_w = xp.strides
        windows = as_strided(  # (C, kH, kW, N, Ho, Wo), a view
            xp,
            shape=(c, geo.kh, geo.kw, n, ho, wo),
            strides=(s_c, s_h * geo.dh, s_w * geo.dw, s_n, s_h * geo.sh, s_w * geo.sw),
            writeable=False,
        )
    cols = workspace.empty(windows.shape, x.dtype)

    def copy(c0: int, c1: int) -> None:
        np.copyto(cols[c0:c1], windows[c0:c1])  # the one copy, split by channels

    workspace.parallel_ranges(copy, c, cols.nbytes)
    return cols.reshape(c * geo.kh * geo.kw, n * ho * width), ho, wo, width


# --8<-- [end:im2col]


# --8<-- [start:col2im]
def col2im(cols: np.ndarray, shape: tuple[int, ...], geo: Geometry, ho: int, width: int):
    """The adjoint of :func:`im2col`: columns (C*kH*kW, N*Ho*width) -> (N, C, H, W) = ``shape``.

    Loops over the kH*kW kernel offsets; each adds one (C, N, ...) slab of columns into the
    window positions it came from.
    """
    n, c, h, w = shape
    hp, wp = h + geo.pt + geo.pb, w + geo.pl + geo.pr
    plane, it = hp * wp, cols.dtype.itemsize
    c5 = cols.reshape(c, geo.kh, geo.kw, n, ho * width)
    size = n * c * plane
    flat = workspace.zeros((size,), cols.dtype)
    acc = flat.reshape(n, c, hp, wp)
    # stride 1: a run of Ho*Wp would end up to (kW-1)*dW elements into the next plane (another
    # thread's channel); those last elements are extra columns (zero), so the runs stop short.
    run = ho * width - (geo.kw - 1) * geo.dw

    def scatter(c0: int, c1: int) -> None:  # channels c0..c1 (disjoint memory per thread)
        for p in range(geo.kh):
            for q in range(geo.kw):
                src = c5[c0:c1, p, q]  # (C', N, Ho*width)
                if width == wp and geo.sh == geo.sw == 1:  # one contiguous run per plane
                    off = p * geo.dh * wp + q * geo.dw + c0 * plane
                    shape = (c1 - c0, n, run)
                    dst = as_strided(flat[off:], shape, (plane * it, c * plane * it, it))
                    dst += src[:, :, :run]
                else:
                    h0, w0 = p * geo.dh, q * geo.dw
                    hs = strided_slice(h0, ho, geo.sh)
                    ws = strided_slice(w0, width, geo.sw)
                    src4 = src.reshape(c1 - c0, n, ho, width).transpose(1, 0, 2, 3)
                    acc[:, c0:c1, hs, ws] += src4

    workspace.parallel_ranges(scatter, c, cols.nbytes)
    return crop(acc, geo, h, w)


# --8<-- [end:col2im]


def conv_gemm(w: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """weight (O, C/G, kH, kW) @ columns (C*kH*kW, M) -> (O, M), one GEMM per group."""
    o = w.shape[0]
    if groups == 1:
        return np.matmul(w.reshape(o, -1), cols, out=workspace.empty((o, cols.shape[1]), w.dtype))
    wg = w.reshape(groups, o // groups, -1)  # (G, O/G, C/G*kH*kW)
    return (wg @ cols.reshape(groups, wg.shape[2], -1)).reshape(o, cols.shape[1])


def conv_gemm_t(w: np.ndarray, g2: np.ndarray, groups: int) -> np.ndarray:
    """weight^T @ (O, M) -> columns (C*kH*kW, M): the transpose of :func:`conv_gemm`."""
    o = w.shape[0]
    if groups == 1:
        w2 = w.reshape(o, -1)
        return np.matmul(w2.T, g2, out=workspace.empty((w2.shape[1], g2.shape[1]), g2.dtype))
    wg = w.reshape(groups, o // groups, -1)
    gt = wg.transpose(0, 2, 1) @ g2.reshape(groups, o // groups, g2.shape[1])
    return gt.reshape(groups * wg.shape[2], g2.shape[1])


def weight_gemm(dy2, cols, w_shape, groups: int, wo: int, width: int) -> np.ndarray:
    """dW = dY (O, M) @ columns^T (M, C*kH*kW), per group, reshaped to ``w_shape``.

    With ``width > wo`` the extra columns hold inputs times a zero gradient: an Inf there gives
    0 * Inf = NaN, so a non-finite result (rare) is computed again with them zeroed. The first
    try is checked, so its invalid-value flag (that NaN, or one some OpenBLAS kernels raise
    spuriously on finite data) is not reported; the second reports as the caller's errstate."""
    for retry in (False, True):
        if retry and width != wo:
            cols.reshape(cols.shape[0], -1, width)[:, :, wo:] = 0
        with np.errstate(invalid=np.geterr()["invalid"] if retry else "ignore"):
            if groups == 1:
                gw = (cols @ dy2.T).T.reshape(w_shape)  # measured faster than dy2 @ cols.T here
            else:
                gg = dy2.reshape(groups, w_shape[0] // groups, dy2.shape[1])  # (G, O/G, M)
                cg = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
                gw = (gg @ cg.transpose(0, 2, 1)).reshape(w_shape)
        if retry or np.isfinite(gw).all():
            return gw


def to_gemm_layout(y: np.ndarray, width: int) -> np.ndarray:
    """(N, O, Ho, Wo) -> (O, N*Ho*width), the GEMM layout; columns past Wo are zero."""
    n, o, ho, wo = y.shape
    out = workspace.empty((o, n, ho, width), y.dtype)

    def copy(o0: int, o1: int) -> None:
        if width != wo:
            out[o0:o1, ..., wo:] = 0
        out[o0:o1, ..., :wo] = y[:, o0:o1].transpose(1, 0, 2, 3)

    workspace.parallel_ranges(copy, o, out.nbytes)
    return out.reshape(o, n * ho * width)


def from_gemm_layout(y2: np.ndarray, n: int, ho: int, wo: int, width: int) -> np.ndarray:
    """(O, N*Ho*width) -> (N, O, Ho, Wo), contiguous (dropping the columns past Wo)."""
    y4 = y2.reshape(len(y2), n, ho, width)[..., :wo].transpose(1, 0, 2, 3)  # (N, O, Ho, Wo) view
    out = np.empty(y4.shape, y2.dtype)

    def copy(n0: int, n1: int) -> None:
        out[n0:n1] = y4[n0:n1]

    workspace.parallel_ranges(copy, n, out.nbytes)
    return out


def conv_forward(x: np.ndarray, w: np.ndarray, geo: Geometry, groups: int, out_hw=None):
    """im2col + GEMM: (N, C, H, W) * (O, C/G, kH, kW) -> Y (O, N*Ho*width) in the GEMM layout,
    the columns, and (Ho, Wo, width)."""
    cols, ho, wo, width = im2col(x, geo, out_hw)  # (C*kH*kW, N*Ho*width)
    y2 = conv_gemm(w, cols, groups)  # (O, N*Ho*width)
    return y2, cols, (ho, wo, width)


# The three array kernels below are what ctx.xp's functions of the same names call on the
# first-order path (ops/xp.py); under create_graph the same names apply the ops at the end of
# this file, whose forwards are these kernels.


def conv2d(x: np.ndarray, w: np.ndarray, geo: Geometry, groups: int, out_hw=None):
    """conv2d on arrays, without bias: (N, C, H, W) -> (N, O, Ho, Wo); ``out_hw`` keeps only
    the first Ho x Wo windows."""
    y2, _, (ho, wo, width) = conv_forward(x, w, geo, groups, out_hw)
    return from_gemm_layout(y2, x.shape[0], ho, wo, width)


# --8<-- [start:conv_transpose2d]
def flipped_kernel(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/G, kH, kW) -> (C, O/G, kH, kW), flipped in H and W: the kernel of the adjoint."""
    o, cg, kh, kw = w.shape
    wg = w.reshape(groups, o // groups, cg, kh, kw)[:, :, :, ::-1, ::-1]
    return np.ascontiguousarray(wg.transpose(0, 2, 1, 3, 4)).reshape(
        groups * cg, o // groups, kh, kw
    )


def conv_transpose2d(
    g: np.ndarray, w: np.ndarray, x_shape, geo: Geometry, groups: int, layout=None
):
    """The adjoint of conv2d in its input: dY (N, O, Ho, Wo) -> dX (N, C, H, W) = ``x_shape``.

    Stride 1, padding <= dilation*(k-1) and O <= C: a "full" correlation of dY with the flipped
    kernel, i.e. conv2d's own forward (one im2col, one GEMM with K = O*kH*kW). Otherwise the
    transpose of the forward: one GEMM W^T @ dY to columns, then col2im. ``layout(g, width)``
    gives dY in that GEMM's layout (:func:`to_gemm_layout`, or a caller's cache of it).
    """
    n, c, h, wd = x_shape
    ho, wo = g.shape[2:]
    eh, ew = geo.dh * (geo.kh - 1), geo.dw * (geo.kw - 1)
    # pad dY so that the full correlation yields exactly H x W: top/left eh - pt, and bottom/right
    # whatever remains (eh - pb, plus conv_transpose2d's output_padding when there is one)
    top, left = eh - geo.pt, ew - geo.pl
    pads = (top, h + eh - ho - top, left, wd + ew - wo - left)
    # the full correlation copies O*kH*kW columns, the transpose path writes C*kH*kW and then
    # scatters them: take the full correlation only where it does not copy more
    applies = geo.sh == geo.sw == 1 and min(pads) >= 0
    chosen = INPUT_GRAD_PATH == "full" or (INPUT_GRAD_PATH == "auto" and g.shape[1] <= c)
    if applies and chosen:
        full = geo._replace(pt=pads[0], pb=pads[1], pl=pads[2], pr=pads[3])  # stride 1 already
        y2, _, (_, _, width) = conv_forward(g, flipped_kernel(w, groups), full, groups, (h, wd))
        return from_gemm_layout(y2, n, h, wd, width)
    width = column_width(geo, wd, wo)
    g2 = (layout or to_gemm_layout)(g, width)  # (O, N*Ho*width)
    return col2im(conv_gemm_t(w, g2, groups), x_shape, geo, ho, width)


# --8<-- [end:conv_transpose2d]


# --8<-- [start:conv2d_weight]
def conv2d_weight(
    x: np.ndarray, dy: np.ndarray, geo: Geometry, groups: int, columns=None, layout=None
):
    """conv2d's weight gradient: x (N, C, H, W), dY (N, O, Ho, Wo) -> (O, C/G, kH, kW), the sum
    over n, i, j of dY[n, o, i, j] times window (i, j) of x (only the first Ho x Wo windows).

    ``columns`` is :func:`im2col` of x for those windows, ``(cols, width)``, when the caller
    has it (conv2d's forward made it); ``layout`` as in :func:`conv_transpose2d`."""
    if columns is None:
        cols, _, _, width = im2col(x, geo, dy.shape[2:])
    else:
        cols, width = columns
    dy2 = (layout or to_gemm_layout)(dy, width)  # (O, N*Ho*width)
    w_shape = (dy.shape[1], x.shape[1] // groups, geo.kh, geo.kw)
    return weight_gemm(dy2, cols, w_shape, groups, dy.shape[3], width)


# --8<-- [end:conv2d_weight]


# --8<-- [start:conv2d_op]
@register_op(linear_in=(0, 1, 2), higher_order=True)
class Conv2d(Op):
    """2-D cross-correlation: ``y[n, o] = b[o] + sum_c W[o, c] * x[n, c]`` over each window.

    VJP: ``dX = conv_transpose2d(dY, W)``, ``dW = conv2d_weight(X, dY)``, ``db = dY summed``.
    """

    name = "conv2d"

    @staticmethod
    def forward(ctx, x, w, b=None, *, geometry, groups):
        y2, cols, (ho, wo, width) = conv_forward(x, w, geometry, groups)
        if b is not None:
            y2 += b[:, None]
        ctx.x, ctx.w, ctx.geo, ctx.groups, ctx.columns = x, w, geometry, groups, None
        if ctx.needs_input_grad and ctx.needs_input_grad[1]:
            ctx.columns = cols, width  # the weight gradient reuses them
        return from_gemm_layout(y2, x.shape[0], ho, wo, width)

    @staticmethod
    def vjp(ctx, g):
        xp, need, x, w = ctx.xp, ctx.needs_input_grad, ctx.x, ctx.w
        geo, groups = ctx.geo, ctx.groups
        gx = xp.conv_transpose2d(g, w, geo, groups, x.shape[2:]) if need[0] else None
        gw = xp.conv2d_weight(x, g, geo, groups, ctx.columns) if need[1] else None
        gb = xp.sum(g, axis=(0, 2, 3)) if len(need) > 2 and need[2] else None
        return (gx, gw, gb)[: len(need)]


# --8<-- [end:conv2d_op]


@register_op(linear_in=(0, 1, 2), higher_order=True)
class ConvTranspose2d(Op):
    """The adjoint of conv2d in its input: each input pixel scatters ``W`` into the output.

    VJP: ``dX = conv2d(dY, W)``, ``dW = conv2d_weight(dY, X)``, ``db = dY summed``.
    """

    name = "conv_transpose2d"

    @staticmethod
    def forward(ctx, x, w, b=None, *, geometry, groups, out_hw):
        c_out = w.shape[1] * groups
        y = conv_transpose2d(x, w, (x.shape[0], c_out, *out_hw), geometry, groups)
        if b is not None:
            y += b[:, None, None]
        ctx.w, ctx.x, ctx.geo, ctx.groups = w, x, geometry, groups
        return y

    @staticmethod
    def vjp(ctx, g):
        xp, need, x, w = ctx.xp, ctx.needs_input_grad, ctx.x, ctx.w
        geo, groups = ctx.geo, ctx.groups
        # conv2d's forward on dY, and the weight gradient with the roles of x and dY swapped.
        # Only the first H x W windows: with an output_padding >= stride (allowed when
        # < dilation) dY has room for more.
        gx = xp.conv2d(g, w, geo, groups, x.shape[2:]) if need[0] else None
        gw = xp.conv2d_weight(g, x, geo, groups) if need[1] else None
        gb = xp.sum(g, axis=(0, 2, 3)) if len(need) > 2 and need[2] else None
        return (gx, gw, gb)[: len(need)]


# --8<-- [start:conv2d_weight_op]
@register_op(linear_in=(0, 1), higher_order=True)
class Conv2dWeight(Op):
    """conv2d's weight gradient as an op: x (N, C, H, W), dY (N, O, Ho, Wo) -> (O, C/G, kH, kW).

    Bilinear; its VJP is conv_transpose2d (in x) and conv2d (in dY) with the upstream gradient
    as the kernel, which is what makes conv2d's second derivatives.
    """

    name = "conv2d_weight"

    @staticmethod
    def forward(ctx, x, dy, *, geometry, groups):
        ctx.x, ctx.dy, ctx.geo, ctx.groups = x, dy, geometry, groups
        return conv2d_weight(x, dy, geometry, groups)

    @staticmethod
    def vjp(ctx, u):
        xp, (nx, ndy), x, dy = ctx.xp, ctx.needs_input_grad, ctx.x, ctx.dy
        gx = xp.conv_transpose2d(dy, u, ctx.geo, ctx.groups, x.shape[2:]) if nx else None
        gdy = xp.conv2d(x, u, ctx.geo, ctx.groups, dy.shape[2:]) if ndy else None
        return gx, gdy


# --8<-- [end:conv2d_weight_op]
