"""The conv2d and conv_transpose2d ops: against the step-by-step loops, against each other,
their gradients alone and together, scratch buffers, and the edge cases, every run."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.layouts import nchw_to_nhwc, nhwc_to_nchw
from tinygrad_cnn import REGISTRY, reference, tensor, testing
from tinygrad_cnn import functional as F
from tinygrad_cnn.ops import conv
from tinygrad_cnn.ops.geometry import Geometry


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

    x = tensor(nhwc_to_nchw(A_prev), requires_grad=True)
    w = tensor(
        W.transpose(3, 2, 0, 1), requires_grad=True
    )  # (f, f, C_prev, C) -> (C, C_prev, f, f)
    bias = tensor(b.reshape(-1), requires_grad=True)
    y = F.conv2d(x, w, bias, stride=hp["stride"], padding=hp["pad"])
    np.testing.assert_allclose(nchw_to_nhwc(y.numpy()), Z, atol=1e-12)
    y.backward(nhwc_to_nchw(dZ))
    np.testing.assert_allclose(nchw_to_nhwc(x.grad.numpy()), dA_prev, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy().transpose(2, 3, 1, 0), dW, atol=1e-12)
    np.testing.assert_allclose(bias.grad.numpy().reshape(b.shape), db, atol=1e-12)


@given(data=st.data())
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(data):
    s, p, k = (
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(0, 1)),
        data.draw(st.integers(1, 3)),
    )
    h = data.draw(st.integers(max(1, k - 2 * p), 7))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = tensor(rng.standard_normal((2, 3, h, h)), requires_grad=True)
    w = tensor(rng.standard_normal((4, 3, k, k)))
    y = F.conv2d(x, w, stride=s, padding=p)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    op = h - ((y.shape[2] - 1) * s - 2 * p + k)  # the rows a strided conv2d did not read
    assert 0 <= op < s
    z = F.conv_transpose2d(tensor(g), w, stride=s, padding=p, output_padding=op)
    np.testing.assert_allclose(z.numpy(), x.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("c_out", [2, 3, 6])  # O < C and O == C: full correlation; O > C: not
@pytest.mark.parametrize("wanted", [(True, False, False), (False, True, False), (True, True, True)])
def test_each_conv2d_gradient_alone_equals_it_computed_with_the_others(c_out, wanted):
    # the input- and weight-gradient paths share work; asking for one must not skip or change it
    rng = np.random.default_rng(c_out)
    arrays = (rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((c_out, 3, 3, 3)))
    arrays += (rng.standard_normal(c_out),)
    g = rng.standard_normal((2, c_out, 6, 5))
    full = [tensor(a, requires_grad=True) for a in arrays]
    F.conv2d(*full, padding=1).backward(g)
    some = [tensor(a, requires_grad=r) for a, r in zip(arrays, wanted)]
    F.conv2d(*some, padding=1).backward(g)
    for a, b, r in zip(some, full, wanted):
        assert (a.grad is not None) == r
        if r:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)


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
    z = F.conv_transpose2d(tensor(x), tensor(w), output_padding=output_padding, **kw)
    probe = tensor(np.zeros(z.shape), requires_grad=True)
    y = F.conv2d(probe, tensor(w), **kw)
    # conv2d maps z's shape back to x's, or to more rows/columns when output_padding >= stride
    # (allowed when < dilation): the windows there do not involve x, so their gradient is zero
    assert y.shape[2] >= x.shape[2] and y.shape[3] >= x.shape[3]
    g = np.zeros(y.shape)
    g[:, :, : x.shape[2], : x.shape[3]] = x
    y.backward(g)
    np.testing.assert_allclose(z.numpy(), probe.grad.numpy(), atol=1e-12)


def test_scratch_buffers_never_leak_stale_values():
    from tinygrad_cnn.ops import workspace

    rng = np.random.default_rng(0)
    x = tensor(rng.standard_normal((16, 8, 40, 40)).astype(np.float32), requires_grad=True)
    w = tensor(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), requires_grad=True)

    def grads():
        x.grad = w.grad = None
        F.max_pool2d(F.conv2d(x, w, padding=1), 2).sum().backward()
        return x.grad.numpy().copy(), w.grad.numpy().copy()

    first = grads()
    for buf in workspace._pool.values():  # poison every pooled buffer
        buf.view(np.float32)[:] = np.nan
    second = grads()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


# (name, x shape, weight shape, geometry, groups): the edges the strategies are built to reach,
# run on every test run whatever the hypothesis profile draws
CONV_EDGES = [
    ("1x1 kernel", (2, 3, 4, 5), (4, 3, 1, 1), Geometry.from_args(1), 1),
    (
        "kernel equal to the padded input",
        (1, 2, 3, 4),
        (3, 2, 5, 6),
        Geometry.from_args((5, 6), padding=1),
        1,
    ),
    ("stride larger than the kernel", (2, 2, 7, 8), (3, 2, 2, 2), Geometry.from_args(2, 3), 1),
    (
        "padding 0, non-square input and kernel",
        (2, 3, 5, 8),
        (2, 3, 2, 3),
        Geometry.from_args((2, 3)),
        1,
    ),
    ("batch 1, one channel", (1, 1, 6, 6), (1, 1, 3, 3), Geometry.from_args(3, padding=1), 1),
    (
        "depthwise: groups equal to channels",
        (2, 4, 5, 5),
        (4, 1, 3, 3),
        Geometry.from_args(3, padding=1),
        4,
    ),
    (
        "dilation and stride",
        (2, 2, 9, 7),
        (2, 2, 3, 2),
        Geometry.from_args((3, 2), stride=2, padding=1, dilation=2),
        1,
    ),
]


@pytest.mark.parametrize("name, xs, ws, geo, groups", CONV_EDGES, ids=[e[0] for e in CONV_EDGES])
def test_conv2d_edge_cases_pass_every_check(name, xs, ws, geo, groups):
    rng = np.random.default_rng(0)
    args = (rng.uniform(-1, 1, xs), rng.uniform(-1, 1, ws), rng.uniform(-1, 1, ws[0]))
    testing.check_op(REGISTRY["conv2d"], testing.OpCase(args, {"geometry": geo, "groups": groups}))


@pytest.mark.parametrize("extra", [(1, 0), (0, 1)])
def test_im2col_refuses_more_windows_than_fit(extra):
    # callers only ask for fewer (conv_transpose2d's output_padding); more would read past x
    geo = Geometry.from_args(kernel_size=3, padding=1)
    x = np.zeros((1, 2, 5, 6))
    out_hw = (5 + extra[0], 6 + extra[1])
    message = f"im2col: {out_hw} windows requested, only (5, 6) fit"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        conv.im2col(x, geo, out_hw)
    assert conv.im2col(x, geo, (4, 6))[1:3] == (4, 6)
