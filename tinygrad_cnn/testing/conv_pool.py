"""Strategies of the convolution and pooling ops (and of their gradient ops): draw the output
size and the window geometry first, then derive the input size, so every case is valid."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import assume
from hypothesis import strategies as st

from tinygrad_cnn.ops.geometry import Geometry, out_size
from tinygrad_cnn.ops.pool import Pool2d, windows_shape
from tinygrad_cnn.testing.checks import OpCase
from tinygrad_cnn.testing.strategies import distinct, floats


@st.composite
def _axis_geometry(draw, max_kernel=3, max_stride=3, max_dilation=2, max_pad=2, max_out=3):
    """One spatial axis: (kernel, stride, dilation, pad_before, pad_after, input size, out size).

    Covers 1x1 kernels, strides larger than the kernel, padding 0, and the kernel equal to the
    padded input (out = 1, no slack).
    """
    k = draw(st.integers(1, max_kernel))
    s = draw(st.integers(1, max_stride))
    d = draw(st.integers(1, max_dilation)) if k > 1 else 1
    out = draw(st.integers(1, max_out))
    slack = draw(st.integers(0, s - 1))  # rows the last window leaves unread
    padded = (out - 1) * s + d * (k - 1) + 1 + slack
    pb = draw(st.integers(0, min(max_pad, padded - 1)))
    pa = draw(st.integers(0, min(max_pad, padded - 1 - pb)))
    return k, s, d, pb, pa, padded - pb - pa, out


@st.composite
def _conv_arrays(draw, x_shape, w_shape, bias_size):
    """Input and weight in [-1, 1], and half the time a bias for the output channels."""
    args = (draw(floats(x_shape, -1.0, 1.0)), draw(floats(w_shape, -1.0, 1.0)))
    if draw(st.booleans()):
        args += (draw(floats((bias_size,), -1.0, 1.0)),)
    return args


@st.composite
def conv2d_inputs(draw):
    groups = draw(st.integers(1, 3))
    c_in_g, c_out_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kh, sh, dh, pt, pb, h, _ = draw(_axis_geometry())
    kw, sw, dw, pl, pr, w, _ = draw(_axis_geometry())
    c_out = c_out_g * groups
    args = draw(_conv_arrays((n, c_in_g * groups, h, w), (c_out, c_in_g, kh, kw), c_out))
    geo = Geometry.from_args((kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw))
    return OpCase(args, {"geometry": geo, "groups": groups})


@st.composite
def conv2d_weight_inputs(draw, conv_cases=None):
    """conv2d's cases (``conv_cases``, by default :func:`conv2d_inputs`) turned into its weight
    gradient's: x and an upstream gradient dY."""
    case = draw(conv2d_inputs() if conv_cases is None else conv_cases)
    x, w = case.args[:2]
    geo = case.attrs["geometry"]
    dy = draw(floats((x.shape[0], w.shape[0], *geo.out_size(*x.shape[2:])), -1.0, 1.0))
    return OpCase((x, dy), case.attrs)


@st.composite
def conv_transpose2d_inputs(draw):
    groups = draw(st.integers(1, 3))
    c_in_g, c_out_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    axes = []
    for _ in range(2):  # per axis: the conv2d this transposes maps the output back to `out`
        k, s, d, _, _, _, out = draw(_axis_geometry(max_pad=0))
        p = draw(st.integers(0, (d * (k - 1)) // 2))
        extra = draw(st.integers(0, max(s, d) - 1))  # output_padding
        if Geometry.from_args(k, s, p, d).transposed_size(out, out, (extra, extra))[0] < 1:
            p = 0
        axes.append((k, s, d, p, out, extra))
    (kh, sh, dh, ph, h, eh), (kw, sw, dw, pw, w, ew) = axes
    geo = Geometry.from_args((kh, kw), (sh, sw), (ph, pw), (dh, dw))
    x_shape, w_shape = (n, c_in_g * groups, h, w), (c_in_g * groups, c_out_g, kh, kw)
    args = draw(_conv_arrays(x_shape, w_shape, c_out_g * groups))
    out_hw = geo.transposed_size(h, w, (eh, ew))
    return OpCase(args, {"geometry": geo, "groups": groups, "out_hw": out_hw})


@st.composite
def pool2d_inputs(draw, mode=None):
    mode = mode or draw(st.sampled_from(["max", "average"]))
    dims = []
    for _ in range(2):
        k = draw(st.integers(1, 3))
        s = draw(st.integers(1, 3))
        d = draw(st.integers(1, 2)) if mode == "max" and k > 1 else 1
        p = draw(st.integers(0, (d * (k - 1) + 1) // 2 if mode == "max" else k // 2))
        size = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 6))
        dims.append((k, s, d, p, size))
    ceil_mode = draw(st.booleans())
    for k, s, d, p, size in dims:
        if out_size(size, k, s, d, p, p, ceil_mode) < 1:
            ceil_mode = False
    for k, s, d, p, size in dims:
        # with dilation, a window can fall entirely on padding: its max is -inf (as in PyTorch)
        # and it has no gradient to check, so such geometries are not drawn
        for i in range(out_size(size, k, s, d, p, p, ceil_mode)):
            assume(any(0 <= i * s - p + j * d < size for j in range(k)))
    (kh, sh, dh, ph, h), (kw, sw, dw, pw, w) = dims
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    # max pooling: distinct values, so no window has a tie and finite differences are exact
    x = draw(distinct(shape)) if mode == "max" else draw(floats(shape, -1.0, 1.0))
    attrs = {
        "geometry": Geometry.from_args((kh, kw), (sh, sw), (ph, pw), (dh, dw)),
        "mode": mode,
        "ceil_mode": ceil_mode,
        "count_include_pad": draw(st.booleans()),
    }
    return OpCase((x,), attrs)


def _pool_windows(case: OpCase) -> dict:
    """What pool2d saves for its VJP on this case: the attributes of pool2d_spread/_gather."""
    ctx = SimpleNamespace()
    Pool2d.forward(ctx, case.args[0], **case.attrs)
    return {"geometry": ctx.geo, "x_shape": ctx.x_shape, "argmax": ctx.argmax, "scale": ctx.scale}


@st.composite
def pool2d_spread_inputs(draw):
    windows = _pool_windows(draw(pool2d_inputs()))
    hw = windows_shape(windows["argmax"], windows["scale"])
    g = draw(floats((*windows["x_shape"][:2], *hw), -1.0, 1.0))
    return OpCase((g,), windows)


@st.composite
def pool2d_gather_inputs(draw):
    windows = _pool_windows(draw(pool2d_inputs()))
    return OpCase((draw(floats(windows["x_shape"], -1.0, 1.0)),), windows)
