"""Forced ties and kinks: each non-smooth op's documented tie policy holds."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor


def grad_of(fn, *values):
    xs = [tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.numpy() for x in xs]


def test_relu_gradient_is_zero_at_zero():
    (g,) = grad_of(F.relu, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])


def test_abs_gradient_is_zero_at_zero():
    (g,) = grad_of(F.abs, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("fn", [F.maximum, F.minimum])
def test_maximum_and_minimum_split_ties_evenly(fn):
    ga, gb = grad_of(fn, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0])
    assert ga[0] == gb[0] == 0.5
    np.testing.assert_array_equal(ga + gb, [1.0, 1.0, 1.0])


def test_maximum_tie_split_with_broadcasting_sums_to_the_upstream_gradient():
    ga, gb = grad_of(F.maximum, [[1.0, 1.0], [1.0, 0.0]], 1.0)
    np.testing.assert_array_equal(ga, [[0.5, 0.5], [0.5, 0.0]])
    assert gb == 0.5 * 3 + 1.0


def test_clip_passes_the_gradient_at_the_bounds():
    (g,) = grad_of(lambda x: x.clip(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("name", ["amax", "amin"])
@given(
    data=st.data(),
    rows=st.integers(1, 4),
    cols=st.integers(1, 5),
    axis=st.sampled_from([None, 0, 1]),
)
def test_reduction_ties_share_the_gradient_and_sum_to_it(name, data, rows, cols, axis):
    # values from {0, 1}: ties everywhere
    x = np.array(data.draw(st.lists(st.integers(0, 1), min_size=rows * cols, max_size=rows * cols)))
    x = x.reshape(rows, cols).astype(np.float64)
    t = tensor(x, requires_grad=True)
    out = getattr(t, name)(dim=axis)
    up = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(up)
    g = t.grad.numpy()
    ext = getattr(np, name)(x, axis=axis, keepdims=True)
    winners = x == ext
    # the gradient goes only to the extremes, equally among tied ones ...
    assert np.all(g[~winners] == 0)
    upk = np.broadcast_to(up if axis is None else np.expand_dims(up, axis), x.shape)
    count = winners.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(g[winners], (upk / count)[winners])
    # ... and sums to the upstream gradient for each reduced slice
    np.testing.assert_allclose(g.sum(axis=axis), up)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_along_a_dim_send_the_gradient_to_the_first_extreme_they_index(name):
    # as PyTorch: values come with indices, and the gradient goes to the indexed element only
    t = tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), requires_grad=True)
    values, indices = getattr(t, name)(dim=1)
    first = [1, 0] if name == "max" else [0, 2]
    assert indices.tolist() == first and indices.dtype == np.int64
    np.testing.assert_array_equal(values.numpy(), t.numpy()[[0, 1], first])
    values.sum().backward()
    expected = np.zeros((2, 3))
    expected[[0, 1], first] = 1
    np.testing.assert_array_equal(t.grad.numpy(), expected)


def test_the_maximum_of_all_elements_shares_the_gradient_among_ties():
    t = tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.5, 0.5])
