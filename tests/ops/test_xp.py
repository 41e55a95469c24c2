"""The two ``ctx.xp`` namespaces are one vocabulary: TensorOps (recorded VJPs) keeps NumPy's
names *and* NumPy's meaning, ArrayOps (first order) has exactly the same names and parameters,
and each of the ops' own functions gives the same values on both, so a VJP written once means
the same on both paths."""

import inspect

import numpy as np
import pytest

from tinygrad_cnn import Tensor, tensor
from tinygrad_cnn.backward import Recorded
from tinygrad_cnn.engine import Node
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.ops.pool import Pool2d
from tinygrad_cnn.ops.xp import ArrayOps, TensorOps
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
    _same(getattr(xp, name)(tensor(A), *args, **kwargs), getattr(np, name)(A, *args, **kwargs))


def test_exp_log_and_split_match_numpy():
    x = np.abs(A) + 0.5
    _same(xp.exp(tensor(A / 10)), np.exp(A / 10))
    _same(xp.log(tensor(x)), np.log(x))
    for got, want in zip(xp.split(tensor(A), [1, 3], axis=2), np.split(A, [1, 3], axis=2)):
        _same(got, want)


@pytest.mark.parametrize("wrap", [Tensor, np.asarray], ids=["Tensor", "ndarray"])
def test_sign_is_a_constant_array_of_either_kind(wrap):
    got = xp.sign(wrap(A))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, np.sign(A))


@pytest.mark.parametrize(
    "cond", [A > 0, tensor(A > 0), (A > 0).astype(np.float64)], ids=["bool", "Tensor", "float"]
)
def test_where_takes_any_condition_and_records_only_the_branches(cond):
    a = tensor(A, requires_grad=True)
    out = xp.where(cond, a, 0.0)
    np.testing.assert_array_equal(out.numpy(), np.where(A > 0, A, 0.0))
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), (A > 0).astype(np.float64))
    assert out._node.needs_input_grad == (False, True, False)  # the condition is a constant


def _public(ns):
    return {n for n in dir(ns) if not n.startswith("_")}


def test_both_namespaces_have_the_same_names_and_the_engine_hands_out_each():
    assert _public(ArrayOps) == _public(TensorOps)
    assert Node().xp is ArrayOps
    assert Recorded.xp is TensorOps


@pytest.mark.parametrize("name", sorted(_public(TensorOps)))
def test_the_array_namespace_takes_every_parameter_the_recorded_one_does(name):
    def params(fn):
        ps = inspect.signature(fn).parameters.values()
        return [p.name for p in ps], [p.name for p in ps if p.default is p.empty]

    recorded, recorded_required = params(getattr(TensorOps, name))
    try:
        signature = inspect.signature(getattr(ArrayOps(), name))
    except ValueError:  # a NumPy ufunc (exp, log, sign) or C function (where): positional
        return
    if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        return  # NumPy's einsum(*operands): the equation is its first positional argument
    array, array_required = params(getattr(ArrayOps(), name))
    assert recorded_required[: len(array_required)] == array_required, name  # same order
    assert set(recorded) <= set(array), name  # and every keyword the VJPs may pass


def _values(out):
    return out.numpy() if isinstance(out, Tensor) else out


GEO = Geometry.from_args((3, 2), (2, 1), (1, 0), (1, 2))


@pytest.mark.parametrize(
    "name, shapes, attrs",
    [
        ("conv2d", [(2, 4, 7, 8), (6, 2, 3, 2)], {"groups": 2, "out_hw": (4, 6)}),
        ("conv2d", [(2, 4, 7, 8), (6, 2, 3, 2)], {"groups": 2, "out_hw": (3, 5)}),  # a crop
        ("conv_transpose2d", [(2, 6, 4, 6), (6, 2, 3, 2)], {"groups": 2, "out_hw": (7, 8)}),
        ("conv2d_weight", [(2, 4, 7, 8), (2, 6, 4, 6)], {"groups": 2}),
    ],
)
def test_the_conv_functions_agree_on_both_paths(name, shapes, attrs):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in shapes]
    args = (*arrays, GEO, attrs["groups"], *([attrs["out_hw"]] if "out_hw" in attrs else []))
    want = getattr(ArrayOps(), name)(*args)
    got = getattr(TensorOps, name)(*[tensor(a) for a in arrays], *args[2:])
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "average"])
def test_the_pool_functions_agree_on_both_paths(mode):
    rng = np.random.default_rng(6)
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(float)  # no ties
    ctx = Node()
    attrs = {"geometry": Geometry.from_args(3, 2, 1), "mode": mode}
    y = Pool2d.forward(ctx, x, **attrs, ceil_mode=True, count_include_pad=False)
    saved = (ctx.geo, ctx.x_shape, ctx.argmax, ctx.scale)
    g, u = rng.standard_normal(y.shape), rng.standard_normal(x.shape)
    for name, arg in (("pool2d_spread", g), ("pool2d_gather", u)):
        want = getattr(ArrayOps(), name)(arg, *saved)
        got = getattr(TensorOps, name)(tensor(arg), *saved)
        np.testing.assert_allclose(_values(got), want, rtol=1e-12, atol=1e-12)
