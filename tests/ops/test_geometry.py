"""Window geometry: one output-size rule for conv, transposed conv and pooling (ceil_mode)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops import workspace
from tinygrad_cnn.ops.geometry import Geometry, out_size, pad_nchw, pad_rows, row_stride

small = st.integers(1, 4)


@given(size=st.integers(1, 12), k=small, s=small, d=small, p=st.integers(0, 3))
def test_out_size_counts_the_windows_that_fit(size, k, s, d, p):
    span = d * (k - 1) + 1
    fit = [i for i in range(40) if i * s + span <= size + 2 * p]  # inside the padded input
    n = out_size(size, k, s, d, p, p)
    assert n == fit[-1] + 1 if fit else n < 1  # callers refuse < 1: no window fits
    # ceil_mode (PyTorch's pooling rule, where padding is at most half the window): also a last,
    # partial window, if it starts inside the input or the left padding
    starts = [i for i in range(40) if i * s <= size + 2 * p - span + s - 1 and i * s < size + p]
    if fit and p <= span // 2:
        assert out_size(size, k, s, d, p, p, ceil_mode=True) == starts[-1] + 1


@given(h=st.integers(1, 8), w=st.integers(1, 8), k=small, s=small, d=small, data=st.data())
def test_transposed_size_is_what_conv2d_maps_back(h, w, k, s, d, data):
    p = data.draw(st.integers(0, d * (k - 1) // 2))
    extra = data.draw(st.integers(0, max(s, d) - 1))  # output_padding: < stride or dilation
    geo = Geometry.from_args(k, s, p, d)
    ho, wo = geo.transposed_size(h, w, (extra, extra))
    if ho >= 1 and wo >= 1:
        back = geo.out_size(ho, wo)
        assert back[0] >= h and back[1] >= w  # more only when output_padding >= stride
        if extra < s:
            assert back == (h, w)


def test_from_args_takes_ints_pairs_and_four_paddings():
    assert Geometry.from_args(3) == Geometry(3, 3, 1, 1, 1, 1, 0, 0, 0, 0)
    assert Geometry.from_args((3, 2), (2, 1), (1, 0), (1, 2)) == Geometry(
        kh=3, kw=2, sh=2, sw=1, dh=1, dw=2, pt=1, pb=1, pl=0, pr=0
    )
    assert Geometry.from_args(2, padding=(0, 1, 2, 3))[6:] == (0, 1, 2, 3)


@pytest.mark.parametrize(
    "geo, lines",
    [
        (Geometry.from_args(3, 2, 1), ["kernel_size=(3, 3)", "stride=(2, 2)", "padding=(1, 1)"]),
        (
            Geometry.from_args((1, 2), 1, (0, 1, 0, 1), (2, 1)),
            ["kernel_size=(1, 2)", "stride=(1, 1)", "padding=(0, 1, 0, 1)", "dilation=(2, 1)"],
        ),
    ],
)
def test_describe_names_the_arguments_as_pytorch_does(geo, lines):
    assert geo.describe() == lines


def test_fitted_pads_bottom_right_just_enough_for_ceil_mode():
    geo = Geometry.from_args(2, 2)
    assert geo.out_size(5, 4) == (2, 2) and geo.out_size(5, 4, ceil_mode=True) == (3, 2)
    fitted = geo.fitted(5, 4, ceil_mode=True)
    assert (fitted.pt, fitted.pb, fitted.pl, fitted.pr) == (0, 1, 0, 0)
    assert fitted.out_size(5, 4) == (3, 2)
    assert geo.fitted(5, 4, ceil_mode=False) is geo


def test_pad_nchw_returns_a_contiguous_x_itself_without_padding_or_tail(monkeypatch):
    monkeypatch.setattr(workspace, "parallel_ranges", None)  # nothing to copy: no section
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    assert pad_nchw(x, Geometry.from_args(2)) is x
    y = pad_nchw(x[:, :, :, ::2], Geometry.from_args(2))  # a strided view is made contiguous
    assert y.flags.c_contiguous and np.array_equal(y, x[:, :, :, ::2])


@pytest.mark.parametrize("padding, tail", [(0, 3), ((1, 0, 2, 1), 2), ((0, 1), 0)])
def test_pad_nchw_fills_the_border_and_a_tail_after_the_array(padding, tail):
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    geo = Geometry.from_args(2, padding=padding)
    xp = pad_nchw(x, geo, fill=-7.0, tail=tail)
    want = np.pad(x, ((0, 0), (0, 0), (geo.pt, geo.pb), (geo.pl, geo.pr)), constant_values=-7.0)
    np.testing.assert_array_equal(xp, want)
    # the tail: ``tail`` more elements of the buffer, after the last one, for views reading on
    beyond = as_strided(xp, shape=(xp.size + tail,), strides=(xp.itemsize,), writeable=False)
    np.testing.assert_array_equal(beyond[xp.size :], -7.0)


@given(
    h=st.integers(1, 6), w=st.integers(1, 6), k=small, d=small,
    pads=st.tuples(*[st.integers(0, 5)] * 4), data=st.data(),
)  # fmt: skip
def test_rows_that_share_their_padding_read_flat_as_the_padded_image(h, w, k, d, pads, data):
    # every window element of every output kept, read flat from rows S long (and past the
    # plane's end into the next plane or the tail), is the element of the fully padded image,
    # also while the next image is not padded yet (a block loop pads each block's images as
    # it takes the block): the buffer starts as NaN, and image 0 is checked before image 1 is
    # copied in
    geo = Geometry.from_args(k, 1, pads, d)
    ho, wo = geo.out_size(h, w)
    if ho < 1 or wo < 1:
        return
    wo = data.draw(st.integers(1, wo))  # only the first windows, as conv2d's out_hw keeps
    x = np.arange(1.0, 2 * 2 * h * w + 1).reshape(2, 2, h, w)  # no zero inside the image
    full = np.pad(x, ((0, 0), (0, 0), (geo.pt, geo.pb), (geo.pl, geo.pr)))
    width = row_stride(geo, w, wo)
    assert width >= wo and width <= w + geo.pl + geo.pr
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workspace, "empty", lambda shape, dtype: np.full(shape, np.nan, dtype))
        rows, pad = pad_rows(x, geo, width, tail=(k - 1) * d)
    assert rows.shape == (2, 2, h + geo.pt + geo.pb, width)
    flat = as_strided(rows, shape=(rows.size + (k - 1) * d,), strides=(rows.itemsize,))
    plane = rows.shape[2] * width
    for image in range(2):
        pad(image, image + 1)
        for c, i, j, p, q in np.ndindex(2, ho, wo, k, k):
            at = (image * 2 + c) * plane + (i + p * d) * width + j + q * d
            assert flat[at] == full[image, c, i + p * d, j + q * d]
