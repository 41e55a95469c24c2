"""Elementwise functions' values: relu, leaky_relu, sigmoid, pow, cast."""

import numpy as np
import pytest

from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [5, 70_001])  # float32 arrays this big go by blocks
def test_relu_is_numpys_maximum_with_zero_nan_and_signed_zero_included(dtype, size):
    a = np.random.default_rng(0).standard_normal(size).astype(dtype)
    a[::7], a[1::11], a[2::13], a[3::17] = np.nan, -np.inf, -0.0, np.inf
    shape = (7, size // 7) if size % 7 == 0 else (size, 1)
    x = tensor(a.reshape(shape), requires_grad=True)
    y = F.relu(x)
    expected = np.maximum(a, 0).reshape(shape)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), expected)
    assert np.array_equal(np.signbit(y.numpy()), np.signbit(expected))
    y.backward(np.ones_like(expected))
    np.testing.assert_array_equal(x.grad.numpy().reshape(-1), (a > 0).astype(dtype))
    np.testing.assert_array_equal(F.relu(x.T).numpy(), expected.T)  # not contiguous for 7 rows


def test_leaky_relu_values_and_its_slope_at_zero():
    x = tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    y = F.leaky_relu(x, 0.1)
    np.testing.assert_allclose(y.numpy(), [-0.2, 0.0, 3.0])
    y.backward(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0])  # 0 counts as negative


def test_sigmoid_does_not_overflow():
    y = tensor(np.array([-1000.0, 0.0, 1000.0])).sigmoid()
    np.testing.assert_allclose(y.numpy(), [0.0, 0.5, 1.0])


def test_pow_with_a_tensor_exponent():
    a = tensor(np.array([2.0, 3.0]), requires_grad=True)
    b = tensor(np.array([3.0, 2.0]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3 * 4.0, 2 * 3.0])
    np.testing.assert_allclose(b.grad.numpy(), [8 * np.log(2), 9 * np.log(3)])


def test_pow_with_a_constant_exponent_works_for_negative_bases():
    a = tensor(np.array([-2.0]), requires_grad=True)
    (a**2).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [-4.0])


def test_cast_returns_gradients_in_the_input_dtype():
    x = tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    down = tensor(np.array([1.0, 2.0]), requires_grad=True).astype(np.float32)
    assert down.dtype == np.float32
