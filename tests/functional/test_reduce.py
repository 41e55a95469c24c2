"""Reductions' values: var and logsumexp."""

import numpy as np

from tinygrad_cnn import tensor


def test_var_defaults_to_the_unbiased_estimate_like_torch():
    a = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(tensor(a).var().item(), np.var(a, ddof=1))
    np.testing.assert_allclose(tensor(a).var(correction=0).item(), np.var(a))


def test_var_keeps_dims_over_the_axes_given():
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    y = tensor(a).var(axis=1, keepdims=True)
    assert y.shape == (3, 1)
    np.testing.assert_allclose(y.numpy(), np.var(a, axis=1, ddof=1, keepdims=True))


def test_var_without_degrees_of_freedom_is_nan_or_inf_silently_like_torch():
    one = tensor(np.array([3.0]), requires_grad=True)
    y = one.var()  # 0 / 0; the suite turns a RuntimeWarning into an error
    assert np.isnan(y.item())
    y.backward()
    assert np.isnan(one.grad.numpy()).all()
    assert tensor(np.array([1.0, 2.0])).var(correction=2).item() == np.inf  # 0.5 / 0


def test_logsumexp_is_stable():
    x = tensor(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(x.logsumexp().item(), 1000 + np.log(2))
    assert np.isfinite(tensor(np.array([-1000.0, -2000.0])).logsumexp().item())


def test_logsumexp_shifts_each_row_by_its_own_maximum():
    a = np.array([[1000.0, 1000.0], [0.0, 0.0], [-np.inf, -np.inf], [np.inf, 0.0]])
    y = tensor(a).logsumexp(axis=1)
    np.testing.assert_allclose(y.numpy(), [1000 + np.log(2), np.log(2), -np.inf, np.inf])
