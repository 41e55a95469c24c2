"""TensorOps, the ``ctx.xp`` of recorded VJPs, keeps NumPy's names *and* NumPy's meaning: each
function on Tensors gives what the NumPy function of the same name gives on their arrays,
defaults included, so a VJP means the same on both paths."""

import numpy as np
import pytest

from tinygrad_cnn import Tensor
from tinygrad_cnn.ops.xp import TensorOps as xp

A = np.arange(24.0).reshape(2, 3, 4) - 11.5


def _same(got, want):
    assert isinstance(got, Tensor)
    assert got.shape == np.shape(want)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("sum", (), {}),
        ("sum", (1,), {}),
        ("sum", ((0, 2),), {"keepdims": True}),
        ("sum", (-1,), {"keepdims": True}),
        ("mean", (), {}),
        ("mean", (2,), {}),
        ("mean", ((0, 1),), {"keepdims": True}),
        ("max", (), {}),
        ("max", (0,), {}),
        ("max", (-2,), {"keepdims": True}),
        ("expand_dims", (1,), {}),
        ("expand_dims", (-1,), {}),
        ("expand_dims", ((0, 3),), {}),
        ("moveaxis", (2, 0), {}),
        ("broadcast_to", ((5, 2, 3, 4),), {}),
    ],
)
def test_each_function_matches_numpy(name, args, kwargs):
    _same(getattr(xp, name)(Tensor(A), *args, **kwargs), getattr(np, name)(A, *args, **kwargs))


def test_exp_log_and_split_match_numpy():
    x = np.abs(A) + 0.5
    _same(xp.exp(Tensor(A / 10)), np.exp(A / 10))
    _same(xp.log(Tensor(x)), np.log(x))
    for got, want in zip(xp.split(Tensor(A), [1, 3], axis=2), np.split(A, [1, 3], axis=2)):
        _same(got, want)


@pytest.mark.parametrize("wrap", [Tensor, np.asarray], ids=["Tensor", "ndarray"])
def test_sign_is_a_constant_array_of_either_kind(wrap):
    got = xp.sign(wrap(A))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, np.sign(A))


@pytest.mark.parametrize(
    "cond", [A > 0, Tensor(A > 0), (A > 0).astype(np.float64)], ids=["bool", "Tensor", "float"]
)
def test_where_takes_any_condition_and_records_only_the_branches(cond):
    a = Tensor(A, requires_grad=True)
    out = xp.where(cond, a, 0.0)
    np.testing.assert_array_equal(out.numpy(), np.where(A > 0, A, 0.0))
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), (A > 0).astype(np.float64))
    assert out._node.needs_input_grad == (False, True, False)  # the condition is a constant
