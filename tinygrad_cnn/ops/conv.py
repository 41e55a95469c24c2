"""conv2d and conv_transpose2d: GEMMs over blocks of images, windows from strided views.

Layout: NCHW; conv2d weight (C_out, C_in/groups, kH, kW); conv_transpose2d weight
(C_in, C_out/groups, kH, kW), as in PyTorch. Three array kernels do all the work, and the two
ops share them with roles swapped:

- ``conv2d``: per block of images, ``im2col`` copies the padded input's windows (a strided
  view) into columns (C*kH*kW, Ho*width) per image, and one GEMM per image and group writes the
  output in NCHW. With stride 1 the columns run over the padded planes' rows (``column_width``:
  W plus the wider padding, one row's right padding the next one's left), so the copy moves
  long runs. With fewer output than input channels (or as many, on large planes), by kernel
  rows instead (:mod:`~tinygrad_cnn.ops.conv_rows`), as the weight gradient with stride 1.
- ``conv2d_weight``: per block, ``dY2 @ cols.T``, the blocks' products summed.
- ``conv_transpose2d`` (conv2d's input gradient): with stride 1 and O <= 4C, conv2d itself on
  dY with the flipped kernel (a "full" correlation); else ``W2.T @ dY2`` per block and
  ``col2im``, which adds each kernel offset's slab back (a loop over offsets, never pixels).

Blocks hold about ``workspace.BLOCK_BYTES`` of columns, which stay in the core's cache between
the copy that makes them and the GEMM that reads them; each block first pads its own images
(``pad`` from :func:`windows`). The blocks are split across the copy threads, BLAS on one
thread in each (``workspace.parallel_blocks``); which block an image is in never
depends on the thread count, so the results do not either. The forward keeps no columns: the
weight gradient makes them again, a block at a time.

Each kernel is also written as :class:`~tinygrad_cnn.ops.workspace.Blocks` (``*_blocks``), so
that :func:`conv2d_grads` runs conv2d's input and weight gradients in one parallel section.

conv_transpose2d's input gradient is conv2d's forward; both weight gradients are
:func:`conv2d_weight` (also an op), whose own gradients are conv2d and conv_transpose2d again.
Each VJP is written once with ``ctx.xp.conv2d``, ``ctx.xp.conv_transpose2d``,
``ctx.xp.conv2d_weight`` and ``ctx.xp.conv2d_grads`` (:mod:`tinygrad_cnn.ops.xp`): these
kernels on the first-order path, the ops of those names under ``create_graph``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.conv_rows import conv2d_rows_blocks, conv2d_weight_rows_blocks
from tinygrad_cnn.ops.geometry import Geometry, crop, pad_later, pad_rows, row_stride
from tinygrad_cnn.ops.registry import Op, register_op

# Tests force each path: MAX_WIDTH_WASTE -1 or inf (strided or padded-width columns);
# FORWARD_PATH "rows" or "columns"; INPUT_GRAD_PATH "full" or "transpose"; WEIGHT_GRAD_PATH
# "image" or "block" ("rows" and "full" only where they apply).
# The padded-width layout while it wastes at most this fraction of the GEMM's columns.
MAX_WIDTH_WASTE = 0.5
# conv2d by kernel rows where it applies and O*kW < C*kH, or O*kW == C*kH on planes of at least
# ROWS_MIN_COLUMNS output positions Ho*S (see by_kernel_rows).
FORWARD_PATH = "auto"
ROWS_MIN_COLUMNS = 512
# the input gradient by full correlation where it applies and O <= 4C (see conv_transpose2d).
INPUT_GRAD_PATH = "auto"
# the weight gradient per image where a window holds at most PER_IMAGE_MAX_K elements per group
# (see weight_grad_per_image; docs/architecture.md has the figures), else per block.
WEIGHT_GRAD_PATH = "auto"
PER_IMAGE_MAX_K = 32
# conv2d's input and weight gradients in one parallel section (see conv2d_grads)
GRADS_TOGETHER = True


def column_width(geo: Geometry, w: int, wo: int) -> int:
    """Columns per output row in the GEMM layout.

    Stride 1: the row length S of the padded planes, W plus the wider of the left and right
    padding (:func:`~tinygrad_cnn.ops.geometry.row_stride`; the rows share their padding).
    Window offset (p, q) then reads one contiguous run of Ho*S elements from each padded plane
    (fast copies), and the S - Wo extra columns per row are discarded from the output. That
    costs (S - Wo) / Wo more GEMM work, so narrow images with wide padding use Wo, from a
    strided view, as other strides do.
    """
    return row_stride(geo, w, wo) if flat_rows(geo, w, wo) else wo


def flat_rows(geo: Geometry, w: int, wo: int) -> bool:
    """Whether stride 1 reads the padded planes' rows flat: while the S - Wo extra columns per
    row waste at most ``MAX_WIDTH_WASTE`` of the GEMM's."""
    return geo.sh == geo.sw == 1 and row_stride(geo, w, wo) - wo <= MAX_WIDTH_WASTE * wo


# --8<-- [start:im2col]
def windows(x: np.ndarray, geo: Geometry, out_hw=None, width=None):
    """x's windows as a zero-copy view, Ho, Wo, width (see :func:`column_width`; ``width``
    forces one) and ``pad``: (N, C, kH, kW, Ho*width) with rows of the padded planes' length,
    (N, C, kH, kW, Ho, Wo) with Wo. ``out_hw`` keeps only the first Ho x Wo windows. The view
    reads a padded copy of x whose images ``pad(n0, n1)`` fills
    (:func:`~tinygrad_cnn.ops.geometry.pad_later`): a block loop pads its block's images
    before it reads their windows."""
    n, c, h, w = x.shape
    ho, wo = geo.out_size(h, w)
    if out_hw is not None:
        if out_hw[0] > ho or out_hw[1] > wo:  # more windows than fit would read out of bounds
            raise RuntimeError(f"im2col: {out_hw} windows requested, only {(ho, wo)} fit")
        ho, wo = out_hw
    width = column_width(geo, w, wo) if width is None else width
    it = x.dtype.itemsize
    if width != wo:  # runs of Ho*width, reading up to (kW-1)*dW past a plane's end
        xp, pad = pad_rows(x, geo, width, tail=(geo.kw - 1) * geo.dw)
        plane = xp.shape[2] * xp.shape[3]
        view = as_strided(  # (N, C, kH, kW, Ho*width), a view: nothing copied yet
            xp,
            shape=(n, c, geo.kh, geo.kw, ho * width),
            strides=(c * plane * it, plane * it, geo.dh * width * it, geo.dw * it, it),
            writeable=False,
        )
    else:
        xp, pad = pad_later(x, geo)
        s_n, s_c, s_h, s_w = xp.strides
        view = as_strided(  # (N, C, kH, kW, Ho, Wo), a view
            xp,
            shape=(n, c, geo.kh, geo.kw, ho, wo),
            strides=(s_n, s_c, s_h * geo.dh, s_w * geo.dw, s_h * geo.sh, s_w * geo.sw),
            writeable=False,
        )
    return view, ho, wo, width, pad


def im2col(x: np.ndarray, geo: Geometry, out_hw=None):
    """(N, C, H, W) -> columns (N, C*kH*kW, Ho*width), Ho, Wo, width: each window one column,
    per image. The kernels make them a block of images at a time, from :func:`windows`."""
    view, ho, wo, width, pad = windows(x, geo, out_hw)
    pad(0, len(x))
    n, k = len(x), math.prod(view.shape[1:4])
    return np.ascontiguousarray(view).reshape(n, k, ho * width), ho, wo, width


# --8<-- [end:im2col]


def by_kernel_rows(x_shape, o: int, geo: Geometry, groups: int, out_hw, weight=False) -> bool:
    """Whether conv2d (or with ``weight`` its weight gradient) goes by kernel rows
    (:mod:`~tinygrad_cnn.ops.conv_rows`; ``FORWARD_PATH``): stride and dilation 1, one group, a
    kernel wider than 1, the padded-width layout and windows that fit; conv2d itself only with
    fewer GEMM rows than the columns' (O*kW < C*kH), or as many on planes of at least
    ``ROWS_MIN_COLUMNS`` output positions. Measured with O = C, 3x3 (calls alternating): by rows
    0.85 of the time on 32x32 planes, 0.86-0.92 on 56x56, a tie on 16x16 to 20x20 and 1.12
    times as long on 8x8, where a block holds many images and the columns' copy is cheap."""
    (ho, wo), fits = out_hw, geo.out_size(*x_shape[2:])
    applies = groups == 1 and geo.sh == geo.sw == geo.dh == geo.dw == 1 and geo.kw > 1
    applies = applies and ho <= fits[0] and wo <= fits[1]
    if not applies or not flat_rows(geo, x_shape[3], wo) or FORWARD_PATH == "columns":
        return False
    rows, columns = o * geo.kw, x_shape[1] * geo.kh
    if FORWARD_PATH == "rows" or weight or rows < columns:
        return True
    return rows == columns and ho * row_stride(geo, x_shape[3], wo) >= ROWS_MIN_COLUMNS


# --8<-- [start:conv2d]
def conv2d(x: np.ndarray, w: np.ndarray, geo: Geometry, groups: int, out_hw=None, bias=None):
    """conv2d on arrays: (N, C, H, W) * (O, C/G, kH, kW) -> (N, O, Ho, Wo), plus ``bias`` (O,)
    when given; ``out_hw`` keeps only the first Ho x Wo windows."""
    return workspace.run(conv2d_blocks(x, w, geo, groups, out_hw, bias))[0]


def conv2d_blocks(x, w, geo: Geometry, groups: int, out_hw=None, bias=None) -> workspace.Blocks:
    """:func:`conv2d` as blocks for :func:`~tinygrad_cnn.ops.workspace.run`."""
    ho, wo = out_hw if out_hw is not None else geo.out_size(*x.shape[2:])
    if by_kernel_rows(x.shape, w.shape[0], geo, groups, (ho, wo)):
        return conv2d_rows_blocks(x, w, geo, (ho, wo), bias)
    view, ho, wo, width, pad = windows(x, geo, out_hw)
    n, o, g = len(x), w.shape[0], groups
    k, cols_per_image = math.prod(view.shape[1:4]), ho * width
    wg = w.reshape(g, o // g, k // g)
    y = np.empty((n, o, ho, wo), np.result_type(x, w))

    def block(_, i0, i1):
        b = i1 - i0
        pad(i0, i1)
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

    return workspace.Blocks(n, k * cols_per_image * x.dtype.itemsize, block, lambda: y)


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

    Per block, one GEMM per group ``dY2 @ cols.T``, or with few input channels one per image
    (``WEIGHT_GRAD_PATH``), or with stride 1 and a finite x by kernel rows (``by_kernel_rows``);
    the blocks' products summed in a fixed order. Here the columns are strided (the padded width
    measured slower), so no extra column multiplies an Inf pixel by a zero.
    A non-finite result is computed again: the first try is quiet, as some OpenBLAS kernels
    raise the invalid flag spuriously, and the second reports a real NaN per the errstate."""
    return workspace.run(conv2d_weight_blocks(x, dy, geo, groups))[0]


def conv2d_weight_blocks(x, dy, geo: Geometry, groups: int) -> workspace.Blocks:
    """:func:`conv2d_weight` as blocks for :func:`~tinygrad_cnn.ops.workspace.run`."""
    ho, wo = dy.shape[2:]
    n, c, o, g = len(x), x.shape[1], dy.shape[1], groups
    k = c * geo.kh * geo.kw
    per_image = weight_grad_per_image(k // g)
    if not per_image and by_kernel_rows(x.shape, c, geo, g, (ho, wo), weight=True):
        if np.isfinite(x).all():  # its extra columns multiply pixels by zero gradients
            return conv2d_weight_rows_blocks(x, dy, geo)
    view, *_, pad = windows(x, geo, (ho, wo), width=wo)  # (N, C, kH, kW, Ho, Wo)
    image_bytes = k * ho * wo * x.dtype.itemsize
    dtype, parts = np.result_type(x, dy), None

    def start(count: int) -> None:
        nonlocal parts
        parts = np.empty((count, g, o // g, k // g), dtype)

    def block(j, i0, i1):
        b = i1 - i0
        pad(i0, i1)
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

    def finish() -> np.ndarray:
        return parts.sum(axis=0).reshape(o, c // g, geo.kh, geo.kw)

    return workspace.Blocks(n, image_bytes, block, finish, start, quiet=lambda: parts)


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

    Stride 1, padding <= dilation*(k-1) and O <= 4C (or O < 2*C*kW where that conv2d goes by
    kernel rows): a "full" correlation of dY with the flipped kernel, i.e. :func:`conv2d`
    itself. Otherwise the transpose of the forward, per block of images: one GEMM
    ``W2.T @ dY2`` to columns, then :func:`col2im`.
    """
    return workspace.run(conv_transpose2d_blocks(g, w, x_shape, geo, groups))[0]


def conv_transpose2d_blocks(g, w, x_shape, geo: Geometry, groups: int) -> workspace.Blocks:
    """:func:`conv_transpose2d` as blocks for :func:`~tinygrad_cnn.ops.workspace.run`."""
    n, c, h, wd = x_shape
    ho, wo = g.shape[2:]
    eh, ew = geo.dh * (geo.kh - 1), geo.dw * (geo.kw - 1)
    # pad dY so that the full correlation yields exactly H x W: top/left eh - pt, and bottom/right
    # whatever remains (eh - pb, plus conv_transpose2d's output_padding when there is one)
    top, left = eh - geo.pt, ew - geo.pl
    pads = (top, h + eh - ho - top, left, wd + ew - wo - left)
    # the full correlation copies O*kH*kW columns per pixel (O*kH by kernel rows); the
    # transpose path writes C*kH*kW and then scatters them, a loop over the kernel offsets per
    # block. Measured: by columns twice as fast at O = 2C, 1.3 times slower at O = 8C; by
    # kernel rows faster while O < 2*C*kW (0.74 of the time at O = 8C 5x5, 2.1 times at 32C 3x3)
    applies = geo.sh == geo.sw == 1 and min(pads) >= 0
    full = geo._replace(pt=pads[0], pb=pads[1], pl=pads[2], pr=pads[3])  # stride 1 already
    o = g.shape[1]
    if applies and INPUT_GRAD_PATH == "auto" and o > 4 * c:
        rows = by_kernel_rows(g.shape, c, full, groups, (h, wd))
        applies = rows and o < 2 * c * geo.kw
    if applies and INPUT_GRAD_PATH != "transpose":
        return conv2d_blocks(g, flipped_kernel(w, groups), full, groups, (h, wd))
    k = c * geo.kh * geo.kw
    wt = w.reshape(groups, o // groups, k // groups).transpose(0, 2, 1)  # (G, K/G, O/G)
    dtype = np.result_type(g, w)
    acc = workspace.zeros((n, c, h + geo.pt + geo.pb, wd + geo.pl + geo.pr), dtype)

    def block(_, i0, i1):
        dy2 = g[i0:i1].reshape(i1 - i0, groups, o // groups, ho * wo)
        cols = workspace.scratch("columns", (i1 - i0, groups, k // groups, ho * wo), dtype)
        np.matmul(wt, dy2, out=cols)
        cols = cols.reshape(i1 - i0, c, geo.kh, geo.kw, ho, wo)
        col2im(cols, acc[i0:i1], geo)

    return workspace.Blocks(n, k * ho * wo * g.dtype.itemsize, block, lambda: crop(acc, geo, h, wd))


# --8<-- [end:conv_transpose2d]


def conv2d_grads(g, x, w, geo: Geometry, groups: int, need) -> tuple:
    """conv2d's input and weight gradients from dY ``g``, each where ``need`` says (None
    elsewhere). Both: in one parallel section (``GRADS_TOGETHER``), block k of the weight
    gradient and then of the input gradient on the same images, blocks sized as the weight
    gradient's alone (so it is the same bit for bit): 0.94-0.96 of the two sections' time on
    the 14x14 and 8x8 bench convolutions and ResNet's 16x16 one, 0.99 on its 8x8 one with 64
    channels (calls alternating in one process)."""
    if need[0] and need[1] and GRADS_TOGETHER:
        gw, gx = workspace.run(
            conv2d_weight_blocks(x, g, geo, groups),
            conv_transpose2d_blocks(g, w, x.shape, geo, groups),
        )
        return gx, gw
    gx = conv_transpose2d(g, w, x.shape, geo, groups) if need[0] else None
    gw = conv2d_weight(x, g, geo, groups) if need[1] else None
    return gx, gw


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
        gx, gw = xp.conv2d_grads(g, x, w, geo, groups, need[:2])
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
