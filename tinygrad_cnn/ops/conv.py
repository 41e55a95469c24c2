"""conv2d and conv_transpose2d: GEMMs over blocks of images, windows from strided views.

Layout: NCHW; conv2d weight (C_out, C_in/groups, kH, kW); conv_transpose2d weight
(C_in, C_out/groups, kH, kW), as in PyTorch.

Three array kernels do all the work, and the two ops share them with roles swapped:

- ``conv2d``: for each block of images, ``im2col`` copies the padded input's windows (a
  zero-copy strided view) into columns (C*kH*kW, Ho*width) per image, and one GEMM per image
  and group, ``W2 @ cols``, writes the output in NCHW directly. With stride 1 the columns of each
  output row run over the whole padded width Wp (see ``column_width``), so the copy moves long
  contiguous runs.
- ``conv2d_weight``: per block, ``dY2 @ cols.T`` summed over the blocks.
- ``conv_transpose2d`` (conv2d's input gradient): with stride 1 and at most 4 times as many
  output as input channels, conv2d itself on dY with the flipped kernel (a "full" correlation);
  otherwise ``W2.T @ dY2`` per block and ``col2im``, the
  adjoint of im2col, which adds each kernel offset's slab back (a loop over the kH*kW offsets,
  never over output pixels).

Blocks hold about ``BLOCK_BYTES`` of columns, so each block's columns stay in the core's cache
between the copy that makes them and the GEMM that reads them: the whole batch's columns, 9 to 25
times the input, would go through main memory twice. The blocks are split across the copy
threads, with BLAS on one thread inside each (``workspace.parallel_blocks``); which block an
image is in never depends on the thread count, so the results do not either. The forward keeps
no columns for backward: the weight gradient makes them again, a block at a time.

conv_transpose2d's input gradient is conv2d's forward; both weight gradients are
:func:`conv2d_weight` (also an op), whose own gradients are conv2d and conv_transpose2d again.
Each VJP is written once with ``ctx.xp.conv2d``, ``ctx.xp.conv_transpose2d`` and
``ctx.xp.conv2d_weight`` (:mod:`tinygrad_cnn.ops.xp`): the array kernels of those names on the
first-order path, the ops of those names under ``create_graph``, so any order of derivative goes
through the same three kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.geometry import Geometry, crop, pad_nchw
from tinygrad_cnn.ops.registry import Op, register_op

# Use the padded-width layout while it wastes at most this fraction of the GEMM's columns
# (tests set it to -1 or inf to force the strided or the padded-width layout).
MAX_WIDTH_WASTE = 0.5
# conv_transpose2d's path (conv2d's input gradient): "auto" takes the full correlation where it
# applies and O <= 4C (see conv_transpose2d); tests force "full" (where it applies) or "transpose"
INPUT_GRAD_PATH = "auto"
# conv2d_weight's path: "auto" takes one GEMM per image where a window holds at most
# PER_IMAGE_MAX_K elements per group (few input channels), else one per block (tests force
# "image" or "block"). Measured, weight gradient of a batch of 64: one input channel 28x28 5x5,
# 1.2 ms against 1.7; three 32x32 3x3, 2.3 against 3.0; a tie at 16 channels 32x32, and
# slower at 8 channels 14x14 (2.6 against 2.5) and 64 channels (4.7 against 4.4).
WEIGHT_GRAD_PATH = "auto"
PER_IMAGE_MAX_K = 32
# Columns per block of images: half of a core's 1 MB L2 here, with room for the block's output
# (tests set 0 for one image per block, or inf for the whole batch in one block).
BLOCK_BYTES = 1 << 20
# At least this many blocks where the batch allows (tests set 1 with BLOCK_BYTES = inf): blocks
# run with one BLAS thread, and a small convolution in one block would wake BLAS's threads,
# which then spin on the core the next convolution's blocks need (workspace.SMALL_BLAS_WORK).
MIN_BLOCKS = 2


def column_width(geo: Geometry, w: int, wo: int) -> int:
    """Columns per output row in the GEMM layout.

    Stride 1: the padded width Wp. Window offset (p, q) then reads one contiguous run of
    Ho*Wp elements from each padded plane (fast copies), and the Wp - Wo extra columns per row
    are discarded from the output. That costs (Wp - Wo) / Wo more GEMM work, so narrow images
    with wide padding use Wo, from a strided view, as other strides do.
    """
    wp = w + geo.pl + geo.pr
    if geo.sh == geo.sw == 1 and (wp - wo) <= MAX_WIDTH_WASTE * wo:
        return wp
    return wo


def block_size(n: int, image_bytes: int) -> int:
    """Images per block: as many as keep a block's columns within ``BLOCK_BYTES``, at least 1,
    and few enough for ``MIN_BLOCKS`` blocks where the batch has that many images."""
    return int(max(1, min(n, BLOCK_BYTES // max(image_bytes, 1), -(-n // MIN_BLOCKS))))


def block_count(n: int, image_bytes: int) -> int:
    """How many blocks :func:`over_blocks` makes of ``n`` images."""
    return -(-n // block_size(n, image_bytes))


def over_blocks(fn, n: int, image_bytes: int) -> None:
    """``fn(k, i0, i1)`` for each block k of images i0..i1 (see :func:`block_size`)."""
    b, count = block_size(n, image_bytes), block_count(n, image_bytes)

    def run(k0: int, k1: int) -> None:
        for k in range(k0, k1):
            fn(k, k * b, min(n, (k + 1) * b))

    workspace.parallel_blocks(run, count, n * image_bytes)


# --8<-- [start:im2col]
def windows(x: np.ndarray, geo: Geometry, out_hw=None, width=None):
    """x's windows as a zero-copy view, Ho, Wo and width (see :func:`column_width`; ``width``
    forces one): (N, C, kH, kW, Ho*width) with the padded width, (N, C, kH, kW, Ho, Wo) with
    Wo. ``out_hw`` keeps only the first Ho x Wo windows."""
    n, c, h, w = x.shape
    ho, wo = geo.out_size(h, w)
    if out_hw is not None:
        if out_hw[0] > ho or out_hw[1] > wo:  # more windows than fit would read out of bounds
            raise RuntimeError(f"im2col: {out_hw} windows requested, only {(ho, wo)} fit")
        ho, wo = out_hw
    width = column_width(geo, w, wo) if width is None else width
    it = x.dtype.itemsize
    if width != wo:  # runs of Ho*Wp, reading up to (kW-1)*dW past a plane's end
        xp = pad_nchw(x, geo, tail=(geo.kw - 1) * geo.dw)
        plane = xp.shape[2] * xp.shape[3]
        view = as_strided(  # (N, C, kH, kW, Ho*Wp), a view: nothing copied yet
            xp,
            shape=(n, c, geo.kh, geo.kw, ho * width),
            strides=(c * plane * it, plane * it, geo.dh * width * it, geo.dw * it, it),
            writeable=False,
        )
    else:
        xp = pad_nchw(x, geo)
        s_n, s_c, s_h, s_w = xp.strides
        view = as_strided(  # (N, C, kH, kW, Ho, Wo), a view
            xp,
            shape=(n, c, geo.kh, geo.kw, ho, wo),
            strides=(s_n, s_c, s_h * geo.dh, s_w * geo.dw, s_h * geo.sh, s_w * geo.sw),
            writeable=False,
        )
    return view, ho, wo, width


def im2col(x: np.ndarray, geo: Geometry, out_hw=None):
    """(N, C, H, W) -> columns (N, C*kH*kW, Ho*width), Ho, Wo, width: each window one column,
    per image. The kernels make them a block of images at a time, from :func:`windows`."""
    view, ho, wo, width = windows(x, geo, out_hw)
    n, k = len(x), math.prod(view.shape[1:4])
    return np.ascontiguousarray(view).reshape(n, k, ho * width), ho, wo, width


# --8<-- [end:im2col]


# --8<-- [start:conv2d]
def conv2d(x: np.ndarray, w: np.ndarray, geo: Geometry, groups: int, out_hw=None, bias=None):
    """conv2d on arrays: (N, C, H, W) * (O, C/G, kH, kW) -> (N, O, Ho, Wo), plus ``bias`` (O,)
    when given; ``out_hw`` keeps only the first Ho x Wo windows."""
    view, ho, wo, width = windows(x, geo, out_hw)
    n, o, g = len(x), w.shape[0], groups
    k, cols_per_image = math.prod(view.shape[1:4]), ho * width
    wg = w.reshape(g, o // g, k // g)
    y = np.empty((n, o, ho, wo), np.result_type(x, w))

    def block(_, i0, i1):
        b = i1 - i0
        cols = workspace.scratch("columns", view[i0:i1].shape, x.dtype)
        np.copyto(cols, view[i0:i1])  # the block's columns, (C*kH*kW, Ho*width) per image
        cols = cols.reshape(b, g, k // g, cols_per_image)
        if width == wo:  # one GEMM per image and group, straight into the output
            np.matmul(wg, cols, out=y[i0:i1].reshape(b, g, o // g, cols_per_image))
        else:  # the padded width's extra columns are dropped
            y2 = workspace.scratch("product", (b, g, o // g, cols_per_image), y.dtype)
            y[i0:i1] = np.matmul(wg, cols, out=y2).reshape(b, o, ho, width)[..., :wo]
        if bias is not None:
            y[i0:i1] += bias[:, None, None]

    over_blocks(block, n, k * cols_per_image * x.dtype.itemsize)
    return y


# --8<-- [end:conv2d]


def weight_grad_per_image(k: int) -> bool:
    """Whether :func:`conv2d_weight` takes one GEMM per image for windows of ``k`` elements
    per group (else one per block): see ``WEIGHT_GRAD_PATH``."""
    path = WEIGHT_GRAD_PATH
    return path == "image" or (path == "auto" and k <= PER_IMAGE_MAX_K)


# --8<-- [start:conv2d_weight]
def conv2d_weight(x: np.ndarray, dy: np.ndarray, geo: Geometry, groups: int) -> np.ndarray:
    """conv2d's weight gradient: x (N, C, H, W), dY (N, O, Ho, Wo) -> (O, C/G, kH, kW), the sum
    over n, i, j of dY[n, o, i, j] times window (i, j) of x (only the first Ho x Wo windows).

    Per block of images, one GEMM per group ``dY2 @ cols.T`` on (C*kH*kW, b*Ho*Wo) columns; or,
    with few input channels (``WEIGHT_GRAD_PATH``), one per image on dY as it is and the
    block's products summed. The blocks' products are summed in a fixed order. The columns are
    the strided layout's (the padded width's extra GEMM work measured slower here than its
    faster copies gain), so no extra column multiplies an Inf pixel by a zero gradient either.
    A non-finite result is computed again: the first try is quiet, so an invalid-value flag
    that some OpenBLAS kernels raise spuriously on finite data is not reported, and the second
    reports a real NaN as the caller's errstate says."""
    ho, wo = dy.shape[2:]
    view = windows(x, geo, (ho, wo), width=wo)[0]  # (N, C, kH, kW, Ho, Wo)
    n, c, o, g = len(x), x.shape[1], dy.shape[1], groups
    k = c * geo.kh * geo.kw
    image_bytes = k * ho * wo * x.dtype.itemsize
    parts = np.empty((block_count(n, image_bytes), g, o // g, k // g), np.result_type(x, dy))
    per_image = weight_grad_per_image(k // g)

    def block(j, i0, i1):
        b = i1 - i0
        if per_image:
            cols = workspace.scratch("columns", view[i0:i1].shape, x.dtype)
            np.copyto(cols, view[i0:i1])  # (b, C, kH, kW, Ho, Wo)
            cols_t = cols.reshape(b, g, k // g, ho * wo).transpose(0, 1, 3, 2)
            products = workspace.scratch("product", (b, *parts.shape[1:]), parts.dtype)
            np.matmul(dy[i0:i1].reshape(b, g, o // g, ho * wo), cols_t, out=products)
            np.sum(products, axis=0, out=parts[j])
            return
        m = b * ho * wo
        cols = workspace.scratch("columns", (c, geo.kh, geo.kw, b, ho, wo), x.dtype)
        np.copyto(cols, view[i0:i1].transpose(1, 2, 3, 0, 4, 5))
        dy2 = workspace.scratch("product", (o, b, ho, wo), dy.dtype)
        np.copyto(dy2, dy[i0:i1].transpose(1, 0, 2, 3))
        cols_t = cols.reshape(g, k // g, m).transpose(0, 2, 1)
        np.matmul(dy2.reshape(g, o // g, m), cols_t, out=parts[j])

    with np.errstate(invalid="ignore"):
        over_blocks(block, n, image_bytes)
    if not np.isfinite(parts).all():
        over_blocks(block, n, image_bytes)
    return parts.sum(axis=0).reshape(o, c // g, geo.kh, geo.kw)


# --8<-- [end:conv2d_weight]


# --8<-- [start:conv_transpose2d]
def flipped_kernel(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/G, kH, kW) -> (C, O/G, kH, kW), flipped in H and W: the kernel of the adjoint."""
    o, cg, kh, kw = w.shape
    wg = w.reshape(groups, o // groups, cg, kh, kw)[:, :, :, ::-1, ::-1]
    return np.ascontiguousarray(wg.transpose(0, 2, 1, 3, 4)).reshape(
        groups * cg, o // groups, kh, kw
    )


def conv_transpose2d(g: np.ndarray, w: np.ndarray, x_shape, geo: Geometry, groups: int):
    """The adjoint of conv2d in its input: dY (N, O, Ho, Wo) -> dX (N, C, H, W) = ``x_shape``.

    Stride 1, padding <= dilation*(k-1) and O <= 4C: a "full" correlation of dY with the
    flipped kernel, i.e. :func:`conv2d` itself. Otherwise the transpose of the forward, per
    block of images: one GEMM ``W2.T @ dY2`` to columns, then :func:`col2im`.
    """
    n, c, h, wd = x_shape
    ho, wo = g.shape[2:]
    eh, ew = geo.dh * (geo.kh - 1), geo.dw * (geo.kw - 1)
    # pad dY so that the full correlation yields exactly H x W: top/left eh - pt, and bottom/right
    # whatever remains (eh - pb, plus conv_transpose2d's output_padding when there is one)
    top, left = eh - geo.pt, ew - geo.pl
    pads = (top, h + eh - ho - top, left, wd + ew - wo - left)
    # the full correlation copies O*kH*kW columns per pixel; the transpose path writes C*kH*kW
    # and then scatters them, a Python loop over the kernel offsets per block. Measured: the
    # full correlation twice as fast at O = 2C, 1.3 times slower at O = 8C
    applies = geo.sh == geo.sw == 1 and min(pads) >= 0
    chosen = INPUT_GRAD_PATH == "full" or (INPUT_GRAD_PATH == "auto" and g.shape[1] <= 4 * c)
    if applies and chosen:
        full = geo._replace(pt=pads[0], pb=pads[1], pl=pads[2], pr=pads[3])  # stride 1 already
        return conv2d(g, flipped_kernel(w, groups), full, groups, (h, wd))
    o, k = g.shape[1], c * geo.kh * geo.kw
    wt = w.reshape(groups, o // groups, k // groups).transpose(0, 2, 1)  # (G, K/G, O/G)
    dtype = np.result_type(g, w)
    acc = workspace.zeros((n, c, h + geo.pt + geo.pb, wd + geo.pl + geo.pr), dtype)

    def block(_, i0, i1):
        dy2 = g[i0:i1].reshape(i1 - i0, groups, o // groups, ho * wo)
        cols = workspace.scratch("columns", (i1 - i0, groups, k // groups, ho * wo), dtype)
        np.matmul(wt, dy2, out=cols)
        cols = cols.reshape(i1 - i0, c, geo.kh, geo.kw, ho, wo)
        col2im(cols, acc[i0:i1], geo)

    over_blocks(block, n, k * ho * wo * g.dtype.itemsize)
    return crop(acc, geo, h, wd)


# --8<-- [end:conv_transpose2d]


# --8<-- [start:col2im]
def col2im(cols: np.ndarray, acc: np.ndarray, geo: Geometry) -> None:
    """The adjoint of im2col: adds columns (b, C, kH, kW, Ho, Wo) into the windows of the padded
    (b, C, Hp, Wp) ``acc`` they came from, one kernel offset's slab at a time."""
    for p, q, hs, ws in geo.offsets(*cols.shape[4:]):
        acc[:, :, hs, ws] += cols[:, :, p, q]


# --8<-- [end:col2im]


# --8<-- [start:conv2d_op]
@register_op(linear_in=(0, 1, 2), higher_order=True)
class Conv2d(Op):
    """2-D cross-correlation: ``y[n, o] = b[o] + sum_c W[o, c] * x[n, c]`` over each window.

    VJP: ``dX = conv_transpose2d(dY, W)``, ``dW = conv2d_weight(X, dY)``, ``db = dY summed``.
    """

    name = "conv2d"

    @staticmethod
    def forward(ctx, x, w, b=None, *, geometry, groups):
        ctx.x, ctx.w, ctx.geo, ctx.groups = x, w, geometry, groups
        return conv2d(x, w, geometry, groups, bias=b)

    @staticmethod
    def vjp(ctx, g):
        xp, need, x, w = ctx.xp, ctx.needs_input_grad, ctx.x, ctx.w
        geo, groups = ctx.geo, ctx.groups
        gx = xp.conv_transpose2d(g, w, geo, groups, x.shape[2:]) if need[0] else None
        gw = xp.conv2d_weight(x, g, geo, groups) if need[1] else None
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
