"""The pool2d op: against the step-by-step loops, max pooling's tie rule (the first maximum
gets the window's gradient), and the edge cases, every run."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.layouts import nchw_to_nhwc, nhwc_to_nchw
from tinygrad_cnn import REGISTRY, reference, tensor, testing
from tinygrad_cnn import functional as F
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.testing import distinct


@given(data=st.data(), mode=st.sampled_from(["max", "average"]))
def test_pool2d_matches_the_step_by_step_loops(data, mode):
    f, stride = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    shape = (
        data.draw(st.integers(1, 2)),
        data.draw(st.integers(f, 6)),
        data.draw(st.integers(f, 6)),
        data.draw(st.integers(1, 3)),
    )
    A_prev = data.draw(distinct(shape)) if mode == "max" else np.random.default_rng(0).random(shape)
    hp = {"f": f, "stride": stride}
    A, cache = reference.pool_forward(A_prev, hp, mode)
    dA = np.random.default_rng(1).standard_normal(A.shape)
    dA_prev = reference.pool_backward(dA, cache, mode)
    x = tensor(nhwc_to_nchw(A_prev), requires_grad=True)
    y = F.pool2d(x, f, stride, mode=mode)
    np.testing.assert_allclose(nchw_to_nhwc(y.numpy()), A, atol=1e-12)
    y.backward(nhwc_to_nchw(dA))
    np.testing.assert_allclose(nchw_to_nhwc(x.grad.numpy()), dA_prev, atol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum_and_sum_per_window():
    x = tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    y = F.max_pool2d(x, 2)
    g = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y.backward(g)
    expected = np.zeros((4, 4))
    expected[::2, ::2] = g[0, 0]
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_overlapping_max_pool_windows_accumulate():
    x = tensor(
        np.array([[[[0.0, 9.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True
    )
    y = F.max_pool2d(x, 2, stride=1)  # the 9 is the max of two windows
    y.backward(np.ones(y.shape))
    assert x.grad.numpy()[0, 0, 0, 1] == 2.0
    assert x.grad.numpy().sum() == y.numel()


@given(data=st.data())
def test_max_pool_gradient_sums_to_the_upstream_gradient_even_with_ties(data):
    k, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(k, 6)), data.draw(st.integers(k, 6))
    vals = data.draw(st.lists(st.integers(0, 2), min_size=h * w, max_size=h * w))
    x = tensor(np.array(vals, dtype=np.float64).reshape(1, 1, h, w), requires_grad=True)
    y = F.max_pool2d(x, k, s)
    up = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(up)
    np.testing.assert_allclose(x.grad.numpy().sum(), up.sum())
    # and the same routing as the reference loops (first maximum, row-major)
    A, cache = reference.pool_forward(nchw_to_nhwc(x.numpy()), {"f": k, "stride": s})
    ref = reference.pool_backward(nchw_to_nhwc(up), cache)
    np.testing.assert_allclose(nchw_to_nhwc(x.grad.numpy()), ref)


def _pool(k, s, p=0, d=1, ceil=False, include_pad=True, mode="max"):
    """The attributes F.pool2d gives the op."""
    geo = Geometry.from_args(k, s, p, d)
    return {"geometry": geo, "ceil_mode": ceil, "count_include_pad": include_pad, "mode": mode}


POOL_EDGES = [  # (name, x shape, attributes)
    ("max, kernel equal to the input", (2, 3, 4, 5), _pool((4, 5), 1)),
    ("max, stride larger than the kernel", (1, 2, 7, 7), _pool(2, 3)),
    ("max, overlapping windows with padding", (2, 1, 5, 6), _pool(3, 1, p=1)),
    ("max, dilation and ceil_mode", (1, 2, 8, 7), _pool((2, 3), 2, d=2, ceil=True)),
    ("average, padding counted", (2, 2, 5, 5), _pool(3, 2, p=1, mode="average")),
    (
        "average, padding not counted",
        (2, 2, 5, 5),
        _pool(3, 2, p=1, include_pad=False, mode="average"),
    ),
    ("average, ceil_mode, non-square", (1, 3, 5, 8), _pool((2, 3), 2, ceil=True, mode="average")),
]


@pytest.mark.parametrize("name, xs, attrs", POOL_EDGES, ids=[e[0] for e in POOL_EDGES])
def test_pool2d_edge_cases_pass_every_check(name, xs, attrs):
    # distinct values (a shuffled grid): no ties, so max pooling's finite differences are exact
    x = np.random.default_rng(1).permutation(np.prod(xs)).reshape(xs) * 0.25
    testing.check_op(REGISTRY["pool2d"], testing.OpCase((x,), attrs))


def _pool_loops(x, k, s, p, d, ceil, include_pad, mode):
    """PyTorch's pooling, one window at a time (NCHW), from its definition."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (np.broadcast_to(v, 2) for v in (k, s, p, d))
    n, c, h, w = x.shape

    def out_size(size, k_, s_, p_, d_):
        span = (size + 2 * p_ - d_ * (k_ - 1) - 1) / s_
        out = int(np.ceil(span) if ceil else np.floor(span)) + 1
        return out - 1 if ceil and (out - 1) * s_ >= size + p_ else out  # start inside

    ho, wo = out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)
    y = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sh - ph, j * sw - pw
            if mode == "max":
                rows = [r for r in range(r0, r0 + dh * kh, dh) if 0 <= r < h]
                cols = [q for q in range(c0, c0 + dw * kw, dw) if 0 <= q < w]
                y[:, :, i, j] = x[:, :, rows][:, :, :, cols].max(axis=(2, 3))
                continue
            r1, c1 = min(r0 + kh, h + ph), min(c0 + kw, w + pw)  # padding counts, overhang not
            size = (r1 - r0) * (c1 - c0)
            r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
            total = x[:, :, r0:r1, c0:c1].sum(axis=(2, 3))
            y[:, :, i, j] = total / (size if include_pad else (r1 - r0) * (c1 - c0))
    return y


POOL_VALUES = [  # (x shape, kernel, stride, padding, dilation, ceil_mode, count_include_pad)
    ((1, 2, 5, 7), 2, 2, 0, 1, True, True),  # ceil: the last window overhangs, in H and W
    ((1, 1, 4, 7), 2, 2, 0, 1, True, True),  # ... in W only
    ((1, 1, 7, 4), (3, 2), 2, (1, 0), 1, True, False),  # ... in H only, padding not counted
    ((2, 1, 6, 5), 3, 2, 1, 1, False, False),  # padding not counted
    ((2, 1, 6, 5), 3, 2, 1, 1, False, True),
    ((1, 2, 5, 6), (2, 3), (1, 2), (1, 1), 1, True, False),
    ((1, 1, 9, 8), 3, 2, 1, 2, True, True),  # dilation (max only)
]


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("shape, k, s, p, d, ceil, include_pad", POOL_VALUES)
def test_pool2d_values_follow_pytorchs_windows(mode, shape, k, s, p, d, ceil, include_pad):
    if mode == "average" and d != 1:
        pytest.skip("average pooling has no dilation")
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) - 20.0
    y = F.pool2d(
        tensor(x), k, s, p, mode=mode, dilation=d, ceil_mode=ceil, count_include_pad=include_pad
    )
    want = _pool_loops(x, k, s, p, d, ceil, include_pad, mode)
    assert y.shape == want.shape
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)


def test_max_pool_over_a_window_of_257_elements_finds_the_last_one():
    # argmax indexes the window's elements; 257 of them no longer fit in a byte
    x = tensor(np.arange(257.0).reshape(1, 1, 1, 257), requires_grad=True)
    y = F.max_pool2d(x, (1, 257))
    assert y.item() == 256.0
    y.backward()
    assert x.grad.numpy()[0, 0, 0, 256] == 1.0 and x.grad.numpy().sum() == 1.0


@pytest.mark.parametrize(
    "mode, taps, saved", [("max", 256, np.uint8), ("max", 257, np.int32), ("average", 4, None)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_what_pooling_keeps_for_backward_is_compact(mode, taps, saved, dtype):
    # max: a window's index in the smallest integer type that holds it, a byte per output
    # element up to 256 taps; average: one scale per window position, in the input's dtype
    x = np.arange(2.0 * taps).reshape(1, 2, 1, taps).astype(dtype)
    ctx = SimpleNamespace(needs_input_grad=(True,))
    geo = Geometry.from_args(kernel_size=(1, taps))
    REGISTRY["pool2d"].forward(
        ctx, x, geometry=geo, mode=mode, ceil_mode=False, count_include_pad=True
    )
    if mode == "max":
        assert ctx.argmax.dtype == saved and ctx.scale is None
        np.testing.assert_array_equal(ctx.argmax, taps - 1)
    else:
        assert ctx.argmax is None and ctx.scale.dtype == dtype and ctx.scale.shape == (1, 1)
        assert ctx.scale[0, 0] == dtype(1 / taps)


def test_a_nan_in_a_max_window_is_its_output_and_gets_its_gradient():
    # as PyTorch: NaN propagates forward, and backward sends the window's gradient to the NaN
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # the first (row-major) NaN of a window gets it
    x[0, 1, 3, 3] = np.nan
    t = tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = F.max_pool2d(t, 2)
        y.backward(np.ones(y.shape))
    assert np.isnan(y.numpy()[0, 0, 0, 0]) and np.isnan(y.numpy()[0, 1, 1, 1])
    g = t.grad.numpy()
    assert g[0, 0, 0, 1] == 1 and g[0, 0, 1, 0] == 0 and g[0, 0, 1, 1] == 0
    assert g[0, 1, 3, 3] == 1 and g[0, 1, 2, 2] == 0
    assert g.sum() == y.numel()  # every window sends its gradient to one element
