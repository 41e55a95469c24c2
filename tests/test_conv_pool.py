"""conv2d / conv_transpose2d / pool2d: against the step-by-step loops, ties, and bad arguments."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_cnn import Tensor, reference
from tinygrad_cnn import functional as F
from tinygrad_cnn.testing import distinct


def nhwc_to_nchw(a):
    return a.transpose(0, 3, 1, 2)


def nchw_to_nhwc(a):
    return a.transpose(0, 2, 3, 1)


@st.composite
def conv_problems(draw):
    m, c_prev, c = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    f, stride, pad = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    n_h = draw(st.integers(max(1, f - 2 * pad), 6))
    n_w = draw(st.integers(max(1, f - 2 * pad), 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    A_prev = rng.standard_normal((m, n_h, n_w, c_prev))
    W = rng.standard_normal((f, f, c_prev, c))
    b = rng.standard_normal((1, 1, 1, c))
    return A_prev, W, b, {"stride": stride, "pad": pad}


@given(conv_problems())
def test_conv2d_matches_the_step_by_step_loops(problem):
    A_prev, W, b, hp = problem
    Z, cache = reference.conv_forward(A_prev, W, b, hp)
    dZ = np.random.default_rng(1).standard_normal(Z.shape)
    dA_prev, dW, db = reference.conv_backward(dZ, cache)

    x = Tensor(nhwc_to_nchw(A_prev), requires_grad=True)
    w = Tensor(
        W.transpose(3, 2, 0, 1), requires_grad=True
    )  # (f, f, C_prev, C) -> (C, C_prev, f, f)
    bias = Tensor(b.reshape(-1), requires_grad=True)
    y = F.conv2d(x, w, bias, stride=hp["stride"], padding=hp["pad"])
    np.testing.assert_allclose(nchw_to_nhwc(y.data), Z, atol=1e-12)
    y.backward(nhwc_to_nchw(dZ))
    np.testing.assert_allclose(nchw_to_nhwc(x.grad.data), dA_prev, atol=1e-12)
    np.testing.assert_allclose(w.grad.data.transpose(2, 3, 1, 0), dW, atol=1e-12)
    np.testing.assert_allclose(bias.grad.data.reshape(b.shape), db, atol=1e-12)


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
    x = Tensor(nhwc_to_nchw(A_prev), requires_grad=True)
    y = F.pool2d(x, f, stride, mode=mode)
    np.testing.assert_allclose(nchw_to_nhwc(y.data), A, atol=1e-12)
    y.backward(nhwc_to_nchw(dA))
    np.testing.assert_allclose(nchw_to_nhwc(x.grad.data), dA_prev, atol=1e-12)


# -- the classic assignment's bugs, fixed -------------------------------------------------------


def test_reference_conv_backward_with_pad_zero_is_not_empty():
    rng = np.random.default_rng(0)
    A_prev, W, b = rng.random((2, 4, 4, 3)), rng.random((2, 2, 3, 5)), rng.random((1, 1, 1, 5))
    Z, cache = reference.conv_forward(A_prev, W, b, {"stride": 1, "pad": 0})
    dA_prev, dW, db = reference.conv_backward(np.ones_like(Z), cache)
    assert dA_prev.shape == A_prev.shape
    assert np.all(dA_prev > 0)  # every input pixel is in some window; positive W, dZ


def test_reference_conv_backward_covers_every_example():
    rng = np.random.default_rng(0)
    A_prev, W, b = rng.random((3, 3, 3, 1)), rng.random((2, 2, 1, 1)), rng.random((1, 1, 1, 1))
    Z, cache = reference.conv_forward(A_prev, W, b, {"stride": 1, "pad": 1})
    dA_prev, _, _ = reference.conv_backward(np.ones_like(Z), cache)
    assert np.all(np.abs(dA_prev).sum(axis=(1, 2, 3)) > 0)  # not only the first example


def test_reference_mask_has_one_true_at_the_first_maximum():
    mask = reference.create_mask_from_window(np.array([[2.0, 5.0], [5.0, 5.0]]))
    np.testing.assert_array_equal(mask, [[False, True], [False, False]])


def test_reference_pool_backward_with_ties_routes_each_window_once():
    A_prev = np.ones((1, 4, 4, 1))  # every window is all ties
    A, cache = reference.pool_forward(A_prev, {"f": 2, "stride": 2})
    dA_prev = reference.pool_backward(np.ones_like(A), cache)
    assert dA_prev.sum() == A.size  # one unit per window, not four
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], [[1, 0, 1, 0], [0, 0, 0, 0]] * 2)


@pytest.mark.parametrize("mode", ["avg", "average"])
def test_reference_average_mode_accepts_both_spellings(mode):
    A_prev = np.arange(16.0).reshape(1, 4, 4, 1)
    A, cache = reference.pool_forward(A_prev, {"f": 2, "stride": 2}, mode=mode)
    dA_prev = reference.pool_backward(np.ones_like(A), cache, mode=mode)
    np.testing.assert_allclose(A[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(dA_prev, np.full(A_prev.shape, 0.25))


def test_reference_unknown_mode_is_an_error_not_zeros():
    A, cache = reference.pool_forward(np.ones((1, 2, 2, 1)), {"f": 2, "stride": 2})
    with pytest.raises(ValueError, match="mode must be 'max' or 'average'"):
        reference.pool_backward(np.ones_like(A), cache, mode="mean")
    with pytest.raises(ValueError, match="mode"):
        reference.pool_forward(np.ones((1, 2, 2, 1)), {"f": 2, "stride": 2}, mode="min")


def test_reference_single_step_returns_a_python_float():
    out = reference.conv_single_step(np.ones((2, 2, 3)), np.ones((2, 2, 3)), np.ones((1, 1, 1)))
    assert type(out) is float and out == 13.0


# -- max pooling ties in the fast op ------------------------------------------------------------


def test_max_pool_ties_go_to_the_first_maximum_and_sum_per_window():
    x = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    y = F.max_pool2d(x, 2)
    g = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y.backward(g)
    expected = np.zeros((4, 4))
    expected[::2, ::2] = g[0, 0]
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)


def test_overlapping_max_pool_windows_accumulate():
    x = Tensor(
        np.array([[[[0.0, 9.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True
    )
    y = F.max_pool2d(x, 2, stride=1)  # the 9 is the max of two windows
    y.backward(np.ones(y.shape))
    assert x.grad.data[0, 0, 0, 1] == 2.0
    assert x.grad.data.sum() == y.size


@given(data=st.data())
def test_max_pool_gradient_sums_to_the_upstream_gradient_even_with_ties(data):
    k, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(k, 6)), data.draw(st.integers(k, 6))
    vals = data.draw(st.lists(st.integers(0, 2), min_size=h * w, max_size=h * w))
    x = Tensor(np.array(vals, dtype=np.float64).reshape(1, 1, h, w), requires_grad=True)
    y = F.max_pool2d(x, k, s)
    up = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(up)
    np.testing.assert_allclose(x.grad.data.sum(), up.sum())
    # and the same routing as the reference loops (first maximum, row-major)
    A, cache = reference.pool_forward(nchw_to_nhwc(x.data), {"f": k, "stride": s})
    ref = reference.pool_backward(nchw_to_nhwc(up), cache)
    np.testing.assert_allclose(nchw_to_nhwc(x.grad.data), ref)


# -- PyTorch conventions ------------------------------------------------------------------------


@pytest.mark.parametrize("k, d", [(3, 1), (4, 1), (2, 3), (5, 2)])
def test_same_padding_keeps_the_size(k, d):
    x = Tensor(np.random.default_rng(0).standard_normal((1, 2, 7, 6)))
    w = Tensor(np.random.default_rng(1).standard_normal((3, 2, k, k)))
    assert F.conv2d(x, w, padding="same", dilation=d).shape == (1, 3, 7, 6)


def test_valid_padding_is_no_padding():
    x, w = Tensor(np.ones((1, 1, 5, 5))), Tensor(np.ones((1, 1, 3, 3)))
    assert F.conv2d(x, w, padding="valid").shape == (1, 1, 3, 3)


@given(data=st.data())
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(data):
    s, p, k = (
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(0, 1)),
        data.draw(st.integers(1, 3)),
    )
    h = data.draw(st.integers(max(1, k - 2 * p), 7))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = Tensor(rng.standard_normal((2, 3, h, h)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 3, k, k)))
    y = F.conv2d(x, w, stride=s, padding=p)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    op = h - ((y.shape[2] - 1) * s - 2 * p + k)  # the rows a strided conv2d did not read
    assert 0 <= op < s
    z = F.conv_transpose2d(Tensor(g), w, stride=s, padding=p, output_padding=op)
    np.testing.assert_allclose(z.data, x.grad.data, atol=1e-12)


@pytest.mark.parametrize("c_out", [2, 3, 6])  # O < C and O == C: full correlation; O > C: not
@pytest.mark.parametrize("wanted", [(True, False, False), (False, True, False), (True, True, True)])
def test_each_conv2d_gradient_alone_equals_it_computed_with_the_others(c_out, wanted):
    # the input- and weight-gradient paths share work; asking for one must not skip or change it
    rng = np.random.default_rng(c_out)
    arrays = (rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((c_out, 3, 3, 3)))
    arrays += (rng.standard_normal(c_out),)
    g = rng.standard_normal((2, c_out, 6, 5))
    full = [Tensor(a, requires_grad=True) for a in arrays]
    F.conv2d(*full, padding=1).backward(g)
    some = [Tensor(a, requires_grad=r) for a, r in zip(arrays, wanted)]
    F.conv2d(*some, padding=1).backward(g)
    for a, b, r in zip(some, full, wanted):
        assert (a.grad is not None) == r
        if r:
            np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12, atol=1e-12)


def test_global_average_pool_and_tensor_methods():
    x = Tensor(np.arange(32.0).reshape(1, 2, 4, 4))
    np.testing.assert_allclose(F.global_avg_pool2d(x).data.ravel(), [7.5, 23.5])
    assert x.max_pool2d(2).shape == (1, 2, 2, 2)
    assert x.avg_pool2d(3, 1, 1).shape == (1, 2, 4, 4)
    assert x.conv2d(Tensor(np.ones((5, 2, 1, 1)))).shape == (1, 5, 4, 4)


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 3, 8, 8), dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((4, 3, 3, 3), dtype=np.float32), requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
    y = F.avg_pool2d(F.conv_transpose2d(y, w, stride=2), 2)  # w: (C_in=4, C_out=3, 3, 3)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == np.float32


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda x, w: F.conv2d(x, w[:, :2]), ValueError, r"conv2d: weight .* expects 2 input"),
        (lambda x, w: F.conv2d(x, w, groups=2), ValueError, "not divisible by groups=2"),
        (lambda x, w: F.conv2d(x[0], w), ValueError, r"conv2d: input must be 4-D .*\(3, 8, 8\)"),
        (
            lambda x, w: F.conv2d(x, w, padding="same", stride=2),
            ValueError,
            "'same' needs stride 1",
        ),
        (
            lambda x, w: F.conv2d(x, w, padding="full"),
            ValueError,
            "padding must be 'valid', 'same'",
        ),
        (lambda x, w: F.conv2d(x, w, stride=0), ValueError, "stride must be >= 1"),
        (
            lambda x, w: F.conv2d(x, w, stride=(1, 2, 3)),
            TypeError,
            "stride must be an int or a pair",
        ),
        (lambda x, w: F.conv2d(x[:, :, :2, :2], w), ValueError, "kernel .* larger than the padded"),
        (
            lambda x, w: F.conv2d(x, w, Tensor(np.ones(3, np.float32))),
            ValueError,
            r"bias must have shape \(4,\)",
        ),
        (lambda x, w: F.conv2d(x, w.astype(np.float64)), TypeError, "share one dtype"),
        (
            lambda x, w: F.conv_transpose2d(x, w),
            ValueError,
            "conv_transpose2d: weight .* expects 4",
        ),
        (
            lambda x, w: F.conv_transpose2d(x, w[:3], stride=2, output_padding=2),
            ValueError,
            "output_padding .* smaller than stride or dilation",
        ),
        (lambda x, w: F.pool2d(x, 2, mode="min"), ValueError, r"mode must be one of \['average'"),
        (lambda x, w: F.max_pool2d(x, 2, padding=2), ValueError, "at most half the kernel"),
        (
            lambda x, w: F.pool2d(x, 2, mode="avg", dilation=2),
            ValueError,
            "only supported with mode='max'",
        ),
        (lambda x, w: F.max_pool2d(x, 9), ValueError, "kernel .* larger than the padded input"),
        (lambda x, w: F.max_pool2d(x[0], 2), ValueError, r"pool2d: input must be 4-D"),
    ],
)
def test_bad_arguments_give_clear_errors(call, error, pattern):
    x = Tensor(np.ones((2, 3, 8, 8), dtype=np.float32))
    w = Tensor(np.ones((4, 3, 3, 3), dtype=np.float32))
    with pytest.raises(error, match=pattern):
        call(x, w)


@pytest.mark.parametrize(
    "stride, dilation, padding, output_padding",
    [(1, 3, 1, 2), (1, 2, 2, 1), (2, 3, 0, 2), (3, 1, 1, 2), (1, 1, 0, 0)],
)
def test_conv_transpose2d_equals_the_conv2d_vjp_with_output_padding(
    stride, dilation, padding, output_padding
):
    # regression: stride 1 with dilation > 1 and output_padding > 0 once read past its buffer
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    w = rng.standard_normal((3, 2, 3, 2))
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    z = F.conv_transpose2d(Tensor(x), Tensor(w), output_padding=output_padding, **kw)
    probe = Tensor(np.zeros(z.shape), requires_grad=True)
    y = F.conv2d(probe, Tensor(w), **kw)
    # conv2d maps z's shape back to x's, or to more rows/columns when output_padding >= stride
    # (allowed when < dilation): the windows there do not involve x, so their gradient is zero
    assert y.shape[2] >= x.shape[2] and y.shape[3] >= x.shape[3]
    g = np.zeros(y.shape)
    g[:, :, : x.shape[2], : x.shape[3]] = x
    y.backward(g)
    np.testing.assert_allclose(z.data, probe.grad.data, atol=1e-12)


def test_scratch_buffers_never_leak_stale_values():
    from tinygrad_cnn.ops import workspace

    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((16, 8, 40, 40)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), requires_grad=True)

    def grads():
        x.grad = w.grad = None
        F.max_pool2d(F.conv2d(x, w, padding=1), 2).sum().backward()
        return x.grad.data.copy(), w.grad.data.copy()

    first = grads()
    for buf in workspace._pool.values():  # poison every pooled buffer
        buf.view(np.float32)[:] = np.nan
    second = grads()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _geometry(k, s=1, d=1, p=0):
    from tinygrad_cnn.ops.conv import Geometry

    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = map(_pair, (k, s, d, p))
    return Geometry(kh, kw, sh, sw, dh, dw, ph, ph, pw, pw)


# (name, x shape, weight shape, geometry, groups): the edges the strategies are built to reach,
# run on every test run whatever the hypothesis profile draws
CONV_EDGES = [
    ("1x1 kernel", (2, 3, 4, 5), (4, 3, 1, 1), _geometry(1), 1),
    ("kernel equal to the padded input", (1, 2, 3, 4), (3, 2, 5, 6), _geometry(k=(5, 6), p=1), 1),
    ("stride larger than the kernel", (2, 2, 7, 8), (3, 2, 2, 2), _geometry(2, s=3), 1),
    ("padding 0, non-square input and kernel", (2, 3, 5, 8), (2, 3, 2, 3), _geometry((2, 3)), 1),
    ("batch 1, one channel", (1, 1, 6, 6), (1, 1, 3, 3), _geometry(3, p=1), 1),
    ("depthwise: groups equal to channels", (2, 4, 5, 5), (4, 1, 3, 3), _geometry(3, p=1), 4),
    ("dilation and stride", (2, 2, 9, 7), (2, 2, 3, 2), _geometry((3, 2), s=2, d=2, p=1), 1),
]


@pytest.mark.parametrize("name, xs, ws, geo, groups", CONV_EDGES, ids=[e[0] for e in CONV_EDGES])
def test_conv2d_edge_cases_pass_every_check(name, xs, ws, geo, groups):
    from tinygrad_cnn import REGISTRY, testing

    rng = np.random.default_rng(0)
    args = (rng.uniform(-1, 1, xs), rng.uniform(-1, 1, ws), rng.uniform(-1, 1, ws[0]))
    testing.check_op(REGISTRY["conv2d"], testing.OpCase(args, {"geometry": geo, "groups": groups}))


def _pool(k, s, p=0, d=1, ceil=False, include_pad=True, mode="max"):
    return {
        "kernel_size": _pair(k),
        "stride": _pair(s),
        "padding": _pair(p),
        "dilation": _pair(d),
        "ceil_mode": ceil,
        "count_include_pad": include_pad,
        "mode": mode,
    }


POOL_EDGES = [  # (name, x shape, attrs)
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
    from tinygrad_cnn import REGISTRY, testing

    # distinct values (a shuffled grid): no ties, so max pooling's finite differences are exact
    x = np.random.default_rng(1).permutation(np.prod(xs)).reshape(xs) * 0.25
    testing.check_op(REGISTRY["pool2d"], testing.OpCase((x,), attrs))
