"""The step-by-step loops themselves: the classic assignment's bugs, fixed."""

import numpy as np
import pytest

from tinygrad_cnn import reference


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
