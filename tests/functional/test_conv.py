"""F.conv2d and F.conv_transpose2d: PyTorch's conventions, dtypes, and clear errors."""

import numpy as np
import pytest

from tinygrad_cnn import functional as F
from tinygrad_cnn import grad, tensor
from tinygrad_cnn.ops import conv


@pytest.mark.parametrize("k, d", [(3, 1), (4, 1), (2, 3), (5, 2)])
def test_same_padding_keeps_the_size(k, d):
    x = tensor(np.random.default_rng(0).standard_normal((1, 2, 7, 6)))
    w = tensor(np.random.default_rng(1).standard_normal((3, 2, k, k)))
    assert F.conv2d(x, w, padding="same", dilation=d).shape == (1, 3, 7, 6)


def test_valid_padding_is_no_padding():
    x, w = tensor(np.ones((1, 1, 5, 5))), tensor(np.ones((1, 1, 3, 3)))
    assert F.conv2d(x, w, padding="valid").shape == (1, 1, 3, 3)


def test_float32_stays_float32():
    x = tensor(np.ones((2, 3, 8, 8), dtype=np.float32), requires_grad=True)
    w = tensor(np.ones((4, 3, 3, 3), dtype=np.float32), requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
    y = F.avg_pool2d(F.conv_transpose2d(y, w, stride=2), 2)  # w: (C_in=4, C_out=3, 3, 3)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == np.float32


# fmt: off
CONV_ERRORS = [  # (call on x (2, 3, 8, 8) and w (4, 3, 3, 3), error, message pattern)
    (lambda x, w: F.conv2d(x, w[:, :2]), ValueError, r"conv2d: weight .* expects 2 input"),
    (lambda x, w: F.conv2d(x, w, groups=2), ValueError, "not divisible by groups=2"),
    (lambda x, w: F.conv2d(x[0], w), ValueError, r"conv2d: input must be 4-D .*\(3, 8, 8\)"),
    (lambda x, w: F.conv2d(x, w, padding="same", stride=2), ValueError, "'same' needs stride 1"),
    (lambda x, w: F.conv2d(x, w, padding="full"), ValueError, "padding must be 'valid', 'same'"),
    (lambda x, w: F.conv2d(x, w, stride=0), ValueError, "stride must be >= 1"),
    (lambda x, w: F.conv2d(x, w, stride=(1, 2, 3)), TypeError, "stride must be an int or a pair"),
    (lambda x, w: F.conv2d(x[:, :, :2, :2], w), ValueError, "kernel .* larger than the padded"),
    (lambda x, w: F.conv2d(x, w, tensor(np.ones(3, np.float32))), ValueError,
     r"bias must have shape \(4,\)"),
    (lambda x, w: F.conv2d(x, w.astype(np.float64)), TypeError, "share one dtype"),
    (lambda x, w: F.conv_transpose2d(x, w), ValueError, "conv_transpose2d: weight .* expects 4"),
    (lambda x, w: F.conv_transpose2d(x, w[:3], stride=2, output_padding=2), ValueError,
     "output_padding .* smaller than stride or dilation"),
]
# fmt: on


@pytest.mark.parametrize("call, error, pattern", CONV_ERRORS)
def test_bad_arguments_give_clear_errors(call, error, pattern):
    x = tensor(np.ones((2, 3, 8, 8), dtype=np.float32))
    w = tensor(np.ones((4, 3, 3, 3), dtype=np.float32))
    with pytest.raises(error, match=pattern):
        call(x, w)


def test_a_zero_size_kernel_is_refused():
    with pytest.raises(ValueError, match=r"conv2d: the kernel size must be .*\(3, 2, 0, 3\)"):
        F.conv2d(tensor(np.zeros((1, 2, 5, 5))), tensor(np.ones((3, 2, 0, 3))))
    with pytest.raises(ValueError, match="conv_transpose2d: the kernel size"):
        F.conv_transpose2d(tensor(np.zeros((1, 2, 5, 5))), tensor(np.ones((2, 3, 3, 0))))


@pytest.mark.parametrize("groups", [1, 2])
def test_an_empty_batch_gives_an_empty_output_and_zero_weight_gradients(groups):
    x = tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = tensor(np.ones((4, 2 // groups, 3, 3)), requires_grad=True)
    b = tensor(np.ones(4), requires_grad=True)
    y = F.conv2d(x, w, b, padding=1, groups=groups)
    assert y.shape == (0, 4, 5, 5)
    z = F.conv_transpose2d(y, w, stride=2, groups=groups)
    assert z.shape == (0, 2, 11, 11)
    F.max_pool2d(z, 2).sum().backward()
    assert x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(w.grad.numpy(), 0.0)
    np.testing.assert_array_equal(b.grad.numpy(), 0.0)


@pytest.mark.parametrize("where", [(0, 0, 2, 5), (1, 1, 4, 5), (0, 1, 5, 0)])
@pytest.mark.parametrize("how", ["conv2d", "conv_transpose2d", "conv2d_weight"])
def test_an_inf_pixel_gives_the_weight_gradient_of_the_windows_that_hold_it(
    where, how, monkeypatch
):
    # stride 1, padding 1: the padded-width layout's extra columns also read the first and last
    # columns, times a zero gradient; the result must be what the valid windows alone give
    # (the strided layout): Inf where a window holds the Inf pixel, no NaN from 0 * Inf
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    x[where] = np.inf
    w = np.abs(np.random.default_rng(1).standard_normal((2, 2, 3, 3)))

    def weight_grad(waste):
        monkeypatch.setattr(conv, "MAX_WIDTH_WASTE", waste)
        wt = tensor(w, requires_grad=True)
        if how == "conv2d":
            out = F.conv2d(tensor(x, requires_grad=True), wt, padding=1)
            out.backward(np.ones(out.shape))
        elif how == "conv_transpose2d":  # Inf in the upstream gradient of conv_transpose2d
            out = F.conv_transpose2d(tensor(np.ones((2, 2, 6, 6))), wt, padding=1)
            out.backward(x)
        else:  # recorded: the conv2d_weight op's forward computes it
            out = F.conv2d(tensor(x), wt, padding=1)
            (gw,) = grad(out, wt, np.ones(out.shape), create_graph=True)
            return gw.numpy()
        return wt.grad.numpy()

    # no errstate here: the padded layout's 0 * Inf is not reported (the suite turns
    # RuntimeWarnings into errors), as the result has no NaN
    padded, strided = weight_grad(np.inf), weight_grad(-1)
    assert not np.isnan(strided).any() and np.isinf(strided).any()
    np.testing.assert_allclose(padded, strided, rtol=1e-12)


@pytest.mark.parametrize("waste", [np.inf, -1])  # the padded-width and the strided layout
def test_a_nan_the_windows_really_hold_is_reported_in_the_weight_gradient(waste, monkeypatch):
    # +Inf and -Inf in one window: that weight gradient is Inf - Inf = NaN, which the padded
    # layout's retry must report as the strided layout does (only its first try is quiet)
    monkeypatch.setattr(conv, "MAX_WIDTH_WASTE", waste)
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    x[0, 0, 2, 2:4] = np.inf, -np.inf
    w = tensor(np.ones((2, 2, 3, 3)), requires_grad=True)
    with np.errstate(invalid="ignore"):  # the forward's own Inf - Inf
        y = F.conv2d(tensor(x), w, padding=1)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        y.backward(np.ones(y.shape))
    assert np.isnan(w.grad.numpy()).any()


def test_conv_transpose2d_output_padding_applies_to_each_side_on_its_own():
    x = tensor(np.ones((1, 2, 3, 4)))
    w = tensor(np.ones((2, 1, 3, 3)))
    # PyTorch: (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    y = F.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_padding=(1, 0))
    assert y.shape == (1, 1, (3 - 1) * 2 - 2 + 2 + 1 + 1, (4 - 1) * 3 - 2 + 2 + 0 + 1)
    y = F.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_padding=(0, 2))
    assert y.shape == (1, 1, 5, 12)
